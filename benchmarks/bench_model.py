"""Times one GQN training step (loss + grad + Adam update, jitted, state donated) on this host.

The step is the trainer's own (gqn_jax.training.steps.make_steps(...).train, what
train_and_evaluate runs), at a constant sigma and learning rate.

  python benchmarks/bench_model.py --preset=small
  python benchmarks/bench_model.py --preset=paper --batch_size=8 --num_context=5   # ports' load
  python benchmarks/bench_model.py --preset=paper --batch_size=36 --num_context=5
  python benchmarks/bench_model.py --preset=paper --compute_dtype=bfloat16          # accelerators

Every context slot holds a real view (the ports' benchmark feeds M = num_context views; the
step's arithmetic does not depend on how many are masked). Prints compile time, median step time
after warm-up, scenes/s, peak memory (max RSS of the process, so it includes compilation and the
parameters; on a GPU/TPU also the device's peak bytes in use), and the step's FLOPs counted as
if every convolution were computed directly (the convs and dots of the same model's program with
conv_impl='xla'), so Winograd's savings show as a higher effective rate. That rate is
also given as a fraction of a square matmul's rate measured on the spot in the compute dtype
(--matmul_size), the fastest thing this backend does.
"""

import argparse
import dataclasses
import json
import resource
import statistics
import time

from gqn_jax.runtime import host_memory
if __name__ == "__main__":  # as the command lines do, before JAX starts its threads (PRESETS do)
  host_memory.configure()
import jax  # pylint: disable=g-import-not-at-top,wrong-import-position
import jax.numpy as jnp
import numpy as np
import optax
import provenance  # benchmarks/, the script's folder

from gqn_jax.model import config as config_module
from gqn_jax.model import convs
from gqn_jax.model.config import GQNConfig
from gqn_jax.model.gqn import GQN
from gqn_jax.training import distributed
from gqn_jax.training import steps

LEARNING_RATE = 5e-4

PRESETS = {
    # The paper's model: tower, L=12 unshared cores, 64x64 images, B=36, K=10 context slots.
    "paper": dict(batch_size=36, num_context=10, config=GQNConfig(image_size=64, position_scale=1.0)),
    "small": dict(batch_size=8, num_context=5, config=GQNConfig(
        image_size=32, num_layers=4, h_channels=32, z_channels=3, canvas_channels=32,
        r_channels=64, position_scale=1.0)),
}


def parse_args():
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--preset", choices=sorted(PRESETS), default="small")
  parser.add_argument("--batch_size", type=int, help="overrides the preset")
  parser.add_argument("--num_context", type=int, help="K context slots; overrides the preset")
  parser.add_argument("--representation", choices=["tower", "pool", "pyramid"])
  parser.add_argument("--num_layers", type=int)
  parser.add_argument("--shared_cores", action="store_true")
  parser.add_argument("--remat", action="store_true")
  parser.add_argument("--no_scan", action="store_true", help="unrolled Python loop of cores")
  parser.add_argument("--conv_impl", choices=convs.CONV_IMPLS,
                      help="how the cores' 5x5 convs run (GQNConfig.conv_impl)")
  parser.add_argument("--compute_dtype", choices=config_module.COMPUTE_DTYPES)
  parser.add_argument("--steps", type=int, default=5, help="timed steps after one warm-up")
  parser.add_argument("--matmul_size", type=int,
                      help="side of the reference matmul (default 4096 on CPU, 8192 elsewhere)")
  parser.add_argument("--json", action="store_true", help="also print one JSON line")
  parser.add_argument("--profile_dir", help="write a jax.profiler trace of the timed steps here "
                      "(open with TensorBoard's profile plugin or xprof)")
  return parser.parse_args()


def build(args):
  preset = PRESETS[args.preset]
  config = preset["config"]
  overrides = {k: getattr(args, k) for k in ("representation", "num_layers")
               if getattr(args, k) is not None}
  if args.shared_cores:
    overrides["shared_cores"] = True
  if args.remat:
    overrides["remat"] = True
  if args.no_scan:
    overrides["scan"] = False
  if args.conv_impl:
    overrides["conv_impl"] = args.conv_impl
  if args.compute_dtype:
    overrides["compute_dtype"] = args.compute_dtype
  config = dataclasses.replace(config, **overrides)
  batch_size = args.batch_size or preset["batch_size"]
  num_context = args.num_context or preset["num_context"]
  return config, batch_size, num_context


