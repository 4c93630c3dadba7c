"""Algorithm S1: training a GQN, data-parallel over every device of every host.

`train_and_evaluate(config, workdir)` is the whole run: check the config and that the workdir is
writable and that a resumed workdir holds this run (run_guard.check_resume, before any data is
read), measure the training cameras' distance once (camera_scale.resolve; a resumed run keeps its
own), find the data once (data_source.resolve), build the model from `config.model`
(configs.build_model), restore the latest checkpoint of `workdir` if there is one (its model size
checked first), then loop: one jitted update per step, metrics read back one step late,
evaluation on the test split every `eval_every` steps, an Orbax checkpoint every
`checkpoint_every` (only of a state whose own loss is finite), and after SIGTERM or Ctrl-C a
checkpoint of the step just finished (preemption.py).

Parallelism: a 1-d Mesh over all devices with axis 'data'. The batch is sharded along 'data', the
parameters and optimizer state are replicated, and the update is a plain `jax.jit` of the global
computation: XLA inserts the gradient all-reduce. Since jit keeps the global semantics, a step's
result does not depend on the number of devices (up to float summation order); the sample key is
folded with the step, and JAX's partitionable threefry gives every example (hence every device)
its own random numbers without any per-device code.
"""

import contextlib
import functools
import json
import time

from absl import logging
import jax
import jax.numpy as jnp
import numpy as np
import optax

from gqn_jax import images
from gqn_jax.model import gqn
from gqn_jax.runs import camera_scale
from gqn_jax.runs import checkpointing
from gqn_jax.runs import configs
from gqn_jax.runs import data_source
from gqn_jax.runs import image_metrics
from gqn_jax.runs import schedules
from gqn_jax.runtime import console
from gqn_jax.runtime import errors
from gqn_jax.runtime import paths
from gqn_jax.training import context_trim
from gqn_jax.training import distributed
from gqn_jax.training import memory_check
from gqn_jax.training import metrics as gqn_metrics
from gqn_jax.training import preemption
from gqn_jax.training import query_copy
from gqn_jax.training import run_guard
from gqn_jax.training import steps


# A progress line at least this often (seconds), whatever log_every says: a slow step (the paper
# model on a laptop CPU) must not leave the console silent for an hour.
PROGRESS_EVERY_S = 30.0
LONG_RUN_S = 24 * 3600  # beyond this, one line says how long the run would take
EVAL_AT_START_BATCHES = 1  # the step-0 evaluation: a baseline that costs about one step


class NonFiniteLossError(errors.ProjectError, FloatingPointError):
  """The loss or gradient became NaN or infinite; training stopped without saving that state."""


def build_optimizer(train_config):
  """Adam whose step size follows mu_s; optax's own bias correction is the only one."""
  return optax.adam(learning_rate=schedules.learning_rate_schedule(train_config),
                    b1=train_config.adam_b1, b2=train_config.adam_b2, eps=train_config.adam_eps)


def init_train_state(config, model, optimizer, parallelism):
  """(params, opt_state) for config.seed, replicated over the mesh."""
  init_key = jax.random.fold_in(jax.random.key(config.seed), 0)
  sigma = jnp.float32(config.train.sigma_initial)

  def init(key):
    params_key, sample_key = jax.random.split(key)
    batch = gqn.dummy_batch(config.data.image_size, config.data.max_context)
    variables = model.init({"params": params_key, "sample": sample_key}, batch, sigma)
    params = variables["params"]
    return params, optimizer.init(params)

  return jax.jit(init, out_shardings=parallelism.replicated)(init_key)


def train_key(seed):
  """The key every step's sample key is folded from (distinct from init's and eval's)."""
  return jax.random.fold_in(jax.random.key(seed), 1)


def eval_key(seed):
  return jax.random.fold_in(jax.random.key(seed), 2)


def steps_for_config(config, model, optimizer, parallelism):
  """The run's train, check and eval steps (training.steps), its schedules built once here."""
  return steps.make_steps(
      model, optimizer, schedules.sigma_schedule(config.train),
      schedules.learning_rate_schedule(config.train), config.data.image_size, parallelism,
      config.train.num_image_examples)


