"""The README's CPU demo: train `configs/rooms.py:small` for N minutes, then draw what it
learned.

  python benchmarks/cpu_demo.py [--minutes=10] [--workdir=/tmp/gqn_cpu_demo] [--out=docs/images]

Trains with the normal entry point's code (train.train_and_evaluate, config.train.time_limit_s =
N minutes of wall clock, compilation included) in a fresh workdir on the procedural rooms, then
writes into --out:
  cpu_demo_curve.png          test -ELBO (nats/image) and prior-sample PSNR against step, plus the
                              training loss;
  cpu_demo_prior_samples.png  test scenes: context views | target | mean prediction from the prior;
and prints a JSON summary. The test -ELBO logged during training uses that step's annealed sigma,
so early and late values mix model progress with the sigma schedule; the summary therefore also
scores the initial and the trained parameters on the same test batches at the same sigma
(sigma_final).
"""

import json
import os
import shutil
import time

from absl import app
from absl import flags
from absl import logging

from gqn_jax.runtime import host_memory
if __name__ == "__main__":  # as the command lines do: before numpy or JAX starts a thread
  host_memory.configure()
import jax  # pylint: disable=g-import-not-at-top,wrong-import-position
import jax.numpy as jnp  # pylint: disable=g-import-not-at-top,wrong-import-position
import matplotlib  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top,wrong-import-position

from gqn_jax import images  # pylint: disable=g-import-not-at-top,wrong-import-position
from gqn_jax.data import pipeline  # pylint: disable=wrong-import-position
from gqn_jax.data import reader  # pylint: disable=wrong-import-position
from gqn_jax.model import gqn  # pylint: disable=wrong-import-position
from gqn_jax.runs import config_files  # pylint: disable=wrong-import-position
from gqn_jax.runs import configs  # pylint: disable=wrong-import-position
from gqn_jax.runs import data_source  # pylint: disable=wrong-import-position
from gqn_jax.trained import restore  # pylint: disable=wrong-import-position
from gqn_jax.training import distributed  # pylint: disable=wrong-import-position
from gqn_jax.training import train  # pylint: disable=wrong-import-position

_MINUTES = flags.DEFINE_float("minutes", 10.0, "Wall-clock training time, compilation included.")
_WORKDIR = flags.DEFINE_string("workdir", "/tmp/gqn_cpu_demo", "Run directory (wiped first).")
_OUT = flags.DEFINE_string("out", "docs/images", "Where the two pictures go.")
_NUM_SCENES = flags.DEFINE_integer("num_scenes", 6, "Test scenes in the prior-sample picture.")
_NUM_SAMPLES = flags.DEFINE_integer("num_samples", 3, "Prior samples drawn per scene.")


def demo_config(minutes):
  config = config_files.load("configs/rooms.py:small")
  config.data.source = "procedural"  # it scores the cached test batches it reads itself
  config.train.time_limit_s = int(minutes * 60)
  return config


def plot_curve(workdir, path):
  """Test -ELBO and PSNR against step, with the training loss behind the -ELBO."""
  with open(os.path.join(workdir, "metrics.jsonl"), encoding="utf-8") as f:
    rows = [json.loads(line) for line in f]
  train_rows = [r for r in rows if r["split"] == "train"]
  test_rows = [r for r in rows if r["split"] == "test"]
  fig, (ax_elbo, ax_psnr) = plt.subplots(1, 2, figsize=(10, 3.8))
  ax_elbo.plot([r["step"] for r in train_rows], [r["loss"] for r in train_rows], color="0.75",
               lw=1, label="train loss (batch)")
  ax_elbo.plot([r["step"] for r in test_rows], [r["loss"] for r in test_rows], "o-",
               color="C0", label="test -ELBO")
  ax_elbo.set(xlabel="step", ylabel="nats / image", title="-ELBO (at that step's sigma)")
  ax_elbo.legend()
  ax_psnr.plot([r["step"] for r in test_rows], [r["psnr"] for r in test_rows], "o-", color="C1")
  ax_psnr.set(xlabel="step", ylabel="dB", title="test PSNR of the prior-sample mean")
  fig.tight_layout()
  os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
  fig.savefig(path, dpi=110)
  plt.close(fig)


