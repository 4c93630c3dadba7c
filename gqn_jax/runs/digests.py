"""What a checkpoint holds, written down once it has committed, and checked on every restore.

A step directory of a checkpoint (`<dir>/checkpoints/<step>/`, a training run's or an exported
model's) gets a manifest `<dir>/checkpoint_digests/<step>.json` once Orbax has committed it: the
SHA-256 and size of every file in it. Kept outside the step directory, so that Orbax's own layout
is untouched and a manifest never makes a half-written step look complete.

- `write(checkpoint_dir, step)`: the manifest of a committed step (a few seconds per GB);
- `check(checkpoint_dir, step)`: None when the step's files match its manifest, NOT_RECORDED
  when it has none (written before manifests existed, or cut off between the commit and the
  manifest), else one line naming what differs: a file whose bytes changed, a file missing, a
  file added;
- `forget_removed(checkpoint_dir)`: drops the manifests of steps Orbax has since deleted.
"""

import hashlib
import json

from gqn_jax.runtime import paths

DIGEST_DIR = "checkpoint_digests"  # beside `checkpoints/`
NOT_RECORDED = "no digest recorded"
_CHUNK = 1 << 22


def _manifest_path(checkpoint_dir, step):
  return paths.resolve(checkpoint_dir).parent / DIGEST_DIR / f"{step}.json"


def _file_digests(step_dir):
  """{path relative to the step directory: [sha256 hex, size in bytes]} of every file."""
  step_dir = paths.resolve(step_dir)
  digests = {}
  for path in _files_under(step_dir):
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as file:
      while chunk := file.read(_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    digests[str(path.relative_to(step_dir))] = [digest.hexdigest(), size]
  return digests


def _files_under(folder):
  """Every file under `folder`, sorted (a walk by listing: object stores have no recursive glob)."""
  found = []
  for path in folder.iterdir():
    found.extend(_files_under(path) if path.is_dir() else [path])
  return sorted(found)


def write(checkpoint_dir, step):
  """Records the digests of committed step `step` of `checkpoint_dir` (`<dir>/checkpoints`)."""
  target = _manifest_path(checkpoint_dir, step)
  target.parent.mkdir(parents=True, exist_ok=True)
  manifest = {"step": int(step), "algorithm": "sha256",
              "files": _file_digests(paths.resolve(checkpoint_dir) / str(step))}
  temporary = target.parent / f".{target.name}.tmp"
  temporary.write_text(json.dumps(manifest, indent=1, sort_keys=True))
  temporary.rename(target)  # a manifest is whole or absent
  return target


def check(checkpoint_dir, step):
  """None when step `step` matches its manifest; NOT_RECORDED without one; else what differs."""
  target = _manifest_path(checkpoint_dir, step)
  if not target.exists():
    return NOT_RECORDED
  try:
    recorded = json.loads(target.read_text())["files"]
  except (ValueError, KeyError, UnicodeDecodeError) as error:
    return f"its digest file {target} cannot be read ({type(error).__name__})"
  found = _file_digests(paths.resolve(checkpoint_dir) / str(step))
  for name, (digest, size) in recorded.items():
    if name not in found:
      return f"file {name} is missing"
    if found[name] != [digest, size]:
      return (f"file {name} differs from what was written ({found[name][1]} bytes, "
              f"{size} written; sha256 {found[name][0][:12]}..., {digest[:12]}... written)")
  added = sorted(set(found) - set(recorded))
  if added:
    return f"file {added[0]} was not written with it"
  return None


def forget_removed(checkpoint_dir):
  """Removes the manifests of steps whose directory is gone (Orbax keeps the last N steps)."""
  folder = paths.resolve(checkpoint_dir).parent / DIGEST_DIR
  if not folder.exists():
    return
  for manifest in folder.glob("*.json"):
    if not (paths.resolve(checkpoint_dir) / manifest.stem).exists():
      manifest.unlink()
