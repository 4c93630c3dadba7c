"""The `gqn` TFDS builder: one config per GQN dataset, reading the original files in place.

TFDS normally copies data into its own format during `download_and_prepare`. These datasets are
hundreds of GB in DeepMind's bucket, so this builder copies nothing: the `data_dir` it is given is
the GQN root (the folder holding `<dataset>/<split>/<i>-of-<n>.tfrecord`, e.g. a copy of
gs://gqn-dataset or that bucket itself), the features are described in code from
gqn_jax.data.records (or a procedural dataset's gqn_jax_procedural.json, through
gqn_jax.data.reader), and `as_dataset` reads whatever shard files are present.

Only TFDS's public builder interface is used: `_info` and `_as_dataset` (the methods a
`tfds.core.DatasetBuilder` subclass supplies) and the public `download_and_prepare` and
`as_dataset`, overridden whole, so that nothing depends on how TFDS lays out its own folders
(TFDS's `builder.data_dir` names a folder that is never created). Importing registers the
builder and does nothing else; TensorFlow's GPUs are hidden when a dataset is first read.

Split sizes: `download_and_prepare()` counts each split's records once (TFRecord framing only,
nothing decoded) and keeps the counts outside the data folder, which may be a read-only bucket,
in `~/.cache/gqn_jax/tfds_split_sizes/` (or $GQN_TFDS_SPLIT_SIZES), keyed by the files' names and
byte sizes; from then on `builder.info.splits[split].num_examples` is known. Slices like
'train[:10%]' are not supported: use `ds.take(n)`.
"""

import hashlib
import json
import os

import numpy as np
import tensorflow_datasets as tfds

from gqn_jax.data import reader
from gqn_jax.data import records


def split_sizes_dir():
  """Where counted split sizes are kept: $GQN_TFDS_SPLIT_SIZES or ~/.cache/gqn_jax/..."""
  return os.environ.get("GQN_TFDS_SPLIT_SIZES",
                        os.path.expanduser("~/.cache/gqn_jax/tfds_split_sizes"))

_CITATION = """@article{eslami2018neural,
  title={Neural scene representation and rendering},
  author={Eslami, S. M. Ali and Jimenez Rezende, Danilo and Besse, Frederic and Viola, Fabio and
          Morcos, Ari S. and Garnelo, Marta and Ruderman, Avraham and Rusu, Andrei A. and
          Danihelka, Ivo and Gregor, Karol and Reichert, David P. and Buesing, Lars and
          Weber, Theophane and Vinyals, Oriol and Rosenbaum, Dan and Rabinowitz, Neil and
          King, Helen and Hillier, Chloe and Botvinick, Matt and Wierstra, Daan and
          Kavukcuoglu, Koray and Hassabis, Demis},
  journal={Science}, volume={360}, number={6394}, pages={1204--1210}, year={2018}
}"""


def _file_sizes(found):
  """{split: [(path, bytes)]} of a reader.DatasetFiles, asked for once (a round trip per file
  on gs://)."""
  return {split: list(zip(found.files(split), reader.file_sizes(found.files(split))))
          for split in records.SPLITS}


def _split_dict(counted):
  """{split: {'shard_lengths', 'num_bytes'}} -> the tfds.core.SplitDict DatasetInfo holds."""
  return tfds.core.SplitDict([
      tfds.core.SplitInfo(name=split, shard_lengths=sizes["shard_lengths"],
                          num_bytes=sizes["num_bytes"])
      for split, sizes in counted.items()])


class GqnConfig(tfds.core.BuilderConfig):
  """One GQN dataset; its name is the folder name in the bucket."""


