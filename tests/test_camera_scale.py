"""Camera positions at about unit scale: position_scale='auto', the measured training distance
stored with the run, and the warning about poses far beyond it (gqn_jax.runs.camera_scale)."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gqn_jax.model import config as gqn_config
from gqn_jax.model import viewpoint
from gqn_jax.runs import camera_scale
from gqn_jax.runs import config_files
from gqn_jax.runs import configs
from gqn_jax.scenes import stream


def stream_config():
  config = config_files.load("configs/rooms.py:tiny")
  config.data.source = "stream"
  return config


def test_position_scale_multiplies_only_the_position():
  cameras = jnp.array([[3.0, -6.0, 1.5, 0.3, -0.2]])
  raw = viewpoint.encode_viewpoint(cameras)
  scaled = viewpoint.encode_viewpoint(cameras, position_scale=0.5)
  np.testing.assert_allclose(scaled[:, :3], 0.5 * raw[:, :3])
  np.testing.assert_allclose(scaled[:, 3:], raw[:, 3:])


@pytest.mark.parametrize("given, expected", [(0.25, 0.25), ("0.25", 0.25), (2, 2.0)])
def test_the_models_position_scale_is_a_positive_number(given, expected):
  assert gqn_config.GQNConfig(position_scale=given).position_scale == expected
  assert gqn_config.GQNConfig().position_scale == 1.0  # the model's default: the raw poses


@pytest.mark.parametrize("bad", [0.0, -1.0, "far", float("inf"), None, True])
def test_a_bad_position_scale_is_named(bad):
  with pytest.raises(ValueError, match="position_scale"):
    gqn_config.GQNConfig(position_scale=bad)


def test_auto_is_a_run_setting_the_model_never_sees():
  with pytest.raises(ValueError, match="'auto' is a training run's setting"):
    gqn_config.GQNConfig(position_scale="auto")
  config = stream_config()
  assert config.model.position_scale == "auto"  # the training configs' default
  with pytest.raises(ValueError, match="camera_distance_rms"):
    configs.model_config(config)
  config.data.camera_distance_rms = 4.0
  assert configs.model_config(config).position_scale == 0.25


def test_distance_rms_is_the_root_mean_square_distance():
  cameras = np.zeros((2, 2, 5))
  cameras[0, 0, :3] = [3.0, 4.0, 0.0]  # 5 units out
  cameras[1, 1, :3] = [0.0, 0.0, 1.0]  # 1 unit
  expected = np.sqrt((25 + 0 + 0 + 1) / 4)  # 2.5495..., stored to 4 significant digits
  assert camera_scale.distance_rms(cameras) == 2.55 == pytest.approx(expected, rel=1e-3)
  with pytest.raises(ValueError, match="position_scale"):
    camera_scale.distance_rms(np.zeros((3, 5)))


@pytest.mark.parametrize("distance", [0.0, 5e-4, float("nan")])
def test_auto_refuses_cameras_at_the_origin_naming_the_number_to_set(distance):
  cameras = np.zeros((2, 3, 5))
  cameras[..., 0] = distance
  with pytest.raises(ValueError) as error:
    camera_scale.distance_rms(cameras)
  assert "--config.model.position_scale=1.0" in str(error.value)
  assert f"at least {camera_scale.MIN_DISTANCE_RMS}" in str(error.value)
  cameras[..., 0] = 2 * camera_scale.MIN_DISTANCE_RMS
  assert camera_scale.distance_rms(cameras) == 2 * camera_scale.MIN_DISTANCE_RMS  # above: fine


def test_auto_makes_the_networks_see_the_same_poses_in_any_units():
  """A world ten times larger (the camera ten times farther, the same pictures): with 'auto' the
  encoded poses are the same; with the raw positions (1.0) they are ten times larger."""
  cameras = stream.stream_scene("rooms_ring_camera", 0, 0, 0)[1]
  far = cameras.copy()
  far[:, :3] *= 10
  encoded = {}
  for name, poses in (("near", cameras), ("far", far)):
    config = stream_config()
    config.data.camera_distance_rms = camera_scale.distance_rms(poses)
    encoded[name] = viewpoint.encode_viewpoint(
        poses, configs.model_config(config).position_scale)
  np.testing.assert_allclose(encoded["far"], encoded["near"], rtol=1e-5, atol=1e-6)
  assert np.abs(encoded["near"][:, :3]).max() < 1.5  # about unit scale


def test_resolve_measures_the_first_training_scenes_or_keeps_the_runs_value():
  config = camera_scale.resolve(stream_config())
  poses = [stream.stream_scene(config.data.name, config.seed, 0, index)[1]
           for index in range(camera_scale.NUM_SCENES)]
  assert config.data.camera_distance_rms == pytest.approx(camera_scale.distance_rms(poses))
  resumed = camera_scale.adopt_saved(stream_config(), {"data": {"camera_distance_rms": 7.5}})
  assert resumed.data.camera_distance_rms == 7.5
  given = stream_config()
  given.data.camera_distance_rms = 2.0
  assert camera_scale.adopt_saved(given, {"data": {"camera_distance_rms": 7.5}}) is given
  assert camera_scale.resolve(given) is given
  assert given.data.camera_distance_rms == 2.0


def test_a_numeric_position_scale_measures_nothing(monkeypatch):
  def no_reading(*args, **kwargs):
    raise AssertionError("the cameras were measured")
  monkeypatch.setattr(camera_scale, "training_cameras", no_reading)
  config = stream_config()
  config.model.position_scale = 0.5
  assert camera_scale.resolve(config).data.camera_distance_rms is None
  assert configs.model_config(config).position_scale == 0.5


def test_a_number_is_accepted_from_a_config_file_and_the_command_line():
  config = stream_config()
  config.model.position_scale = 0.5  # as a config file would set it
  config.data.camera_distance_rms = 3.0
  assert configs.model_config(config).position_scale == 0.5
  configs.apply_settings(config, ["model.position_scale=0.25"])
  assert configs.model_config(config).position_scale == 0.25


def test_a_run_stores_the_measured_distance_and_its_model_uses_it(tiny_run_workdir, trained):
  with open(os.path.join(tiny_run_workdir, "config.json"), encoding="utf-8") as file:
    saved = json.load(file)
  distance = saved["data"]["camera_distance_rms"]
  assert saved["model"]["position_scale"] == "auto"
  assert 3.0 < distance < 3.7  # the procedural rooms' ring of cameras, 3.35 units out
  assert trained.config.data.camera_distance_rms == distance  # the checkpoint's config too
  assert trained.module.config.position_scale == pytest.approx(1 / distance)


def test_poses_far_beyond_the_training_cameras_are_warned_about_once(trained, caplog):
  distance = trained.config.data.camera_distance_rms
  frames = np.zeros((1, 1, trained.image_size, trained.image_size, 3), np.float32)
  near = np.array([[[distance, 0.0, 1.0, 0.0, 0.0]]], np.float32)
  far = near * np.array([10, 1, 1, 1, 1], np.float32)
  r = trained.represent(frames, near)
  assert camera_scale.far_cameras_message(near, trained.config) is None
  with caplog.at_level("WARNING"):
    trained.render_from_representation(r, near, jax.random.key(0), 1)
    assert "query_cameras lie" not in caplog.text
    trained.render_from_representation(r, far, jax.random.key(0), 1)
    trained.render_from_representation(r, far, jax.random.key(0), 1)
  assert caplog.text.count("query_cameras lie up to") == 1
  assert "camera_distance_rms" in caplog.text
