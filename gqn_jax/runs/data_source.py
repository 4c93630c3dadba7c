"""Which scenes a run trains on: DeepMind's published files, or the procedural stand-in.

config.data.source:
  'deepmind'    train on `<config.data.root>/<name>/{train,test}/*.tfrecord`; missing files are an
                error that says how to download them.
  'procedural'  render scenes once, at config.data.image_size, into config.data.procedural_cache
                (gqn_jax.scenes) and train on them; the files use DeepMind's layout, so the same
                input pipeline reads both.
  'auto'        DeepMind's files when both splits are present under config.data.root, otherwise
                the procedural data, with a loud warning saying so and how to switch.
  'stream'      render fresh procedural training scenes in the training process at every step
                (gqn_jax.scenes.stream): no epochs, no files, no TensorFlow. The held-out scenes
                are the procedural test split's, rendered once in memory.
  'srn'         posed views in the SRN ShapeNet layout under config.data.root
  'scene_folders'  NeRF-style scene folders (transforms.json) under config.data.root; both
                read in place by gqn_jax.data.posed_scenes, decoded without TensorFlow.

`resolve(config.data)` makes that choice once and returns the dataset found on disk
(gqn_jax.data.reader.DatasetFiles); training and evaluation read everything from it.
`make_inputs` builds a run's training and evaluation batches from either. It lives
with training, not in data/, because it renders procedural scenes (gqn_jax.scenes), which
themselves write through data/.
"""

import dataclasses
import os
from typing import Any, Iterable

from absl import logging

from gqn_jax.data import posed_scenes
from gqn_jax.data import reader
from gqn_jax.data import records

POSED_SOURCES = posed_scenes.LAYOUTS  # image files with camera matrices, any dataset name
SOURCES = ("auto", "deepmind", "procedural", "stream") + POSED_SOURCES
_PROCEDURAL_SEED = 0  # the scenes do not depend on config.seed, so seeds share one cache
_WARNED = set()  # (dataset, root) pairs whose 'no DeepMind data' banner has been shown


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
  if source == "stream" or source in POSED_SOURCES:
    raise ValueError(f"config.data.source={source!r} has no TFRecord files to resolve; use "
                     "make_inputs (or gqn_jax.scenes.stream, gqn_jax.data.posed_scenes)")
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
  if source == "auto" and (name, data_config.root) not in _WARNED:
    _WARNED.add((name, data_config.root))  # once per process: evaluation and rendering resolve too
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


@dataclasses.dataclass
class Inputs:
  """A run's input: endless training batches, the evaluation batches, and where they come from.

  `train` yields host batches of numpy arrays (or tensors numpy can read) and is what checkpoints
  save the position of: a tf.data iterator, or a stream with get_state/set_state. Iterating
  `test` starts a fresh pass over the same held-out batches.
  """
  train: Any
  test: Iterable
  source: str
  root: str

  def close(self):
    """Stops the stream's rendering thread; a tf.data iterator needs nothing."""
    close = getattr(self.train, "close", None)
    if close is not None:
      close()


def make_inputs(config, host_batch_size, process_index=0, process_count=1):
  """The Inputs of a training run (creating them checks max_context against the data)."""
  data = config.data
  if data.source == "stream":
    from gqn_jax.scenes import stream  # pylint: disable=g-import-not-at-top
    common = dict(batch_size=host_batch_size, max_context=data.max_context,
                  image_size=data.image_size, seed=config.seed)
    return Inputs(
        train=stream.SceneStream(data.name, process_index=process_index, **common),
        test=stream.TestBatches(data.name, num_scenes=data.procedural_num_test, **common),
        source="stream", root="(rendered in this process)")
  if data.source in POSED_SOURCES:
    return _posed_inputs(config, host_batch_size, process_index, process_count)
  from gqn_jax.data import pipeline  # pylint: disable=g-import-not-at-top
  dataset_files = resolve(data)
  common = dict(batch_size=host_batch_size, max_context=data.max_context,
                image_size=data.image_size, seed=config.seed, process_index=process_index,
                process_count=process_count, skip_bad_records=data.skip_bad_records)
  train_dataset = pipeline.create_dataset(
      dataset_files, split="train", shuffle=True, repeat=True,
      shuffle_buffer_size=data.shuffle_buffer_size, **common)
  test_dataset = pipeline.create_dataset(
      dataset_files, split="test", shuffle=False, repeat=True, **common)
  return Inputs(train=iter(train_dataset), test=test_dataset, source=dataset_files.source,
                root=str(dataset_files.root))


def _posed_inputs(config, host_batch_size, process_index, process_count):
  """The Inputs of a run on posed scene files (config.data.source 'srn' or 'scene_folders')."""
  from gqn_jax.data import posed_batches  # pylint: disable=g-import-not-at-top
  data = config.data
  dataset = posed_scenes.load_for(data)
  logging.info("reading %s", dataset.describe())
  common = dict(batch_size=host_batch_size, max_context=data.max_context,
                image_size=data.image_size, seed=config.seed)
  return Inputs(
      train=posed_batches.TrainBatches(dataset, process_index=process_index,
                                       process_count=process_count, **common),
      # an evaluation's scenes: eval_batches batches of distinct held-out scenes
      test=posed_batches.TestBatches(
          dataset, num_scenes=config.train.eval_batches * host_batch_size, **common),
      source=data.source, root=dataset.root)
