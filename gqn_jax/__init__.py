"""gqn_jax: the Generative Query Network (Eslami et al., Science 2018) in JAX/Flax.

  model/     the GQN: GQNConfig, the module, its networks
  data/      DeepMind's record format, finding and reading the files, tf.data batches
  scenes/    procedural scenes written in DeepMind's format (the embedded default data)
  runs/      what a run is made of: config files, checks, data choice, checkpoints, schedules
  training/  Algorithm S1: the loop, its jitted steps, metrics, devices, stops
  trained/   using a trained model: restore, render, evaluate, analyse
  main.py, render.py, evaluate.py   the command lines (python -m gqn_jax.main / .render / ...)

Training configs live beside the package, in the checkout's configs/ folder.
"""

__version__ = "0.1.0"
