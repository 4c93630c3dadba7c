"""The Generative Query Network (Eslami et al., Science 2018): config, Flax module, ELBO, units.

`GQN(config)` holds a representation network f (gqn_jax.representation), the L generator and
inference cores (gqn_jax.generator), a learned 4x4 stride-4 downsampling of the query image and
the image head eta^g. Public methods (random numbers from the 'sample' stream):
- `__call__(batch, sigma)` -> `ELBOTerms` (Algorithm S2), the training loss;
- `represent(context_frames, context_cameras, context_mask)` -> r;
- `generate(context_frames, context_cameras, context_mask, query_camera)` -> mean image (S3);
- `generate_from_representation(r, query_camera)` and
  `elbo_from_representation(r, query_frame, query_camera, sigma)` for scene algebra.
Cameras are raw poses [..., 5]; they are encoded here with gqn_jax.viewpoint.encode_viewpoint.

The image mean is sigmoid(eta^g(u_L)), eta^g a 1x1 conv: frames live in [0, 1], so the squash
keeps the mean (and every generated image) a valid image; the paper's pixel sigma (annealed
2.0 -> 0.7) is much wider than the sigmoid's saturated tails, so it costs no expressiveness.
"""

import dataclasses
import math

import flax.linen as nn
import flax.struct
import jax
import jax.numpy as jnp

from gqn_jax import distributions
from gqn_jax import generator
from gqn_jax import patch_conv
from gqn_jax import representation
from gqn_jax.viewpoint import encode_viewpoint

BATCH_KEYS = ("context_frames", "context_cameras", "context_mask", "query_frame", "query_camera")


@dataclasses.dataclass(frozen=True)
class GQNConfig:
  """Model hyperparameters; the defaults are the paper's model for 64x64 images.

  z_channels defaults to 3 latent channels per 16x16 position (768 numbers per step), as in
  iShohei220/torch-gqn; other ports use 64. 3 keeps the prior/posterior heads and the
  generator's input small (the KL is over 768 dimensions per step), and is configurable.
  """
  image_size: int = 64
  representation: str = "tower"  # 'tower' | 'pool' | 'pyramid' (Figure S1)
  num_layers: int = 12  # L, generation steps
  shared_cores: bool = False  # True: one core parameter set reused for all L steps
  h_channels: int = 128  # ConvLSTM hidden channels (generator and inference)
  z_channels: int = 3  # latent channels per position of the h x w grid
  canvas_channels: int = 128  # channels of the full-resolution canvas u
  r_channels: int = 256  # channels of the scene representation r
  remat: bool = False  # rematerialise each core step in the backward pass (less memory)
  scan: bool = True  # nn.scan over the cores; False: unrolled loop, same parameters
  # How the cores' 5x5 convs run: 'xla' (lax.conv), 'matmul' (im2col + one matmul, same params)
  # or 'auto' (matmul on CPU, where XLA's conv inside a scan is very slow; xla elsewhere).
  conv_impl: str = "auto"

  def __post_init__(self):
    if self.representation not in representation.REPRESENTATIONS:
      raise ValueError(f"GQNConfig.representation={self.representation!r}; expected one of "
                       f"{representation.REPRESENTATIONS}")
    multiple = 8 if self.representation == "pyramid" else 4
    if self.image_size <= 0 or self.image_size % multiple:
      raise ValueError(f"GQNConfig.image_size={self.image_size} must be a positive multiple of "
                       f"{multiple} for representation {self.representation!r} (the generator "
                       "works at a quarter of the image size)")
    for name in ("num_layers", "h_channels", "z_channels", "canvas_channels", "r_channels"):
      if getattr(self, name) <= 0:
        raise ValueError(f"GQNConfig.{name}={getattr(self, name)} must be positive")
    if self.r_channels % 8 and self.representation == "pyramid":
      raise ValueError(f"GQNConfig.r_channels={self.r_channels} must be a multiple of 8 for "
                       "the pyramid network")
    patch_conv.use_matmul(self.conv_impl)  # raises on an unknown value
    if self.r_channels % 2:
      raise ValueError(f"GQNConfig.r_channels={self.r_channels} must be even")

  @property
  def grid_size(self):
    """Side of the generator's latent grid: a quarter of the image (16 for 64x64)."""
    return self.image_size // 4

  @property
  def core_config(self):
    return generator.CoreConfig(
        num_layers=self.num_layers, shared_cores=self.shared_cores, h_channels=self.h_channels,
        z_channels=self.z_channels, canvas_channels=self.canvas_channels, remat=self.remat,
        scan=self.scan, conv_impl=self.conv_impl)


@flax.struct.dataclass
class ELBOTerms:
  """Per-example terms of the ELBO, all in nats per image."""
  nll: jax.Array  # [B] -log N(x^q | eta^g(u_L), sigma^2), summed over pixels and channels
  kl: jax.Array  # [B] sum over l of KL(q_l || pi_l)
  kl_per_step: jax.Array  # [B, L]
  elbo: jax.Array  # [B] -(nll + kl)
  reconstruction: jax.Array  # [B, H, W, 3] eta^g(u_L) with z drawn from the posterior


def nats_per_image(neg_elbo_B):
  """Mean over the batch of -ELBO, in nats per image (a scalar)."""
  return jnp.mean(neg_elbo_B)


def bits_per_dim(neg_elbo_B, image_size):
  """Mean over the batch of -ELBO in bits per dimension: nats / (S * S * 3 * ln 2).

  The likelihood is a continuous Gaussian density on [0, 1] pixel values, so this can go below
  zero once sigma is small; it is comparable only between runs at the same sigma.
  """
  return nats_per_image(neg_elbo_B) / (image_size * image_size * 3 * math.log(2.0))


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
        cfg.representation, cfg.r_channels)
    self.query_down = patch_conv.PatchConv(generator.QUERY_DOWN_CHANNELS, 4)
    self.cores = generator.Cores(cfg.core_config)
    self.image_head = nn.Conv(3, (1, 1))  # eta^g

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
    viewpoints = encode_viewpoint(context_cameras).reshape(batch_size * num_slots, -1)
    codes = self.representation_net(
        context_frames.reshape(batch_size * num_slots, size, size, 3), viewpoints)
    codes = codes.reshape(batch_size, num_slots, *codes.shape[1:])  # [B, K, h, w, R]
    return representation.aggregate(codes, context_mask.astype(bool))

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
    viewpoint_map = representation.broadcast_viewpoint(encode_viewpoint(query_camera), grid, grid)
    r_map = jnp.broadcast_to(r, (r.shape[0], grid, grid, r.shape[-1]))
    return viewpoint_map, r_map

  def _initial_carry(self, batch_size):
    cfg = self.config
    return generator.initial_carry(cfg.core_config, batch_size, cfg.grid_size, cfg.image_size)

  def _image_mean(self, canvas):
    return jax.nn.sigmoid(self.image_head(canvas))  # [B, S, S, 3]
