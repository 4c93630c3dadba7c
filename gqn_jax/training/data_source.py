"""Which scenes a run trains on: DeepMind's published files, or the procedural stand-in.

config.data.source:
  'deepmind'    train on `<config.data.root>/<name>/{train,test}/*.tfrecord`; missing files are an
                error that says how to download them.
  'procedural'  render scenes once, at config.data.image_size, into config.data.procedural_cache
                (gqn_jax.scenes) and train on them; the files use DeepMind's layout, so the same
                input pipeline reads both.
  'auto'        DeepMind's files when both splits are present under config.data.root, otherwise
                the procedural data, with a loud warning saying so and how to switch.

`resolve(config.data)` makes that choice once and returns the dataset found on disk
(gqn_jax.data.reader.DatasetFiles); training and evaluation read everything from it. It lives
with training, not in data/, because it renders procedural scenes (gqn_jax.scenes), which
themselves write through data/.
"""

import os

from absl import logging

from gqn_jax.data import reader
from gqn_jax.data import records

SOURCES = ("auto", "deepmind", "procedural")
_PROCEDURAL_SEED = 0  # the scenes do not depend on config.seed, so seeds share one cache


def check_source(source):
  if source not in SOURCES:
    raise ValueError(f"config.data.source={source!r} is not one of {SOURCES}")


def _find_deepmind(data_config, splits):
  """The DatasetFiles under config.data.root, or None when one of `splits` has no files.

  Only absent data means None: damaged data there (a bad spec file, say) is an error to fix, not
  a reason to train on something else.
  """
  try:  # '~' allowed: configs shipped with a model (pretrained/) name no one's home folder
    return reader.find_dataset(data_config.name, os.path.expanduser(data_config.root), splits)
  except (FileNotFoundError, reader.NoShardFilesError):
    return None


def resolve(data_config, splits=records.SPLITS):
  """The DatasetFiles to read `data_config.name` from, rendering procedural scenes if needed.

  `splits`: the splits whose shard files are listed (evaluation needs only 'test').
  """
  source, name = data_config.source, data_config.name
  check_source(source)
  if source in ("auto", "deepmind"):
    found = _find_deepmind(data_config, splits)
    if found is not None:
      logging.info("reading the %s files of %s under %s", found.source, name, data_config.root)
      return found
  if source == "deepmind":
    split_dir = records.split_dir(data_config.root, name, "train")
    raise FileNotFoundError(
        f"config.data.source='deepmind' but {split_dir} and/or its test split hold no "
        f"'<i>-of-<n>.tfrecord' files: {reader.fetch_hint(name, data_config.root)}. Or use "
        "--config.data.source=procedural.")
  if source == "auto":
    logging.warning(
        "\n%s\nNO DEEPMIND DATA for %r under config.data.root=%s: training on PROCEDURAL scenes "
        "rendered by gqn_jax.scenes into %s instead.\nTo train on the real data, %s, and "
        "pass --config.data.root=<root> (or --config.data.source=deepmind to make missing "
        "files an error).\n%s",
        "=" * 78, name, data_config.root, data_config.procedural_cache,
        reader.fetch_hint(name, "<root>"), "=" * 78)
  from gqn_jax import scenes  # pylint: disable=g-import-not-at-top
  root = scenes.ensure_procedural_dataset(
      name, data_config.procedural_cache, data_config.procedural_num_train,
      data_config.procedural_num_test, seed=_PROCEDURAL_SEED, frame_size=data_config.image_size)
  return reader.find_dataset(name, root, splits)
