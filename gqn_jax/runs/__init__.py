"""What a run is made of, shared by training (gqn_jax.training) and its use (gqn_jax.trained).

- `config_files`: find and load a config file (the checkout's configs/), its size presets;
- `configs`: check a loaded config, build the model from it;
- `checkpointing`: the checkpoint layout, saving and restoring, and its one mismatch error;
- `data_source`: which data a run reads (DeepMind's files, procedural files or the stream);
- `schedules`: the annealed learning rate and pixel sigma;
- `image_metrics`: the formulas every score uses (MSE, PSNR, bits per dimension).
Nothing here imports training/ or trained/; both import from here.
"""
