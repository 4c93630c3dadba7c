"""Host memory on CPU, opt-in: freed buffers kept in the process for the next step.

XLA:CPU takes each step's temporaries from malloc and frees them when the step ends. glibc hands
blocks that large back to the kernel (mmap'd chunks are unmapped, the heap's top is trimmed, and
each of XLA's worker threads has an arena of its own), so the next step faults every page in
again, zero-filled. With one arena, no mmap'd chunks and no trimming, a step reuses the pages of
the last. The cost: the process keeps its peak heap for its lifetime, compiling takes a little
longer (the compiler's threads share the one arena), and, measured on the paper model, the peak
itself is no longer the same from run to run. docs/model.md ("Freed host memory kept in the
process") has the measurements, and the reason this is off unless asked for.

`configure()` applies it with glibc's `mallopt` when GQN_JAX_HOST_MEMORY=keep (or 'auto', which
judges the machine: glibc, the CPU backend, at most MAX_AUTO_CORES usable cores). It must run
before any thread starts (a thread that already has an arena keeps it), so the command lines call
it first thing, and it refuses, saying so, in a process that already runs other threads. Each
setting glibc refuses is reported, also after others were applied ('partial').

Outside the command lines (a notebook, a wrapper script), the same settings go in the
environment before Python starts, where glibc reads them itself:

  GLIBC_TUNABLES=glibc.malloc.arena_max=1:glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=2147483647
"""

import ctypes
import glob
import os
import sys

ENV = "GQN_JAX_HOST_MEMORY"
CHOICES = ("default", "keep", "auto")
DEFAULT_CHOICE = "default"
# (glibc tunable, mallopt parameter from malloc.h, value). Trim the heap only when 2 GiB - 1 (the
# largest int mallopt takes) sits free at its top.
_SETTINGS = (("arena_max", -8, 1), ("mmap_max", -4, 0), ("trim_threshold", -1, 2**31 - 1))
GLIBC_TUNABLES = ":".join(f"glibc.malloc.{name}={value}" for name, _, value in _SETTINGS)
MAX_AUTO_CORES = 8
# NVIDIA GPUs, TPUs (accel, vfio) and AMD GPUs (ROCm's kernel driver, kfd).
_ACCELERATOR_DEVICE_FILES = ("/dev/nvidia[0-9]*", "/dev/accel[0-9]*", "/dev/vfio/[0-9]*",
                             "/dev/kfd")
_state = {"mode": "default", "reason": "not configured"}


def cpu_backend_expected(environ=None, device_globs=_ACCELERATOR_DEVICE_FILES):
  """Whether JAX will compute on the CPU: JAX_PLATFORMS says so, or no GPU/TPU device file is
  present. Read without importing JAX (importing it is what must come after `configure`)."""
  environ = os.environ if environ is None else environ
  platforms = environ.get("JAX_PLATFORMS", "").strip().lower()
  if platforms:
    return platforms.split(",")[0].strip() == "cpu"
  return not any(glob.glob(pattern) for pattern in device_globs)


def usable_cores():
  """Cores this process may run on: its affinity mask (a container's share), else the count."""
  try:
    return len(os.sched_getaffinity(0))
  except (AttributeError, OSError):  # macOS, Windows
    return os.cpu_count() or 1


def thread_count(status_path="/proc/self/status"):
  """Threads of this process (Linux's /proc), or None where that cannot be read."""
  try:
    with open(status_path, encoding="ascii") as status:
      for line in status:
        if line.startswith("Threads:"):
          return int(line.split()[1])
  except (OSError, ValueError):
    pass
  return None


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


def _record(mode, reason):
  _state.update(mode=mode, reason=reason)
  return mode


def configure(environ=None, libc=None):
  """Keeps freed host memory in the process when GQN_JAX_HOST_MEMORY asks for it (module
  docstring). Returns 'keep' when every setting took, 'partial' when glibc refused one after
  others took, else 'default'; `reason()` says why."""
  environ = os.environ if environ is None else environ
  choice = environ.get(ENV, DEFAULT_CHOICE).strip().lower() or DEFAULT_CHOICE
  if choice not in CHOICES:
    raise ValueError(f"{ENV}={environ[ENV]!r}; expected one of {', '.join(CHOICES)}")
  if choice == "default":
    return _record("default", "the C library's own settings")
  if choice == "auto" and not cpu_backend_expected(environ):
    return _record("default", f"{ENV}=auto on an accelerator host")
  if choice == "auto" and usable_cores() > MAX_AUTO_CORES:
    return _record("default", f"{ENV}=auto with {usable_cores()} cores (at most "
                              f"{MAX_AUTO_CORES}: one arena's lock is shared by every thread)")
  libc = libc or _glibc()
  if libc is None:  # macOS, Windows, musl: their allocators are left as they are
    return _record("default", "not glibc")
  threads = thread_count()
  if threads is not None and threads > 1:
    return _record("default", f"not applied: the process already runs {threads} threads, whose "
                              f"arenas would stay (set it before Python starts instead: "
                              f"GLIBC_TUNABLES={GLIBC_TUNABLES})")
  taken = []
  for name, parameter, value in _SETTINGS:
    if libc.mallopt(parameter, value) != 1:
      if taken:
        return _record("partial", f"glibc took {', '.join(taken)} but refused {name}={value}")
      return _record("default", f"glibc refused {name}={value}")
    taken.append(f"{name}={value}")
  return _record("keep", ", ".join(taken))


def applied():
  """'keep', 'partial' or 'default': what `configure` did in this process."""
  return _state["mode"]


def reason():
  return _state["reason"]


def log_line():
  """One line for a command line's log: what `configure` did and how to change it."""
  mode = _state["mode"]
  if mode == "keep":
    return f"host memory: freed buffers stay in the process ({ENV}=default turns this off)"
  if mode == "partial":
    return f"host memory: only partly kept in the process: {_state['reason']}"
  return f"host memory: {_state['reason']} ({ENV}=keep keeps freed buffers in the process)"
