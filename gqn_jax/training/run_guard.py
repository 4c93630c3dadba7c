"""A workdir holds one run: resume only the run it was, and one writer at a time.

Two guards, both taken by train.train_and_evaluate before anything is read or compiled:

- `check_resume`: a workdir that already has a checkpoint resumes only with the config it was
  started with. The saved config (the checkpoint's `config` item) is compared with the new one
  key by key; any difference outside RESUMABLE_CHANGES (how long to run, how often to log,
  evaluate and save) is refused with every differing key named, unless the caller allows it
  (`--allow_config_change` on the command line). Keys a checkpoint predates are compared with the
  value they had before they existed (configs.VALUES_BEFORE_THE_FIELD), or ignored.
  Every start appends its config and what changed to `<workdir>/config_history.jsonl`, so an
  allowed change never loses the run's provenance.
- `WorkdirLock`: `<workdir>/LOCK` names the process that trains there (host, pid, start time).
  It is created only if absent (O_EXCL), so a second run on the same workdir fails at once and
  names the holder. A lock left by a process of this host that is gone (kill -9) is taken over
  with a warning. On an object store (gs://) there is no create-if-absent through the file API:
  the lock is written after an existence check, which closes the door to a relaunch or a second
  terminal (seconds apart) but not to two starts within the same second; stale locks there name
  their holder and must be removed by hand.
"""

import hashlib
import json
import os
import socket
import time

from absl import logging

from gqn_jax.runs import checkpointing
from gqn_jax.runs import config_files
from gqn_jax.runs import configs
from gqn_jax.runtime import errors
from gqn_jax.runtime import paths

LOCK_NAME = "LOCK"
HISTORY_NAME = "config_history.jsonl"
RESUMABLE_CHANGES = frozenset({
    "train.num_steps", "train.time_limit_s", "train.log_every", "train.eval_every",
    "train.eval_batches", "train.eval_at_start", "train.checkpoint_every",
    "train.max_checkpoints_to_keep", "train.num_image_examples",
})
ALLOW_FLAG = "--allow_config_change"


class ConfigChangedError(errors.ProjectError, ValueError):
  """A workdir's run was started with another config; resuming it would mix two runs."""


class WorkdirLockedError(errors.ProjectError, RuntimeError):
  """Another process trains in this workdir."""


def config_changes(saved_dict, config_dict):
  """{key: (saved value, new value)} for every key whose value differs."""
  saved, new = checkpointing.flatten(saved_dict), checkpointing.flatten(config_dict)
  changes = {}
  for key in sorted(set(saved) | set(new)):
    if key not in saved:  # the checkpoint predates the key: what did leaving it out mean?
      field = key.rpartition(".")[2]
      if key.startswith("model.") and field in configs.VALUES_BEFORE_THE_FIELD:
        saved_value = configs.VALUES_BEFORE_THE_FIELD[field]
        if saved_value != new[key]:
          changes[key] = (saved_value, new[key])
      continue
    if key not in new or saved[key] != new[key]:
      changes[key] = (saved[key], new.get(key, "(no such key now)"))
  return changes


def default_workdir(config_path, config):
  """/tmp/gqn_jax/<dataset>[_<arg>][_<hash of the overrides>]: distinct configs do not resume
  each other's checkpoints. The hash covers the --config.x=y overrides that change anything but
  how long to run and how often to log or save (RESUMABLE_CHANGES), so changing the learning rate
  on the command line starts a new run, while --config.train.num_steps=N continues the same one."""
  _, _, arg = (config_path or "").partition(":")
  suffix = "_" + arg.replace(",", "_") if arg else ""
  changes = config_changes(config_files.load(config_path).to_dict(), config.to_dict())
  overrides = sorted(f"{key}={new!r}" for key, (_, new) in changes.items()
                     if key not in RESUMABLE_CHANGES)
  if overrides:
    suffix += "_" + hashlib.sha1("\n".join(overrides).encode("utf-8")).hexdigest()[:8]
  return os.path.join("/tmp/gqn_jax", f"{config.data.name}{suffix}")