def image_grid(host_batch, pictures, num_examples):
  """One picture: a row per scene of [context views..., target, posterior recon., prior sample]."""
  context = np.asarray(host_batch["context_frames"][:num_examples])  # [N, K, H, W, 3]
  columns = [context[:, k] for k in range(context.shape[1])]
  columns.append(np.asarray(host_batch["query_frame"][:num_examples]))
  columns.append(np.asarray(pictures["reconstruction"]))
  columns.append(np.asarray(pictures["prior_sample"]))
  rows = min(len(c) for c in columns)
  return images.grid(np.stack([c[:rows] for c in columns], axis=1))


def score_test_batches(eval_step, params, eval_dataset, num_batches, step, key, parallelism,
                       config, sigma_fn):
  """Mean test metrics over `num_batches` global batches, and the image grid of the first."""
  totals, count, grid = {}, 0, None
  iterator = iter(eval_dataset)  # a fresh pass: every evaluation sees the same scenes
  for index in range(num_batches):
    host_batch = _to_numpy(next(iterator))
    batch = distributed.make_global_batch(host_batch, parallelism.batch)
    sums, pictures = eval_step(params, batch, jnp.int32(step), jax.random.fold_in(key, index))
    sums = jax.device_get(sums)
    for name, value in sums.items():
      totals[name] = totals.get(name, 0.0) + float(value)
    count += config.train.batch_size
    if grid is None:
      grid = image_grid(host_batch, jax.device_get(pictures), config.train.num_image_examples)
  means = {name: value / count for name, value in totals.items()}
  means["bits_per_dim"] = float(image_metrics.bits_per_dim(means["loss"], config.data.image_size))
  means["elbo"] = -means["loss"]
  means["sigma"] = float(sigma_fn(step))
  return means, grid


def _to_numpy(tf_batch):
  return {name: np.asarray(value) for name, value in tf_batch.items()}


class _StepReader:
  """Reads a step's metrics back one step late, checks them and logs them: every log_every steps,
  and at least every PROGRESS_EVERY_S seconds whatever the interval. Its rates (and so the ETA)
  leave out the time spent compiling (steps.compile_seconds) and evaluating (restart_clock); once
  a rate is known, a run that would take more than a day says so, once."""

  def __init__(self, config, writer, start_step, describe_latest_checkpoint):
    self._config = config
    self._writer = writer
    self._pending = None  # (step, device metrics) of the newest dispatched update
    self._last_log = (start_step, time.perf_counter(), steps.compile_seconds())
    self._describe_latest_checkpoint = describe_latest_checkpoint
    self._warned_long = False

  def push(self, step, metrics):
    """Hands over update `step`'s metrics, and reads the previous update's (which has finished or
    is about to, while this one runs)."""
    self.flush()
    self._pending = (step, metrics)

  def restart_clock(self, step):
    """Starts the next steps/s interval now, so it does not count an evaluation's time."""
    self._last_log = (step, time.perf_counter(), steps.compile_seconds())

  def flush(self, always_log=False):
    """Reads the pending metrics now (before a checkpoint, an evaluation, or the end)."""
    if self._pending is None:
      return
    step, metrics = self._pending
    self._pending = None
    values = jax.device_get(metrics)
    if not bool(values.pop("finite")):
      raise NonFiniteLossError(
          f"training step {step}: loss={float(values['loss'])}, "
          f"grad_norm={float(values['grad_norm'])} is not finite (sigma={float(values['sigma'])},"
          f" learning_rate={float(values['learning_rate'])}). Stopped before saving this state; "
          f"{self._describe_latest_checkpoint()}. Try a lower learning rate or check the data.")
    train = self._config.train
    last_step, last_time, last_compile = self._last_log
    now = time.perf_counter()
    due = (step % train.log_every == 0 or step == train.num_steps or always_log
           or now - last_time >= PROGRESS_EVERY_S)
    if not due or step == last_step:
      return
    compiling = steps.compile_seconds() - last_compile
    steps_per_sec = (step - last_step) / max(now - last_time - compiling, 1e-9)
    self._last_log = (step, now, steps.compile_seconds())
    scalars = {name: float(value) for name, value in values.items()}
    scalars["steps_per_sec"] = steps_per_sec
    scalars["scenes_per_sec"] = steps_per_sec * train.batch_size
    self._writer.write_scalars(step, "train", scalars)
    remaining_s = (train.num_steps - step) / max(steps_per_sec, 1e-9)
    if distributed.is_main_process():
      gqn_metrics.log_train(step, train.num_steps, scalars, remaining_s)
      if remaining_s > LONG_RUN_S and not self._warned_long:
        self._warned_long = True
        logging.info(
            "at %.3g s a step the remaining %d steps take about %s on %d %s device%s; for a run "
            "that ends today, pass fewer --config.train.num_steps or use the small preset (e.g. "
            "--config=configs/rooms.py:small)", 1 / steps_per_sec, train.num_steps - step,
            gqn_metrics.format_duration(remaining_s), jax.device_count(),
            jax.default_backend(), "s" if jax.device_count() > 1 else "")


