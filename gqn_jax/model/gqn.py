"""The Generative Query Network (Eslami et al., Science 2018): the Flax module and its ELBO.

`GQN(config)`, config a `gqn_jax.model.config.GQNConfig`, holds a representation network f
(representation.py), the L generator and inference cores (cores.py), a learned 4x4 stride-4
downsampling of the query image and the image head eta^g. Public methods (random numbers from
the 'sample' stream):
- `__call__(batch, sigma)` -> `ELBOTerms` (Algorithm S2), the training loss;
- `represent(context_frames, context_cameras, context_mask)` -> r;
- `generate(context_frames, context_cameras, context_mask, query_camera)` -> mean image (S3);
- `generate_from_representation(r, query_camera)` and
  `elbo_from_representation(r, query_frame, query_camera, sigma)` for scene algebra.
Cameras are raw poses [..., 5]; they are encoded here with viewpoint.encode_viewpoint.
A batch is the dict of BATCH_KEYS described in docs/architecture.md; `dummy_batch` makes one.

The image mean is eta^g(u_L), eta^g a 1x1 conv, as in Algorithm S2 (GQNConfig.image_mean='linear'),
or sigmoid(eta^g(u_L)) ('sigmoid'), which keeps it in [0, 1] but scales its gradient by
mu (1 - mu): see GQNConfig and docs/learning.md for which learns faster.
"""

import flax.linen as nn
import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from gqn_jax.model import convs
from gqn_jax.model import cores
from gqn_jax.model import distributions
from gqn_jax.model import representation
from gqn_jax.model.config import GQNConfig
from gqn_jax.model.viewpoint import RAW_POSE_SIZE
from gqn_jax.model.viewpoint import encode_viewpoint

BATCH_KEYS = ("context_frames", "context_cameras", "context_mask", "query_frame", "query_camera")


def dummy_batch(image_size, num_slots, batch_size=1):
  """Zeros with a real batch's shapes and dtypes, every slot real (for init and shapes)."""
  return {
      "context_frames": np.zeros((batch_size, num_slots, image_size, image_size, 3), np.float32),
      "context_cameras": np.zeros((batch_size, num_slots, RAW_POSE_SIZE), np.float32),
      "context_mask": np.ones((batch_size, num_slots), bool),
      "query_frame": np.zeros((batch_size, image_size, image_size, 3), np.float32),
      "query_camera": np.zeros((batch_size, RAW_POSE_SIZE), np.float32),
  }


@flax.struct.dataclass
class ELBOTerms:
  """Per-example terms of the ELBO, all in nats per image."""
  nll: jax.Array  # [B] -log N(x^q | eta^g(u_L), sigma^2), summed over pixels and channels
  kl: jax.Array  # [B] sum over l of KL(q_l || pi_l)
  kl_per_step: jax.Array  # [B, L]
  elbo: jax.Array  # [B] -(nll + kl)
  reconstruction: jax.Array  # [B, H, W, 3] eta^g(u_L) with z drawn from the posterior


def _check_shape(name, array, expected):
  """expected: tuple with None for free dimensions."""
  ok = array.ndim == len(expected) and all(
      e is None or a == e for a, e in zip(array.shape, expected))
  if not ok:
    pretty = tuple("?" if e is None else e for e in expected)
    raise ValueError(f"{name} has shape {tuple(array.shape)}; expected {pretty}")


