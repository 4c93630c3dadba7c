"""Tests of gqn_jax.trained.restore: restoring a tiny training run's checkpoint, rendering, scoring.

The tiny run (`tiny_run_workdir`, tests/conftest.py) is trained once per pytest session and shared
with the other tests of a trained model (render, evaluate, analysis, notebooks).
"""

import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
import pytest

from gqn_jax.model import config as gqn_config
from gqn_jax.runs import configs
from gqn_jax.runs import schedules
from gqn_jax.trained import restore
from gqn_jax.trained import run_scenes


@pytest.fixture(scope="module")
def workdir(tiny_run_workdir):
  return tiny_run_workdir


@pytest.fixture(scope="module")
def scenes(trained):
  return run_scenes.load_test_scenes(trained.config, num_scenes=3)


def _raw_params(workdir, step):
  """The params item exactly as Orbax stores it (numpy arrays), bypassing restore.load."""
  path = os.path.join(workdir, "checkpoints", str(step), "params")
  return ocp.StandardCheckpointer().restore(path)


def test_load_restores_latest_step_config_and_params(workdir, trained):
  with open(os.path.join(workdir, "config.json"), encoding="utf-8") as file:
    assert trained.config.to_dict() == json.load(file)
  assert trained.step == 4 == trained.config.train.num_steps
  expected = _raw_params(workdir, 4)
  same = jax.tree.map(lambda a, b: np.array_equal(np.asarray(a), np.asarray(b)),
                      expected, trained.params)
  assert all(jax.tree.leaves(same))
  devices = {d for leaf in jax.tree.leaves(trained.params) for d in leaf.devices()}
  assert devices == {jax.local_devices()[0]}
  assert trained.sigma == pytest.approx(
      float(schedules.sigma_schedule(trained.config.train)(4)))


def test_load_earlier_step(workdir, trained):
  earlier = restore.load(workdir, step=2)
  assert earlier.step == 2
  assert restore.available_steps(workdir) == [2, 4]
  differs = jax.tree.map(lambda a, b: not np.array_equal(a, b), earlier.params, trained.params)
  assert any(jax.tree.leaves(differs)), "training steps 3 and 4 changed no parameter"


def test_missing_checkpoints_name_the_path(tmp_path, workdir):
  with pytest.raises(FileNotFoundError, match=str(tmp_path / "checkpoints")):
    restore.load(tmp_path)
  (tmp_path / "checkpoints").mkdir()
  with pytest.raises(FileNotFoundError, match="no checkpoint found in"):
    restore.load(tmp_path)
  with pytest.raises(FileNotFoundError, match=r"step 3 .*saved steps: \[2, 4\]"):
    restore.load(workdir, step=3)


def test_incompatible_checkpoint_says_what_was_expected(tmp_path, trained):
  wrong = trained.config.to_dict()
  wrong["model"]["h_channels"] = 2 * trained.config.model.h_channels
  with ocp.CheckpointManager(tmp_path / "checkpoints") as manager:
    manager.save(7, args=ocp.args.Composite(
        params=ocp.args.StandardSave(trained.params), config=ocp.args.JsonSave(wrong)))
    manager.wait_until_finished()
  with pytest.raises(ValueError, match=r"does not match the model .*model needs"):
    restore.load(tmp_path)


def test_checkpoint_of_a_two_device_run_restores_on_one_cpu(tmp_path, trained, repo_dir):
  """A run on a 2-device mesh saves replicated params; this one-device process restores them."""
  script = textwrap.dedent(f"""
      import os
      os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
      import jax, ml_collections, numpy as np, orbax.checkpoint as ocp
      from gqn_jax.runs import configs
      from gqn_jax.training import distributed, train
      assert jax.device_count() == 2
      config = ml_collections.ConfigDict({trained.config.to_dict()!r})
      model = configs.build_model(config)
      optimizer = train.build_optimizer(config.train)
      parallelism = distributed.make_parallelism()
      params, opt_state = train.init_train_state(config, model, optimizer, parallelism)
      assert len(jax.tree.leaves(params)[0].sharding.device_set) == 2
      with ocp.CheckpointManager({str(tmp_path / 'checkpoints')!r}) as manager:
        manager.save(3, args=ocp.args.Composite(
            params=ocp.args.StandardSave(params), opt_state=ocp.args.StandardSave(opt_state),
            config=ocp.args.JsonSave(config.to_dict())))
        manager.wait_until_finished()
      print("SUM", sum(float(np.abs(np.asarray(x)).sum()) for x in jax.tree.leaves(params)))
  """)
  result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=False, cwd=repo_dir)
  assert result.returncode == 0, result.stderr[-3000:]
  written = float(result.stdout.split("SUM")[-1])
  restored = restore.load(tmp_path)
  assert jax.device_count() == 1
  assert restored.step == 3
  total = sum(float(np.abs(np.asarray(x)).sum()) for x in jax.tree.leaves(restored.params))
  assert total == pytest.approx(written, rel=1e-6)


def test_render_shapes_range_and_determinism(trained, scenes):
  frames, cameras = scenes
  size = trained.image_size
  queries = cameras[:, 3:6]  # Q = 3 query poses per scene
  first = trained.render(frames[:, :2], cameras[:, :2], queries, jax.random.key(0), num_samples=2)
  assert first.images.shape == (3, 3, size, size, 3)
  assert first.samples.shape == (3, 3, 2, size, size, 3)
  assert bool(jnp.all((first.samples >= 0) & (first.samples <= 1)))
  np.testing.assert_allclose(first.images, first.samples.mean(axis=2), rtol=1e-6)
  again = trained.render(frames[:, :2], cameras[:, :2], queries, jax.random.key(0), num_samples=2)
  np.testing.assert_array_equal(first.samples, again.samples)
  other = trained.render(frames[:, :2], cameras[:, :2], queries, jax.random.key(1), num_samples=2)
  assert not np.array_equal(first.samples, other.samples)
  # The samples of one (scene, query) are distinct draws, not copies.
  assert not np.array_equal(first.samples[:, :, 0], first.samples[:, :, 1])


