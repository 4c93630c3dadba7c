"""Training configs, all in this folder: `default.py` is Table S1 of the paper (the default every
run starts from) with the size presets as flat override dicts; each other file is one dataset
family, a few keys over the default, loaded by path: `--config=gqn_jax/configs/rooms.py:small`.

Configs hold data only; gqn_jax.runs.configs loads, checks and turns them into the model.
"""
