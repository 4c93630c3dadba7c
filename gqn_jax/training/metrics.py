"""Where training writes its metrics (their formulas: gqn_jax.runs.image_metrics).

Writers: absl logs, `<workdir>/metrics.jsonl` and TensorBoard event files. Only the main process
writes (a writer built with `enabled=False` ignores every call), so a pod run produces one log,
one JSON-lines file and one event stream. Scalars are plain Python floats by the time they arrive
here: the training loop does the device-to-host copy, one step late.

Why not clu.metric_writers and clu.periodic_actions (which the flax examples use): clu 0.0.12, the
newest, imports TensorFlow when either module is imported (metric_writers/__init__ imports its TF
SummaryWriter; periodic_actions imports metric_writers) and requires ml_collections, while this
loop must train where neither is installed (the scene stream needs no TensorFlow: an accelerator
machine with only jax, flax, optax and orbax). Here TensorFlow is optional: without it metrics go to
the log and metrics.jsonl only. What clu does not do at all stays either way: metrics.jsonl
resuming cleanly after a kill (a torn last line, records past the checkpoint dropped).
"""

import json
import math
import time

from absl import logging
import numpy as np

from gqn_jax.data import reader
from gqn_jax.runtime import paths

class JsonLines:
  """`<workdir>/metrics.jsonl`: one JSON record per line, each with its 'step'.

  A resumed run re-runs the steps after its checkpoint, so opening it with `resume_step` drops
  the records of later steps (written before the stop) instead of repeating them. Locally each
  line is appended at once. Object stores (gs://) have no append and rewriting the object per line
  would cost quadratic time over a run, so there the lines wait for `flush` (at checkpoints and
  evaluations), which writes the whole file once.
  """

  def __init__(self, path, resume_step=0):
    self._path = paths.resolve(path)
    self._is_url = paths.is_url(self._path)
    self._pending = []
    text = self._path.read_text() if self._path.exists() else ""
    kept = [line for line in _complete_lines(self._path, text)
            if json.loads(line).get("step", 0) <= resume_step]
    self._text = "".join(kept)  # what the file holds (kept in memory for object stores only)
    if "".join(kept) != text:  # records dropped, or a torn last line to cut off
      self._path.write_text(self._text)
    if not self._is_url:
      self._text = None

  def append(self, record):
    line = json.dumps(record) + "\n"
    if self._is_url:
      self._pending.append(line)
      return
    with open(self._path, "a", encoding="utf-8") as file:
      file.write(line)

  def flush(self):
    if self._pending:
      self._text += "".join(self._pending)
      self._pending = []
      self._path.write_text(self._text)


def _complete_lines(path, text):
  """The file's records as lines, without a torn last line (a kill or a full disk mid-write),
  which is dropped with a warning; any other unreadable line is an error naming it."""
  lines = [line if line.endswith("\n") else line + "\n"
           for line in text.splitlines(keepends=True) if line.strip()]
  good = []
  for number, line in enumerate(lines, start=1):
    try:
      json.loads(line)
    except json.JSONDecodeError as error:
      if number == len(lines):
        logging.warning("%s: dropped its last line, %d characters cut off mid-write (%s)", path,
                        len(line.rstrip()), error)
        break
      raise ValueError(
          f"{path}, line {number}, is not a JSON record ({error}): the file is damaged. Move it "
          "away (the run then starts a new one) or delete that line.") from None
    good.append(line)
  return good


class MetricWriter:
  """Writes scalars and images of one run; a no-op unless `enabled`."""

  def __init__(self, workdir, enabled=True, resume_step=0):
    self._enabled = enabled
    self._summary = None
    if not enabled:
      return
    workdir = paths.resolve(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    self._jsonl = JsonLines(workdir / "metrics.jsonl", resume_step)
    try:  # TensorBoard's event files are written with TensorFlow, which may be absent
      tf = reader.import_tf()
    except ImportError:
      logging.info("TensorFlow is not installed: metrics go to %s only, no TensorBoard events",
                   workdir / "metrics.jsonl")
      self._tf = None
      return
    self._tf = tf
    self._summary = tf.summary.create_file_writer(str(workdir / "tensorboard"))

  def write_scalars(self, step, split, scalars):
    """One JSON line {'step', 'split', 'time', **scalars} and TensorBoard scalars named
    '<split>/<key>'. 'time' is the wall clock (Unix seconds): learning per minute is read from it."""
    if not self._enabled:
      return
    record = {"step": int(step), "split": split, "time": round(time.time(), 3)}
    record.update({key: _json_number(value) for key, value in scalars.items()})
    self._jsonl.append(record)
    if self._summary is None:
      return
    with self._summary.as_default(step=int(step)):
      for key, value in scalars.items():
        self._tf.summary.scalar(f"{split}/{key}", float(value))

  def write_images(self, step, split, images):
    """TensorBoard images: `images` maps a name to one picture [H, W, 3] with values in [0, 1]."""
    if not self._enabled or self._summary is None:
      return
    with self._summary.as_default(step=int(step)):
      for key, picture in images.items():
        picture = np.clip(np.asarray(picture, np.float32), 0.0, 1.0)
        self._tf.summary.image(f"{split}/{key}", picture[None], max_outputs=1)

  def flush(self):
    if self._enabled:
      self._jsonl.flush()
      if self._summary is not None:
        self._summary.flush()

  def close(self):
    if self._enabled:
      self._jsonl.flush()
      if self._summary is not None:
        self._summary.close()
      self._enabled = False


def _json_number(value):
  """A float for JSON; NaN and infinities as strings, since strict JSON has no literal for them."""
  value = float(value)
  return value if math.isfinite(value) else str(value)


def format_duration(seconds):
  """'3.5 days', '1h02m', '3m05s' or '12s': short enough for a log line's ETA."""
  if not math.isfinite(seconds) or seconds < 0:
    return "?"
  if seconds >= 2 * 86400:
    days = seconds / 86400
    return f"{days / 365.25:.1f} years" if days >= 730 else f"{days:.1f} days"
  seconds = int(round(seconds))
  hours, rest = divmod(seconds, 3600)
  minutes, secs = divmod(rest, 60)
  if hours:
    return f"{hours}h{minutes:02d}m"
  if minutes:
    return f"{minutes}m{secs:02d}s"
  return f"{secs}s"


def log_train(step, num_steps, scalars, eta_seconds):
  """The human-readable training line."""
  logging.info(
      "step %d/%d  loss %.2f  nll %.2f  kl %.2f  bits/dim %.4f  sigma %.3f  lr %.2e  "
      "grad_norm %.3g  %.2f steps/s  %.1f scenes/s  ETA %s",
      step, num_steps, scalars["loss"], scalars["nll"], scalars["kl"], scalars["bits_per_dim"],
      scalars["sigma"], scalars["learning_rate"], scalars["grad_norm"], scalars["steps_per_sec"],
      scalars["scenes_per_sec"], format_duration(eta_seconds))


def log_eval(step, scalars):
  logging.info(
      "eval @ step %d  -ELBO %.2f nats/image (%.4f bits/dim)  kl %.2f  prior-sample MSE %.5f  "
      "PSNR %.2f dB", step, scalars["loss"], scalars["bits_per_dim"], scalars["kl"],
      scalars["mse"], scalars["psnr"])
