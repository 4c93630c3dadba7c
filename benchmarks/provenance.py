"""What every measured number carries: the machine, its load, the versions and the git commit.

`describe()` returns one JSON-ready dict. The CPU is named by its model string *and* its family,
model number and vector extensions (AVX2, FMA, AVX-512, AMX), because cloud CPUs often report
only "AMD EPYC" or "Intel Xeon": a Zen 3 and a Zen 4 EPYC print the same name and differ by
AVX-512, which changes which conv path is fastest.
"""

import os
import platform
import subprocess

REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Flags of /proc/cpuinfo that decide how fast XLA:CPU runs our convs and matmuls.
VECTOR_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16")


def _cpuinfo():
  """The first processor's fields of /proc/cpuinfo ({} where there is none)."""
  fields = {}
  try:
    with open("/proc/cpuinfo", encoding="utf-8") as f:
      for line in f:
        if not line.strip():
          break
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
  except OSError:
    pass
  return fields


def cpu_description():
  """{'model_name', 'family', 'model', 'vector_extensions'}: enough to tell two EPYCs apart."""
  info = _cpuinfo()
  flags = set(info.get("flags", "").split())
  return {
      "model_name": info.get("model name") or platform.processor() or platform.machine(),
      "family": info.get("cpu family"),
      "model": info.get("model"),
      "vector_extensions": [flag for flag in VECTOR_FLAGS if flag in flags],
  }


def git_commit():
  """The short commit of the code being measured, '+changes' when the tree differs from it."""
  try:
    run = lambda *args: subprocess.run(["git", *args], cwd=REPO_DIR, check=True,
                                       capture_output=True, text=True).stdout.strip()
    dirty = run("status", "--porcelain", "--untracked-files=no")
    return run("rev-parse", "--short", "HEAD") + ("+changes" if dirty else "")
  except (OSError, subprocess.CalledProcessError):
    return None


def describe():
  """CPU, cores, load average now, Python/jax/flax versions, backend, host memory mode
  (gqn_jax.runtime.host_memory) and git commit."""
  import flax  # pylint: disable=g-import-not-at-top
  import jax  # pylint: disable=g-import-not-at-top
  from gqn_jax.runtime import host_memory  # pylint: disable=g-import-not-at-top
  return {"cpu": cpu_description(), "cores": os.cpu_count(), "load_average": os.getloadavg(),
          "python": platform.python_version(), "jax": jax.__version__, "flax": flax.__version__,
          "backend": jax.default_backend(), "host_memory": host_memory.applied(),
          "git_commit": git_commit()}
