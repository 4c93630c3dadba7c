"""Test-set evaluation of a trained GQN as a function of the number of context views.

  python -m gqn_jax.evaluate --workdir=DIR [--num_scenes=N] [--out=DIR]   (gqn_jax/evaluate.py)

For every test scene a fixed random permutation of its views (seeded by --seed and the scene's
index) picks the query view (the first) and the context views: the next M, for M = 0..K with
K = config.data.max_context. Contexts are nested (M + 1 views contain the M views), so the curves
show what each extra view adds. Per M it reports, averaged over scenes:

  elbo_nats_per_image   the ELBO log p(x | v, context) >= -(nll + kl), in nats per image
  bits_per_dim          -ELBO / (H * W * 3 * ln 2), the usual bits per dimension
  kl_nats, nll_nats     the two terms of -ELBO
  mse, psnr_db          of the predicted mean image (the average of --num_samples generator means
                        eta^g(u_L), Algorithm S3) against the query view; PSNR is
                        per image, then averaged over scenes (formulas: training/metrics.py)

  ssim                  structural similarity of the predicted mean image and the query view
                        (runs/image_metrics.ssim_per_image, dm-pix), per image, then averaged
  psnr_object_db        the same PSNR over object pixels only: those of the target that differ
                        from the background by more than OBJECT_THRESHOLD in some channel (so that
                        drawing an empty scene does not count as drawing the object)

With `baselines` (`--baselines`), two context-free predictions are scored on the same query views:
the mean training image and the plain background (the per-pixel median of training images: black
for Shepard-Metzler objects, the empty room for rooms), each with psnr_db and psnr_object_db.

The Gaussian pixel likelihood is a density, so the ELBO can be positive and bits/dim negative; the
numbers compare models evaluated with the same sigma (by default the annealed sigma at the
checkpoint's step, reported in the JSON). Writes `evaluation.json` and `evaluation.png` into the
workdir, or into --out.
"""

import json
import math

import jax
import numpy as np

from gqn_jax.data import reader
from gqn_jax.runs import image_metrics
from gqn_jax.runtime import console
from gqn_jax.runtime import paths
from gqn_jax.trained import restore
from gqn_jax.trained import run_scenes

METRICS = ("elbo_nats_per_image", "bits_per_dim", "kl_nats", "nll_nats", "mse", "psnr_db",
           "psnr_object_db", "ssim")
BASELINE_METRICS = ("psnr_db", "psnr_object_db", "ssim")
OBJECT_THRESHOLD = 0.1  # |target - background| in [0, 1] units above which a pixel is "object"
BASELINE_TRAIN_SCENES = 200  # training scenes (all their views) the baseline images come from


def baseline_images(config, data_root=None, num_scenes=BASELINE_TRAIN_SCENES):
  """{'mean_image', 'background'} [H, W, 3] from the training split's first scenes (all views).

  The background is the per-pixel median: objects cover any one pixel in few views, so the
  median is the scene without them (black for Shepard-Metzler, the empty room for rooms).
  """
  frames = np.concatenate([scene_frames for scene_frames, _ in run_scenes.iter_scenes(
      config, "train", num_scenes, data_root)])  # [N * S, H, W, 3]
  return {"mean_image": frames.mean(axis=0), "background": np.median(frames, axis=0)}


def object_mask(targets_BxHxWx3, background_HxWx3):
  """[B, H, W] bool: pixels that differ from the background in some channel."""
  return np.max(np.abs(targets_BxHxWx3 - background_HxWx3), axis=-1) > OBJECT_THRESHOLD


