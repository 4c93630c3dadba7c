"""GQN data on disk: DeepMind's record format, finding and reading shard files, tf.data batches.

`records` (the format), `reader` (finding a dataset once, reading scenes, errors that name the
file and record) and `pipeline` (training and evaluation batches). TensorFlow does the reading,
always on the host CPU.
"""
