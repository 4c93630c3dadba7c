"""Data parallelism: a training step on 1 device and on 8 emulated CPU devices gives one result.

JAX fixes the CPU device count when it starts, so the comparison runs in a subprocess that sets
XLA_FLAGS=--xla_force_host_platform_device_count=8 before importing jax.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest


_SCRIPT = textwrap.dedent("""
    import json
    import jax
    import jax.numpy as jnp
    import numpy as np
    from gqn_jax.model import gqn
    from gqn_jax.runs import config_files
    from gqn_jax.runs import configs
    from gqn_jax.training import distributed, train

    assert jax.device_count() == 8, jax.devices()
    config = config_files.load("configs/rooms.py:tiny")
    config.train.batch_size = 8
    config.data.camera_distance_rms = 3.0  # measured when a run starts
    model = configs.build_model(config)
    optimizer = train.build_optimizer(config.train)
    rng = np.random.default_rng(0)
    host_batch = {name: rng.random(value.shape, np.float32).astype(value.dtype)
                  for name, value in gqn.dummy_batch(
                      config.data.image_size, config.data.max_context, 8).items()}
    host_batch["context_mask"] = rng.random((8, config.data.max_context)) < 0.6
    identical = {name: np.repeat(value[:1], 8, axis=0) for name, value in host_batch.items()}

    nll_fn = jax.jit(lambda p, b: model.apply(
        {"params": p}, b, 1.0, rngs={"sample": jax.random.key(3)}).nll)

    initial = train.init_train_state(config, model, optimizer, distributed.make_parallelism())

    def run(parallelism, step_fn):
      # Copies: the step donates its inputs.
      params, opt_state = jax.tree.map(
          lambda x: jax.device_put(jnp.array(x), parallelism.replicated), initial)
      batch = distributed.make_global_batch(host_batch, parallelism.batch)
      losses, grad_norms = [], []
      for step in range(2):
        params, opt_state, metrics = step_fn(params, opt_state, batch, jnp.int32(step),
                                             train.train_key(config.seed))
        losses.append(float(metrics["loss"]))
        grad_norms.append(float(metrics["grad_norm"]))
      leaves = [np.asarray(leaf).ravel() for leaf in jax.tree.leaves(params)]
      # Per-example terms of 8 copies of one example: equal terms would mean shared noise.
      per_example = nll_fn(params, distributed.make_global_batch(identical, parallelism.batch))
      return {"losses": losses, "grad_norms": grad_norms,
              "params": np.concatenate(leaves).tolist(),
              "batch_devices": len(batch["query_frame"].sharding.device_set),
              "params_replicated": bool(jax.tree.leaves(params)[0].sharding.is_fully_replicated),
              "per_example_nll": np.asarray(per_example).tolist()}

    results = {}
    for name, devices in (("one", jax.devices()[:1]), ("eight", jax.devices())):
      parallelism = distributed.make_parallelism(devices)
      step_fn = train.steps_for_config(config, model, optimizer, parallelism).train
      results[name] = run(parallelism, step_fn)
      if name == "eight":
        results["eight_again"] = run(parallelism, step_fn)
    print("RESULT" + json.dumps(results))
""")


@pytest.fixture(scope="module")
def results(repo_dir):
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8",
             JAX_PLATFORMS="cpu")
  completed = subprocess.run([sys.executable, "-c", _SCRIPT], cwd=repo_dir, env=env,
                             capture_output=True, text=True, timeout=600, check=False)
  assert completed.returncode == 0, completed.stderr[-4000:]
  line = [l for l in completed.stdout.splitlines() if l.startswith("RESULT")][-1]
  return json.loads(line[len("RESULT"):])


def test_eight_devices_shard_the_batch_and_replicate_params(results):
  assert results["one"]["batch_devices"] == 1
  assert results["eight"]["batch_devices"] == 8
  assert results["eight"]["params_replicated"]


def test_one_and_eight_devices_agree(results):
  np.testing.assert_allclose(results["eight"]["losses"], results["one"]["losses"], rtol=1e-5)
  np.testing.assert_allclose(results["eight"]["grad_norms"], results["one"]["grad_norms"],
                             rtol=1e-5)
  eight, one = np.asarray(results["eight"]["params"]), np.asarray(results["one"]["params"])
  # Adam's first steps move each parameter by about lr * g / |g|, however small g is: where a
  # gradient entry is at rounding level, the summation order (another per-device batch) decides
  # the sign of that step. On CPU the convs are Winograd F(4x4), whose rounding is up to 1e-5 of
  # a tensor's largest entry (tests/test_winograd.py), so entries below that are rounding: 0.9%
  # of these 224,019 parameters were (1 of them with im2col). Every parameter stays within the
  # two steps' learning rate (2 x 5e-4), and 98% agree to 1e-6.
  np.testing.assert_allclose(eight, one, atol=2 * 5e-4)
  assert np.mean(~np.isclose(eight, one, rtol=1e-5, atol=1e-6)) < 2e-2


def test_same_seed_and_devices_reproduce_exactly(results):
  assert results["eight_again"]["losses"] == results["eight"]["losses"]
  assert results["eight_again"]["params"] == results["eight"]["params"]


def test_every_example_draws_its_own_noise(results):
  for run in ("one", "eight"):
    nll = results[run]["per_example_nll"]
    assert len(set(nll)) == len(nll), nll
  np.testing.assert_allclose(results["eight"]["per_example_nll"], results["one"]["per_example_nll"],
                             rtol=1e-5)