def random_batch(rng, config, batch_size, num_context):
  size = config.image_size
  mask = np.ones((batch_size, num_context), bool)  # all M = K slots in use
  return dict(
      context_frames=rng.random((batch_size, num_context, size, size, 3), dtype=np.float32),
      context_cameras=rng.normal(size=(batch_size, num_context, 5)).astype(np.float32),
      context_mask=mask,
      query_frame=rng.random((batch_size, size, size, 3), dtype=np.float32),
      query_camera=rng.normal(size=(batch_size, 5)).astype(np.float32))


def make_train_step(model, optimizer, sigma):
  """The trainer's jitted update (params, opt_state, batch, step, key) -> (params, opt_state,
  metrics), with a constant sigma (the reported learning rate is the benchmark's Adam rate)."""
  return steps.make_steps(model, optimizer, lambda step: jnp.float32(sigma),
                          lambda step: jnp.float32(LEARNING_RATE), model.config.image_size,
                          distributed.make_parallelism()).train


def jaxpr_flops(jaxpr):
  """2 x multiply-adds of every convolution and dot in a (closed) jaxpr, sub-jaxprs included.

  Counted from the program itself, so the same on every backend (XLA's cost analysis is not
  reported on every one) and free of elementwise work, which is not what the rate is about.
  """
  total = 0
  for eqn in jaxpr.eqns:
    name = eqn.primitive.name
    if name == "conv_general_dilated":
      out, kernel = eqn.outvars[0].aval, eqn.invars[1].aval
      spec = eqn.params["dimension_numbers"].rhs_spec  # (out, in, spatial...)
      per_output = np.prod([kernel.shape[d] for d in spec[1:]])
      total += 2 * np.prod(out.shape) * per_output // eqn.params["feature_group_count"]
    elif name == "dot_general":
      (lhs_contracting, _), _ = eqn.params["dimension_numbers"]
      lhs = eqn.invars[0].aval
      total += 2 * np.prod(eqn.outvars[0].aval.shape) * np.prod(
          [lhs.shape[d] for d in lhs_contracting])
    length = eqn.params.get("length", 1) if name == "scan" else 1
    for sub in _sub_jaxprs(eqn.params):
      total += length * jaxpr_flops(sub)
  return int(total)


def _sub_jaxprs(params):
  for value in params.values():
    for item in value if isinstance(value, (list, tuple)) else [value]:
      if hasattr(item, "eqns"):  # a Jaxpr
        yield item
      elif hasattr(getattr(item, "jaxpr", None), "eqns"):  # a ClosedJaxpr
        yield item.jaxpr


def step_flops(config, state, batch, optimizer):
  """FLOPs of one training step with every convolution counted as a direct one (conv_impl
  'xla'), so Winograd's savings show as a higher effective rate."""
  direct = GQN(dataclasses.replace(config, conv_impl="xla"))
  train_step = make_train_step(direct, optimizer, sigma=2.0)
  return jaxpr_flops(jax.make_jaxpr(train_step)(*state, batch, jnp.int32(0),
                                                jax.random.key(0)).jaxpr)


def median_seconds(fn, operands, repeats):
  """Median wall time of `repeats` calls of jax.jit(fn)(*operands), after one warm-up call."""
  fn = jax.jit(fn)
  fn(*operands).block_until_ready()
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    fn(*operands).block_until_ready()
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def matmul_rate(dtype, size, repeats=5):
  """GFLOP/s of a jitted [size, size] x [size, size] matmul in `dtype` (median of `repeats`)."""
  keys = jax.random.split(jax.random.key(0))
  a, b = (jax.random.normal(k, (size, size), dtype) for k in keys)
  return 2 * size**3 / median_seconds(lambda a, b: a @ b, (a, b), repeats) / 1e9


