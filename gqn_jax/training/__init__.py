"""Training a GQN (Algorithm S1): configs, their checks, the data choice, the loop, checkpoints.

`train.train_and_evaluate(config, workdir)` is the whole run; `python -m gqn_jax.main` calls it.
"""
