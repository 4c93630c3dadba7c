"""The three jitted functions a training run is made of, built in one place: `make_steps`.

- `train`: (params, opt_state, batch, step, key) -> (params, opt_state, metrics), Algorithm S1's
  update (loss + gradient + Adam), params and opt_state donated;
- `check`: (params, opt_state, batch, step, key) -> (finite, loss) of the state update `step`
  produced, run before that state is saved;
- `eval`: (params, batch, step, key) -> (sums over the batch, a few pictures).

They take the model, the optimizer and the two schedules as plain arguments (no config), so that
benchmarks/bench_model.py times the very update training runs, on hosts without TensorFlow or
ml_collections. gqn_jax.training.train builds them from a run's config (`steps_for_config`) and
runs each through a `CompiledStep`: compiled ahead of time, once per signature of its arguments
(shapes, dtypes, shardings: what jit keys compiles by), every compile announced on the console (a run's first minute is mostly compiling).
"""

import time
from typing import Callable, NamedTuple

from absl import logging
import jax
import jax.numpy as jnp
import optax

from gqn_jax.model import gqn
from gqn_jax.runs import image_metrics
from gqn_jax.runtime import compile_cache


class Steps(NamedTuple):
  train: Callable
  check: Callable
  eval: Callable
  sigma: Callable  # step -> the pixel sigma all three use (reported beside evaluations)


def make_steps(model, optimizer, sigma_fn, learning_rate_fn, image_size, parallelism,
               num_pictures=4):
  """The jitted train, check and eval steps of `model` (a gqn.GQN).

  sigma_fn / learning_rate_fn: step -> pixel sigma / learning rate (runs.schedules; the rate only
  reported: the optimizer has its own). parallelism: training.distributed.Parallelism, whose
  replicated sharding the outputs get. num_pictures: scenes whose pictures eval returns.
  """
  loss_and_terms = _loss_function(model)

  def train_step(params, opt_state, batch, step, key):
    sigma = sigma_fn(step)
    loss_fn = lambda p: loss_and_terms(p, batch, sigma, jax.random.fold_in(key, step))
    (loss, terms), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    params = optax.apply_updates(params, updates)
    grad_norm = optax.tree.norm(grads)
    metrics = {
        "loss": loss,
        "nll": jnp.mean(terms.nll),
        "kl": jnp.mean(terms.kl),
        "bits_per_dim": image_metrics.bits_per_dim(loss, image_size),
        "sigma": sigma,
        "learning_rate": learning_rate_fn(step),
        "grad_norm": grad_norm,
        "finite": jnp.isfinite(loss) & jnp.isfinite(grad_norm),
    }
    return params, opt_state, metrics

  # The update's own check covers the loss before it; a huge but finite update can still give
  # parameters whose next loss is NaN. So before a state is saved, its loss on the batch that
  # produced it (with that update's sigma and key, so that only the parameters are judged), its
  # parameters and Adam's moments must all be finite (every element: a norm could overflow on
  # large finite values). One forward pass, paid once per checkpoint.
  def check_step(params, opt_state, batch, step, key):
    loss, _ = loss_and_terms(params, batch, sigma_fn(step), jax.random.fold_in(key, step))
    return jnp.isfinite(loss) & _all_finite(params) & _all_finite(opt_state), loss

  # Sums, not means, so the host can average over batches exactly. The prior-sample prediction
  # is the generator's mean image with z drawn from the prior (Algorithm S3); PSNR is per
  # image, then averaged, as gqn_jax.trained.evaluate reports it.
  def eval_step(params, batch, step, key):
    elbo_key, prior_key = jax.random.split(key)
    variables = {"params": params}
    terms = model.apply(variables, batch, sigma_fn(step), rngs={"sample": elbo_key})
    prediction = model.apply(
        variables, batch["context_frames"], batch["context_cameras"], batch["context_mask"],
        batch["query_camera"], method=gqn.GQN.generate, rngs={"sample": prior_key})
    mse_B = image_metrics.mse_per_image(prediction, batch["query_frame"])
    sums = {
        "loss": jnp.sum(-terms.elbo),
        "nll": jnp.sum(terms.nll),
        "kl": jnp.sum(terms.kl),
        "mse": jnp.sum(mse_B),
        "psnr": jnp.sum(image_metrics.psnr(mse_B)),
    }
    pictures = {
        "reconstruction": terms.reconstruction[:num_pictures],
        "prior_sample": prediction[:num_pictures],
    }
    return sums, pictures

  replicated = parallelism.replicated
  return Steps(
      train=jax.jit(train_step, donate_argnames=("params", "opt_state"),
                    out_shardings=replicated),
      check=jax.jit(check_step, out_shardings=replicated),
      eval=jax.jit(eval_step, out_shardings=replicated),
      sigma=sigma_fn)