def _describe_latest_checkpoint(manager):
  step = manager.latest_step()
  if step is None:
    return "no checkpoint has been written yet, so running again starts from step 0"
  return f"the latest checkpoint is step {step}, which running again resumes from"


def _write_config_json(config, workdir):
  (workdir / "config.json").write_text(json.dumps(config.to_dict(), indent=2, sort_keys=True))


def train_and_evaluate(config, workdir, allow_config_change=False):
  """Trains (or resumes training) per `config` in `workdir`; returns the final test metrics.

  A workdir with a checkpoint resumes only with the config it was started with, but for how
  long to run and how often to log, evaluate and save (run_guard.RESUMABLE_CHANGES), unless
  `allow_config_change`; one process at a time trains in a workdir (run_guard.WorkdirLock).
  Raises preemption.RunStopped after SIGTERM or SIGINT, once the step in flight is checkpointed.
  """
  parallelism = distributed.make_parallelism()
  configs.check_config(config, device_count=jax.device_count())
  workdir = paths.resolve(workdir)
  paths.check_writable_dir(workdir, what="the training workdir (--workdir)")
  lock = (run_guard.WorkdirLock(workdir) if distributed.is_main_process()
          else contextlib.nullcontext())
  with lock, preemption.StopSignals() as stop_signals:
    return _set_up_and_train(config, workdir, parallelism, stop_signals, allow_config_change)


def _set_up_and_train(config, workdir, parallelism, stop_signals, allow_config_change):
  # Before any data is read or anything compiled: is this the run the workdir holds?
  # The newest intact checkpoint (files against their digests, a config that reads); newer
  # damaged ones are named and, once the run is known to be this one, set aside.
  saved_step, saved_config, damaged = checkpointing.newest_intact(
      paths.resolve(workdir) / checkpointing.CHECKPOINT_DIR)
  changes = {}
  if saved_step:
    camera_scale.adopt_saved(config, saved_config)
    changes = run_guard.check_resume(saved_config, config, workdir, saved_step,
                                     allow_config_change)
  if distributed.is_main_process():
    checkpointing.set_aside(workdir, [step for step, _ in damaged])
  camera_scale.resolve(config)  # the first data read, once the run is known to be this one
  host_batch_size = distributed.host_batch_size(config.train.batch_size)
  inputs = data_source.make_inputs(config, host_batch_size, jax.process_index(),
                                   jax.process_count())
  logging.info("data: %s (%s) under %s; %d devices on %d processes, %d scenes per host per step",
               config.data.name, inputs.source, inputs.root, jax.device_count(),
               jax.process_count(), host_batch_size)

  model = configs.build_model(config)
  optimizer = build_optimizer(config.train)
  logging.info("initialising the model (its first compile)...")
  start = time.perf_counter()
  params, opt_state = init_train_state(config, model, optimizer, parallelism)
  logging.info("model initialised: %s parameters, %.1f s",
               f"{sum(leaf.size for leaf in jax.tree.leaves(params)):,}",
               time.perf_counter() - start)

  workdir.mkdir(parents=True, exist_ok=True)
  manager = checkpointing.create_manager(workdir, config.train.max_checkpoints_to_keep)
  writer = None
  try:
    start_step = manager.latest_step() or 0
    if start_step:
      checkpointing.check_params_fit(manager, start_step, params, config)
      params, opt_state = checkpointing.restore(
          manager, start_step, _abstract(params), _abstract(opt_state), inputs.train)
      logging.info("resumed from the checkpoint of step %d in %s", start_step, workdir)
    writer = gqn_metrics.MetricWriter(workdir, enabled=distributed.is_main_process(),
                                      resume_step=start_step)
    if distributed.is_main_process():
      _write_config_json(config, workdir)
      run_guard.record_start(workdir, config, start_step, changes)
    loop = _TrainLoop(config, model, optimizer, parallelism, manager, writer, inputs.train,
                      inputs.test, stop_signals)
    return loop.run(params, opt_state, start_step, workdir)
  finally:
    inputs.close()
    manager.wait_until_finished()  # the last good checkpoint lands even when training failed
    manager.close()
    if writer is not None:
      writer.close()


