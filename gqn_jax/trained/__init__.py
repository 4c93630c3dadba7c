"""Using a trained GQN: restore a checkpoint, render novel views, evaluate, analyse.

`restore.load(workdir)` returns a `TrainedGQN`; `render`, `evaluate` and `analysis` take one.
`python -m gqn_jax.render` and `python -m gqn_jax.evaluate` are their command lines.
"""
