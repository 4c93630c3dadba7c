"""gqn_jax.runtime.host_memory: opt-in, applied only before any thread exists, and honest about
what it did."""

import os
import subprocess
import sys
import textwrap
import types

import pytest

from gqn_jax.runtime import host_memory

# In a fresh interpreter: configure as GQN_JAX_HOST_MEMORY says, then free a 64 MiB block and
# take and write another; print the mode and the minor page faults of that second block.
_REUSE_PROBE = textwrap.dedent("""
    import ctypes, resource
    from gqn_jax.runtime import host_memory
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
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="glibc's mallopt and /proc: Linux only")


def _probe(choice=None, code=_REUSE_PROBE):
  env = {k: v for k, v in os.environ.items() if k != host_memory.ENV}
  if choice is not None:
    env[host_memory.ENV] = choice
  env["JAX_PLATFORMS"] = "cpu"
  out = subprocess.run([sys.executable, "-c", code], env=env, check=True,
                       capture_output=True, text=True).stdout.split()
  return out[0], int(out[1])


@linux_only
def test_kept_memory_is_reused_without_faulting_it_in_again():
  mode, kept_faults = _probe("keep")
  assert mode == "keep"
  assert kept_faults < _PAGES // 20, kept_faults  # the freed block's pages, reused as they are


@linux_only
def test_it_is_off_unless_asked_and_then_freed_blocks_go_back_to_the_kernel():
  # The control of the test above, and the default: the second block is faulted in afresh (one
  # fault a page, or one per 2 MiB where transparent huge pages back it).
  mode, default_faults = _probe(None)
  assert mode == "default" == host_memory.DEFAULT_CHOICE
  assert default_faults >= (64 << 20) // (2 << 20), default_faults


@linux_only
def test_a_process_that_already_runs_threads_is_left_alone_and_says_why():
  code = textwrap.dedent("""
      import threading, time
      from gqn_jax.runtime import host_memory
      threading.Thread(target=time.sleep, args=(5,), daemon=True).start()
      print(host_memory.configure(), host_memory.thread_count())
      print(host_memory.log_line())
  """)
  env = dict(os.environ, **{host_memory.ENV: "keep"})
  out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True,
                       text=True).stdout.splitlines()
  assert out[0] == "default 2"
  assert "already runs 2 threads" in out[1] and "GLIBC_TUNABLES=glibc.malloc.arena_max=1" in out[1]


@linux_only
def test_the_command_lines_configure_before_any_thread_starts(repo_dir):
  """`python -m gqn_jax.main/.evaluate/.render` import numpy and JAX (which start threads) only
  after configure: with =keep it takes in each of them."""
  for module in ("gqn_jax.main", "gqn_jax.evaluate", "gqn_jax.render"):
    code = (f"import sys; sys.argv = ['{module}']; import runpy; from gqn_jax.runtime import "
            "host_memory; real = host_memory.configure; "
            "host_memory.configure = lambda: print('mode', real(), host_memory.reason()) or "
            "sys.exit(0); runpy.run_module('" + module + "', run_name='__main__')")
    env = dict(os.environ, **{host_memory.ENV: "keep"})
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True,
                         text=True, cwd=repo_dir).stdout
    assert out.startswith("mode keep"), (module, out)


def _fake_libc(refuse=()):
  calls = []

  def mallopt(parameter, value):
    calls.append(parameter)
    return 0 if parameter in refuse else 1
  return types.SimpleNamespace(mallopt=mallopt), calls


def test_a_partial_failure_is_reported_as_such(monkeypatch):
  monkeypatch.setattr(host_memory, "thread_count", lambda: 1)
  arena, mmap, trim = (parameter for _, parameter, _ in host_memory._SETTINGS)  # pylint: disable=protected-access
  libc, _ = _fake_libc(refuse={mmap})
  assert host_memory.configure({host_memory.ENV: "keep"}, libc=libc) == "partial"
  assert host_memory.reason() == "glibc took arena_max=1 but refused mmap_max=0"
  assert "only partly" in host_memory.log_line()
  libc, _ = _fake_libc(refuse={arena})
  assert host_memory.configure({host_memory.ENV: "keep"}, libc=libc) == "default"
  assert "refused arena_max=1" in host_memory.reason()
  libc, calls = _fake_libc()
  assert host_memory.configure({host_memory.ENV: "keep"}, libc=libc) == "keep"
  assert calls == [arena, mmap, trim]


@pytest.mark.parametrize("platforms, expected", [
    ("cpu", True), ("CPU", True), ("cuda", False), ("tpu", False), ("rocm", False),
    ("cuda,cpu", False), ("cpu,cuda", True)])
def test_jax_platforms_decides_the_backend(platforms, expected):
  assert host_memory.cpu_backend_expected({"JAX_PLATFORMS": platforms}) is expected


@pytest.mark.parametrize("device_file", ["nvidia0", "accel0", "kfd"])
def test_accelerator_device_files_mean_no_cpu_backend(tmp_path, device_file):
  (tmp_path / device_file).touch()
  globs = (str(tmp_path / "nvidia[0-9]*"), str(tmp_path / "accel[0-9]*"), str(tmp_path / "kfd"))
  assert not host_memory.cpu_backend_expected({}, device_globs=globs)
  assert host_memory.cpu_backend_expected({}, device_globs=(str(tmp_path / "none*"),))
  assert "/dev/kfd" in host_memory._ACCELERATOR_DEVICE_FILES  # pylint: disable=protected-access  (ROCm)


def test_cores_are_counted_from_the_affinity_mask(monkeypatch):
  monkeypatch.setattr(host_memory.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
  monkeypatch.setattr(host_memory.os, "cpu_count", lambda: 64)
  assert host_memory.usable_cores() == 2
  monkeypatch.setattr(host_memory.os, "sched_getaffinity", lambda pid: set(range(16)),
                      raising=False)
  assert host_memory.configure({host_memory.ENV: "auto", "JAX_PLATFORMS": "cpu"}) == "default"
  assert "16 cores" in host_memory.reason()


def test_auto_leaves_accelerator_hosts_alone():
  assert host_memory.configure({host_memory.ENV: "auto", "JAX_PLATFORMS": "cuda"}) == "default"


def test_unknown_choice_names_the_variable_and_the_choices():
  with pytest.raises(ValueError, match=r"GQN_JAX_HOST_MEMORY='sometimes'.*default, keep, auto"):
    host_memory.configure({host_memory.ENV: "sometimes"})