def _abstract(tree):
  return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding), tree)


class _TrainLoop:
  """Algorithm S1's loop: updates, checked checkpoints, evaluations, and polite stops."""

  def __init__(self, config, model, optimizer, parallelism, manager, writer, train_iterator,
               eval_dataset, stop_signals):
    self.config = config
    self.parallelism = parallelism
    self.manager = manager
    self.writer = writer
    self.train_iterator = train_iterator
    self.stop_signals = stop_signals
    run_steps = steps_for_config(config, model, optimizer, parallelism)
    # Compiled once per context-slot count in use (the updates) or once per run (the others).
    self.update = steps.CompiledStep(run_steps.train, "training update",
                                     describe=lambda args: _slots(args[2]))
    self.state_check = steps.CompiledStep(run_steps.check, "state check before saving")
    eval_step = steps.CompiledStep(run_steps.eval, "evaluation step")
    self.step_key = train_key(config.seed)
    self.run_eval = functools.partial(
        score_test_batches, eval_step, eval_dataset=eval_dataset, key=eval_key(config.seed),
        parallelism=parallelism, config=config, sigma_fn=run_steps.sigma)
    self.reader = None
    # Every host must cut its batch alike, and only one host knows its own M: trim on one.
    self.context_sizes = (context_trim.context_sizes(config.data.max_context)
                          if config.train.trim_context and jax.process_count() == 1 else None)

  def next_batch(self, step):
    """(the update's global batch, cut to the context slots in use; the same batch uncut, on the
    host, for the state check before a save)."""
    host_batch = _to_numpy(next(self.train_iterator))
    host_batch = query_copy.copy_queries(
        host_batch, query_copy.fraction_at(self.config.train, step), self.config.seed, step)
    full_host_batch = host_batch
    if self.context_sizes:
      host_batch = context_trim.trim(host_batch, self.context_sizes)
    return distributed.make_global_batch(host_batch, self.parallelism.batch), full_host_batch

  def check_memory(self, params, opt_state):
    """Refuses a step that cannot fit (memory_check): the update for every context slot, the
    largest it runs, compiled here and then used by the loop."""
    host_batch = gqn.dummy_batch(self.config.data.image_size, self.config.data.max_context,
                                 distributed.host_batch_size(self.config.train.batch_size))
    batch = distributed.make_global_batch(host_batch, self.parallelism.batch)
    args = (params, opt_state, batch, jnp.int32(0), self.step_key)
    memory_check.check_step_fits(lambda: self.update.compiled(*args), self.config)

  def run(self, params, opt_state, start_step, workdir):
    train = self.config.train
    eval_metrics = None
    if start_step < train.num_steps:
      self.check_memory(params, opt_state)
    if start_step == 0 and train.eval_at_start:  # the baseline later evaluations compare with:
      # the first of the evaluation's batches (the same scenes the later ones start with)
      eval_metrics = self.evaluate(params, 0, min(train.eval_batches, EVAL_AT_START_BATCHES))
    self.reader = _StepReader(self.config, self.writer, start_step,
                              functools.partial(_describe_latest_checkpoint, self.manager))
    deadline = time.monotonic() + train.time_limit_s if train.time_limit_s else float("inf")
    for step in range(start_step, train.num_steps):
      batch, full_host_batch = self.next_batch(step)
      params, opt_state, metrics = self.update(params, opt_state, batch, jnp.int32(step),
                                               self.step_key)
      done = step + 1
      if step == start_step and distributed.is_main_process():  # once: how long starting took
        jax.block_until_ready(metrics)
        logging.info("step %d done, %.1f s after the command started (compiles included); the "
                     "log follows every %d steps or %d s", done, console.seconds_since_start(),
                     train.log_every, PROGRESS_EVERY_S)
      self.reader.push(done, metrics)
      stopping = self.stop_signals.requested(done, train.log_every)
      # Across hosts the check is a collective, so it runs only on logged steps there.
      out_of_time = ((jax.process_count() == 1 or done % train.log_every == 0)
                     and _any_process(time.monotonic() >= deadline))
      is_last = done == train.num_steps or out_of_time or stopping
      if done % train.checkpoint_every == 0 or is_last:
        self.save(params, opt_state, full_host_batch, done, always_log=is_last)
      if stopping:
        self.writer.flush()
        raise preemption.RunStopped(self.stop_signals.signum, done, workdir)
      if done % train.eval_every == 0 or is_last:
        self.reader.flush()
        eval_metrics = self.evaluate(params, done)
        self.reader.restart_clock(done)
      if out_of_time:
        logging.info("stopping at step %d: config.train.time_limit_s=%s reached", done,
                     train.time_limit_s)
        break
    self.reader.flush()
    if eval_metrics is None:  # resumed from a run that had already finished
      eval_metrics = self.evaluate(params, max(start_step, train.num_steps))
    return eval_metrics

  def save(self, params, opt_state, full_host_batch, done, always_log):
    """Checkpoints the state after update `done`, once both its update and the state are checked:
    a checkpoint never holds a state whose loss is not finite.

    The check reads the update's batch with every context slot (masked ones included): one
    shape, so the check compiles once per run rather than once per context size in use (its
    loss is the cut batch's: context_trim)."""
    self.reader.flush(always_log=always_log)
    batch = distributed.make_global_batch(full_host_batch, self.parallelism.batch)
    finite, loss = jax.device_get(
        self.state_check(params, opt_state, batch, jnp.int32(done - 1), self.step_key))
    if not bool(finite):
      raise NonFiniteLossError(
          f"the update of training step {done} gave parameters whose loss on that step's batch "
          f"is {float(loss)} (or a non-finite parameter or Adam moment): not saved; "
          f"{_describe_latest_checkpoint(self.manager)}. Try a lower learning rate "
          f"(config.train.lr_initial={self.config.train.lr_initial}) or check the data.")
    checkpointing.save(self.manager, done, params, opt_state, self.config, self.train_iterator)
    self.writer.flush()

  def evaluate(self, params, step, num_batches=None):
    metrics, grid = self.run_eval(
        params, step=step, num_batches=num_batches or self.config.train.eval_batches)
    self.writer.write_scalars(step, "test", metrics)
    self.writer.write_images(step, "test", {"context_target_posterior_prior": grid})
    self.writer.flush()
    if distributed.is_main_process():
      gqn_metrics.log_eval(step, metrics)
    return metrics


def _slots(batch):
  """What a training update's compile is for: the context slots of its batch."""
  count = batch["context_mask"].shape[1]
  return f"{count} context slot{'s' if count != 1 else ''}"


def _any_process(flag):
  """True on every process when `flag` is True on any: all must stop at the same step."""
  if jax.process_count() == 1:
    return flag
  from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
  return bool(np.any(multihost_utils.process_allgather(np.asarray(flag))))
