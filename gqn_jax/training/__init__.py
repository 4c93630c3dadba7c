"""Training a GQN (Algorithm S1): the loop, its metrics files, preemption, distribution.

`train.train_and_evaluate(config, workdir)` is the whole run; `python -m gqn_jax.main` calls it.
Configs, checkpoints, the data choice and the schedules live in gqn_jax.runs, shared with
gqn_jax.trained.
"""
