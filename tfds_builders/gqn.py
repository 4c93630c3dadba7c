"""The `gqn` TFDS builder: one config per GQN dataset, reading the original files in place.

TFDS normally copies data into its own format during `download_and_prepare`. These datasets are
hundreds of GB in DeepMind's bucket, so this builder prepares nothing: its `data_dir` is the GQN
root (the folder holding `<dataset>/<split>/<i>-of-<n>.tfrecord`, e.g. a copy of gs://gqn-dataset or
that bucket itself), the features are described in code from gqn_jax.data.records (or a procedural
dataset's gqn_jax_procedural.json, through gqn_jax.data.reader), and `as_dataset` reads whatever
shard files are present. Numbers of examples are unknown to TFDS (counting them would mean reading
every file), so split slicing like 'train[:10%]' is not supported; use `ds.take(n)`.
"""

import numpy as np
import tensorflow_datasets as tfds

from gqn_jax.data import pipeline
from gqn_jax.data import reader
from gqn_jax.data import records

reader.import_tf()  # TFDS imported TensorFlow; keep it off the accelerators JAX uses

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
    super().__init__(data_dir=data_dir, config=config, version=version)

  @property
  def gqn_root(self):
    return self._data_dir_root

  def _build_data_dir(self, given_data_dir):
    # The dataset's own folder is TFDS's "prepared data" folder: nothing is copied.
    root = str(given_data_dir).rstrip("/")
    return root, f"{root}/{self.builder_config.name}"

  def _info(self):
    frame_size, sequence_size = reader.dataset_spec(self.builder_config.name, self.gqn_root)
    return tfds.core.DatasetInfo(
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

  def download_and_prepare(self, **kwargs):
    """Prepares nothing (and never deletes anything): checks the dataset folder is there."""
    del kwargs  # download modes would mean rewriting or deleting the user's copy of the data
    name = self.builder_config.name
    if not reader.is_dir(self.data_dir):
      raise FileNotFoundError(f"dataset folder {self.data_dir} does not exist; "
                              f"{reader.fetch_hint(name, self.gqn_root)}")

  def _download_and_prepare(self, dl_manager, download_config=None):
    raise NotImplementedError("the gqn builder reads files in place; see download_and_prepare")

  def as_dataset(self, split=None, **kwargs):
    self.download_and_prepare()  # TFDS's own "not found" error would suggest downloading with TFDS
    if split is None:  # TFDS knows no splits (it would need to count records), so name them
      split = {name: name for name in records.SPLITS}
    return super().as_dataset(split=split, **kwargs)

  def _as_dataset(self, split, decoders=None, read_config=None, shuffle_files=False):
    tf = reader.import_tf()
    split = str(split)
    if split not in records.SPLITS:
      raise ValueError(f"split {split!r} is not supported by the gqn builder: use 'train' or "
                       "'test' (slices need example counts TFDS does not have; use ds.take(n))")
    found = reader.find_dataset(self.builder_config.name, self.gqn_root, splits=(split,))
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