class Gqn(tfds.core.DatasetBuilder):
  """DeepMind's GQN datasets (Eslami et al., 2018), read in place from the original TFRecords."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Reads gs://gqn-dataset's TFRecords in place."}
  BUILDER_CONFIGS = [
      GqnConfig(name=info.name, description=(
          f"{info.name}: {info.sequence_size} views of {info.frame_size}x{info.frame_size} per "
          f"scene, {info.train_files}/{info.test_files} train/test files"))
      for info in records.DATASETS.values()
  ]

  def __init__(self, *, data_dir=None, config=None, version=None):
    if data_dir is None:
      raise ValueError(
          "the gqn builder reads DeepMind's files in place: pass data_dir=<GQN root>, the folder "
          "holding <dataset>/train and <dataset>/test (a local copy of gs://gqn-dataset)")
    self._gqn_root = str(data_dir).rstrip("/")
    super().__init__(data_dir=data_dir, config=config, version=version)

  @property
  def gqn_root(self):
    """The GQN root this builder reads (the `data_dir` it was given)."""
    return self._gqn_root

  @property
  def dataset_dir(self):
    """`<gqn_root>/<dataset>`: the folder the files are read from."""
    return f"{self._gqn_root}/{self.builder_config.name}"

  def _info(self):
    frame_size, sequence_size = reader.dataset_spec(self.builder_config.name, self.gqn_root)
    info = tfds.core.DatasetInfo(
        builder=self,
        description=("Scenes of the Generative Query Network datasets: per scene, views as JPEG "
                     "frames and raw camera poses (x, y, z, yaw, pitch) in radians."),
        features=tfds.features.FeaturesDict({
            "frames": tfds.features.Sequence(
                tfds.features.Image(shape=(frame_size, frame_size, 3), encoding_format="jpeg"),
                length=sequence_size),
            "cameras": tfds.features.Tensor(shape=(sequence_size, 5), dtype=np.float32),
        }),
        homepage="https://github.com/deepmind/gqn-datasets",
        citation=_CITATION,
    )
    counted = self._counted_split_sizes()
    if counted:
      info.set_splits(_split_dict(counted))
    return info

  def _found(self, splits=records.SPLITS):
    return reader.find_dataset(self.builder_config.name, self.gqn_root, splits=splits)

  def _split_sizes_path(self, sizes):
    """The cache file of this dataset's counts: a hash of its root and files (names, sizes)."""
    files = [(path, size) for split in records.SPLITS for path, size in sizes[split]]
    digest = hashlib.sha256(json.dumps([self.gqn_root, files]).encode()).hexdigest()[:16]
    return os.path.join(split_sizes_dir(), f"{self.builder_config.name}-{digest}.json")

  def _counted_split_sizes(self):
    """{split: {'shard_lengths', 'num_bytes'}} from the cache, or None when not counted yet."""
    try:
      path = self._split_sizes_path(_file_sizes(self._found()))
    except (FileNotFoundError, reader.DataError):
      return None  # no files (yet): the features are still described
    if not os.path.exists(path):
      return None
    with open(path, encoding="utf-8") as f:
      return json.load(f)

  def download_and_prepare(self, **kwargs):
    """Copies nothing (and never deletes anything): checks the dataset's folder and files are
    there, and counts each split's records once (see the module docstring)."""
    del kwargs  # download modes would mean rewriting or deleting the user's copy of the data
    name = self.builder_config.name
    if not reader.is_dir(self.dataset_dir):
      raise FileNotFoundError(f"dataset folder {self.dataset_dir} does not exist; "
                              f"{reader.fetch_hint(name, self.gqn_root)}")
    found = self._found()
    sizes = _file_sizes(found)
    path = self._split_sizes_path(sizes)
    if os.path.exists(path):
      return
    tf = reader.import_tf()
    counted = {}
    for split in records.SPLITS:
      files = found.files(split)
      lengths = [int(tf.data.TFRecordDataset(f).reduce(np.int64(0), lambda n, _: n + 1))
                 for f in files]
      counted[split] = {"shard_lengths": lengths,
                        "num_bytes": int(sum(size for _, size in sizes[split]))}
    os.makedirs(os.path.dirname(path), exist_ok=True)
    partial = f"{path}.partial-{os.getpid()}"
    with open(partial, "w", encoding="utf-8") as f:
      json.dump(counted, f)
    os.replace(partial, path)  # never a half-written cache file
    self.info.set_splits(_split_dict(counted))  # TFDS keeps one DatasetInfo per builder

  def _download_and_prepare(self, dl_manager, download_config=None):
    raise NotImplementedError("the gqn builder reads files in place; see download_and_prepare")

  def as_dataset(self, split=None, *, batch_size=None, shuffle_files=False, decoders=None,
                 read_config=None, as_supervised=False):
    """tf.data of scenes for `split` ('train', 'test', a list of them, or None for both)."""
    if as_supervised:
      raise ValueError("the gqn datasets have no (input, label) structure: as_supervised=False")
    if not reader.is_dir(self.dataset_dir):  # TFDS's own error would suggest downloading
      self.download_and_prepare()
    if split is None:
      split = {name: name for name in records.SPLITS}
    if isinstance(split, dict):
      return {key: self.as_dataset(value, batch_size=batch_size, shuffle_files=shuffle_files,
                                   decoders=decoders, read_config=read_config)
              for key, value in split.items()}
    if isinstance(split, (list, tuple)):
      return [self.as_dataset(s, batch_size=batch_size, shuffle_files=shuffle_files,
                              decoders=decoders, read_config=read_config) for s in split]
    tf = reader.import_tf()
    ds = self._as_dataset(split, decoders=decoders, read_config=read_config,
                          shuffle_files=shuffle_files)
    if batch_size:
      ds = ds.batch(batch_size)
    if not (read_config and read_config.skip_prefetch):
      ds = ds.prefetch(tf.data.AUTOTUNE)
    return ds

  def _as_dataset(self, split, decoders=None, read_config=None, shuffle_files=False):
    tf = reader.import_tf()  # the first read hides TensorFlow's GPUs: they belong to JAX
    # Imported here, not at the top: importing gqn_jax.data.pipeline hides TensorFlow's GPUs, and
    # importing the builder must change nothing in TensorFlow until a dataset is read.
    from gqn_jax.data import pipeline  # pylint: disable=g-import-not-at-top
    split = str(split)
    if split not in records.SPLITS:
      raise ValueError(f"split {split!r} is not supported by the gqn builder: use 'train' or "
                       "'test' (slices are not supported; use ds.take(n))")
    found = self._found(splits=(split,))
    seed = read_config.shuffle_seed if read_config and read_config.shuffle_seed else 0
    scenes = pipeline.read_checked_scenes(
        found.files(split), sequence_size=found.views_per_scene, frame_size=found.frame_size,
        shuffle=shuffle_files,
        cycle_length=16 if shuffle_files else 1, seed=seed)
    features = self.info.features

    def decode(path, index, jpegs_S, cameras_Sx5):
      del path, index
      return features.decode_example({"frames": jpegs_S, "cameras": cameras_Sx5},
                                     decoders=decoders)

    ds = scenes.map(decode, num_parallel_calls=tf.data.AUTOTUNE)
    if read_config and read_config.options is not None:
      ds = ds.with_options(read_config.options)
    return ds
