"""Checks the Gaussian log-density and analytic KL against independent computations."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gqn_jax.model import distributions


def test_log_prob_matches_scipy_formula():
  rng = np.random.default_rng(0)
  x, mean = rng.normal(size=(2, 50))
  std = rng.uniform(0.1, 3.0, size=50)
  expected = jax.scipy.stats.norm.logpdf(x, mean, std)
  got = distributions.gaussian_log_prob(jnp.asarray(x), jnp.asarray(mean), jnp.asarray(std))
  np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_log_prob_accepts_a_python_float_std():
  got = distributions.gaussian_log_prob(jnp.zeros(3), jnp.zeros(3), 2.0)
  np.testing.assert_allclose(got, np.full(3, -0.5 * np.log(2 * np.pi) - np.log(2.0)), rtol=1e-6)


@pytest.mark.parametrize("seed", [0, 1])
def test_analytic_kl_matches_monte_carlo(seed):
  rng = np.random.default_rng(seed)
  mean_q, mean_p = rng.normal(size=(2, 4)).astype(np.float32)
  std_q, std_p = rng.uniform(0.3, 2.0, size=(2, 4)).astype(np.float32)
  num_samples = 400_000
  z = distributions.sample(jax.random.key(seed), jnp.broadcast_to(mean_q, (num_samples, 4)),
                           jnp.broadcast_to(std_q, (num_samples, 4)))
  log_ratio = (distributions.gaussian_log_prob(z, mean_q, std_q)
               - distributions.gaussian_log_prob(z, mean_p, std_p))
  monte_carlo = np.asarray(jnp.mean(log_ratio, axis=0))
  standard_error = np.asarray(jnp.std(log_ratio, axis=0)) / np.sqrt(num_samples)
  analytic = np.asarray(distributions.kl_gaussians(mean_q, std_q, mean_p, std_p))
  np.testing.assert_array_less(np.abs(monte_carlo - analytic), 5 * standard_error + 1e-4)


def test_kl_is_zero_for_equal_and_positive_for_different():
  mean, std = jnp.array([0.3, -1.0]), jnp.array([0.5, 2.0])
  np.testing.assert_allclose(distributions.kl_gaussians(mean, std, mean, std), 0.0, atol=1e-7)
  assert np.all(np.asarray(distributions.kl_gaussians(mean, std, mean + 0.1, std * 1.5)) > 0)


def test_std_is_positive_even_for_very_negative_raw():
  std = distributions.std_from_raw(jnp.array([-1e4, -10.0, 0.0, 10.0]))
  assert np.all(np.asarray(std) >= distributions.MIN_STD)
  np.testing.assert_allclose(std[2], np.log(2.0) + distributions.MIN_STD, rtol=1e-6)
