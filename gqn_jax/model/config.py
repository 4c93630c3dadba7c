"""`GQNConfig`: the model's hyperparameters, and the only place their defaults are written.

Training configs (`config.model`, configs/default.py) are made from these defaults,
and every network of the model reads its sizes from this one frozen dataclass.
"""

import dataclasses

import jax.numpy as jnp

from gqn_jax.model import convs
from gqn_jax.model import representation


IMAGE_MEANS = ("linear", "sigmoid")
COMPUTE_DTYPES = ("float32", "bfloat16")


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
  # How the cores' 5x5 convs run, all with nn.Conv's parameters: 'xla' (lax.conv), 'matmul'
  # (im2col + one matmul), 'winograd_2x2' / 'winograd_4x4' (Winograd F(2x2 | 4x4, 5x5)), or
  # 'auto': convs.CPU_DEFAULT on CPU, where XLA's conv inside a scan is very slow; xla elsewhere.
  conv_impl: str = "auto"
  # The Gaussian mean of a pixel: 'linear' is eta^g(u_L) itself (Algorithm S2); 'sigmoid'
  # squashes it into [0, 1], which scales its gradient by mu (1 - mu) and so weakens the pull on
  # pixels near 0 or 1 (a black background) by 20x or more. Predictions are clipped to [0, 1]
  # only where they become pictures or PSNR (training/metrics.py).
  image_mean: str = "linear"
  # The dtype of activations and convolutions. Parameters (and so Adam's moments) stay float32,
  # and so do the sums that carry precision across steps (the canvas, the LSTM cell state) and
  # the ELBO's terms (image mean, log-density, posterior and prior, KL). 'bfloat16' is for TPUs
  # and GPUs (docs/model.md); XLA:CPU computes it no faster than float32.
  compute_dtype: str = "float32"
  # Camera positions are multiplied by this positive number before they enter the networks
  # (viewpoint.py), beside pixels in [0, 1] and unit-range angle features; 1.0 is the paper's raw
  # poses. A training run chooses it from its data (config.model.position_scale='auto',
  # resolved by gqn_jax.runs.configs.model_config before the model is built): the model itself
  # only ever holds the number.
  position_scale: float = 1.0

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
    convs.resolve_conv_impl(self.conv_impl)  # raises on an unknown value
    if self.compute_dtype not in COMPUTE_DTYPES:
      raise ValueError(f"GQNConfig.compute_dtype={self.compute_dtype!r}; expected one of "
                       f"{COMPUTE_DTYPES}")
    if self.image_mean not in IMAGE_MEANS:
      raise ValueError(f"GQNConfig.image_mean={self.image_mean!r}; expected one of {IMAGE_MEANS}")
    object.__setattr__(self, "position_scale", parse_position_scale(self.position_scale))
    if self.r_channels % 2:
      raise ValueError(f"GQNConfig.r_channels={self.r_channels} must be even")

  @property
  def dtype(self):
    """compute_dtype as a jnp dtype."""
    return jnp.dtype(self.compute_dtype)

  @property
  def grid_size(self):
    """Side of the generator's latent grid: a quarter of the image (16 for 64x64)."""
    return self.image_size // 4


def parse_position_scale(value):
  """A positive, finite number from a number or its text; ValueError naming the value else."""
  if isinstance(value, bool):
    value = None
  try:
    number = float(value)
  except (TypeError, ValueError):
    number = float("nan")
  if not number > 0 or number == float("inf"):
    hint = (" ('auto' is a training run's setting, config.model.position_scale, resolved from "
            "the data by gqn_jax.runs.configs.model_config)" if value == "auto" else "")
    raise ValueError(f"GQNConfig.position_scale={value!r}: expected a positive number{hint}")
  return number


def defaults(exclude=("image_size",)):
  """{field: default} of GQNConfig, without the fields in `exclude` (image_size: the data's)."""
  return {field.name: field.default for field in dataclasses.fields(GQNConfig)
          if field.name not in exclude}
