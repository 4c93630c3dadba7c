"""Host memory for the command lines on CPU: freed buffers stay in the process for the next step.

XLA:CPU takes each step's temporaries from malloc and frees them when the step ends. glibc hands
blocks that large back to the kernel (mmap'd chunks are unmapped, the heap's top is trimmed, and
each of XLA's worker threads has an arena of its own), so the next step faults every page in
again, zero-filled: on a 2-core CPU a large share of a small model's step went to the kernel.
With one arena, no mmap'd chunks and no trimming, a step reuses the pages of the last (each
setting alone does not: docs/model.md, "Freed host memory kept in the process", has the
measurements). The process then keeps its peak heap for its lifetime, and compiling takes a
little longer (the compiler's threads share the one arena).

`configure()` applies this with glibc's `mallopt`, which must run before JAX starts its threads
(threads that already have an arena keep it), so the command lines call it first thing. It acts
only where it was measured to help: glibc (Linux), the CPU backend (judged from JAX_PLATFORMS or,
when unset, from the absence of NVIDIA and TPU device files) and at most MAX_AUTO_CORES cores,
since on a large CPU host every thread would share the one arena's lock (not measured). GPU and
TPU hosts keep glibc's defaults, as do programs that import gqn_jax as a library.
GQN_JAX_HOST_MEMORY=keep | default overrides the judgement ('auto' or unset: judge).
"""

import ctypes
import glob
import os
import sys

ENV = "GQN_JAX_HOST_MEMORY"
CHOICES = ("auto", "keep", "default")
# glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_M_ARENA_MAX = -8
# Trim the heap only when this much sits free at its top (mallopt takes an int: 2 GiB - 1).
_TRIM_THRESHOLD_BYTES = 2**31 - 1
MAX_AUTO_CORES = 8
_ACCELERATOR_DEVICE_FILES = ("/dev/nvidia[0-9]*", "/dev/accel[0-9]*", "/dev/vfio/[0-9]*")
_applied = "default"  # what the last `configure` did, for the command lines' log


def cpu_backend_expected(environ=None, device_globs=_ACCELERATOR_DEVICE_FILES):
  """Whether JAX will compute on the CPU: JAX_PLATFORMS says so, or no GPU/TPU device file is
  present. Read without importing JAX (importing it is what must come after `configure`)."""
  environ = os.environ if environ is None else environ
  platforms = environ.get("JAX_PLATFORMS", "").strip().lower()
  if platforms:
    return platforms.split(",")[0].strip() == "cpu"
  return not any(glob.glob(pattern) for pattern in device_globs)


def _glibc():
  """The C library as a ctypes handle if it is glibc (Linux), else None."""
  if not sys.platform.startswith("linux"):
    return None
  try:
    libc = ctypes.CDLL(None)
    libc.gnu_get_libc_version  # pylint: disable=pointless-statement  (only glibc has it)
  except (OSError, AttributeError):  # musl has no gnu_get_libc_version
    return None
  return libc


def configure(environ=None):
  """Keeps freed host memory in the process when GQN_JAX_HOST_MEMORY and the machine call for
  it (module docstring). Returns 'keep' when it did, else 'default'."""
  global _applied
  environ = os.environ if environ is None else environ
  choice = environ.get(ENV, "auto").strip().lower() or "auto"
  if choice not in CHOICES:
    raise ValueError(f"{ENV}={environ[ENV]!r}; expected one of {', '.join(CHOICES)}")
  if choice == "default" or (choice == "auto" and not (
      cpu_backend_expected(environ) and (os.cpu_count() or 1) <= MAX_AUTO_CORES)):
    return "default"
  libc = _glibc()
  if libc is None:  # macOS, Windows, musl: their allocators are left as they are
    return "default"
  for parameter, value in ((_M_ARENA_MAX, 1), (_M_MMAP_MAX, 0),
                           (_M_TRIM_THRESHOLD, _TRIM_THRESHOLD_BYTES)):
    if libc.mallopt(parameter, value) != 1:
      return "default"
  _applied = "keep"
  return _applied


def applied():
  """'keep' when `configure` kept freed memory in this process, else 'default'."""
  return _applied


def log_line():
  """One line for a command line's log: what `configure` did and how to change it."""
  if _applied == "keep":
    return (f"host memory: freed buffers stay in the process for the next step "
            f"({ENV}=default turns this off)")
  return f"host memory: the C library's defaults ({ENV}=keep keeps freed buffers on CPU)"