def check_resume(saved_dict, config, workdir, start_step, allow_config_change=False):
  """Raises ConfigChangedError unless `config` may resume the run saved with `saved_dict`;
  records this start in the workdir's config history either way it goes on."""
  changes = config_changes(saved_dict, config.to_dict())
  refused = {key: values for key, values in changes.items() if key not in RESUMABLE_CHANGES}
  if refused and not allow_config_change:
    listed = "; ".join(f"config.{key}={old!r} in the run, {new!r} now"
                       for key, (old, new) in refused.items())
    raise ConfigChangedError(
        f"{workdir} holds a run (checkpoint of step {start_step}) started with another config: "
        f"{listed}. Resuming would mix two runs. Use another --workdir for the new settings, "
        f"rerun with the run's own values, or pass {ALLOW_FLAG} (train_and_evaluate("
        "allow_config_change=True)) to continue this run with the new ones; either way every "
        f"start is recorded in {paths.resolve(workdir) / HISTORY_NAME}.")
  if refused:
    logging.warning("resuming %s with changed settings (allowed): %s", workdir,
                    ", ".join(sorted(refused)))
  return changes


def record_start(workdir, config, start_step, changes):
  """Appends {time, start_step, changes, config} to <workdir>/config_history.jsonl."""
  record = {"time": round(time.time(), 3), "start_step": int(start_step),
            "changes": {key: list(values) for key, values in changes.items()},
            "config": config.to_dict()}
  path = paths.resolve(workdir) / HISTORY_NAME
  line = json.dumps(record, sort_keys=True, default=str) + "\n"
  if paths.is_url(path):  # object stores have no append
    path.write_text((path.read_text() if path.exists() else "") + line)
  else:
    with open(path, "a", encoding="utf-8") as f:
      f.write(line)


class WorkdirLock:
  """`with WorkdirLock(workdir):` holds <workdir>/LOCK for this process (see module docstring)."""

  def __init__(self, workdir):
    self.path = paths.resolve(workdir) / LOCK_NAME
    self.holder = {"host": socket.gethostname(), "pid": os.getpid(), "start_time": time.time()}
    self._held = False
    self._created_dir = False

  def __enter__(self):
    self._created_dir = not self.path.parent.exists()
    self.path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(2):  # a second try after taking over a stale lock
      if self._try_create():
        self._held = True
        return self
      holder = self._read_holder()
      if holder is None or not self._is_stale(holder):
        raise WorkdirLockedError(self._locked_message(holder))
      logging.warning("taking over %s: its holder, pid %s on this host, is gone", self.path,
                      holder.get("pid"))
      self.path.unlink(missing_ok=True)
    raise WorkdirLockedError(self._locked_message(self._read_holder()))

  def __exit__(self, *exc_info):
    if self._held and self._read_holder() == self.holder:
      self.path.unlink(missing_ok=True)
      # A run that failed before writing anything leaves no empty workdir behind.
      if self._created_dir and not any(self.path.parent.iterdir()):
        self.path.parent.rmdir()
    self._held = False

  def _try_create(self):
    text = json.dumps(self.holder)
    if paths.is_url(self.path):
      if self.path.exists():
        return False
      self.path.write_text(text)
      return True
    try:
      fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
      return False
    with os.fdopen(fd, "w", encoding="utf-8") as f:
      f.write(text)
    return True

  def _read_holder(self):
    try:
      return json.loads(self.path.read_text())
    except (FileNotFoundError, json.JSONDecodeError, ValueError):
      return None

  def _is_stale(self, holder):
    return (not paths.is_url(self.path) and holder.get("host") == self.holder["host"]
            and isinstance(holder.get("pid"), int) and not paths.process_alive(holder["pid"]))

  def _locked_message(self, holder):
    if holder is None:
      who = "a process whose lock file cannot be read"
    else:
      started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(holder.get("start_time", 0)))
      who = f"pid {holder.get('pid')} on host {holder.get('host')}, started {started}"
    return (f"another run trains in {self.path.parent}: {who} holds {self.path}. Two runs on one "
            "workdir would overwrite each other's checkpoints and metrics. Wait for it to end, "
            "stop it, or use another --workdir; if you are sure no run is left, delete "
            f"{self.path}.")
