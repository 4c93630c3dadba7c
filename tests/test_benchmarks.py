"""benchmarks/bench_model.py: its FLOP count and one end-to-end run (what device_bench.sh calls)."""

import json
import pathlib
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
import bench_model  # noqa: E402  (a script, not a package)


def _conv(x, kernel):
  return jax.lax.conv_general_dilated(x, kernel, (1, 1), "SAME",
                                      dimension_numbers=("NHWC", "HWIO", "NHWC"))


def test_flops_count_direct_convs_dots_and_every_scan_step():
  x, kernel = jnp.ones((2, 8, 8, 3)), jnp.ones((5, 5, 3, 4))
  conv_flops = 2 * (2 * 8 * 8 * 4) * (5 * 5 * 3)  # padding included: the direct conv's work
  assert bench_model.jaxpr_flops(jax.make_jaxpr(_conv)(x, kernel).jaxpr) == conv_flops
  a, b = jnp.ones((6, 7)), jnp.ones((7, 9))
  assert bench_model.jaxpr_flops(jax.make_jaxpr(jnp.matmul)(a, b).jaxpr) == 2 * 6 * 7 * 9

  def scanned(x):
    return jax.lax.scan(lambda c, _: (_conv(c, kernel)[..., :3], None), x, None, length=3)[0]
  jaxpr = jax.make_jaxpr(jax.jit(scanned))(x).jaxpr  # a scan inside a jit: both are walked
  assert bench_model.jaxpr_flops(jaxpr) == 3 * conv_flops
  # The kernel's gradient adds one transposed conv, as much work as the forward one.
  grad = jax.make_jaxpr(jax.grad(lambda k: jnp.sum(_conv(x, k))))(kernel).jaxpr
  assert bench_model.jaxpr_flops(grad) == 2 * conv_flops


def test_small_preset_runs_end_to_end_and_reports_every_number():
  completed = subprocess.run(
      [sys.executable, "benchmarks/bench_model.py", "--preset=small", "--steps=1",
       "--matmul_size=256", "--json"], cwd=REPO, capture_output=True, text=True, timeout=600,
      check=False)
  assert completed.returncode == 0, completed.stderr[-3000:]
  result = json.loads(completed.stdout.strip().splitlines()[-1])
  assert result["conv_impl"] == "winograd_4x4" and result["compute_dtype"] == "float32"
  assert result["batch_size"] == 8 and result["num_context"] == 5
  for key in ("median_step_s", "direct_gflop_per_step", "matmul_gflops_per_s",
              "fraction_of_matmul", "peak_rss_gib"):
    assert np.isfinite(result[key]) and result[key] > 0, key
  assert result["peak_device_gib"] is None  # CPU: no device memory statistics
  assert result["minor_page_faults_per_step"] >= 0
  assert result["machine"]["cores"] >= 1 and "model_name" in result["machine"]["cpu"]


def test_the_benchmarked_step_is_the_trainers_step(monkeypatch):
  from gqn_jax.model.gqn import GQN  # pylint: disable=g-import-not-at-top
  from gqn_jax.training import steps  # pylint: disable=g-import-not-at-top
  built = []
  real_make_steps = steps.make_steps

  def recording_make_steps(*args, **kwargs):
    made = real_make_steps(*args, **kwargs)
    built.append(made.train)
    return made

  monkeypatch.setattr(steps, "make_steps", recording_make_steps)
  config = bench_model.PRESETS["small"]["config"]
  step = bench_model.make_train_step(GQN(config), bench_model.optax.adam(1e-3), sigma=2.0)
  assert built == [step]  # what bench_model times is what training.steps builds for the trainer


def test_the_loop_benchmark_splits_a_real_run_into_its_parts(procedural_cache, tmp_path):
  import bench_loop  # pylint: disable=g-import-not-at-top  (benchmarks/, on the path above)
  # One timed run in this process (the command adds the plain run and the JSON around it).
  # trim_context off: one compile, not one per context size M.
  config = bench_loop._config(  # pylint: disable=protected-access
      "configs/rooms.py:tiny", 4, [f"data.procedural_cache={procedural_cache}",
                                           "train.trim_context=False"])
  assert config.train.trim_context is False  # a bool override is parsed, not truthy text
  breakdown, loop_seconds, step_seconds, _, _, per_call = bench_loop.timed_run(
      config, str(tmp_path))
  assert set(breakdown) == {"step", "data", "checkpoint", "evaluation", "other"}
  assert abs(sum(breakdown.values()) - loop_seconds) < 1e-6
  assert breakdown["checkpoint"] > 0 and breakdown["evaluation"] > 0  # tiny: saves at 2 and 4
  assert 0 < step_seconds < loop_seconds
  assert per_call["checkpoint"][0] == 2 and per_call["evaluation"][0] == 1  # steps 2, 4; 4
  assert bench_loop.loop_rate(str(tmp_path), compile_seconds=0.0) > 0
