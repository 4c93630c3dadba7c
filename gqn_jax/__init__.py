"""gqn_jax: the Generative Query Network (Eslami et al., Science 2018) in JAX/Flax.

  model/     the GQN: GQNConfig, the module, its networks
  data/      DeepMind's record format, finding and reading the files, tf.data batches
  scenes/    procedural scenes written in DeepMind's format (the embedded default data)
  training/  Algorithm S1: configs, checks, the data choice, the loop, checkpoints, metrics
  trained/   using a trained model: restore, render, evaluate, analyse
  main.py, render.py, evaluate.py   the command lines (python -m gqn_jax.main / .render / ...)
"""

__version__ = "0.1.0"