def device_peak_bytes():
  """Peak bytes in use on the first device (GPU/TPU), or None where it is not reported."""
  stats = jax.devices()[0].memory_stats() or {}
  return stats.get("peak_bytes_in_use")


def main():
  args = parse_args()
  config, batch_size, num_context = build(args)
  print(f"config: {config}\nbatch_size={batch_size} num_context={num_context} "
        f"devices={jax.devices()}")
  rng = np.random.default_rng(0)
  model = GQN(config)
  batch = random_batch(rng, config, batch_size, num_context)
  params = jax.jit(lambda b: model.init(
      {"params": jax.random.key(0), "sample": jax.random.key(1)}, b, 2.0)["params"])(batch)
  num_params = sum(x.size for x in jax.tree.leaves(params))
  optimizer = optax.adam(LEARNING_RATE)
  state = (params, jax.jit(optimizer.init)(params))
  train_step = make_train_step(model, optimizer, sigma=2.0)

  start = time.perf_counter()
  lowered = train_step.lower(*state, batch, jnp.int32(0), jax.random.key(0))
  lower_s = time.perf_counter() - start
  start = time.perf_counter()
  compiled = lowered.compile()
  compile_s = time.perf_counter() - start
  print(f"lowered in {lower_s:.1f} s, compiled in {compile_s:.1f} s", flush=True)
  flops = step_flops(config, state, batch, optimizer)

  *state, metrics = compiled(*state, batch, jnp.int32(0), jax.random.key(0))  # warm-up
  loss = metrics["loss"].block_until_ready()
  step_times = []
  faults_before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
  if args.profile_dir:
    jax.profiler.start_trace(args.profile_dir)
  for step in range(args.steps):
    batch = random_batch(rng, config, batch_size, num_context)
    start = time.perf_counter()
    *state, metrics = compiled(*state, batch, jnp.int32(step + 1), jax.random.key(step + 1))
    loss = metrics["loss"].block_until_ready()
    step_times.append(time.perf_counter() - start)
    print(f"step {step}: {step_times[-1]:.2f} s", flush=True)
  if args.profile_dir:
    jax.profiler.stop_trace()
  if not np.isfinite(float(loss)):
    raise RuntimeError(f"training step produced a non-finite loss {float(loss)}")

  # Pages the timed steps touched afresh, each zero-filled by the kernel (docs/model.md: freed
  # step temporaries go back to the kernel and are faulted in again by the next step).
  faults_per_step = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt
                     - faults_before) / len(step_times)
  median_s = statistics.median(step_times)
  peak_rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
  peak_device = device_peak_bytes()
  matmul_size = args.matmul_size or (4096 if jax.default_backend() == "cpu" else 8192)
  matmul_gflops = matmul_rate(config.dtype, matmul_size)
  gflops = flops / median_s / 1e9
  result = dict(
      preset=args.preset, backend=jax.default_backend(), device=jax.devices()[0].device_kind,
      conv_impl=convs.resolve_conv_impl(config.conv_impl), compute_dtype=config.compute_dtype,
      params=num_params, batch_size=batch_size, num_context=num_context,
      lower_s=round(lower_s, 2), compile_s=round(compile_s, 2),
      step_times_s=[round(t, 4) for t in step_times], median_step_s=round(median_s, 4),
      scenes_per_s=round(batch_size / median_s, 3), peak_rss_gib=round(peak_rss_gb, 2),
      peak_device_gib=None if peak_device is None else round(peak_device / 2**30, 2),
      direct_gflop_per_step=round(flops / 1e9, 1), direct_gflops_per_s=round(gflops, 1),
      matmul_gflops_per_s=round(matmul_gflops, 1),
      fraction_of_matmul=round(gflops / matmul_gflops, 3), final_loss=round(float(loss), 1),
      minor_page_faults_per_step=round(faults_per_step),
      machine=provenance.describe())
  for key, value in result.items():
    print(f"{key:>18}: {value}")
  if args.json:
    print(json.dumps(result))


if __name__ == "__main__":
  main()
