"""The copy-query option (training/query_copy.py)."""

import numpy as np
import pytest

from gqn_jax.runs import config_files
from gqn_jax.runs import configs
from gqn_jax.training import query_copy


def batch(mask_BxK):
  mask_BxK = np.asarray(mask_BxK, bool)
  b, k = mask_BxK.shape
  return {
      "context_frames": np.arange(b * k * 3, dtype=np.float32).reshape(b, k, 1, 1, 3),
      "context_cameras": np.arange(b * k * 5, dtype=np.float32).reshape(b, k, 5),
      "context_mask": mask_BxK,
      "query_frame": -np.ones((b, 1, 1, 3), np.float32),
      "query_camera": -np.ones((b, 5), np.float32),
  }


def test_fraction_zero_changes_nothing():
  original = batch([[1, 1, 0]] * 4)
  assert query_copy.copy_queries(original, 0.0, seed=0, step=3) is original


def test_fraction_one_copies_a_real_context_view_with_its_pose():
  original = batch([[1, 1, 0], [1, 0, 0], [0, 0, 0]])
  slots_seen = set()
  for step in range(20):
    out = query_copy.copy_queries(original, 1.0, seed=0, step=step)
    for scene, num_context in enumerate((2, 1, 0)):
      if num_context == 0:  # nothing to copy: the query stays
        np.testing.assert_array_equal(out["query_frame"][scene], original["query_frame"][scene])
        continue
      matches = [slot for slot in range(3) if np.array_equal(
          out["query_frame"][scene], original["context_frames"][scene, slot])]
      assert len(matches) == 1 and matches[0] < num_context  # a real view, never a padded slot
      np.testing.assert_array_equal(out["query_camera"][scene],
                                    original["context_cameras"][scene, matches[0]])
      if scene == 0:
        slots_seen.add(matches[0])
  assert slots_seen == {0, 1}  # either real view can be chosen


def test_copies_are_a_function_of_seed_and_step_at_about_the_fraction():
  original = batch([[1, 1, 1]] * 400)
  first = query_copy.copy_queries(original, 0.25, seed=5, step=7)
  again = query_copy.copy_queries(original, 0.25, seed=5, step=7)
  np.testing.assert_array_equal(first["query_frame"], again["query_frame"])
  other = query_copy.copy_queries(original, 0.25, seed=5, step=8)
  assert not np.array_equal(first["query_frame"], other["query_frame"])
  copied = np.mean(first["query_frame"][:, 0, 0, 0] >= 0)
  assert 0.18 < copied < 0.32


def test_copy_fraction_outside_0_1_is_a_config_error():
  config = config_files.load("configs/shepard_metzler.py:7_parts,tiny")
  config.train.copy_query_fraction = 1.5
  with pytest.raises(ValueError, match="copy_query_fraction"):
    configs.check_config(config, device_count=1)


def test_copy_warm_up_stops_at_its_step():
  train_config = config_files.load("configs/shepard_metzler.py:tiny").train
  train_config.copy_query_fraction = 0.5
  assert query_copy.fraction_at(train_config, 10**6) == 0.5  # until_step 0: the whole run
  train_config.copy_query_until_step = 100
  assert [query_copy.fraction_at(train_config, step) for step in (0, 99, 100, 5000)] == [
      0.5, 0.5, 0.0, 0.0]


def test_copy_warm_up_step_must_be_a_non_negative_integer():
  config = config_files.load("configs/shepard_metzler.py:tiny")
  config.train.copy_query_until_step = -1
  with pytest.raises(ValueError, match="copy_query_until_step"):
    configs.check_config(config, device_count=1)
