"""Procedural datasets on disk: format, read-back, re-rendering, determinism, splits, the cache."""

import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import gqn_test_files
from gqn_jax import scenes
from gqn_jax.data import reader
from gqn_jax.data import records
from gqn_jax.scenes import contact_sheet
from gqn_jax.scenes import datasets
from gqn_jax.scenes import writer

# Small on purpose: (dataset, train scenes, test scenes, views per scene or None for the default).
SMALL = {
    "shepard_metzler_5_parts": (5, 3, None),
    "rooms_ring_camera": (3, 2, None),
    "mazes": (2, 1, 6),
}


@pytest.fixture(scope="module")
def written(tmp_path_factory):
  """Both splits of every SMALL dataset under one root, written with seed 7."""
  root = str(tmp_path_factory.mktemp("procedural"))
  for name, (num_train, num_test, views) in SMALL.items():
    scenes.write_dataset(name, root, "train", num_train, seed=7, num_files=2, sequence_size=views)
    scenes.write_dataset(name, root, "test", num_test, seed=7, sequence_size=views)
  return root


def _parsed(root, name, split):
  kind = datasets.get_kind(name)
  views = SMALL[name][2] or kind.sequence_size
  files = sorted(tf.io.gfile.glob(f"{records.split_dir(root, name, split)}/*.tfrecord"))
  spec = records.feature_spec(views)
  return [tf.io.parse_single_example(record, spec)
          for record in tf.data.TFRecordDataset(files)], files


@pytest.mark.parametrize("name", sorted(SMALL))
def test_files_parse_with_deepminds_layout(written, name):
  kind = datasets.get_kind(name)
  views = SMALL[name][2] or kind.sequence_size
  examples, files = _parsed(written, name, "train")
  assert [os.path.basename(f) for f in files] == ["1-of-2.tfrecord", "2-of-2.tfrecord"]
  assert len(examples) == SMALL[name][0]
  for example in examples:
    assert example["cameras"].shape == (views * 5,)
    frame = tf.io.decode_jpeg(example["frames"][views - 1]).numpy()
    assert frame.shape == (kind.frame_size, kind.frame_size, 3)
  with open(reader.spec_path(name, written), encoding="utf-8") as f:
    metadata = json.load(f)
  assert metadata["frame_size"] == kind.frame_size and metadata["sequence_size"] == views
  assert metadata["splits"]["train"] == {"num_scenes": SMALL[name][0], "num_files": 2, "seed": 7}
  assert metadata["splits"]["test"]["num_scenes"] == SMALL[name][1]


@pytest.mark.parametrize("name", sorted(SMALL))
def test_reads_back_through_the_project_reader(written, name):
  kind = datasets.get_kind(name)
  views = SMALL[name][2] or kind.sequence_size
  assert reader.dataset_spec(name, written) == (kind.frame_size, views)
  read = list(gqn_test_files.read_split(name, "test", written))
  assert len(read) == SMALL[name][1]
  for scene in read:
    assert scene["frames"].shape == (views, kind.frame_size, kind.frame_size, 3)
    assert scene["frames"].dtype == np.uint8
    assert scene["cameras"].shape == (views, 5)


def _render(name, params, poses_Sx5):
  """One scene's frames, in a batch of the writer's shape so nothing is compiled again."""
  kind = datasets.get_kind(name)
  batch = kind.scenes_per_batch
  return datasets.render_batch(name, [params] * batch, [poses_Sx5] * batch, kind.frame_size)[0]


@pytest.mark.parametrize("name", sorted(SMALL))
def test_stored_pose_rerenders_the_stored_frame(written, name):
  """Rendering the scene again from the poses read off disk gives the stored JPEGs back."""
  views = SMALL[name][2]
  read = list(gqn_test_files.read_split(name, "train", written))
  index = len(read) - 1
  params, _ = writer.sample_scene(name, "train", index, 7, views)
  stored = read[index]
  again = _render(name, params, stored["cameras"])
  error = np.abs(again.astype(float) - stored["frames"]).mean()
  assert error < 2.0, f"mean abs error {error:.2f} of 255 is more than JPEG's"
  nudged = stored["cameras"] + np.array([0.0, 0.0, 0.0, 0.05, 0.0], np.float32)
  off = _render(name, params, nudged)
  assert np.abs(off.astype(float) - stored["frames"]).mean() > 2 * error


