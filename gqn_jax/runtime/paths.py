"""Run directories that may be local folders or bucket URLs (gs://...).

Training on a TPU pod writes its workdir to GCS, so nothing that touches a workdir may use
`os.path` or `open` directly: `os.path.abspath('gs://b/run')` silently becomes a local folder
'./gs:/b/run'. `etils.epath` (already a dependency of Orbax) reads and writes both kinds.
"""

import os
import uuid

from etils import epath

from gqn_jax.runtime import errors


def is_url(path):
  """True for 'scheme://...' paths such as gs://bucket/run."""
  return "://" in os.fspath(path)


def resolve(path):
  """An epath.Path: local paths made absolute, URLs left exactly as given."""
  path = os.fspath(path)
  return epath.Path(path if is_url(path) else os.path.abspath(os.path.expanduser(path)))


def check_writable_dir(path, what):
  """Raises OSError naming `path` unless it is (or can become) a folder this process can write.

  Creates nothing that stays locally: a missing folder is judged by its nearest existing parent,
  and a probe file is written and removed. Called before any compile, so a typo costs seconds.
  """
  path = resolve(path)
  existing = path
  if is_url(path):
    path.mkdir(parents=True, exist_ok=True)  # object stores: folders are only name prefixes
  while not existing.exists() and existing.parent != existing:
    existing = existing.parent
  if not existing.is_dir():
    raise errors.WorkdirError(f"cannot use {path} as {what}: {existing} exists and is not a "
                              "folder. Pass another path, or move that file away.")
  probe = existing / f".gqn_jax-write-test-{uuid.uuid4().hex}"
  try:
    probe.write_text("")
    probe.unlink()
  except OSError as error:
    raise errors.WorkdirError(f"cannot use {path} as {what}: {existing} is not writable "
                              f"({error}). Pass a folder you can write to.") from error


def process_alive(pid):
  """True while process `pid` of this host exists (lock and partial-render owners are checked)."""
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:
    return True  # someone else's process
  return True
