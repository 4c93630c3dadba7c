"""Tests of gqn_jax.trained.render (ring fitting, grids), its command line `python -m
gqn_jax.render` (PNG and GIF) and gqn_jax.images."""

import subprocess
import sys

import jax
import numpy as np
from PIL import Image
import pytest

from gqn_jax import images
from gqn_jax.trained import render
from gqn_jax.trained import run_scenes


def _ring_cameras(center, radius, height, pitch, yaw_offset, bearings):
  x = center[0] + radius * np.cos(bearings)
  y = center[1] + radius * np.sin(bearings)
  yaw = np.angle(np.exp(1j * (bearings + yaw_offset)))
  return np.stack([x, y, np.full_like(x, height), yaw, np.full_like(x, pitch)], axis=-1)


def test_fit_ring_recovers_the_ring_the_cameras_lie_on():
  bearings = np.linspace(0, 2 * np.pi, 12, endpoint=False) + 0.3
  cameras = _ring_cameras((1.0, -2.0), 3.0, 0.5, -0.2, np.pi, bearings)
  ring = render.fit_ring(cameras.reshape(3, 4, 5))
  np.testing.assert_allclose(ring.center_xy, (1.0, -2.0), atol=1e-9)
  assert ring.radius == pytest.approx(3.0)
  assert ring.height == pytest.approx(0.5)
  assert ring.pitch == pytest.approx(-0.2)
  assert abs(np.angle(np.exp(1j * (ring.yaw_offset - np.pi)))) < 1e-9


def test_ring_poses_make_a_full_circle_looking_like_the_data():
  ring = render.Ring(center_xy=(0.5, 0.0), radius=2.0, height=1.0, pitch=0.1, yaw_offset=np.pi)
  poses = render.ring_poses(ring, 8)
  assert poses.shape == (8, 5) and poses.dtype == np.float32
  offsets = poses[:, :2] - np.array([0.5, 0.0])
  np.testing.assert_allclose(np.linalg.norm(offsets, axis=1), 2.0, rtol=1e-6)
  np.testing.assert_allclose(poses[:, 2], 1.0)
  bearings = np.arctan2(offsets[:, 1], offsets[:, 0])
  np.testing.assert_allclose(np.diff(np.unwrap(bearings)), 2 * np.pi / 8, rtol=1e-5)
  # yaw_offset = pi: every camera looks at the centre, as ring cameras do.
  np.testing.assert_allclose(np.cos(poses[:, 3] - bearings), -1.0, atol=1e-6)
  refit = render.fit_ring(poses)
  assert refit.radius == pytest.approx(2.0, rel=1e-5)


def test_fit_ring_on_the_procedural_ring_camera_data(trained):
  _, cameras = run_scenes.load_test_scenes(trained.config)
  ring = render.fit_ring(cameras)
  distances = np.linalg.norm(cameras[..., :2] - np.array(ring.center_xy), axis=-1)
  # rooms_ring_camera: every camera sits at (nearly) the ring's radius and height.
  np.testing.assert_allclose(distances, ring.radius, rtol=0.05)
  np.testing.assert_allclose(cameras[..., 2], ring.height, atol=0.05)


def test_sample_grid_columns(trained):
  frames, cameras = run_scenes.load_test_scenes(trained.config, num_scenes=2)
  rows, rendered = render.sample_grid(trained, frames, cameras, 2, 3, jax.random.key(0))
  size = trained.image_size
  assert rows.shape == (2, 2 + 1 + 3 + 1, size, size, 3)
  np.testing.assert_array_equal(rows[:, :2], frames[:, :2])
  np.testing.assert_array_equal(rows[:, 2], frames[:, 2])  # the target is view M
  np.testing.assert_allclose(rows[:, -1], rows[:, 3:6].mean(axis=1), rtol=1e-5, atol=1e-6)
  assert rendered.samples.shape == (2, 1, 3, size, size, 3)
  assert len(render.column_titles(2, 3)) == rows.shape[1]


