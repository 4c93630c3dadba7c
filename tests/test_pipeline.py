"""gqn_jax.data.pipeline: the batch contract, context sampling, sharding, determinism, errors."""

import numpy as np
import pytest

import gqn_test_files
from gqn_jax.data import pipeline
from gqn_jax.data import reader
from gqn_jax.data import records

tf = reader.import_tf()

ROOMS = "rooms_ring_camera"  # 64x64, 10 views
ROOMS_FILES = (1, 2, 3, 4)
SCENES_PER_FILE = 3


@pytest.fixture(scope="module")
def root(tmp_path_factory):
  root = tmp_path_factory.mktemp("gqn")
  gqn_test_files.write_dataset(root, ROOMS, file_numbers=ROOMS_FILES,
                               scenes_per_file=SCENES_PER_FILE)
  gqn_test_files.write_dataset(root, "mazes", file_numbers=(1,), scenes_per_file=2)
  gqn_test_files.write_dataset(root, "rooms_free_camera_with_object_rotations",
                               file_numbers=(5, 6), scenes_per_file=1)
  return str(root)


def _frames_by_view(name, root):
  """{(scene id, view): uint8 frame} as the plain reader decodes them."""
  return {(int(scene["cameras"][v, 0]), v): scene["frames"][v]
          for scene in gqn_test_files.read_split(name, "train", root)
          for v in range(len(scene["frames"]))}


def _dataset(root, name=ROOMS, split="train", **overrides):
  kwargs = dict(batch_size=3, max_context=4, image_size=None, seed=0)
  kwargs.update(overrides)
  found = reader.find_dataset(name, root, splits=(split,))
  return pipeline.create_dataset(found, split=split, **kwargs)


def _batches(ds, n):
  return [{k: v.numpy() for k, v in batch.items()} for batch in ds.take(n)]


def test_batches_follow_the_contract_with_the_right_views(root):
  expected = _frames_by_view(ROOMS, root)
  ds = _dataset(root, batch_size=3, max_context=4)
  # Static shapes, so that a jitted step compiles once.
  assert {key: tuple(spec.shape) for key, spec in ds.element_spec.items()} == {
      "context_frames": (3, 4, 64, 64, 3), "context_cameras": (3, 4, 5), "context_mask": (3, 4),
      "query_frame": (3, 64, 64, 3), "query_camera": (3, 5)}
  batches = _batches(ds, 12)
  for batch in batches:
    assert batch["context_frames"].shape == (3, 4, 64, 64, 3)
    assert batch["context_frames"].dtype == np.float32
    assert batch["context_cameras"].shape == (3, 4, 5)
    assert batch["context_cameras"].dtype == np.float32
    assert batch["context_mask"].shape == (3, 4) and batch["context_mask"].dtype == bool
    assert batch["query_frame"].shape == (3, 64, 64, 3)
    assert batch["query_frame"].dtype == np.float32
    assert batch["query_camera"].shape == (3, 5) and batch["query_camera"].dtype == np.float32
    num_context = batch["context_mask"].sum(axis=1)
    assert len(set(num_context)) == 1  # one M per batch
    m = num_context[0]
    np.testing.assert_array_equal(batch["context_mask"], np.tile(np.arange(4) < m, (3, 1)))
    assert not batch["context_frames"][:, m:].any() and not batch["context_cameras"][:, m:].any()
    for b in range(3):
      scene, query_view = batch["query_camera"][b, :2].astype(int)
      # The camera says which stored view this is, so frame and camera must match it exactly.
      np.testing.assert_array_equal(batch["query_frame"][b],
                                    expected[(scene, query_view)].astype(np.float32) / 255)
      views = [query_view]
      for k in range(m):
        context_scene, view = batch["context_cameras"][b, k, :2].astype(int)
        assert context_scene == scene
        np.testing.assert_array_equal(batch["context_cameras"][b, k],
                                      gqn_test_files.scene_cameras(scene, 10)[view])
        np.testing.assert_array_equal(batch["context_frames"][b, k],
                                      expected[(scene, view)].astype(np.float32) / 255)
        views.append(view)
      assert len(set(views)) == m + 1  # distinct context views, and the query is none of them
  assert {b["context_mask"].sum(axis=1)[0] for b in batches} != {0}