def test_render_many_queries_in_chunks(trained, scenes):
  frames, cameras = scenes
  chunked = restore.TrainedGQN(trained.config, trained.params, trained.step, chunk_size=4)
  queries = np.concatenate([cameras[:, :5], cameras[:, 5:]], axis=1)  # Q = all views
  out = chunked.render(frames[:, :1], cameras[:, :1], queries, jax.random.key(0), num_samples=3)
  assert out.samples.shape[:3] == (3, cameras.shape[1], 3)
  assert bool(jnp.all(jnp.isfinite(out.samples)))


def test_render_with_zero_context_views(trained, scenes):
  frames, cameras = scenes
  queries = cameras[:, :2]
  empty = trained.render(frames[:, :0], cameras[:, :0], queries, jax.random.key(3))
  assert empty.images.shape == (3, 2, trained.image_size, trained.image_size, 3)
  # Zero views must mean the same as real views that the mask switches off.
  masked = trained.render(frames[:, :2], cameras[:, :2], queries, jax.random.key(3),
                          mask=np.zeros((3, 2), bool))
  np.testing.assert_allclose(empty.images, masked.images, atol=1e-6)
  with_context = trained.render(frames[:, :2], cameras[:, :2], queries, jax.random.key(3))
  assert not np.allclose(empty.images, with_context.images)


def test_elbo_equals_the_model_loss_on_the_same_batch(trained, scenes):
  frames, cameras = scenes
  batch = {
      "context_frames": frames[:, :2], "context_cameras": cameras[:, :2],
      "context_mask": np.ones((3, 2), bool), "query_frame": frames[:, 2],
      "query_camera": cameras[:, 2],
  }
  key = jax.random.key(5)
  terms = trained.elbo(frames[:, :2], cameras[:, :2], frames[:, 2], cameras[:, 2], key)
  expected = trained.module.apply({"params": trained.params}, batch, jnp.float32(trained.sigma),
                                  rngs={"sample": key})
  np.testing.assert_allclose(terms.elbo, expected.elbo, rtol=1e-5)
  np.testing.assert_allclose(terms.elbo, -(terms.nll + terms.kl), rtol=1e-6)
  assert terms.elbo.shape == (3,)
  looser = trained.elbo(frames[:, :2], cameras[:, :2], frames[:, 2], cameras[:, 2], key, sigma=5.0)
  assert not np.allclose(looser.nll, terms.nll)


def test_bad_inputs_give_clear_errors(trained, scenes):
  frames, cameras = scenes
  with pytest.raises(TypeError, match="divide uint8 images by 255"):
    trained.represent((frames * 255).astype(np.uint8), cameras)
  with pytest.raises(ValueError, match="frames must have 5 dimensions"):
    trained.represent(frames[:, :, :8, :8], cameras)
  with pytest.raises(ValueError, match=r"query_cameras must have 3 dimensions ending in \(5,\)"):
    trained.render(frames[:, :1], cameras[:, :1], cameras[:, 0], jax.random.key(0))
  with pytest.raises(ValueError, match="cameras .* must be \\[B, M, 5\\] matching frames"):
    trained.represent(frames[:, :2], cameras[:, :3])


def test_non_finite_inputs_are_refused_by_name(trained, scenes):
  frames, cameras = scenes
  key = jax.random.key(0)
  nan_frames = frames.copy()
  nan_frames[1, 2, 3, 4, 0] = np.nan
  with pytest.raises(ValueError, match=r"frames holds 1 NaN .*index \(1, 2, 3, 4, 0\)"):
    trained.render(nan_frames, cameras, cameras[:, :1], key)
  inf_cameras = cameras.copy()
  inf_cameras[0, 0, 1] = np.inf
  with pytest.raises(ValueError, match=r"query_cameras holds 1 NaN or infinite"):
    trained.render(frames, cameras, inf_cameras[:, :1], key)
  with pytest.raises(ValueError, match=r"query_frames holds"):
    trained.elbo(frames[:, 1:], cameras[:, 1:], nan_frames[:, 2], cameras[:, 0], key)
  with pytest.raises(ValueError, match=r"cameras holds"):
    trained.elbo(frames, inf_cameras, frames[:, 0], cameras[:, 0], key)
  # A slot the mask switches off may hold anything: it is not part of the scene.
  mask = np.ones(frames.shape[:2], bool)
  mask[1, 2] = False
  out = trained.render(nan_frames, cameras, cameras[:, :1], key, mask=mask)
  assert bool(jnp.all(jnp.isfinite(out.images)))


def test_loading_for_inference_is_quiet(workdir, caplog):
  with caplog.at_level("WARNING"):
    restore.load(workdir)
    restore.available_steps(workdir)
  assert not [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]


def test_load_test_scenes_matches_the_model_resolution(trained, scenes):
  frames, cameras = scenes
  size = trained.image_size
  assert frames.shape[0] == 3 and frames.shape[2:] == (size, size, 3)
  assert frames.dtype == np.float32 and 0.0 <= frames.min() and frames.max() <= 1.0
  assert cameras.shape == (3, frames.shape[1], 5)
  model_config = configs.model_config(trained.config)
  assert isinstance(model_config, gqn_config.GQNConfig) and model_config.image_size == size
