"""Table S1's annealing schedules, and that the learning rate scales Adam's step exactly once."""

import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gqn_jax.runs import config_files
from gqn_jax.runs import schedules
from gqn_jax.training import train


def _paper_train_config():
  return config_files.load("configs/rooms.py").train


@pytest.mark.parametrize("fraction, expected", [(0.0, 5e-4), (0.5, 2.75e-4), (1.0, 5e-5),
                                                (2.0, 5e-5)])
def test_learning_rate_at_0_half_n_and_2n(fraction, expected):
  schedule = schedules.learning_rate_schedule(_paper_train_config())
  step = int(fraction * 1_600_000)
  np.testing.assert_allclose(float(schedule(step)), expected, rtol=1e-6)


@pytest.mark.parametrize("fraction, expected", [(0.0, 2.0), (0.5, 1.35), (1.0, 0.7), (2.0, 0.7)])
def test_sigma_at_0_half_n_and_2n(fraction, expected):
  schedule = schedules.sigma_schedule(_paper_train_config())
  step = int(fraction * 200_000)
  np.testing.assert_allclose(float(schedule(step)), expected, rtol=1e-6)


def test_schedule_is_monotone_and_clamped():
  schedule = schedules.linear_anneal(2.0, 0.7, 10)
  values = np.array([float(schedule(s)) for s in range(25)])
  assert np.all(np.diff(values) <= 0)
  assert values[-1] == pytest.approx(0.7) and values.min() == pytest.approx(0.7)


def test_rising_schedule_clamps_at_final():
  schedule = schedules.linear_anneal(0.0, 1.0, 4)
  assert [float(schedule(s)) for s in (0, 2, 4, 8)] == pytest.approx([0.0, 0.5, 1.0, 1.0])


def test_bad_anneal_length_is_an_error():
  with pytest.raises(ValueError, match="num_steps"):
    schedules.linear_anneal(1.0, 0.5, 0)


def test_adam_step_size_follows_schedule_with_one_bias_correction():
  """Reference Adam written out: theta -= mu_s * m_hat / (sqrt(v_hat) + eps)."""
  config = _paper_train_config()
  config.lr_anneal_steps = 4  # so the rate changes noticeably within a few steps
  optimizer = train.build_optimizer(config)
  lr = schedules.learning_rate_schedule(config)
  params = jnp.array([0.3, -1.2, 2.0])
  state = optimizer.init(params)
  grads_per_step = [jnp.array([0.5, -2.0, 1e-3]) * (s + 1) ** 0.5 for s in range(6)]
  m = np.zeros(3)
  v = np.zeros(3)
  reference = np.array(params, np.float64)
  for step, grads in enumerate(grads_per_step):
    updates, state = optimizer.update(grads, state, params)
    params = optax.apply_updates(params, updates)
    g = np.asarray(grads, np.float64)
    m = 0.9 * m + 0.1 * g
    v = 0.999 * v + 0.001 * g * g
    m_hat = m / (1 - 0.9 ** (step + 1))
    v_hat = v / (1 - 0.999 ** (step + 1))
    reference -= float(lr(step)) * m_hat / (np.sqrt(v_hat) + 1e-8)
    np.testing.assert_allclose(np.asarray(params), reference, rtol=1e-5, atol=1e-7)
