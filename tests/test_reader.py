"""gqn_jax.data.reader: finding a dataset and its shard files, the plain scene reader, errors."""

import json
import logging

import numpy as np
import pytest

import gqn_test_files
from gqn_jax.data import reader
from gqn_jax.model import viewpoint

# (dataset, files present, scenes per file): tiny, but each with DeepMind's frame size and views.
DATASETS = (
    ("rooms_ring_camera", (1, 3), 2),  # 64x64, 10 views
    ("mazes", (7,), 2),  # 84x84, 300 views
    ("rooms_free_camera_with_object_rotations", (2,), 2),  # 128x128, 10 views
    ("jaco", (1,), 1),  # 64x64, 11 views
)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
  root = tmp_path_factory.mktemp("gqn")
  for name, file_numbers, scenes_per_file in DATASETS:
    gqn_test_files.write_dataset(root, name, file_numbers=file_numbers,
                                 scenes_per_file=scenes_per_file)
  return str(root)


@pytest.mark.parametrize("name,file_numbers,scenes_per_file", DATASETS)
def test_read_scenes_gives_decode_jpeg_pixels_exact_cameras_in_order(
    root, name, file_numbers, scenes_per_file):
  frame_size, sequence_size = reader.dataset_spec(name, root)
  scenes = list(gqn_test_files.read_split(name, "train", root))
  ids = [gqn_test_files.scene_id(f, s) for f in file_numbers for s in range(scenes_per_file)]
  assert len(scenes) == len(ids)
  for scene, sid in zip(scenes, ids):  # file order, then record order
    expected = gqn_test_files.expected_scene(sid, sequence_size, frame_size)
    assert scene["frames"].dtype == np.uint8
    assert scene["frames"].shape == (sequence_size, frame_size, frame_size, 3)
    np.testing.assert_array_equal(scene["frames"], expected["frames"])  # views in stored order
    assert scene["cameras"].dtype == np.float32
    np.testing.assert_array_equal(scene["cameras"], expected["cameras"])


def test_frames_really_differ_between_views(root):
  # Guards the test above: identical views would make "views in stored order" vacuous.
  frames = next(gqn_test_files.read_split("rooms_ring_camera", "train", root))["frames"].astype(int)
  assert np.abs(frames[0].mean((0, 1)) - frames[1].mean((0, 1))).max() > 20


def test_cameras_encode_to_the_7d_viewpoint(root):
  cameras = next(gqn_test_files.read_split("jaco", "train", root))["cameras"]
  encoded = np.asarray(viewpoint.encode_viewpoint(cameras))
  x, y, z, yaw, pitch = cameras.T
  expected = np.stack([x, y, z, np.sin(yaw), np.cos(yaw), np.sin(pitch), np.cos(pitch)], -1)
  assert encoded.shape == (11, 7)
  np.testing.assert_allclose(encoded, expected, rtol=1e-6, atol=1e-6)


def test_list_shard_files_accepts_partial_downloads_and_logs_the_count(root, caplog):
  with caplog.at_level(logging.INFO):
    files = reader.list_shard_files("rooms_ring_camera", "train", root)
  assert [f.rsplit("/", 1)[1] for f in files] == ["0001-of-2160.tfrecord", "0003-of-2160.tfrecord"]
  assert "found 2 of 2160 expected shard files" in caplog.text


def test_find_dataset_holds_sizes_source_and_the_files_of_the_splits_asked_for(root):
  found = reader.find_dataset("rooms_ring_camera", root, splits=("train",))
  assert (found.name, found.root, found.source) == ("rooms_ring_camera", root, "deepmind")
  assert (found.frame_size, found.views_per_scene) == (64, 10)
  assert found.files("train") == tuple(reader.list_shard_files("rooms_ring_camera", "train", root))
  with pytest.raises(ValueError, match="the test split of rooms_ring_camera .* was not looked up"):
    found.files("test")
  with pytest.raises(FileNotFoundError, match="rooms_ring_camera/test does not exist"):
    reader.find_dataset("rooms_ring_camera", root)  # both splits by default; test is missing


def test_list_shard_files_ignores_other_names_and_accepts_any_n(tmp_path):
  directory = tmp_path / "mazes" / "test"
  directory.mkdir(parents=True)
  for name in ("2-of-3.tfrecord", "1-of-3.tfrecord", "010-of-120.tfrecord", "1-of-3.tfrecord.tmp",
               "README", "01-of-3.tfrecord"):
    (directory / name).write_bytes(b"")
  files = reader.list_shard_files("mazes", "test", str(tmp_path))
  assert [f.rsplit("/", 1)[1] for f in files] == ["1-of-3.tfrecord", "2-of-3.tfrecord",
                                                  "010-of-120.tfrecord"]


