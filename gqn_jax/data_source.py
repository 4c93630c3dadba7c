"""Which scenes a run trains on: DeepMind's published files, or the procedural stand-in.

config.data.source:
  'deepmind'    train on `<config.data.root>/<name>/{train,test}/*.tfrecord`; missing files are an
                error that says how to download them.
  'procedural'  render scenes once, at config.data.image_size, into config.data.procedural_cache
                (gqn_jax.scenes) and train on them; the files use DeepMind's layout, so the same
                input pipeline reads both.
  'auto'        DeepMind's files when both splits are present under config.data.root, otherwise
                the procedural data, with a loud warning saying so and how to switch.
"""

from absl import logging

from gqn_jax import data
from gqn_jax import records

SOURCES = ("auto", "deepmind", "procedural")
_PROCEDURAL_SEED = 0  # the scenes do not depend on config.seed, so seeds share one cache


def _gfile():
  return data.import_tf().io.gfile


def count_shard_files(root, name, split):
  """How many well-formed `<i>-of-<n>.tfrecord` files `<root>/<name>/<split>` holds (0 if none)."""
  directory = records.split_dir(root, name, split)
  gfile = _gfile()
  if not gfile.isdir(directory):
    return 0
  return sum(records.parse_shard_filename(f) is not None for f in gfile.listdir(directory))


def has_dataset(root, name):
  """True when both splits of `name` have at least one shard file under `root`."""
  return all(count_shard_files(root, name, split) > 0 for split in records.SPLITS)


def resolve_root(data_config):
  """The root directory to read `data_config.name` from, rendering procedural scenes if needed.

  Returns:
    (root, source) with source 'deepmind' or 'procedural'.
  """
  source, name = data_config.source, data_config.name
  if source not in SOURCES:
    raise ValueError(f"config.data.source={source!r} is not one of {SOURCES}")
  if source in ("auto", "deepmind") and has_dataset(data_config.root, name):
    logging.info("training on DeepMind's %s files under %s", name, data_config.root)
    return data_config.root, "deepmind"
  if source == "deepmind":
    raise FileNotFoundError(
        f"config.data.source='deepmind' but {records.split_dir(data_config.root, name, 'train')} "
        f"and/or its test split hold no '<i>-of-<n>.tfrecord' files: "
        f"{data.fetch_hint(name, data_config.root)}. Or use --config.data.source=procedural.")
  if source == "auto":
    logging.warning(
        "\n%s\nNO DEEPMIND DATA for %r under config.data.root=%s: training on PROCEDURAL scenes "
        "rendered by gqn_jax.scenes into %s instead.\nTo train on the real data, %s, and "
        "pass --config.data.root=<root> (or --config.data.source=deepmind to make missing "
        "files an error).\n%s",
        "=" * 78, name, data_config.root, data_config.procedural_cache,
        data.fetch_hint(name, "<root>"), "=" * 78)
  from gqn_jax import scenes  # pylint: disable=g-import-not-at-top
  root = scenes.ensure_procedural_dataset(
      name, data_config.procedural_cache, data_config.procedural_num_train,
      data_config.procedural_num_test, seed=_PROCEDURAL_SEED, frame_size=data_config.image_size)
  return root, "procedural"


def views_per_scene(root, name):
  """Views per scene of `name` under `root` (procedural spec file, else DeepMind's table)."""
  return data.dataset_spec(name, root)[1]
