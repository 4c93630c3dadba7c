"""Diagonal Gaussians: the densities, KL divergences and samples the GQN ELBO is built from.

Every function works elementwise on arrays of any shape; callers sum over the axes they mean
(pixels for the likelihood, latent positions and channels for the KL).
"""

import math

import jax
import jax.numpy as jnp

# A floor on predicted standard deviations: keeps log(std) and 1/std finite when a head's raw
# output goes very negative early in training, far below any scale the model needs.
MIN_STD = 1e-4
_LOG_2PI = math.log(2.0 * math.pi)


def std_from_raw(raw):
  """Unconstrained head output -> positive standard deviation (softplus, floored at MIN_STD)."""
  return jax.nn.softplus(raw) + MIN_STD


def split_mean_std(head_output_BxHxWx2Z):
  """Splits a head's [..., 2Z] output into (mean [..., Z], positive std [..., Z])."""
  mean, raw_std = jnp.split(head_output_BxHxWx2Z, 2, axis=-1)
  return mean, std_from_raw(raw_std)


def gaussian_log_prob(x, mean, std):
  """log N(x | mean, std^2), elementwise, in nats."""
  std = jnp.asarray(std, dtype=jnp.result_type(x, float))
  z = (x - mean) / std
  return -0.5 * (z * z + _LOG_2PI) - jnp.log(std)


def kl_gaussians(mean_q, std_q, mean_p, std_p):
  """KL(N(mean_q, std_q^2) || N(mean_p, std_p^2)), elementwise, analytic, in nats."""
  variance_ratio = jnp.square(std_q / std_p)
  mean_term = jnp.square((mean_q - mean_p) / std_p)
  return 0.5 * (variance_ratio + mean_term - 1.0 - jnp.log(variance_ratio))


def sample(key, mean, std):
  """One reparameterised sample mean + std * eps, eps ~ N(0, 1) (gradients flow to mean, std)."""
  return mean + std * jax.random.normal(key, mean.shape, mean.dtype)
