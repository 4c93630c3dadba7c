"""Before the first step: does the compiled training step fit in the memory there is?

Without this, a batch too large for the device ends, on an accelerator, in XLA's
RESOURCE_EXHAUSTED dump after a long compile, and on a CPU in the kernel killing the process
with no message at all. `check_step_fits` compiles the step for the largest batch it will see
(every context slot in use), reads XLA's own memory analysis of it (the step's temporaries and
its outputs, less the donated buffers it writes in place) and compares that with the free
memory of a device (an accelerator's allocator limit less what is in use; on a CPU, the host's
MemAvailable shared by its devices). When it does not fit it raises `StepMemoryError` naming the
knobs that shrink the step. The compile is not wasted: the step's first call reuses it.

The estimate leaves out the runtime's own overheads, so a step that passes can still run out
near the limit; GQN_JAX_SKIP_MEMORY_CHECK=1 skips the check where the estimate is wrong.
"""

import os

from absl import logging
import jax

from gqn_jax.runtime import errors

SKIP_ENV = "GQN_JAX_SKIP_MEMORY_CHECK"
_GIB = 2.0 ** 30


class StepMemoryError(errors.ProjectError, MemoryError):
  """The training step needs more memory than the device has free."""


def host_available_bytes():
  """MemAvailable of /proc/meminfo (bytes), or None where there is none."""
  try:
    with open("/proc/meminfo", encoding="utf-8") as f:
      for line in f:
        if line.startswith("MemAvailable:"):
          return int(line.split()[1]) * 1024
  except (OSError, ValueError, IndexError):
    pass
  return None


def available_bytes(device):
  """(free bytes for one device's step, where that figure comes from), or (None, reason)."""
  stats = device.memory_stats() if hasattr(device, "memory_stats") else None
  if stats and "bytes_limit" in stats:
    free = stats["bytes_limit"] - stats.get("bytes_in_use", 0)
    return free, f"{device.platform.upper()} {device.id}'s allocator"
  host = host_available_bytes()
  if host is None:
    return None, "no memory figure for this device"
  # CPU devices of one process share the host's memory.
  return host // max(len(jax.local_devices()), 1), "the host's MemAvailable"


def step_bytes(compiled):
  """Bytes a call of `compiled` allocates beyond its inputs, from XLA's memory analysis."""
  stats = compiled.memory_analysis()
  if stats is None:
    return None
  return stats.temp_size_in_bytes + stats.output_size_in_bytes - stats.alias_size_in_bytes


def _knobs(config):
  """What shrinks the step, for this config."""
  knobs = [f"a smaller --config.train.batch_size (now {config.train.batch_size}, split over "
           f"{jax.device_count()} devices)"]
  if not config.model.get("remat", False):
    knobs.append("--config.model.remat=True (recompute each core step in the backward pass)")
  if (config.model.get("compute_dtype", "float32") == "float32"
      and jax.default_backend() != "cpu"):
    knobs.append("--config.model.compute_dtype=bfloat16")
  knobs.append(f"fewer context views (--config.data.max_context, now {config.data.max_context})")
  knobs.append(f"a smaller model (--config.model.h_channels, now {config.model.h_channels})")
  return knobs


def check_step_fits(compile_step, config):
  """Raises StepMemoryError when the step `compile_step()` returns (a compiled executable) cannot
  fit; with GQN_JAX_SKIP_MEMORY_CHECK=1, neither compiles nor checks.

  Returns (needed bytes, available bytes), either None where unknown.
  """
  if os.environ.get(SKIP_ENV) == "1":
    return None, None
  needed = step_bytes(compile_step())
  available, source = available_bytes(jax.local_devices()[0])
  if needed is None or available is None:
    logging.info("memory check skipped: %s", "no memory analysis" if needed is None else source)
    return needed, available
  if needed > available:
    raise StepMemoryError(
        f"the training step needs about {needed / _GIB:.2f} GiB per device (XLA's memory "
        f"analysis of the compiled step) but {available / _GIB:.2f} GiB is free ({source}): "
        f"it would run out of memory. Try {'; or '.join(_knobs(config))}. "
        f"({SKIP_ENV}=1 skips this check.)")
  logging.info("memory: the step needs about %.2f GiB per device of %.2f GiB free (%s)",
               needed / _GIB, available / _GIB, source)
  return needed, available
