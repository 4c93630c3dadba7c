"""The formulas every score of a GQN is computed with, and the only place each is written.

`nats_per_image`, `bits_per_dim`, `mse_per_image`, `psnr`, `ssim_per_image`: training's metrics,
evaluation and the restored-model API use them. They work on jax and numpy arrays.
"""

import math

import dm_pix
import jax.numpy as jnp

_MIN_MSE = 1e-10  # PSNR of a perfect prediction: 100 dB instead of infinity


def nats_per_image(neg_elbo_B):
  """Mean over the batch of -ELBO, in nats per image (a scalar): the training loss."""
  return jnp.mean(neg_elbo_B)


def bits_per_dim(neg_elbo_nats, image_size):
  """-ELBO in nats per image -> bits per dimension, nats / (S * S * 3 * ln 2), elementwise.

  The likelihood is a continuous Gaussian density on [0, 1] pixel values, so this can go below
  zero once sigma is small; it is comparable only between runs at the same sigma.
  """
  return neg_elbo_nats / (image_size * image_size * 3 * math.log(2.0))


def mse_per_image(prediction_BxHxWx3, target_BxHxWx3):
  """Mean squared error of each image [B] over its pixels and channels.

  The prediction is clipped to [0, 1] first, as it is when drawn: a linear image head's Gaussian
  mean may leave the range of pixel values, and no picture can.
  """
  prediction = jnp.clip(prediction_BxHxWx3, 0.0, 1.0)
  return jnp.mean(jnp.square(prediction - target_BxHxWx3), axis=(1, 2, 3))


def psnr(mse):
  """Peak signal-to-noise ratio in dB of images in [0, 1] with mean squared error `mse`:
  10 log10(1 / mse), elementwise; averaged per image, never computed from an averaged MSE."""
  return -10.0 * jnp.log10(jnp.maximum(mse, _MIN_MSE))


def ssim_per_image(prediction_BxHxWx3, target_BxHxWx3):
  """Structural similarity of each image [B] (dm-pix: an 11-pixel Gaussian window of sigma 1.5,
  the settings of Wang et al. 2004 and of the few-view synthesis papers), the prediction clipped
  to [0, 1] as in `mse_per_image`."""
  prediction = jnp.clip(prediction_BxHxWx3, 0.0, 1.0)
  return dm_pix.ssim(prediction, jnp.asarray(target_BxHxWx3, prediction.dtype))