def object_psnr(predictions_BxHxWx3, targets_BxHxWx3, mask_BxHxW):
  """[B] PSNR over each image's object pixels; NaN for an image without any (left out of means).

  Predictions are clipped to [0, 1] first, as runs/image_metrics.mse_per_image does for all pixels.
  """
  predictions = np.clip(np.asarray(predictions_BxHxWx3), 0.0, 1.0)
  squared = np.square(predictions - targets_BxHxWx3).mean(axis=-1)
  count = mask_BxHxW.sum(axis=(1, 2))
  mse = np.where(mask_BxHxW, squared, 0.0).sum(axis=(1, 2)) / np.maximum(count, 1)
  return np.where(count > 0, np.asarray(image_metrics.psnr(mse)), np.nan)


def view_orders(scene_ids, views_per_scene, seed):
  """[N, S] permutations of view indices; the row of scene n depends only on (seed, n)."""
  return np.stack([
      np.random.default_rng([seed, int(scene)]).permutation(views_per_scene)
      for scene in scene_ids])


def _batch_metrics(trained, frames, cameras, query_frames, query_cameras, key, num_samples,
                   sigma, background):
  """Per-scene metrics [b] for one batch of contexts with M = frames.shape[1] views."""
  elbo_key, render_key = jax.random.split(key)
  r = trained.represent(frames, cameras)
  terms = trained.elbo_from_representation(r, query_frames, query_cameras, elbo_key, sigma)
  rendered = trained.render_from_representation(
      r, query_cameras[:, None], render_key, num_samples)
  mse = image_metrics.mse_per_image(rendered.images[:, 0], query_frames)
  return {
      "elbo_nats_per_image": terms.elbo,
      "bits_per_dim": image_metrics.bits_per_dim(-terms.elbo, trained.image_size),
      "kl_nats": terms.kl,
      "nll_nats": terms.nll,
      "mse": mse,
      "psnr_db": image_metrics.psnr(mse),
      "psnr_object_db": object_psnr(rendered.images[:, 0], query_frames,
                                    object_mask(query_frames, background)),
      "ssim": image_metrics.ssim_per_image(rendered.images[:, 0], query_frames),
  }


def _baseline_metrics(query_frames, baselines):
  """{baseline: {'psnr_db': [b], 'psnr_object_db': [b]}} of the context-free predictions."""
  mask = object_mask(query_frames, baselines["background"])
  scores = {}
  for name in ("mean_image", "background"):
    prediction = np.broadcast_to(baselines[name], query_frames.shape)
    scores[name] = {
        "psnr_db": np.asarray(image_metrics.psnr(image_metrics.mse_per_image(prediction,
                                                                         query_frames))),
        "psnr_object_db": object_psnr(prediction, query_frames, mask),
        "ssim": np.asarray(image_metrics.ssim_per_image(prediction, query_frames))}
  return scores


def _block_metrics(trained, frames, cameras, first_scene, batch_size, rng, max_context,
                   num_samples, sigma, seed, baselines, fixed_views=False):
  """({metric: [K + 1, b]}, baseline scores or None) for a block of b <= batch_size scenes
  numbered from first_scene; `fixed_views`: their views are already query first, then context."""
  num_scenes, views_per_scene = frames.shape[:2]
  reader.check_context_fits(max_context, views_per_scene, trained.config.data.name)
  order = np.broadcast_to(np.arange(views_per_scene), (num_scenes, views_per_scene)) if (
      fixed_views) else view_orders(range(first_scene, first_scene + num_scenes),
                                    views_per_scene, seed)
  rows = np.arange(num_scenes)[:, None]
  frames, cameras = frames[rows, order], cameras[rows, order]
  # Pad to batch_size by repeating the last scene, so every block has one shape (one compile).
  padded = np.arange(batch_size).clip(max=num_scenes - 1)
  frames, cameras = frames[padded], cameras[padded]
  block = {name: [] for name in METRICS}
  # Without baselines, object pixels are those that differ from black.
  background = np.zeros(frames.shape[2:], np.float32) if baselines is None else baselines[
      "background"]
  for num_context in range(max_context + 1):
    key = jax.random.fold_in(jax.random.fold_in(rng, num_context), first_scene)
    metrics = _batch_metrics(
        trained, frames[:, 1:1 + num_context], cameras[:, 1:1 + num_context], frames[:, 0],
        cameras[:, 0], key, num_samples, sigma, background)
    for name in METRICS:
      block[name].append(np.asarray(metrics[name])[:num_scenes])
  scores = None if baselines is None else _baseline_metrics(frames[:num_scenes, 0], baselines)
  return {name: np.stack(values) for name, values in block.items()}, scores


