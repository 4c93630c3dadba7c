"""Run directories that may be local folders or bucket URLs (gs://...).

Training on a TPU pod writes its workdir to GCS, so nothing that touches a workdir may use
`os.path` or `open` directly: `os.path.abspath('gs://b/run')` silently becomes a local folder
'./gs:/b/run'. `etils.epath` (already a dependency of Orbax) reads and writes both kinds.
"""

import os

from etils import epath


def is_url(path):
  """True for 'scheme://...' paths such as gs://bucket/run."""
  return "://" in os.fspath(path)


def resolve(path):
  """An epath.Path: local paths made absolute, URLs left exactly as given."""
  path = os.fspath(path)
  return epath.Path(path if is_url(path) else os.path.abspath(os.path.expanduser(path)))


def append_text(path, text):
  """Appends `text` to the file at `path`, creating it if needed.

  Object stores have no append: there the file is rewritten whole, which is fine for the small
  JSON-lines files this is used for.
  """
  path = resolve(path)
  if not is_url(path):
    with open(path, "a", encoding="utf-8") as file:
      file.write(text)
    return
  previous = path.read_text() if path.exists() else ""
  path.write_text(previous + text)
