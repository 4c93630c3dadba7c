"""The paper's analyses of a trained GQN: scene algebra, per-pixel uncertainty, information gain.

All functions take a `gqn_jax.trained.restore.TrainedGQN` (from `restore.load`) and raw poses.

Scene algebra (the paper's shape, colour and position arithmetic). Representations add:
r(A) - r(B) + r(C) is fed to the generator as if it described one scene, e.g. "red sphere" -
"blue sphere" + "blue cube" should render a red cube. `scene_algebra` does the arithmetic on
r = represent(context) and renders the result.

Uncertainty. The generator is a latent-variable model, so where the context does not pin the
scene down its prior samples disagree. `pixel_uncertainty` is the standard deviation across
prior samples of each pixel, averaged over the three colour channels.

Expected information gain of a candidate view v (the maze experiment). The quantity of interest
is the mutual information between the latents z and the image x seen from v, given the context:

  I(z; x | v, context) = E_{x ~ p(x | v, context)} KL(p(z | x, v, context) || p(z | v, context)).

Our estimator replaces the true posterior by the model's inference network q and the expectation by
a Monte Carlo average over S imagined observations:

  EIG(v) ~= (1/S) sum_s KL( q(z | x_s, v, context) || p(z | v, context) ),  x_s = eta^g(u_L^(s)),

where x_s is the generator's mean image for the s-th prior draw of z (Algorithm S3), and the KL is
the ELBO's KL term summed over the L generation steps (itself a single-sample estimate: the
per-step KLs are analytic Gaussians, conditioned on posterior samples of the earlier steps). It
is in nats. We feed the mean image rather than adding N(0, sigma^2) pixel noise because the
inference network was trained on clean images. This is an approximation, not a bound: it equals
the mutual information only when q is the exact posterior and S is large. Views whose content the
context already determines should score low.
"""

import jax
import jax.numpy as jnp


def scene_algebra(trained, context_a, context_b, context_c, query_cameras, rng, num_samples=1):
  """Renders r(A) - r(B) + r(C) from query poses.

  Args:
    trained: a `gqn_jax.trained.restore.TrainedGQN`.
    context_a, context_b, context_c: each a (frames [B, M, H, W, 3], cameras [B, M, 5]) pair; the
      three may have different M. Row b of each is combined with row b of the others.
    query_cameras: [B, Q, 5] raw poses to render the combined scene from.
    rng: a jax.random key.
    num_samples: prior samples per query.

  Returns:
    `restore.RenderOutput` with images [B, Q, H, W, 3] and samples [B, Q, S, H, W, 3].
  """
  r_a = trained.represent(*context_a)
  r_b = trained.represent(*context_b)
  r_c = trained.represent(*context_c)
  if not r_a.shape == r_b.shape == r_c.shape:
    raise ValueError(
        f"the three contexts must hold the same number of scenes; got representations "
        f"{r_a.shape}, {r_b.shape}, {r_c.shape}")
  return trained.render_from_representation(r_a - r_b + r_c, query_cameras, rng, num_samples)


def pixel_uncertainty(samples):
  """Per-pixel spread of prior samples [..., S, H, W, 3] -> standard deviation [..., H, W].

  The standard deviation is taken over the S samples (population form, so S = 1 gives zeros) and
  then averaged over the colour channels.
  """
  samples = jnp.asarray(samples)
  if samples.ndim < 4 or samples.shape[-1] != 3:
    raise ValueError(f"samples must be shaped [..., S, H, W, 3]; got {samples.shape}")
  return jnp.std(samples, axis=-4).mean(axis=-1)


def expected_information_gain(trained, frames, cameras, candidate_cameras, rng, num_samples=8,
                              mask=None):
  """Monte Carlo estimate (nats) of what each candidate view would tell about the scene latents.

  See the module docstring for the estimator. Args:
    trained: a `gqn_jax.trained.restore.TrainedGQN`.
    frames, cameras, mask: the context, [B, M, H, W, 3] and [B, M, 5] (M may be 0).
    candidate_cameras: [B, V, 5] raw poses of the views being considered.
    rng: a jax.random key.
    num_samples: S imagined observations per candidate.

  Returns:
    eig [B, V] in nats (higher: the view would be more informative).
  """
  render_key, kl_key = jax.random.split(rng)
  r = trained.represent(frames, cameras, mask)
  imagined = trained.render_from_representation(r, candidate_cameras, render_key, num_samples)
  batch, num_views, num_samples = imagined.samples.shape[:3]
  size = trained.image_size
  rows = batch * num_views * num_samples
  # Rows ordered (scene, view, sample), as render_from_representation lays them out.
  r_rows = jnp.repeat(r, num_views * num_samples, axis=0)
  cameras_rows = jnp.repeat(
      jnp.asarray(candidate_cameras, jnp.float32).reshape(batch * num_views, -1), num_samples,
      axis=0)
  frames_rows = imagined.samples.reshape(rows, size, size, 3)
  kl_rows = []
  chunk = trained.chunk_size
  for index, start in enumerate(range(0, rows, chunk)):
    # Fixed-size chunks (the last one padded by repeating its final row) keep one compile.
    take = jnp.arange(start, start + min(chunk, rows)).clip(max=rows - 1)
    terms = trained.elbo_from_representation(
        r_rows[take], frames_rows[take], cameras_rows[take], jax.random.fold_in(kl_key, index))
    kl_rows.append(terms.kl[:min(chunk, rows - start)])
  kl = jnp.concatenate(kl_rows).reshape(batch, num_views, num_samples)
  return kl.mean(axis=-1)