def evaluate_stream(trained, scenes, rng, max_context=None, batch_size=16, num_samples=1,
                    sigma=None, seed=0, baselines=None, total=None, fixed_views=False):
  """Metrics per number of context views over an iterable of scenes, batch_size at a time.

  Args:
    trained: a `gqn_jax.trained.restore.TrainedGQN`.
    scenes: iterable of (frames [S, H, W, 3] float in [0, 1], cameras [S, 5] raw poses), e.g.
      `run_scenes.iter_test_scenes(config)`; only one batch of scenes is held at a time.
    rng: jax.random key; the same key gives the same numbers.
    max_context: largest M (default config.data.max_context); must be below S.
    batch_size: scenes per compiled call (the last batch is padded, padding is discarded).
    num_samples: prior samples averaged into the predicted mean image.
    sigma: pixel standard deviation for the ELBO (default: the checkpoint's annealed sigma).
    seed: seeds the per-scene view permutations.
    baselines: None, or `baseline_images(config)`: also score those context-free predictions,
      and take object pixels relative to its background (else relative to black).
    total: the number of scenes, if known: the progress lines (every 10 s) then show an ETA.
    fixed_views: the scenes' views come in their evaluation order (query first, then the
      context views; run_scenes.views_in_evaluation_order), instead of drawn by `seed`.

  Returns:
    {'num_context': [0..K], metric: [K + 1 means], metric + '_stderr': [...], 'step', 'sigma',
    'num_scenes', 'num_samples'} for every metric in METRICS, and with baselines
    'baselines': {name: {'psnr_db', 'psnr_object_db', and their '_stderr'}}.
  """
  max_context = trained.config.data.max_context if max_context is None else max_context
  sigma = trained.sigma if sigma is None else float(sigma)
  blocks, pending, num_scenes = [], [], 0
  progress = console.Progress("evaluate: scenes", total)

  def flush():
    frames, cameras = (np.stack(parts).astype(np.float32) for parts in zip(*pending))
    blocks.append(_block_metrics(trained, frames, cameras, num_scenes - len(pending),
                                 batch_size, rng, max_context, num_samples, sigma, seed,
                                 baselines, fixed_views))
    pending.clear()
    progress.update(num_scenes)

  for scene in scenes:
    pending.append(scene)
    num_scenes += 1
    if len(pending) == batch_size:
      flush()
  if pending:
    flush()
  if num_scenes == 0:
    raise ValueError("evaluation needs at least one scene")
  progress.finish(num_scenes)
  per_context = {name: list(np.concatenate([b[name] for b, _ in blocks], axis=1))
                 for name in METRICS}
  results = summarize(per_context, max_context, num_scenes, sigma, trained.step, num_samples)
  if baselines is not None:
    results["baselines"] = {
        name: _mean_and_stderr({metric: np.concatenate([s[name][metric] for _, s in blocks])
                                for metric in BASELINE_METRICS})
        for name in ("mean_image", "background")}
  return results


def _mean_and_stderr(values_by_name):
  """{name: mean, name_stderr: ...} over scenes; NaN (an image without object pixels) left out."""
  out = {}
  for name, values in values_by_name.items():
    values = np.asarray(values, np.float64)
    values = values[~np.isnan(values)]
    out[name] = float(np.mean(values)) if len(values) else float("nan")
    out[name + "_stderr"] = float(np.std(values) / math.sqrt(max(len(values), 1)))
  return out


