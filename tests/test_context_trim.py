"""Training steps cut the context to the slots in use without changing the loss."""

import jax
import jax.numpy as jnp
import numpy as np

from gqn_jax.model.config import GQNConfig
from gqn_jax.model.gqn import GQN
from gqn_jax.training import context_trim

TINY = GQNConfig(image_size=16, num_layers=2, h_channels=8, z_channels=2, canvas_channels=8,
                 r_channels=16, position_scale=1.0)


def _batch(mask):
  rng = np.random.default_rng(0)
  b, k = mask.shape
  return dict(context_frames=rng.random((b, k, 16, 16, 3), dtype=np.float32),
              context_cameras=rng.normal(size=(b, k, 5)).astype(np.float32),
              context_mask=mask, query_frame=rng.random((b, 16, 16, 3), dtype=np.float32),
              query_camera=rng.normal(size=(b, 5)).astype(np.float32))


def test_sizes_are_quarters_of_k_rounded_up():
  assert context_trim.context_sizes(10) == (3, 5, 8, 10)
  assert context_trim.context_sizes(5) == (2, 3, 4, 5)
  assert context_trim.context_sizes(1) == (1,)


def test_trim_keeps_every_real_view_and_the_smallest_size():
  mask = np.zeros((2, 10), bool)
  mask[:, :4] = True
  trimmed = context_trim.trim(_batch(mask), (3, 5, 8, 10))
  assert trimmed["context_frames"].shape[1] == trimmed["context_mask"].shape[1] == 5
  assert trimmed["context_cameras"].shape[1] == 5 and trimmed["context_mask"][:, :4].all()
  assert trimmed["query_frame"].shape == (2, 16, 16, 3)
  # A real view in the last slot of one scene keeps all K; no real view keeps the smallest.
  mask[1, 9] = True
  assert context_trim.trim(_batch(mask), (3, 5, 8, 10))["context_mask"].shape[1] == 10
  assert context_trim.trim(_batch(np.zeros((2, 10), bool)), (3, 5, 8, 10))[
      "context_mask"].shape[1] == 3


def test_the_loss_of_a_trimmed_batch_is_the_full_batch_loss():
  mask = np.zeros((2, 8), bool)
  mask[0, :3] = mask[1, :1] = True
  full = _batch(mask)
  trimmed = context_trim.trim(full, context_trim.context_sizes(8))
  assert trimmed["context_mask"].shape[1] == 4
  model = GQN(TINY)
  params = jax.jit(model.init)({"params": jax.random.key(0), "sample": jax.random.key(1)}, full,
                               2.0)
  loss = jax.jit(lambda batch: jnp.mean(model.apply(params, batch, 2.0,
                                                    rngs={"sample": jax.random.key(2)}).elbo))
  np.testing.assert_allclose(loss(trimmed), loss(full), rtol=1e-6)
