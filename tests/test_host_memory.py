"""gqn_jax.host_memory: when the command lines keep freed host memory, and that it is then kept."""

import os
import subprocess
import sys
import textwrap

import pytest

from gqn_jax import host_memory

# In a fresh interpreter: configure as GQN_JAX_HOST_MEMORY says, then free a 64 MiB block and
# take and write another; print the mode and the minor page faults of that second block.
_REUSE_PROBE = textwrap.dedent("""
    import ctypes, resource
    from gqn_jax import host_memory
    mode = host_memory.configure()
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    size = 64 << 20
    block = libc.malloc(size); ctypes.memset(block, 1, size); libc.free(block)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    block = libc.malloc(size); ctypes.memset(block, 2, size)
    print(mode, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
""")
_PAGES = (64 << 20) // 4096


def _probe(choice):
  env = dict(os.environ, GQN_JAX_HOST_MEMORY=choice, JAX_PLATFORMS="cpu")
  out = subprocess.run([sys.executable, "-c", _REUSE_PROBE], env=env, check=True,
                       capture_output=True, text=True).stdout.split()
  return out[0], int(out[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")
def test_kept_memory_is_reused_without_faulting_it_in_again():
  mode, kept_faults = _probe("keep")
  assert mode == "keep"
  assert kept_faults < _PAGES // 20, kept_faults  # the freed block's pages, reused as they are


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")
def test_default_returns_a_large_freed_block_to_the_kernel():
  # The control of the test above: without configure, the second block is faulted in afresh
  # (one fault a page, or one per 2 MiB where transparent huge pages back it).
  mode, default_faults = _probe("default")
  assert mode == "default"
  assert default_faults >= (64 << 20) // (2 << 20), default_faults


@pytest.mark.parametrize("platforms, expected", [
    ("cpu", True), ("CPU", True), ("cuda", False), ("tpu", False), ("cuda,cpu", False),
    ("cpu,cuda", True)])
def test_jax_platforms_decides_the_backend(platforms, expected):
  assert host_memory.cpu_backend_expected({"JAX_PLATFORMS": platforms}) is expected


def test_accelerator_device_files_mean_no_cpu_backend(tmp_path):
  (tmp_path / "nvidia0").touch()
  assert not host_memory.cpu_backend_expected({}, device_globs=(str(tmp_path / "nvidia[0-9]*"),))
  assert host_memory.cpu_backend_expected({}, device_globs=(str(tmp_path / "accel[0-9]*"),))


def test_a_large_cpu_host_keeps_the_defaults_unless_asked(monkeypatch):
  monkeypatch.setattr(host_memory.os, "cpu_count", lambda: host_memory.MAX_AUTO_CORES + 1)
  assert host_memory.configure({"JAX_PLATFORMS": "cpu"}) == "default"


def test_accelerator_host_keeps_the_defaults():
  assert host_memory.configure({"GQN_JAX_HOST_MEMORY": "auto", "JAX_PLATFORMS": "cuda"}) == (
      "default")


def test_unknown_choice_names_the_variable_and_the_choices():
  with pytest.raises(ValueError, match=r"GQN_JAX_HOST_MEMORY='sometimes'.*auto, keep, default"):
    host_memory.configure({"GQN_JAX_HOST_MEMORY": "sometimes"})