def test_dataset_spec_uses_deepminds_table_or_the_procedural_file(root, tmp_path):
  assert reader.dataset_spec("mazes", root) == (84, 300)
  assert reader.dataset_spec("rooms_free_camera_with_object_rotations", root) == (128, 10)
  gqn_test_files.write_dataset(tmp_path, "mazes", procedural=True, frame_size=32, sequence_size=20,
                               file_numbers=(1,), scenes_per_file=1)
  assert reader.dataset_spec("mazes", str(tmp_path)) == (32, 20)
  scene = next(gqn_test_files.read_split("mazes", "train", str(tmp_path)))
  assert scene["frames"].shape == (20, 32, 32, 3)


@pytest.mark.parametrize("spec,key", [({"frame_size": 64}, "sequence_size"),
                                      ({"frame_size": "64", "sequence_size": 10}, "frame_size"),
                                      ({"frame_size": 64, "sequence_size": 0}, "sequence_size")])
def test_bad_procedural_spec_names_the_file_and_key(tmp_path, spec, key):
  (tmp_path / "toy").mkdir()
  (tmp_path / "toy" / reader.PROCEDURAL_SPEC_FILENAME).write_text(json.dumps(spec))
  with pytest.raises(reader.DataError, match=f"gqn_jax_procedural.json: key '{key}'"):
    reader.dataset_spec("toy", str(tmp_path))


def test_unknown_dataset_without_spec_lists_the_known_ones(tmp_path):
  with pytest.raises(ValueError, match="unknown GQN dataset 'roomz'.*rooms_ring_camera"):
    reader.dataset_spec("roomz", str(tmp_path))


def test_missing_root_says_how_to_fetch(tmp_path):
  missing = tmp_path / "nowhere"
  with pytest.raises(FileNotFoundError, match=(
      f"GQN data root {missing} does not exist.*gsutil -m cp -r gs://gqn-dataset/mazes {missing}")):
    reader.list_shard_files("mazes", "train", str(missing))


def test_missing_dataset_and_split_folders_say_how_to_fetch(tmp_path):
  with pytest.raises(FileNotFoundError, match=(
      f"dataset folder {tmp_path}/jaco does not exist.*gsutil -m cp -r gs://gqn-dataset/jaco")):
    list(gqn_test_files.read_split("jaco", "train", str(tmp_path)))
  (tmp_path / "jaco" / "train").mkdir(parents=True)
  with pytest.raises(FileNotFoundError, match=f"split folder {tmp_path}/jaco/test does not exist"):
    reader.list_shard_files("jaco", "test", str(tmp_path))


def test_no_matching_file_names_is_an_error_naming_the_folder(tmp_path):
  directory = tmp_path / "jaco" / "train"
  directory.mkdir(parents=True)
  (directory / "jaco-train.tfrecord").write_bytes(b"")
  with pytest.raises(reader.DataError, match=(
      f"no files named like <i>-of-<n>.tfrecord .* in {directory}; it holds jaco-train.tfrecord")):
    reader.list_shard_files("jaco", "train", str(tmp_path))


def _copy_dataset(root, tmp_path, name="rooms_ring_camera"):
  """A writable copy of one dataset of the module fixture."""
  import shutil  # pylint: disable=g-import-not-at-top
  shutil.copytree(f"{root}/{name}", tmp_path / name)
  return sorted((tmp_path / name / "train").iterdir())


