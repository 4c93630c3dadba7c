"""benchmarks/other_renderer.py: its scenes are what it says, and gqn_jax reads them as DeepMind's."""

import pathlib
import sys

import numpy as np

from gqn_jax.data import reader

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
import other_renderer  # noqa: E402  (a script, not a package)


def test_cameras_sit_at_their_distance_and_their_yaw_and_pitch_look_at_the_object():
  _, poses = other_renderer.scene(seed=0, split="train", index=3)
  position, yaw, pitch = poses[:, :3], poses[:, 3], poses[:, 4]
  np.testing.assert_allclose(np.linalg.norm(position, axis=1), other_renderer.CAMERA_DISTANCE,
                             rtol=1e-5)
  # y up, yaw about y from +z, pitch positive looking down: the direction they give is -position.
  look = np.stack([np.cos(pitch) * np.sin(yaw), -np.sin(pitch), np.cos(pitch) * np.cos(yaw)], 1)
  np.testing.assert_allclose(look, -position / other_renderer.CAMERA_DISTANCE, atol=1e-5)


def test_object_is_seven_touching_parts_centred_on_the_origin():
  rng = other_renderer.scene_rng(0, "test", 5)
  centres, is_sphere, colours = other_renderer.sample_object(rng)
  assert centres.shape == (7, 3) and is_sphere.shape == (7,) and colours.shape == (7, 3)
  np.testing.assert_allclose(centres.mean(axis=0), 0, atol=1e-9)
  distances = np.linalg.norm(centres[:, None] - centres[None], axis=-1)
  assert (distances[~np.eye(7, dtype=bool)] >= 2 - 1e-9).all()  # no two parts share a cell
  # Grown part by part from a neighbour: every part but the first touches an earlier one.
  assert all(np.isclose(distances[i, :i], 2).any() for i in range(1, 7))


def test_views_show_the_object_in_front_of_the_sky():
  frames, _ = other_renderer.scene(seed=0, split="train", index=0)
  assert frames.shape == (15, 64, 64, 3) and 0 <= frames.min() and frames.max() <= 1
  for frame in frames:
    corner = frame[0, 0]
    centre = frame[24:40, 24:40]
    # The corner is sky; part of the centre is the object, far from the sky's colour.
    assert np.abs(centre - corner).max() > 0.2


def test_written_split_reads_back_as_deepmind_files(tmp_path):
  other_renderer.write_split(str(tmp_path), "test", num_scenes=2, seed=0)
  files = reader.find_dataset(other_renderer.DATASET, str(tmp_path), splits=("test",))
  scenes = list(reader.read_scenes(files, "test"))
  assert len(scenes) == 2
  frames, poses = other_renderer.scene(seed=0, split="test", index=1)
  np.testing.assert_allclose(scenes[1]["cameras"], poses, rtol=1e-6)
  # JPEG at quality 95: within a few levels of the rendered frame on average.
  assert np.abs(scenes[1]["frames"] / 255.0 - frames).mean() < 0.02
