"""configs/*.py: the paper's values, presets, and the errors a bad config gives before
training."""

import dataclasses
import os
import subprocess
import sys

import ml_collections
import pytest

import gqn_test_files
from gqn_jax.data import reader
from gqn_jax.data import records
from gqn_jax.model import config as gqn_config
from gqn_jax.runs import config_files
from gqn_jax.runs import configs

CONFIG_FILES = ("rooms", "rooms_free_camera", "shepard_metzler", "mazes", "jaco")


def load_config(name, arg=None):
  return config_files.load(f"configs/{name}.py" + (f":{arg}" if arg else ""))


@pytest.mark.parametrize("name", CONFIG_FILES)
@pytest.mark.parametrize("arg", [None, "small", "tiny"])
def test_every_config_builds_the_model_config_and_passes_checks(name, arg):
  config = load_config(name, arg)
  expected = {f.name for f in dataclasses.fields(gqn_config.GQNConfig)} - {"image_size"}
  assert set(config.model.keys()) == expected
  configs.check_config(config, device_count=1)  # before the cameras are measured
  config.data.camera_distance_rms = 4.0  # as a run measures it when it starts
  assert configs.model_config(config).image_size == config.data.image_size
  assert configs.model_config(config).position_scale == 0.25
  records.get_info(config.data.name)


def test_rooms_holds_table_s1():
  config = load_config("rooms")
  assert config.data.name == "rooms_ring_camera"
  assert (config.train.batch_size, config.model.num_layers) == (36, 12)
  assert config.model.shared_cores is False and config.model.representation == "tower"
  assert (config.train.adam_b1, config.train.adam_b2, config.train.adam_eps) == (0.9, 0.999, 1e-8)
  assert (config.train.lr_initial, config.train.lr_final) == (5e-4, 5e-5)
  assert config.train.lr_anneal_steps == 1_600_000
  assert (config.train.sigma_initial, config.train.sigma_final) == (2.0, 0.7)
  assert config.train.sigma_anneal_steps == 200_000
  assert config.train.num_steps == 2_000_000


def test_model_defaults_mirror_gqnconfig():
  config = load_config("rooms")
  defaults = gqn_config.GQNConfig()
  for key, value in config.model.items():
    if key != "position_scale":  # a run's setting: 'auto', resolved to the model's number
      assert getattr(defaults, key) == value, key
  assert config.model.position_scale == "auto"


@pytest.mark.parametrize("name, arg, dataset, size", [
    ("shepard_metzler", "7_parts", "shepard_metzler_7_parts", 64),
    ("shepard_metzler", "7_parts,small", "shepard_metzler_7_parts", 32),
    ("rooms_free_camera", "with_object_rotations", "rooms_free_camera_with_object_rotations", 128),
    ("rooms_free_camera", None, "rooms_free_camera_no_object_rotations", 64),
    ("mazes", None, "mazes", 84),
])
def test_variants_select_dataset_and_size(name, arg, dataset, size):
  config = load_config(name, arg)
  assert (config.data.name, config.data.image_size) == (dataset, size)


def test_unknown_config_arg_is_an_error():
  with pytest.raises(ValueError, match="unknown config arg 'huge'"):
    load_config("rooms", "huge")


def test_main_rejects_a_misspelt_override(repo_dir):
  """lock_config=True: a typo in an override stops the run before anything is imported or built."""
  result = subprocess.run(
      [sys.executable, "-m", "gqn_jax.main", "--config=configs/rooms.py:tiny",
       "--config.train.batch_sise=8", "--workdir=/nonexistent/never_created"],
      cwd=repo_dir, capture_output=True, text=True, timeout=120, check=False)
  assert result.returncode != 0
  assert "batch_sise" in result.stderr
  assert not os.path.exists("/nonexistent/never_created")


def _tiny():
  return load_config("rooms", "tiny")


@pytest.mark.parametrize("mutate, message", [
    (lambda c: setattr(c.data, "name", "rooms_ring"), "unknown GQN dataset 'rooms_ring'"),
    (lambda c: setattr(c.data, "source", "web"), "config.data.source='web'"),
    (lambda c: setattr(c.train, "batch_size", 6), "batch_size=6 does not divide evenly over the 4"),
    (lambda c: setattr(c.train, "log_every", 0), "config.train.log_every must be an integer >= 1"),
    (lambda c: setattr(c.data, "max_context", 0), "config.data.max_context must be an integer"),
    (lambda c: setattr(c.data, "shuffle_buffer_size", 0),
     "config.data.shuffle_buffer_size must be an integer >= 1"),
])
def test_bad_values_are_clear_errors(mutate, message):
  config = _tiny()
  mutate(config)
  with pytest.raises(ValueError, match=message):
    configs.check_config(config, device_count=4)


def test_unknown_model_key_is_an_error():
  config = _tiny().to_dict()
  config["model"]["dropout"] = 0.1
  with pytest.raises(ValueError, match=r"unknown: \['dropout'\]"):
    configs.check_config(ml_collections.ConfigDict(config), device_count=1)


def test_a_config_saved_before_a_field_existed_keeps_the_model_it_trained():
  config = config_files.load("configs/rooms.py:tiny")
  config.data.camera_distance_rms = 4.0
  assert configs.model_config(config).image_mean == config.model.image_mean
  assert configs.model_config(config).position_scale == 0.25
  del config.model["image_mean"]  # as in checkpoints written before the field
  del config.model["position_scale"]
  assert configs.model_config(config).image_mean == "sigmoid"
  assert configs.model_config(config).position_scale == 1.0  # the raw positions


def test_missing_section_is_an_error():
  config = _tiny()
  del config["train"]
  with pytest.raises(ValueError, match="no `train` section"):
    configs.check_config(config, device_count=1)


def test_max_context_must_leave_a_query_view(tmp_path):
  gqn_test_files.write_dataset(str(tmp_path), "rooms_ring_camera", procedural=True,
                               frame_size=16, sequence_size=4)
  found = reader.find_dataset("rooms_ring_camera", str(tmp_path), splits=("train",))
  assert (found.views_per_scene, found.source) == (4, "procedural")
  reader.check_context_fits(3, found.views_per_scene, found.name)
  with pytest.raises(ValueError, match="max_context=4 .* 4 views per scene.* at most 3"):
    reader.check_context_fits(4, found.views_per_scene, found.name)
  with pytest.raises(ValueError, match="at most 10"):
    reader.check_context_fits(11, records.get_info("jaco").sequence_size, "jaco")


def test_settings_strings_are_parsed_as_each_keys_type_and_bad_bools_are_refused():
  config = config_files.load("configs/rooms.py:tiny")
  configs.apply_settings(config, ["train.lr_initial=2e-4", "train.batch_size=8",
                                  "train.trim_context=False", "data.source=stream"])
  assert (config.train.lr_initial, config.train.batch_size) == (2e-4, 8)
  assert config.train.trim_context is False and config.data.source == "stream"
  with pytest.raises(ValueError, match="train.trim_context is a bool"):
    configs.apply_settings(config, ["train.trim_context=flase"])