def _digests(root, name, split):
  examples, _ = _parsed(root, name, split)
  return [hashlib.sha256(example["frames"][0].numpy()).hexdigest() for example in examples]


def test_same_seed_gives_identical_files_and_another_seed_does_not(written, tmp_path):
  name = "shepard_metzler_5_parts"
  scenes.write_dataset(name, str(tmp_path / "a"), "train", 5, seed=7, num_files=2)
  scenes.write_dataset(name, str(tmp_path / "b"), "train", 5, seed=8, num_files=2)
  for filename in ("1-of-2.tfrecord", "2-of-2.tfrecord"):
    original = os.path.join(records.split_dir(written, name, "train"), filename)
    same = os.path.join(records.split_dir(tmp_path / "a", name, "train"), filename)
    with open(original, "rb") as f, open(same, "rb") as g:
      assert f.read() == g.read()
  assert not set(_digests(written, name, "train")) & set(_digests(tmp_path / "b", name, "train"))


def test_scenes_do_not_depend_on_sharding_or_count(written, tmp_path):
  name = "shepard_metzler_5_parts"
  scenes.write_dataset(name, str(tmp_path), "train", 2, seed=7, num_files=1)
  assert _digests(tmp_path, name, "train") == _digests(written, name, "train")[:2]


def test_train_and_test_splits_do_not_overlap(written):
  for name in SMALL:
    train, test = _digests(written, name, "train"), _digests(written, name, "test")
    assert len(set(train)) == len(train) and not set(train) & set(test)
  # The streams themselves differ, index by index, for many more scenes than were written.
  name = "rooms_ring_camera"
  train_poses = [writer.sample_scene(name, "train", i, 0)[1] for i in range(200)]
  test_poses = [writer.sample_scene(name, "test", i, 0)[1] for i in range(200)]
  train_keys = {pose.tobytes() for pose in train_poses}
  assert len(train_keys) == 200 and not train_keys & {pose.tobytes() for pose in test_poses}


def test_bad_requests_fail_with_clear_errors(written, tmp_path):
  with pytest.raises(ValueError, match="no procedural generator for dataset 'jaco'"):
    scenes.write_dataset("jaco", str(tmp_path), "train", 1, seed=0)
  with pytest.raises(ValueError, match="unknown split"):
    scenes.write_dataset("mazes", str(tmp_path), "validation", 1, seed=0)
  with pytest.raises(ValueError, match="non-negative"):
    scenes.write_dataset("mazes", str(tmp_path), "train", 1, seed=-1)
  with pytest.raises(FileExistsError, match="overwrite"):
    scenes.write_dataset("shepard_metzler_5_parts", written, "train", 1, seed=0)
  with pytest.raises(ValueError, match="sequence_size=6 but this run writes sequence_size=4"):
    scenes.write_dataset("mazes", written, "test", 1, seed=0, sequence_size=4, overwrite=True)


def test_ensure_renders_once_atomically(tmp_path, monkeypatch):
  name, cache = "shepard_metzler_5_parts", str(tmp_path / "cache")
  calls = []
  real_write = writer.write_dataset

  def failing_write(name, root, split, *args, **kwargs):
    calls.append(split)
    if split == "test":
      raise RuntimeError("interrupted")
    return real_write(name, root, split, *args, **kwargs)

  monkeypatch.setattr(writer, "write_dataset", failing_write)
  with pytest.raises(RuntimeError, match="interrupted"):
    scenes.ensure_procedural_dataset(name, cache, 2, 1, seed=3)
  assert os.listdir(cache) == []  # neither a finished root nor a partial one is left behind
  monkeypatch.setattr(writer, "write_dataset", real_write)

  root = scenes.ensure_procedural_dataset(name, cache, 2, 1, seed=3)
  assert os.listdir(cache) == [os.path.basename(root)]
  assert reader.dataset_spec(name, root) == (64, 15)
  assert len(list(gqn_test_files.read_split(name, "train", root))) == 2
  assert len(list(gqn_test_files.read_split(name, "test", root))) == 1
  stamp = os.stat(os.path.join(root, name, "train", "1-of-1.tfrecord")).st_mtime_ns

  monkeypatch.setattr(writer, "write_dataset", failing_write)
  calls.clear()
  assert scenes.ensure_procedural_dataset(name, cache, 2, 1, seed=3) == root
  assert not calls  # found in the cache: nothing rendered
  assert os.stat(os.path.join(root, name, "train", "1-of-1.tfrecord")).st_mtime_ns == stamp
  with pytest.raises(RuntimeError, match="interrupted"):  # other arguments: rendered anew
    scenes.ensure_procedural_dataset(name, cache, 2, 1, seed=4)
  assert calls == ["train", "test"]