def test_cli_writes_a_png_grid_and_an_animated_gif(tiny_run_workdir, trained, tmp_path,
                                                    repo_dir):
  out = tmp_path / "pictures" / "grid.png"
  result = subprocess.run(
      [sys.executable, "-m", "gqn_jax.render", f"--workdir={tiny_run_workdir}", f"--out={out}",
       "--num_scenes=2", "--num_samples=2", "--num_frames=5", "--scale=2"],
      capture_output=True, text=True, check=False, cwd=repo_dir)
  assert result.returncode == 0, result.stderr[-3000:]
  cell, pad, columns = 2 * trained.image_size, 2, trained.config.data.max_context + 1 + 2 + 1
  with Image.open(out) as png:
    assert png.format == "PNG"
    assert png.size == (columns * cell + (columns + 1) * pad, 2 * cell + 3 * pad + 14)
  with Image.open(tmp_path / "pictures" / "grid.gif") as gif:
    assert gif.format == "GIF" and gif.n_frames == 5
    assert gif.size == (2 * cell + 3 * pad, cell + 2 * pad)
    first = np.asarray(gif.convert("RGB"), np.float32)
    gif.seek(2)
    third = np.asarray(gif.convert("RGB"), np.float32)
  assert np.abs(first - third).mean() > 0, "the camera moved but the frames did not change"


def test_cli_without_a_checkpoint_names_the_folder(tmp_path, repo_dir):
  result = subprocess.run(
      [sys.executable, "-m", "gqn_jax.render", f"--workdir={tmp_path}"],
      capture_output=True, text=True, check=False, cwd=repo_dir)
  assert result.returncode != 0
  assert f"no checkpoint directory at {tmp_path}/checkpoints" in result.stderr


def test_images_grid_png_and_gif_round_trip(tmp_path):
  rng = np.random.default_rng(0)
  tiles = rng.uniform(size=(2, 3, 4, 5, 3)).astype(np.float32)
  picture = images.grid(tiles, pad=1)
  assert picture.shape == (2 * 4 + 3, 3 * 5 + 4, 3)
  np.testing.assert_array_equal(picture[1:5, 1:6], tiles[0, 0])
  np.testing.assert_array_equal(picture[6:10, 13:18], tiles[1, 2])
  assert np.all(picture[0] == 1.0)
  path = images.save_png(str(tmp_path / "a" / "grid.png"), picture)
  with Image.open(path) as png:
    np.testing.assert_array_equal(np.asarray(png), images.to_uint8(picture))
  frames = np.stack([np.full((6, 7, 3), v, np.float32) for v in (0.0, 0.5, 1.0)])
  with Image.open(images.save_gif(str(tmp_path / "b.gif"), frames)) as gif:
    assert gif.n_frames == 3 and gif.size == (7, 6)
    gif.seek(1)
    assert np.asarray(gif.convert("RGB"))[0, 0, 0] == 128


def test_images_helpers_check_their_input():
  np.testing.assert_array_equal(images.to_uint8([-0.5, 0.0, 0.5, 1.5]), [0, 0, 128, 255])
  with pytest.raises(ValueError, match="NaN"):
    images.to_uint8([np.nan])
  with pytest.raises(ValueError, match=r"grid expects images shaped \[rows, cols, H, W, 3\]"):
    images.grid(np.zeros((2, 4, 4, 3)))
  assert images.upscale(np.zeros((2, 3, 4, 3)), 3).shape == (2, 9, 12, 3)
  colors = images.colorize(np.array([[0.0, 1.0], [2.0, 4.0]]), vmin=0.0, vmax=4.0)
  assert colors.shape == (2, 2, 3) and 0.0 <= colors.min() and colors.max() <= 1.0
  assert not np.allclose(colors[0, 0], colors[1, 1])
  with pytest.raises(ValueError, match="positive integer"):
    images.upscale(np.zeros((4, 4, 3)), 1.5)
