"""The annealing schedules of Table S1: learning rate and pixel standard deviation.

Both follow the paper's form x_s = max(x_f + (x_i - x_f) * (1 - s / n), x_f): a linear ramp from
x_i at step 0 to x_f at step n, then constant. They are pure functions of the step so a resumed run
recomputes them exactly instead of checkpointing them.
"""

import jax.numpy as jnp


def linear_anneal(initial, final, num_steps):
  """The schedule s -> max(final + (initial - final) * (1 - s / num_steps), final).

  Works for a rising ramp too (final > initial): the clamp then uses min, so the value never
  overshoots `final`.
  """
  if num_steps <= 0:
    raise ValueError(f"anneal num_steps must be positive; got {num_steps}")
  initial, final = float(initial), float(final)
  clamp = jnp.maximum if initial >= final else jnp.minimum

  def schedule(step):
    fraction_left = 1.0 - jnp.asarray(step, jnp.float32) / num_steps
    return clamp(final + (initial - final) * fraction_left, final)

  return schedule


def learning_rate_schedule(train_config):
  """mu_s of Table S1 from config.train.{lr_initial, lr_final, lr_anneal_steps}."""
  return linear_anneal(train_config.lr_initial, train_config.lr_final,
                       train_config.lr_anneal_steps)


def sigma_schedule(train_config):
  """sigma_s of Table S1 from config.train.{sigma_initial, sigma_final, sigma_anneal_steps}."""
  return linear_anneal(train_config.sigma_initial, train_config.sigma_final,
                       train_config.sigma_anneal_steps)
