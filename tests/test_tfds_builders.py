"""tfds_builders: the `gqn` builder reads DeepMind-format files in place through TFDS's API."""

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow_datasets as tfds

import gqn_test_files
import tfds_builders
from gqn_jax.data import reader
from gqn_jax.data import records


@pytest.fixture(scope="module")
def root(tmp_path_factory):
  root = tmp_path_factory.mktemp("gqn")
  gqn_test_files.write_dataset(root, "rooms_ring_camera", file_numbers=(2, 5), scenes_per_file=2)
  gqn_test_files.write_dataset(root, "rooms_ring_camera", "test", file_numbers=(1,),
                               scenes_per_file=1)
  gqn_test_files.write_dataset(root, "mazes", file_numbers=(3,), scenes_per_file=1)
  return str(root)


def _tree(root):
  return sorted((path, sorted(files)) for path, _, files in os.walk(root))


def _load(root, name, split="train", **kwargs):
  return tfds.load(f"gqn/{name}", split=split, data_dir=root, download=False, try_gcs=False,
                   **kwargs)


def test_one_config_per_dataset_with_deepminds_shapes(tmp_path):
  assert sorted(c.name for c in tfds_builders.Gqn.BUILDER_CONFIGS) == sorted(records.DATASETS)
  for info in records.DATASETS.values():
    features = tfds.builder(f"gqn/{info.name}", data_dir=str(tmp_path)).info.features
    assert features["frames"].shape == (info.sequence_size, info.frame_size, info.frame_size, 3)
    assert features["frames"].feature.encoding_format == "jpeg"
    assert features["cameras"].shape == (info.sequence_size, 5)
    assert features["cameras"].np_dtype == np.float32


@pytest.mark.parametrize("name,scene_ids", [("rooms_ring_camera", (200, 201, 500, 501)),
                                            ("mazes", (300,))])
def test_load_gives_decode_jpeg_pixels_and_exact_cameras_in_file_order(root, name, scene_ids):
  frame_size, sequence_size = reader.dataset_spec(name, root)
  scenes = list(tfds.as_numpy(_load(root, name)))
  assert len(scenes) == len(scene_ids)
  for scene, sid in zip(scenes, scene_ids):
    expected = gqn_test_files.expected_scene(sid, sequence_size, frame_size)
    np.testing.assert_array_equal(scene["frames"], expected["frames"])
    np.testing.assert_array_equal(scene["cameras"], expected["cameras"])


def test_reading_writes_nothing_and_download_true_prepares_nothing(root):
  before = _tree(root)
  list(tfds.as_numpy(tfds.load("gqn/rooms_ring_camera", split="test", data_dir=root,
                               try_gcs=False)))  # download=True: must neither copy nor delete
  assert _tree(root) == before


def test_skip_decoding_gives_the_stored_jpeg_bytes(root):
  builder = tfds.builder("gqn/rooms_ring_camera", data_dir=root)
  ds = builder.as_dataset(split="test", decoders={"frames": tfds.decode.SkipDecoding()})
  jpegs = next(iter(tfds.as_numpy(ds)))["frames"]
  assert list(jpegs) == gqn_test_files.encode_jpegs(gqn_test_files.scene_pixels(100, 10, 64))


def test_all_splits_and_shuffled_files(root):
  splits = tfds.load("gqn/rooms_ring_camera", data_dir=root, download=False, try_gcs=False)
  assert sorted(splits) == ["test", "train"]
  shuffled = _load(root, "rooms_ring_camera", shuffle_files=True,
                   read_config=tfds.ReadConfig(shuffle_seed=3))
  ids = sorted(int(s["cameras"][0, 0]) for s in tfds.as_numpy(shuffled))
  assert ids == [200, 201, 500, 501]


def test_procedural_dataset_sizes_come_from_its_spec_file(tmp_path):
  gqn_test_files.write_dataset(tmp_path, "mazes", procedural=True, frame_size=32, sequence_size=12,
                               file_numbers=(1,), scenes_per_file=1)
  scene = next(iter(tfds.as_numpy(_load(str(tmp_path), "mazes"))))
  assert scene["frames"].shape == (12, 32, 32, 3)
  assert scene["cameras"].shape == (12, 5)


def test_missing_dataset_says_how_to_fetch(tmp_path):
  with pytest.raises(FileNotFoundError, match=(
      "dataset folder .*/jaco does not exist.*gsutil -m cp -r gs://gqn-dataset/jaco")):
    _load(str(tmp_path), "jaco")


def test_slices_and_missing_data_dir_are_explained(root):
  with pytest.raises(ValueError, match="split 'train\\[:1\\]' is not supported.*ds.take"):
    _load(root, "rooms_ring_camera", split="train[:1]")
  with pytest.raises(ValueError, match="pass data_dir=<GQN root>"):
    tfds_builders.Gqn(config="mazes")


def test_bad_records_are_named(tmp_path):
  directory = tmp_path / "jaco" / "train"
  directory.mkdir(parents=True)
  path = directory / "1-of-1.tfrecord"
  jpegs = gqn_test_files.encode_jpegs(gqn_test_files.scene_pixels(1, 10, 64))
  gqn_test_files.write_records(str(path), [records.serialize_scene(
      jpegs, gqn_test_files.scene_cameras(1, 10))])
  tf = reader.import_tf()
  with pytest.raises(tf.errors.InvalidArgumentError, match=(
      f"record 0 of {path} has 10 frames and 50 cameras values; this dataset needs 11 and 55")):
    list(tfds.as_numpy(_load(str(tmp_path), "jaco")))


def test_split_sizes_are_known_after_download_and_prepare_and_the_data_is_untouched(tmp_path):
  root = str(tmp_path)
  gqn_test_files.write_dataset(root, "rooms_ring_camera", file_numbers=(2, 5), scenes_per_file=2)
  gqn_test_files.write_dataset(root, "rooms_ring_camera", "test", file_numbers=(1,),
                               scenes_per_file=1)
  builder = tfds.builder("gqn/rooms_ring_camera", data_dir=root)
  assert not builder.info.splits  # nothing counted yet
  before = _tree(root)
  builder.download_and_prepare()
  assert _tree(root) == before  # the counts live outside the data folder
  splits = builder.info.splits
  assert (splits["train"].num_examples, splits["test"].num_examples) == (4, 1)
  assert splits["train"].shard_lengths == [2, 2] and splits["train"].num_bytes > 0
  again = tfds.builder("gqn/rooms_ring_camera", data_dir=root)  # another process, later
  assert again.info.splits["train"].num_examples == 4


def test_importing_the_builder_changes_nothing_in_tensorflow(repo_dir):
  script = ("from gqn_jax.data import reader\n"
            "calls = []\n"
            "reader.import_tf = lambda: calls.append(1)\n"
            "import tfds_builders\n"
            "print(len(calls))\n")
  result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=False, cwd=repo_dir, timeout=300)
  assert result.returncode == 0, result.stderr[-2000:]
  assert result.stdout.split() == ["0"]  # devices are hidden only when a dataset is read