def test_batches(config, dataset_files, num_batches):
  dataset = pipeline.create_dataset(
      dataset_files, split="test", batch_size=config.train.batch_size,
      max_context=config.data.max_context, image_size=config.data.image_size, seed=config.seed,
      shuffle=False, repeat=True)
  iterator = iter(dataset)
  return [{k: np.asarray(v) for k, v in next(iterator).items()} for _ in range(num_batches)]


def same_sigma_scores(config, params, batches):
  """Mean -ELBO and PSNR of `params` on `batches` at sigma_final (the schedule's last value)."""
  parallelism = distributed.make_parallelism()
  run_steps = train.steps_for_config(config, configs.build_model(config),
                                     train.build_optimizer(config.train), parallelism)
  eval_step = run_steps.eval
  late_step = config.train.sigma_anneal_steps  # sigma_s = sigma_final from here on
  totals, count = {}, 0
  for index, batch in enumerate(batches):
    sums, _ = eval_step(params, batch, jnp.int32(late_step),
                        jax.random.fold_in(train.eval_key(config.seed), index))
    for name, value in jax.device_get(sums).items():
      totals[name] = totals.get(name, 0.0) + float(value)
    count += len(batch["query_frame"])
  return {name: value / count for name, value in totals.items()}


def prior_sample_picture(config, params, batch, num_scenes, num_samples, path):
  """Rows: scenes. Columns: the real context views, the target, then `num_samples` predictions."""
  model = configs.build_model(config)
  generate = jax.jit(lambda p, b, key: model.apply(
      {"params": p}, b["context_frames"], b["context_cameras"], b["context_mask"],
      b["query_camera"], method=gqn.GQN.generate, rngs={"sample": key}))
  samples = [np.asarray(generate(params, batch, jax.random.key(100 + i)))
             for i in range(num_samples)]
  mask = batch["context_mask"][:num_scenes]
  context = batch["context_frames"][:num_scenes] * mask[..., None, None, None]
  columns = [context[:, k] for k in range(context.shape[1])]
  columns.append(batch["query_frame"][:num_scenes])
  columns += [s[:num_scenes] for s in samples]
  picture = images.grid(np.stack(columns, axis=1))
  images.save_png(path, images.upscale(picture, 2))


def main(argv):
  del argv
  reader.import_tf()  # hides accelerators from TensorFlow
  config = demo_config(_MINUTES.value)
  shutil.rmtree(_WORKDIR.value, ignore_errors=True)
  start = time.time()
  final = train.train_and_evaluate(config, _WORKDIR.value)
  wall = time.time() - start

  trained = restore.load(_WORKDIR.value)
  batches = test_batches(config, data_source.resolve(config.data), config.train.eval_batches)
  initial_params, _ = train.init_train_state(
      config, configs.build_model(config), train.build_optimizer(config.train),
      distributed.make_parallelism())
  before = same_sigma_scores(config, initial_params, batches)
  after = same_sigma_scores(config, trained.params, batches)

  plot_curve(_WORKDIR.value, os.path.join(_OUT.value, "cpu_demo_curve.png"))
  prior_sample_picture(config, trained.params, batches[0], _NUM_SCENES.value, _NUM_SAMPLES.value,
                       os.path.join(_OUT.value, "cpu_demo_prior_samples.png"))
  summary = {
      "steps": trained.step, "wall_seconds": round(wall, 1), "devices": jax.device_count(),
      "final_test_at_training_sigma": final,
      "same_sigma": {"sigma": config.train.sigma_final, "initial": before, "trained": after},
  }
  print(json.dumps(summary, indent=2, default=float))
  logging.info("wrote %s/cpu_demo_curve.png and cpu_demo_prior_samples.png", _OUT.value)


if __name__ == "__main__":
  app.run(main)