def test_a_killed_render_leaves_nothing_behind_for_long(tmp_path):
  """SIGKILL skips every cleanup; the next render removes what the dead process left."""
  name, cache = "shepard_metzler_5_parts", tmp_path / "cache"
  cache.mkdir()
  key = writer.cache_key(name, 2, 1, 3, None, None)
  gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                        capture_output=True, text=True, check=True)
  dead_pid, live_pid = int(gone.stdout), os.getppid()
  host = writer._host_token()  # pylint: disable=protected-access
  (cache / f".partial-{key}-{host}-{dead_pid}-abc123" / name).mkdir(parents=True)
  (cache / f".partial-{key}-{dead_pid}-old789").mkdir()  # named before hosts were: this host's
  live = f".partial-{key}-{host}-{live_pid}-def456"  # another process, still rendering
  # Another host sharing the cache folder (NFS): its pid means nothing here, so it stays.
  other_host = f".partial-{key}-other_host-{dead_pid}-ghi012"
  (cache / live).mkdir()
  (cache / other_host).mkdir()
  root = scenes.ensure_procedural_dataset(name, str(cache), 2, 1, seed=3)
  assert sorted(os.listdir(cache)) == sorted([os.path.basename(root), live, other_host])


def test_sizes_too_small_for_gqn_are_refused(tmp_path):
  with pytest.raises(ValueError, match="sequence_size must be at least 2"):
    scenes.write_dataset("mazes", str(tmp_path), "train", 1, seed=0, sequence_size=1)
  with pytest.raises(ValueError, match="num_files must be in 1..num_scenes=2"):
    scenes.write_dataset("mazes", str(tmp_path), "train", 2, seed=0, num_files=3)


def test_command_line_writes_a_readable_split(tmp_path):
  result = subprocess.run(
      [sys.executable, "-m", "gqn_jax.scenes", "--dataset=shepard_metzler_7_parts",
       f"--root={tmp_path}", "--num_scenes=2", "--split=test", "--seed=3", "--num_files=2"],
      capture_output=True, text=True, check=False, timeout=300)
  assert result.returncode == 0, result.stderr[-2000:]
  assert "wrote 2 scenes of shepard_metzler_7_parts (test) in 2 files" in result.stdout
  read = list(gqn_test_files.read_split("shepard_metzler_7_parts", "test", str(tmp_path)))
  assert len(read) == 2 and read[0]["frames"].shape == (15, 64, 64, 3)
  # The same scene as the library call makes: the command adds nothing of its own.
  _, poses = writer.sample_scene("shepard_metzler_7_parts", "test", 1, 3)
  np.testing.assert_array_equal(read[1]["cameras"], poses)


def test_contact_sheet_lays_out_scenes_by_views():
  block = contact_sheet.dataset_block("shepard_metzler_5_parts", 2, 3, seed=0, scale=2)
  assert block.shape == (2 * 128 + 4, 3 * 128 + 2 * 4, 3)
  assert block[:128, :128].max() > 0  # a frame with an object, on white gaps
  assert (block[128:132] == 255).all()
  sheet = contact_sheet.contact_sheet(["shepard_metzler_5_parts"], 2, 3, seed=0, scale=2)
  assert sheet.size[0] >= block.shape[1] and sheet.size[1] > block.shape[0]