def test_context_size_and_query_view_are_uniform_and_m_is_shared_by_hosts(root):
  k, num_batches = 5, 420
  host0 = _batches(_dataset(root, batch_size=1, max_context=k, process_count=2), num_batches)
  m_counts = np.bincount([b["context_mask"].sum() for b in host0], minlength=k + 1)
  query_counts = np.bincount([int(b["query_camera"][0, 1]) for b in host0], minlength=10)
  # Chi-square statistics against uniform; 20.5 and 27.9 are the 0.999 quantiles for 5 and 9
  # degrees of freedom, so a correct sampler fails this once in a thousand seeds.
  assert _chi_square(m_counts) < 20.5, m_counts
  assert _chi_square(query_counts) < 27.9, query_counts
  host1 = _batches(_dataset(root, batch_size=1, max_context=k, process_index=1, process_count=2),
                   30)
  np.testing.assert_array_equal([b["context_mask"] for b in host1],
                                [b["context_mask"] for b in host0[:30]])
  other_seed = _batches(_dataset(root, batch_size=1, max_context=k, seed=1), 30)
  assert [b["context_mask"].sum() for b in other_seed] != [b["context_mask"].sum()
                                                           for b in host0[:30]]


def _chi_square(counts):
  expected = counts.sum() / len(counts)
  return ((counts - expected) ** 2 / expected).sum()


def test_same_seed_same_batches_other_seed_other_batches(root):
  first = _batches(_dataset(root, seed=7), 3)
  again = _batches(_dataset(root, seed=7), 3)
  other = _batches(_dataset(root, seed=8), 3)
  for a, b in zip(first, again):
    for key in a:
      np.testing.assert_array_equal(a[key], b[key])
  assert any(not np.array_equal(a["query_camera"], b["query_camera"])
             for a, b in zip(first, other))


def test_checkpointed_iterator_resumes_exactly(root, tmp_path):
  iterator = iter(_dataset(root))
  for _ in range(3):
    next(iterator)
  checkpoint = tf.train.Checkpoint(iterator=iterator)
  path = checkpoint.save(str(tmp_path / "input"))
  following = [next(iterator) for _ in range(6)]  # crosses an epoch (12 scenes = 4 batches)
  fresh = iter(_dataset(root))  # as after a restart: a new pipeline, then the saved position
  tf.train.Checkpoint(iterator=fresh).restore(path).assert_consumed()
  for expected in following:
    resumed = next(fresh)
    for key in expected:
      np.testing.assert_array_equal(resumed[key].numpy(), expected[key].numpy())


def test_mazes_are_resized_to_the_image_size(root):
  expected = _frames_by_view("mazes", root)
  batch = _batches(_dataset(root, name="mazes", batch_size=2, max_context=20, image_size=64), 1)[0]
  assert batch["context_frames"].shape == (2, 20, 64, 64, 3)
  assert batch["query_frame"].shape == (2, 64, 64, 3)
  for b in range(2):
    scene, view = batch["query_camera"][b, :2].astype(int)
    source = expected[(scene, view)].astype(np.float32) / 255
    resized = tf.image.resize(source, [64, 64], method="bilinear", antialias=True).numpy()
    np.testing.assert_allclose(batch["query_frame"][b], np.clip(resized, 0, 1), atol=1e-6)
  assert batch["query_frame"].min() >= 0 and batch["query_frame"].max() <= 1


def test_128_pixel_rooms(root):
  expected = _frames_by_view("rooms_free_camera_with_object_rotations", root)
  batch = _batches(_dataset(root, name="rooms_free_camera_with_object_rotations", batch_size=2,
                            max_context=9), 1)[0]
  assert batch["context_frames"].shape == (2, 9, 128, 128, 3)
  scene, view = batch["query_camera"][0, :2].astype(int)
  np.testing.assert_array_equal(batch["query_frame"][0],
                                expected[(scene, view)].astype(np.float32) / 255)


def test_unshuffled_single_pass_reads_every_scene_once(root):
  batches = _batches(_dataset(root, shuffle=False, repeat=False, batch_size=3), 100)
  ids = sorted(int(i) for b in batches for i in b["query_camera"][:, 0])
  assert ids == sorted(gqn_test_files.scene_id(f, s) for f in ROOMS_FILES
                       for s in range(SCENES_PER_FILE))


