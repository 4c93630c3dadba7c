"""Times one GQN training step (loss + grad + Adam update, jitted, state donated) on this host.

  python benchmarks/bench_model.py --preset=small
  python benchmarks/bench_model.py --preset=paper --steps=3
  python benchmarks/bench_model.py --preset=paper --batch_size=8 --remat

Prints compile time, median step time after warm-up, scenes/s, peak resident memory (max RSS of
the process, so it includes compilation and the parameters), XLA's FLOP count for one step and
the achieved GFLOP/s, also as a fraction of --peak_gflops (157 = this 2-core Zen3's float32
peak: 2 cores x 2 FMA units x 8 lanes x 2 flops x ~2.45 GHz).
"""

import argparse
import dataclasses
import json
import resource
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from gqn_jax.model.config import GQNConfig
from gqn_jax.model.gqn import GQN

PRESETS = {
    # The paper's model: tower, L=12 unshared cores, 64x64 images, B=36, K=10 context slots.
    "paper": dict(batch_size=36, num_context=10, config=GQNConfig(image_size=64)),
    "small": dict(batch_size=8, num_context=5, config=GQNConfig(
        image_size=32, num_layers=4, h_channels=32, z_channels=3, canvas_channels=32,
        r_channels=64)),
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
  parser.add_argument("--conv_impl", choices=["auto", "xla", "matmul"],
                      help="how the cores' 5x5 convs run (GQNConfig.conv_impl)")
  parser.add_argument("--steps", type=int, default=5, help="timed steps after one warm-up")
  parser.add_argument("--peak_gflops", type=float, default=157.0)
  parser.add_argument("--json", action="store_true", help="also print one JSON line")
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
  config = dataclasses.replace(config, **overrides)
  batch_size = args.batch_size or preset["batch_size"]
  num_context = args.num_context or preset["num_context"]
  return config, batch_size, num_context


def random_batch(rng, config, batch_size, num_context):
  size = config.image_size
  num_views = rng.integers(0, num_context + 1)  # M ~ U{0..K}, as in training
  mask = np.arange(num_context)[None, :] < num_views
  mask = np.broadcast_to(mask, (batch_size, num_context)).copy()
  return dict(
      context_frames=rng.random((batch_size, num_context, size, size, 3), dtype=np.float32),
      context_cameras=rng.normal(size=(batch_size, num_context, 5)).astype(np.float32),
      context_mask=mask,
      query_frame=rng.random((batch_size, size, size, 3), dtype=np.float32),
      query_camera=rng.normal(size=(batch_size, 5)).astype(np.float32))


def make_train_step(model, optimizer, sigma):
  def train_step(state, batch, key):
    params, opt_state = state

    def loss_fn(p):
      terms = model.apply({"params": p}, batch, sigma, rngs={"sample": key})
      return -jnp.mean(terms.elbo)

    loss, grads = jax.value_and_grad(loss_fn)(params)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return (optax.apply_updates(params, updates), opt_state), loss

  return jax.jit(train_step, donate_argnums=0)


def flops_of(lowered_or_compiled):
  cost = lowered_or_compiled.cost_analysis()
  if isinstance(cost, (list, tuple)):
    cost = cost[0]
  return float(cost.get("flops", float("nan"))) if cost else float("nan")


def step_flops(config, state, batch, optimizer):
  """FLOPs of one training step, from XLA's cost analysis of the UNROLLED cores.

  The analysis counts a while loop's body once, so the scanned program would report about 1/L
  of the cores' work; the unrolled program has the same arithmetic with every step visible.
  Lowering (no compile) is enough for the count.
  """
  unrolled = GQN(dataclasses.replace(config, scan=False))
  train_step = make_train_step(unrolled, optimizer, sigma=2.0)
  return flops_of(train_step.lower(state, batch, jax.random.key(0)))


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
  optimizer = optax.adam(5e-4)
  state = (params, jax.jit(optimizer.init)(params))
  train_step = make_train_step(model, optimizer, sigma=2.0)

  start = time.perf_counter()
  lowered = train_step.lower(state, batch, jax.random.key(0))
  lower_s = time.perf_counter() - start
  start = time.perf_counter()
  compiled = lowered.compile()
  compile_s = time.perf_counter() - start
  print(f"lowered in {lower_s:.1f} s, compiled in {compile_s:.1f} s", flush=True)
  flops = step_flops(config, state, batch, optimizer)

  state, loss = compiled(state, batch, jax.random.key(0))  # warm-up
  loss.block_until_ready()
  step_times = []
  for step in range(args.steps):
    batch = random_batch(rng, config, batch_size, num_context)
    start = time.perf_counter()
    state, loss = compiled(state, batch, jax.random.key(step + 1))
    loss.block_until_ready()
    step_times.append(time.perf_counter() - start)
    print(f"step {step}: {step_times[-1]:.2f} s", flush=True)
  if not np.isfinite(float(loss)):
    raise RuntimeError(f"training step produced a non-finite loss {float(loss)}")

  median_s = statistics.median(step_times)
  peak_rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
  gflops = flops / median_s / 1e9
  result = dict(
      preset=args.preset, params=num_params, batch_size=batch_size, num_context=num_context,
      lower_s=round(lower_s, 2), compile_s=round(compile_s, 2),
      step_times_s=[round(t, 3) for t in step_times], median_step_s=round(median_s, 3),
      scenes_per_s=round(batch_size / median_s, 3), peak_rss_gib=round(peak_rss_gb, 2),
      gflop_per_step=round(flops / 1e9, 1), gflops_per_s=round(gflops, 1),
      fraction_of_peak=round(gflops / args.peak_gflops, 3), final_loss=round(float(loss), 1))
  for key, value in result.items():
    print(f"{key:>18}: {value}")
  if args.json:
    print(json.dumps(result))


if __name__ == "__main__":
  main()