def _loss_function(model):
  """(params, batch, sigma, sample_key) -> (-ELBO in nats per image, the ELBO terms)."""
  def loss_and_terms(params, batch, sigma, sample_key):
    terms = model.apply({"params": params}, batch, sigma, rngs={"sample": sample_key})
    return image_metrics.nats_per_image(-terms.elbo), terms
  return loss_and_terms


def _all_finite(tree):
  leaves = [jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree.leaves(tree)
            if jnp.issubdtype(leaf.dtype, jnp.floating)]
  return jnp.all(jnp.stack(leaves)) if leaves else jnp.bool_(True)


_compile_seconds = [0.0]  # every CompiledStep's compiles in this process, for rates without them


def compile_seconds():
  """Seconds this process has spent in CompiledStep compiles (a training log's rates leave them
  out)."""
  return _compile_seconds[0]


class CompiledStep:
  """A jitted step, compiled ahead of time once per signature of its arguments and called
  through that executable.

  The signature is what jax.jit itself keys its compiles by: the arguments' tree structure and
  each leaf's shape, dtype, weak type and sharding (`signature`). So any new shape, dtype or
  sharding (a batch with fewer context slots, another batch size) compiles once, where calling
  an executable compiled for other arguments would raise. Each compile logs what it compiles
  before it starts and how long it took after, and whether the persistent compilation cache held
  it; the memory check reads XLA's analysis of the very executable the run then calls
  (`compiled`), so checking costs no compile of its own.
  """

  def __init__(self, jitted, what, describe=None):
    """describe: args -> a few words on what this compile is for (e.g. its context slots)."""
    self.jitted, self.what, self._describe = jitted, what, describe
    self._executables = {}

  def compiled(self, *args):
    """The executable for arguments like `args`, compiled for them the first time."""
    key = signature(args)
    if key not in self._executables:
      self._executables[key] = self._compile(args)
    return self._executables[key]

  def __call__(self, *args):
    return self.compiled(*args)(*args)

  def _compile(self, args):
    name = f"{self.what} ({self._describe(args)})" if self._describe else self.what
    logging.info("compiling the %s...", name)
    start, read_before = time.perf_counter(), compile_cache.counts()["read"]
    executable = self.jitted.lower(*args).compile()
    seconds = time.perf_counter() - start
    _compile_seconds[0] += seconds
    source = ("read from the compilation cache" if compile_cache.counts()["read"] > read_before
              else "compiled")
    logging.info("%s: %s in %.1f s", name, source, seconds)
    return executable


def signature(args):
  """A hashable key of `args` as jax.jit tells calls apart: the pytree structure and, for each
  leaf, its shape, dtype, weak type and sharding (None for host values, which jit places)."""
  leaves, treedef = jax.tree.flatten(args)
  return treedef, tuple(_leaf_signature(leaf) for leaf in leaves)


def _leaf_signature(leaf):
  if not hasattr(leaf, "shape") or not hasattr(leaf, "dtype"):
    return (type(leaf),)  # a Python scalar: traced as a weakly typed scalar of its type
  if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
    dtype = str(leaf.dtype)  # typed keys: the implementation is part of the dtype
  else:
    dtype = jnp.dtype(leaf.dtype)
  sharding = getattr(leaf, "sharding", None) if isinstance(leaf, jax.Array) else None
  return tuple(leaf.shape), dtype, bool(getattr(leaf, "weak_type", False)), sharding