def evaluate_scenes(trained, frames_NxSxHxWx3, cameras_NxSx5, rng, **kwargs):
  """`evaluate_stream` over scenes held in memory: frames [N, S, H, W, 3], cameras [N, S, 5]."""
  return evaluate_stream(trained, zip(frames_NxSxHxWx3, cameras_NxSx5), rng, **kwargs)


def summarize(per_context, max_context, num_scenes, sigma, step, num_samples):
  """Means and standard errors over scenes, as plain JSON-ready Python numbers."""
  results = {
      "step": int(step), "num_scenes": int(num_scenes), "sigma": float(sigma),
      "num_samples": int(num_samples), "num_context": list(range(max_context + 1)),
  }
  for name, values in per_context.items():
    if not all(np.all(np.isfinite(v) | np.isnan(v) if name == "psnr_object_db" else
                      np.isfinite(v)) for v in values):
      raise FloatingPointError(
          f"evaluation produced non-finite {name} values; has the checkpoint diverged?")
    per_m = [_mean_and_stderr({name: v}) for v in values]
    results[name] = [m[name] for m in per_m]
    results[name + "_stderr"] = [m[name + "_stderr"] for m in per_m]
  return results


def plot(results, path):
  """A 2x3 panel PNG of every metric against the number of context views, with standard errors."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  figure, axes = plt.subplots(2, 4, figsize=(14, 6), constrained_layout=True)
  for axis, name in zip(axes.flat, METRICS):
    axis.errorbar(results["num_context"], results[name], yerr=results[name + "_stderr"],
                  marker="o", capsize=3, label="GQN")
    for baseline, style in (("mean_image", "--"), ("background", ":")):
      if name in results.get("baselines", {}).get(baseline, {}):
        axis.axhline(results["baselines"][baseline][name], linestyle=style, color="gray",
                     label=baseline.replace("_", " "))
    if name in BASELINE_METRICS and "baselines" in results:
      axis.legend(fontsize=7)
    axis.set_xlabel("context views")
    axis.set_title(name)
    axis.set_xticks(results["num_context"])
    axis.grid(alpha=0.3)
  figure.suptitle(
      f"step {results['step']}, {results['num_scenes']} test scenes, sigma={results['sigma']:.3g}")
  path = paths.resolve(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  with path.open("wb") as file:
    figure.savefig(file, format="png", dpi=100)
  plt.close(figure)
  return path


def run(workdir, out=None, step=None, num_scenes=None, batch_size=16, num_samples=1, seed=0,
        data_root=None, baselines=False, split="test", data_source_name=None):
  """Loads the checkpoint and a split (the held-out 'test' one unless told), evaluates, writes
  JSON + PNG; returns the results.

  The files go to `out` (default: the workdir), a local folder or a bucket URL. With
  `baselines`, the mean training image and the background are scored too (`baseline_images`).
  split='train' scores scenes the model was trained on: the gap to 'test' is over-fitting.
  data_source_name replaces the run's config.data.source for scoring, e.g. 'procedural' to score
  a stream run on the very files (and baselines) a procedural run is scored on.
  """
  trained = restore.load(workdir, step)
  if data_source_name is not None:
    trained.config.data.source = data_source_name
  scenes = run_scenes.iter_scenes(trained.config, split, num_scenes, data_root)
  fixed_views = split == "test" and run_scenes.views_in_evaluation_order(trained.config)
  images = baseline_images(trained.config, data_root) if baselines else None
  results = evaluate_stream(
      trained, scenes, jax.random.key(seed), batch_size=batch_size, num_samples=num_samples,
      seed=seed, baselines=images, total=num_scenes,
      fixed_views=fixed_views)
  out = paths.resolve(workdir if out is None else out)
  out.mkdir(parents=True, exist_ok=True)
  (out / "evaluation.json").write_text(json.dumps(results, indent=2))
  plot(results, out / "evaluation.png")
  return results
