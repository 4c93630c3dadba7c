"""The scene stream (config.data.source='stream', gqn_jax.scenes.stream and gqn_jax.data.views)."""

import os
import subprocess
import sys

import numpy as np
import pytest

from gqn_jax.data import views
from gqn_jax.scenes import stream
from gqn_jax.scenes import writer

NAME = "shepard_metzler_5_parts"
SIZE = 16


def make_stream(**overrides):
  kwargs = dict(batch_size=3, max_context=4, image_size=SIZE, seed=0, process_index=0)
  kwargs.update(overrides)
  return stream.SceneStream(NAME, **kwargs)


def assert_same_batch(a, b):
  assert a.keys() == b.keys()
  for key in a:
    np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_batches_follow_the_view_rule():
  k = 4
  batches = [make_stream(max_context=k).make_batch(index) for index in range(12)]
  for batch in batches:
    assert batch["context_frames"].shape == (3, k, SIZE, SIZE, 3)
    assert batch["context_frames"].dtype == np.float32
    assert batch["query_frame"].shape == (3, SIZE, SIZE, 3)
    assert batch["context_cameras"].shape == (3, k, 5) and batch["query_camera"].shape == (3, 5)
    mask = batch["context_mask"]
    m = int(mask[0].sum())
    np.testing.assert_array_equal(mask, np.tile(np.arange(k) < m, (3, 1)))  # one M per batch
    assert not batch["context_frames"][:, m:].any() and not batch["context_cameras"][:, m:].any()
    for b in range(3):  # the query is a view of the scene that no context slot holds
      poses = [tuple(pose) for pose in batch["context_cameras"][b, :m]]
      assert len(set(poses)) == m and tuple(batch["query_camera"][b]) not in poses
  assert len({int(b["context_mask"][0].sum()) for b in batches}) > 1


def test_the_views_are_the_scenes_own_renders():
  batch = make_stream().make_batch(2)
  scene = stream.stream_scene(NAME, 0, 0, 2 * 3 + 1)  # batch 2, second scene
  _, poses = scene
  query_view = [i for i, pose in enumerate(poses) if np.allclose(pose, batch["query_camera"][1])]
  assert len(query_view) == 1
  frames, _ = stream.render_views(NAME, [scene], np.array([query_view]), SIZE)
  np.testing.assert_array_equal(batch["query_frame"][1], frames[0, 0] / np.float32(255))


def test_context_size_is_uniform_and_the_same_on_every_host():
  k = 5
  counts = np.bincount([views.num_context(3, index, k) for index in range(600)], minlength=k + 1)
  expected = counts.sum() / len(counts)
  assert ((counts - expected) ** 2 / expected).sum() < 20.5, counts  # chi-square, 0.999, 5 dof
  host0, host1 = make_stream(process_index=0), make_stream(process_index=1)
  for index in range(3):
    np.testing.assert_array_equal(host0.make_batch(index)["context_mask"],
                                  host1.make_batch(index)["context_mask"])


def test_hosts_and_seeds_render_their_own_scenes_never_a_written_split_scene():
  def centres(scene):  # colours and poses are random floats: equal only for the same draw
    return np.concatenate([scene[0]["colors"].ravel(), scene[1].ravel()])
  streamed = [centres(stream.stream_scene(NAME, 0, 0, i)) for i in range(20)]
  other_host = [centres(stream.stream_scene(NAME, 0, 1, i)) for i in range(20)]
  other_seed = [centres(stream.stream_scene(NAME, 1, 0, i)) for i in range(20)]
  written = [centres(writer.sample_scene(NAME, split, i, 0))
             for split in ("train", "test") for i in range(20)]
  def same(a, b):
    return a.shape == b.shape and np.array_equal(a, b)
  for scenes in (other_host, other_seed, written):
    assert not any(same(a, b) for a in streamed for b in scenes)
  again = [centres(stream.stream_scene(NAME, 0, 0, i)) for i in range(20)]
  assert all(same(a, b) for a, b in zip(streamed, again))


def test_the_iterator_is_a_pure_function_of_its_position():
  first = make_stream(prefetch_batches=2)
  batches = [next(first) for _ in range(5)]
  assert first.get_state() == {"batches": 5}
  first.close()
  for index, batch in enumerate(batches):
    assert_same_batch(batch, make_stream().make_batch(index))
  resumed = make_stream()
  resumed.set_state({"batches": 3})
  assert_same_batch(next(resumed), batches[3])
  assert_same_batch(next(resumed), batches[4])
  resumed.set_state({"batches": 1})  # also while its thread runs
  assert_same_batch(next(resumed), batches[1])
  resumed.close()


def test_a_rendering_error_reaches_the_training_loop():
  broken = make_stream()
  broken.make_batch = lambda index: (_ for _ in ()).throw(ValueError(f"bad scene {index}"))
  with pytest.raises(ValueError, match="bad scene 0"):
    next(broken)


def test_bad_max_context_is_named():
  with pytest.raises(ValueError, match="max_context=15"):
    make_stream(max_context=15)


def test_test_batches_are_the_written_test_scenes_the_same_at_every_pass():
  frames, cameras = stream.test_scenes(NAME, 6, SIZE)
  written_frames, written_cameras = writer.render_scenes(NAME, "test", range(6), 0,
                                                         frame_size=SIZE)
  np.testing.assert_array_equal(frames, written_frames)
  np.testing.assert_array_equal(cameras, written_cameras)
  batches = stream.TestBatches(NAME, batch_size=4, max_context=3, image_size=SIZE, num_scenes=6,
                               seed=0)
  first = [batch for batch, _ in zip(batches, range(3))]
  again = [batch for batch, _ in zip(batches, range(3))]
  for a, b in zip(first, again):
    assert_same_batch(a, b)
  held_out = {tuple(pose) for pose in cameras.reshape(-1, 5)}
  for batch in first:
    assert tuple(batch["query_camera"][0]) in held_out


def test_main_runs_to_its_report_without_tensorflow(tmp_path, repo_dir):
  """The accelerator host's case: jax, flax, optax and orbax, and no TensorFlow at all."""
  workdir = tmp_path / "run"
  script = (
      "import runpy, sys\n"
      "sys.modules['tensorflow'] = None\n"  # import tensorflow now raises ImportError
      "sys.argv = ['gqn_jax.main', '--config=configs/shepard_metzler.py:5_parts,tiny',\n"
      "            '--config.data.source=stream', '--config.train.num_steps=4',\n"
      f"            '--report_scenes=8', '--workdir={workdir}']\n"
      "runpy.run_module('gqn_jax.main', run_name='__main__')\n"
      "assert 'tensorflow' not in {m.split('.')[0] for m, v in sys.modules.items() if v}\n")
  result = subprocess.run([sys.executable, "-c", script], cwd=repo_dir, capture_output=True,
                          text=True, timeout=600, check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  for name in ("evaluation.json", "render.png", "metrics.jsonl", "config.json"):
    assert (workdir / name).exists(), name
  steps = sorted(int(s) for s in os.listdir(workdir / "checkpoints") if s.isdigit())
  assert steps[-1] == 4
  assert (workdir / "checkpoints" / "4" / "data" / "process_0.json").read_text() == \
      '{"batches": 4}'