def test_truncated_file_is_named_and_skippable(root, tmp_path, caplog):
  first, second = _copy_dataset(root, tmp_path)
  content = second.read_bytes()
  second.write_bytes(content[:len(content) * 3 // 4])  # keeps its first record only
  with pytest.raises(reader.DataError, match=(
      f"{second} is truncated or corrupt after its first 1 records.*gsutil cp "
      "gs://gqn-dataset/rooms_ring_camera/train/0003-of-2160.tfrecord")):
    list(gqn_test_files.read_split("rooms_ring_camera", "train", str(tmp_path)))
  with caplog.at_level(logging.WARNING):
    scenes = list(gqn_test_files.read_split("rooms_ring_camera", "train", str(tmp_path),
                                   skip_bad_records=True))
  assert [s["cameras"][0, 0] for s in scenes] == [100, 101, 300]
  assert "skipped 1 bad records or file tails" in caplog.text
  assert str(second) in caplog.text


def _bad_records(tmp_path):
  """A shard whose records are: good, from another dataset (15 views), a broken JPEG, good."""
  good = gqn_test_files.encode_jpegs(gqn_test_files.scene_pixels(1, 10, 64))
  cameras = gqn_test_files.scene_cameras(1, 10)
  from gqn_jax.data import records  # pylint: disable=g-import-not-at-top
  other = gqn_test_files.encode_jpegs(gqn_test_files.scene_pixels(2, 15, 64))
  broken = list(good)
  broken[4] = b"\x00 not a jpeg"
  directory = tmp_path / "rooms_ring_camera" / "train"
  directory.mkdir(parents=True)
  path = directory / "0001-of-2160.tfrecord"
  gqn_test_files.write_records(str(path), [
      records.serialize_scene(good, cameras),
      records.serialize_scene(other, gqn_test_files.scene_cameras(2, 15)),
      records.serialize_scene(broken, cameras),
      records.serialize_scene(good, cameras),
  ])
  return path


def test_wrong_feature_shapes_name_the_record(tmp_path):
  path = _bad_records(tmp_path)
  scenes = gqn_test_files.read_split("rooms_ring_camera", "train", str(tmp_path))
  next(scenes)
  with pytest.raises(reader.DataError, match=(
      f"record 1 of {path} has 15 'frames' and 75 'cameras' values; this dataset needs 10 and 50")):
    next(scenes)


def test_undecodable_jpeg_names_the_view_and_record(tmp_path):
  path = _bad_records(tmp_path)
  message = f"view 4 of record 2 of {path} is not a decodable JPEG"
  with pytest.raises(reader.DataError, match=message):
    reader.parse_scene(_nth_record(path, 2), 10, 64, f"record 2 of {path}")


def test_wrong_frame_size_names_the_view(tmp_path):
  path = _bad_records(tmp_path)
  with pytest.raises(reader.DataError, match=(
      f"view 0 of record 0 of {path} is 64x64; this dataset has 84x84 frames")):
    reader.parse_scene(_nth_record(path, 0), 10, 84, f"record 0 of {path}")


def test_skip_bad_records_skips_and_counts(tmp_path, caplog):
  _bad_records(tmp_path)
  with caplog.at_level(logging.WARNING):
    scenes = list(gqn_test_files.read_split("rooms_ring_camera", "train", str(tmp_path),
                                   skip_bad_records=True))
  assert len(scenes) == 2
  assert "skipped 2 bad records" in caplog.text


def _nth_record(path, n):
  tf = reader.import_tf()
  return list(tf.data.TFRecordDataset(str(path)).as_numpy_iterator())[n]


def test_tensorflow_sees_no_accelerator():
  tf = reader.import_tf()
  assert tf.config.get_visible_devices("GPU") == []
  assert tf.config.get_visible_devices("TPU") == []


def test_record_that_is_no_example_is_named(tmp_path):
  directory = tmp_path / "jaco" / "test"
  directory.mkdir(parents=True)
  path = directory / "001-of-400.tfrecord"
  gqn_test_files.write_records(str(path), [b"\xff\xff garbage, not a protocol buffer"])
  with pytest.raises(reader.DataError, match=f"record 0 of {path} is not a tf.train.Example"):
    list(gqn_test_files.read_split("jaco", "test", str(tmp_path)))


def test_non_finite_pose_names_the_view_and_record_and_can_be_skipped(tmp_path, caplog):
  good = gqn_test_files.encode_jpegs(gqn_test_files.scene_pixels(1, 10, 64))
  cameras = gqn_test_files.scene_cameras(1, 10)
  with_nan = cameras.copy()
  with_nan[6, 0] = np.nan
  from gqn_jax.data import records  # pylint: disable=g-import-not-at-top
  directory = tmp_path / "rooms_ring_camera" / "train"
  directory.mkdir(parents=True)
  path = directory / "0001-of-2160.tfrecord"
  gqn_test_files.write_records(str(path), [records.serialize_scene(good, c)
                                           for c in (cameras, with_nan, cameras)])
  scenes = gqn_test_files.read_split("rooms_ring_camera", "train", str(tmp_path))
  next(scenes)
  with pytest.raises(reader.DataError, match=(
      f"view 6 of record 1 of {path} has a non-finite camera pose")):
    next(scenes)
  with caplog.at_level(logging.WARNING):
    kept = list(gqn_test_files.read_split("rooms_ring_camera", "train", str(tmp_path),
                                          skip_bad_records=True))
  assert len(kept) == 2 and "skipped 1 bad records" in caplog.text