class GQN(nn.Module):
  """The Generative Query Network; see the module docstring for the methods."""
  config: GQNConfig

  def setup(self):
    cfg = self.config
    self.representation_net = representation.make_representation_net(
        cfg.representation, cfg.r_channels, cfg.conv_impl, cfg.dtype)
    self.query_down = convs.PatchConv(cores.QUERY_DOWN_CHANNELS, 4, cfg.dtype)
    self.cores = cores.Cores(cfg)
    self.image_head = nn.Conv(3, (1, 1))  # eta^g, float32 like the canvas it reads

  def __call__(self, batch, sigma):
    missing = [k for k in BATCH_KEYS if k not in batch]
    if missing:
      raise KeyError(f"batch is missing {missing}; a GQN batch needs {list(BATCH_KEYS)} "
                     "(see docs/architecture.md)")
    r = self.represent(batch["context_frames"], batch["context_cameras"], batch["context_mask"])
    return self.elbo_from_representation(r, batch["query_frame"], batch["query_camera"], sigma)

  def represent(self, context_frames, context_cameras, context_mask):
    """Context [B, K, S, S, 3], raw poses [B, K, 5], mask [B, K] -> r [B, h, w, R]."""
    size = self.config.image_size
    _check_shape("context_frames", context_frames, (None, None, size, size, 3))
    batch_size, num_slots = context_frames.shape[:2]
    _check_shape("context_cameras", context_cameras, (batch_size, num_slots, 5))
    _check_shape("context_mask", context_mask, (batch_size, num_slots))
    # Padded slots may hold anything (NaN included). Zeroing them before the tower, not only in
    # the sum, keeps them out of the backward pass too: a NaN that enters the tower would reach
    # the parameter gradients through 0 * NaN even though the forward sum ignores it.
    keep = context_mask.astype(bool)
    context_frames = jnp.where(keep[:, :, None, None, None], context_frames, 0.0)
    context_cameras = jnp.where(keep[:, :, None], context_cameras, 0.0)
    viewpoints = encode_viewpoint(context_cameras, self.config.position_scale)
    viewpoints = viewpoints.reshape(batch_size * num_slots, -1)
    codes = self.representation_net(
        context_frames.reshape(batch_size * num_slots, size, size, 3), viewpoints)
    codes = codes.reshape(batch_size, num_slots, *codes.shape[1:])  # [B, K, h, w, R]
    return representation.aggregate(codes, keep)

  def elbo_from_representation(self, r, query_frame, query_camera, sigma):
    """Algorithm S2 for given r: ELBO terms of query_frame [B, S, S, 3] seen from query_camera."""
    size = self.config.image_size
    _check_shape("query_frame", query_frame, (r.shape[0], size, size, 3))
    viewpoint_map, r_map = self._conditioning(r, query_camera)
    query_down = self.query_down(query_frame)  # [B, h, w, 48]
    carry, kl_LxB = self.cores(self._initial_carry(r.shape[0]), viewpoint_map, r_map,
                               query_down, self.make_rng("sample"))
    mean_image = self._image_mean(carry.canvas)
    log_prob = distributions.gaussian_log_prob(query_frame, mean_image, sigma)
    nll = -jnp.sum(log_prob, axis=(1, 2, 3))  # [B]
    kl_per_step = kl_LxB.T  # [B, L]
    kl = jnp.sum(kl_per_step, axis=1)  # [B]
    return ELBOTerms(nll=nll, kl=kl, kl_per_step=kl_per_step, elbo=-(nll + kl),
                     reconstruction=mean_image)

  def generate(self, context_frames, context_cameras, context_mask, query_camera):
    """Algorithm S3: the mean image [B, S, S, 3] of a novel view, z drawn from the prior."""
    r = self.represent(context_frames, context_cameras, context_mask)
    return self.generate_from_representation(r, query_camera)

  def generate_from_representation(self, r, query_camera):
    """Algorithm S3 for a given r [B, h, w, R] (e.g. from scene algebra) -> mean image."""
    viewpoint_map, r_map = self._conditioning(r, query_camera)
    carry, _ = self.cores(self._initial_carry(r.shape[0]), viewpoint_map, r_map, None,
                          self.make_rng("sample"))
    return self._image_mean(carry.canvas)

  def _conditioning(self, r, query_camera):
    """v^q and r as maps over the generator's h x w grid (r broadcast when it is 1x1)."""
    grid = self.config.grid_size
    _check_shape("r", r, (None, None, None, self.config.r_channels))
    if r.shape[1:3] not in ((1, 1), (grid, grid)):
      raise ValueError(f"r has shape {tuple(r.shape)}; expected spatial size 1x1 or "
                       f"{grid}x{grid} for image_size {self.config.image_size}")
    _check_shape("query_camera", query_camera, (r.shape[0], 5))
    viewpoint_map = representation.broadcast_viewpoint(
        encode_viewpoint(query_camera, self.config.position_scale), grid, grid)
    r_map = jnp.broadcast_to(r, (r.shape[0], grid, grid, r.shape[-1]))
    return viewpoint_map, r_map

  def _initial_carry(self, batch_size):
    return cores.initial_carry(self.config, batch_size)

  def _image_mean(self, canvas_patches):
    """The image's Gaussian mean from the final canvas, kept as 4x4 patches (cores.CoreCarry):
    the 1x1 head reads each pixel of each patch, and only its 3 channels become an image."""
    b, h, w, _ = canvas_patches.shape
    pixels = cores.CANVAS_PATCH**2
    eta_patches = self.image_head(canvas_patches.reshape(b, h, w, pixels, -1))  # [B, h, w, 16, 3]
    eta = convs.depth_to_space(eta_patches.reshape(b, h, w, -1), cores.CANVAS_PATCH)  # [B, S, S, 3]
    return jax.nn.sigmoid(eta) if self.config.image_mean == "sigmoid" else eta
