"""Cheap learning checks: a broken conditioning path (r, the query pose, the masks) fails here.

The copy task: the context holds the query view itself, at the query's pose. A model whose r or
pose conditioning is broken cannot beat the mean training image at it; one that works does so
within a few hundred tiny steps. (Drawing *novel* views takes far longer: benchmarks/learning.py.)
"""

import jax
import jax.numpy as jnp
import numpy as np

from gqn_jax.model import gqn
from gqn_jax.runs import configs
from gqn_jax.runs import image_metrics
from gqn_jax.trained import run_scenes
from gqn_jax.training import distributed
from gqn_jax.training import train

NUM_STEPS = 300
MARGIN_DB = 2.0  # over the mean image; measured: +3.9 dB, and -1.1 dB with the context masked out


def copy_batches(frames_NxSxHxWx3, cameras_NxSx5, batch_size, rng):
  """Endless batches: one context slot holding the query view and its pose."""
  num_scenes, num_views = frames_NxSxHxWx3.shape[:2]
  while True:
    scene = rng.integers(num_scenes, size=batch_size)
    view = rng.integers(num_views, size=batch_size)
    query, camera = frames_NxSxHxWx3[scene, view], cameras_NxSx5[scene, view]
    yield {"context_frames": query[:, None], "context_cameras": camera[:, None],
           "context_mask": np.ones((batch_size, 1), bool), "query_frame": query,
           "query_camera": camera}


def scenes(config, split, num_scenes):
  frames, cameras = zip(*run_scenes.iter_scenes(config, split, num_scenes))
  return np.stack(frames), np.stack(cameras)


def test_copy_task_beats_the_mean_image_within_a_few_hundred_steps(tiny_config):
  config = tiny_config(num_steps=NUM_STEPS)
  config.data.max_context = 1
  config.train.batch_size = 16
  config.train.lr_initial = config.train.lr_final = 3e-3
  config.train.sigma_initial, config.train.sigma_final = 1.0, 0.1
  config.train.sigma_anneal_steps = NUM_STEPS // 2
  train_frames, train_cameras = scenes(config, "train", 16)
  test_frames, test_cameras = scenes(config, "test", 8)
  model = configs.build_model(config)
  optimizer = train.build_optimizer(config.train)
  parallelism = distributed.make_parallelism()
  params, opt_state = train.init_train_state(config, model, optimizer, parallelism)
  step_fn = train.steps_for_config(config, model, optimizer, parallelism).train
  batches = copy_batches(train_frames, train_cameras, 16, np.random.default_rng(0))
  for step in range(NUM_STEPS):
    params, opt_state, _ = step_fn(params, opt_state, next(batches), jnp.int32(step),
                                   train.train_key(0))

  test = next(copy_batches(test_frames, test_cameras, 64, np.random.default_rng(1)))
  prediction = model.apply({"params": params}, test["context_frames"], test["context_cameras"],
                           test["context_mask"], test["query_camera"], method=gqn.GQN.generate,
                           rngs={"sample": jax.random.key(2)})
  model_psnr = float(np.mean(image_metrics.psnr(image_metrics.mse_per_image(prediction, test["query_frame"]))))
  mean_image = np.broadcast_to(train_frames.reshape(-1, *train_frames.shape[2:]).mean(axis=0),
                               test["query_frame"].shape)
  mean_psnr = float(np.mean(image_metrics.psnr(image_metrics.mse_per_image(mean_image, test["query_frame"]))))
  assert model_psnr > mean_psnr + MARGIN_DB, (model_psnr, mean_psnr)