def test_hosts_read_disjoint_files(root):
  for process_index, files in ((0, {1, 3}), (1, {2, 4})):
    batches = _batches(_dataset(root, shuffle=False, repeat=False, process_index=process_index,
                                process_count=2), 100)
    assert {int(i) // 100 for b in batches for i in b["query_camera"][:, 0]} == files


@pytest.mark.parametrize("num_files,process_count", [(4, 2), (10, 3), (5, 5), (7, 1)])
def test_shard_files_is_disjoint_covering_and_balanced(num_files, process_count):
  files = [records.shard_filename(i, num_files) for i in range(1, num_files + 1)]
  shares = [pipeline.shard_files(files, p, process_count) for p in range(process_count)]
  assert sorted(f for share in shares for f in share) == files
  assert max(map(len, shares)) - min(map(len, shares)) <= 1


def test_fewer_files_than_hosts_is_an_error(root):
  with pytest.raises(ValueError, match="4 shard files cannot be split across 8 processes"):
    _dataset(root, process_index=0, process_count=8)


@pytest.mark.parametrize("overrides,message", [
    (dict(max_context=10), "max_context=10 leaves no query view: rooms_ring_camera has 10 views"),
    (dict(max_context=0), "max_context must be a positive integer"),
    (dict(batch_size=0), "batch_size must be a positive integer"),
    (dict(image_size=-64), "image_size must be a positive integer or None"),
])
def test_bad_arguments_are_rejected(root, overrides, message):
  with pytest.raises(ValueError, match=message):
    _dataset(root, **overrides)


def _write_bad_dataset(tmp_path):
  """rooms files: one good, one truncated, one with bad records (see _bad_records)."""
  good = gqn_test_files.encode_jpegs(gqn_test_files.scene_pixels(1, 10, 64))
  cameras = gqn_test_files.scene_cameras(1, 10)
  other = gqn_test_files.encode_jpegs(gqn_test_files.scene_pixels(2, 15, 64))
  not_jpeg, truncated_jpeg, damaged_jpeg = list(good), list(good), list(good)
  not_jpeg[4] = b"\x00 not a jpeg"
  truncated_jpeg[7] = good[7][:len(good[7]) // 2]
  # Start and end markers intact, quantisation tables overwritten: only decoding finds it.
  damaged_jpeg[2] = good[2][:20] + bytes(40) + good[2][60:]
  directory = tmp_path / ROOMS / "train"
  directory.mkdir(parents=True)
  paths = [str(directory / records.shard_filename(i, 3)) for i in (1, 2, 3)]
  gqn_test_files.write_records(paths[0], [records.serialize_scene(good, cameras)] * 2)
  gqn_test_files.write_records(paths[1], [records.serialize_scene(good, cameras)] * 3)
  content = open(paths[1], "rb").read()
  with open(paths[1], "wb") as f:
    f.write(content[:len(content) // 2])  # the first record survives
  gqn_test_files.write_records(paths[2], [
      records.serialize_scene(good, cameras),
      records.serialize_scene(other, gqn_test_files.scene_cameras(2, 15)),
      records.serialize_scene(not_jpeg, cameras),
      records.serialize_scene(truncated_jpeg, cameras),
      records.serialize_scene(damaged_jpeg, cameras),
      records.serialize_scene(good, cameras),
  ])
  return paths


def _single_file_dataset(tmp_path, path, **overrides):
  """A pipeline over only `path` (the others moved away)."""
  for other in (tmp_path / ROOMS / "train").iterdir():
    if str(other) != path:
      other.rename(tmp_path / other.name)
  return _dataset(str(tmp_path), batch_size=1, shuffle=False, repeat=False, **overrides)


def test_truncated_file_error_names_the_file(tmp_path):
  paths = _write_bad_dataset(tmp_path)
  ds = _single_file_dataset(tmp_path, paths[1])
  with pytest.raises(tf.errors.InvalidArgumentError, match=(
      f"{paths[1]} is truncated or corrupt: only its first 1 records .* are readable")) as error:
    _batches(ds, 10)
  assert "JPEG" not in error.value.message  # nothing about the placeholder of the lost records


@pytest.mark.parametrize("first_bad,message", [
    (1, "record 0 of {path} has 15 frames and 75 cameras values; this dataset needs 10 and 50"),
    (2, "view 4 of record 0 of {path} is not a complete JPEG"),
    (3, "view 7 of record 0 of {path} is not a complete JPEG"),
    (4, "view 2 of record 0 of {path} is a damaged JPEG"),
])
def test_bad_records_are_named(tmp_path, first_bad, message):
  paths = _write_bad_dataset(tmp_path)
  bad_file = paths[2]
  # Keep the records from the one under test on, so that its error is the first one met.
  kept = list(tf.data.TFRecordDataset(bad_file).as_numpy_iterator())[first_bad:]
  gqn_test_files.write_records(bad_file, kept)
  with pytest.raises(tf.errors.InvalidArgumentError, match=message.format(path=bad_file)):
    _batches(_single_file_dataset(tmp_path, bad_file), 10)


def test_skip_bad_records_keeps_the_good_ones_and_reports_the_bad(tmp_path, capfd):
  paths = _write_bad_dataset(tmp_path)
  batches = _batches(_dataset(str(tmp_path), batch_size=1, shuffle=False, repeat=False,
                              skip_bad_records=True), 100)
  # Good: 2 in file 1, the first of the truncated file 2, records 0 and 5 of file 3.
  assert len(batches) == 5
  assert all(b["query_camera"][0, 0] == 1 for b in batches)
  stderr = capfd.readouterr().err
  # Five problems, counted: the truncated file and four bad records.
  assert "skipped (5 so far)" in stderr and "(6 so far)" not in stderr
  assert f"view 2 of record 4 of {paths[2]} is a damaged JPEG" in stderr
  assert f"{paths[1]} is truncated or corrupt: only its first 1 records" in stderr
  assert f"record 1 of {paths[2]} has 15 frames" in stderr
  assert f"view 4 of record 2 of {paths[2]} is not a complete JPEG" in stderr
  assert f"view 7 of record 3 of {paths[2]} is not a complete JPEG" in stderr


def test_frames_from_another_dataset_are_named(tmp_path):
  # 64x64 rooms records read as if they were a procedural dataset of 32x32 frames.
  gqn_test_files.write_dataset(tmp_path, "toy", procedural=True, frame_size=64, sequence_size=10,
                               file_numbers=(1,), scenes_per_file=1)
  (tmp_path / "toy" / reader.PROCEDURAL_SPEC_FILENAME).write_text(
      '{"frame_size": 32, "sequence_size": 10}')
  path = tmp_path / "toy" / "train" / "1-of-1.tfrecord"
  with pytest.raises(tf.errors.InvalidArgumentError, match=(
      f"view 0 of record 0 of {path} is 64x64 pixels; this dataset has 32x32 frames")):
    _batches(_dataset(str(tmp_path), name="toy", batch_size=1, max_context=9), 1)


def test_skipped_count_resumes_from_a_checkpoint(tmp_path, capfd):
  good = gqn_test_files.encode_jpegs(gqn_test_files.scene_pixels(1, 10, 64))
  not_jpeg = [b"not a jpeg"] * 10
  cameras = gqn_test_files.scene_cameras(1, 10)
  path = str(tmp_path / "1-of-1.tfrecord")
  gqn_test_files.write_records(path, [records.serialize_scene(frames, cameras)
                                      for frames in (not_jpeg, good) * 3])
  options = tf.data.Options()
  # Without tf.data's read-ahead optimisations, records are checked exactly when consumed, so
  # the checkpoint below falls between skips 1 and 2.
  options.experimental_optimization.apply_default_optimizations = False
  options.experimental_optimization.inject_prefetch = False
  options.experimental_optimization.map_parallelization = False

  def scenes():
    return iter(pipeline.read_checked_scenes(
        [path], sequence_size=10, frame_size=64, skip_bad_records=True).with_options(options))

  def counts(stderr):
    return [int(line.split("skipped (")[1].split(" ")[0])
            for line in stderr.splitlines() if "skipped (" in line]

  iterator = scenes()
  assert int(next(iterator)[1]) == 1
  assert counts(capfd.readouterr().err) == [1]
  checkpoint = tf.train.Checkpoint(iterator=iterator).save(str(tmp_path / "skip"))
  assert [int(scene[1]) for scene in iterator] == [3, 5]
  assert counts(capfd.readouterr().err) == [2, 3]
  restored = scenes()
  tf.train.Checkpoint(iterator=restored).restore(checkpoint).assert_consumed()
  assert [int(scene[1]) for scene in restored] == [3, 5]
  assert counts(capfd.readouterr().err) == [2, 3]  # not [1, 2]: the count was restored


def _write_bad_poses(tmp_path):
  """One shard: good, a NaN in view 3's pose, an inf in view 8's pose, good."""
  good = gqn_test_files.encode_jpegs(gqn_test_files.scene_pixels(1, 10, 64))
  cameras = gqn_test_files.scene_cameras(1, 10)
  with_nan, with_inf = cameras.copy(), cameras.copy()
  with_nan[3, 1] = np.nan
  with_inf[8, 4] = np.inf
  directory = tmp_path / ROOMS / "train"
  directory.mkdir(parents=True)
  path = str(directory / records.shard_filename(1, 1))
  gqn_test_files.write_records(path, [records.serialize_scene(good, c)
                                      for c in (cameras, with_nan, with_inf, cameras)])
  return path


def test_non_finite_poses_name_the_view_record_and_file(tmp_path):
  path = _write_bad_poses(tmp_path)
  with pytest.raises(tf.errors.InvalidArgumentError, match=(
      f"view 3 of record 1 of {path} has a non-finite camera pose")):
    _batches(_dataset(str(tmp_path), batch_size=1, shuffle=False, repeat=False), 10)


def test_non_finite_poses_are_skipped_when_asked(tmp_path, capfd):
  path = _write_bad_poses(tmp_path)
  batches = _batches(_dataset(str(tmp_path), batch_size=1, shuffle=False, repeat=False,
                              skip_bad_records=True), 10)
  assert len(batches) == 2
  assert all(np.isfinite(b["context_cameras"]).all() and np.isfinite(b["query_camera"]).all()
             for b in batches)
  stderr = capfd.readouterr().err
  assert f"view 8 of record 2 of {path} has a non-finite camera pose" in stderr
