"""The persistent compilation cache: where it is, how it is turned off, and that a second process
really reads what the first compiled (on this CPU, with this jax)."""

import json
import os
import subprocess
import sys

import pytest

from gqn_jax.runtime import compile_cache

_SCRIPT = """
import json, sys
import jax, jax.numpy as jnp
from gqn_jax.runtime import compile_cache
compile_cache.enable(sys.argv[1])
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)  # this program is quick
x = jnp.ones((64, 64))
jax.jit(lambda a: jnp.tanh(a @ a.T).sum(axis=0))(x).block_until_ready()
print(json.dumps(compile_cache.counts()))
"""


def _counts_of_a_fresh_process(cache_dir):
  result = subprocess.run([sys.executable, "-c", _SCRIPT, str(cache_dir)], capture_output=True,
                          text=True, timeout=300, check=True)
  return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_second_process_reads_the_program_the_first_compiled(tmp_path):
  cache_dir = tmp_path / "cache"
  first = _counts_of_a_fresh_process(cache_dir)
  assert first["read"] == 0 and first["written"] >= 1  # the jitted function, jnp.ones...
  assert len(os.listdir(cache_dir)) >= first["written"]
  second = _counts_of_a_fresh_process(cache_dir)
  assert second == {"read": first["written"], "written": 0}


def test_the_flag_wins_over_the_variable_which_wins_over_the_default(monkeypatch, tmp_path):
  monkeypatch.delenv(compile_cache.ENV, raising=False)
  monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
  assert compile_cache.chosen_dir() == str(tmp_path / "xdg" / "gqn_jax" / "jax_compilation_cache")
  monkeypatch.setenv(compile_cache.ENV, str(tmp_path / "from_env"))
  assert compile_cache.chosen_dir() == str(tmp_path / "from_env")
  assert compile_cache.chosen_dir(str(tmp_path / "from_flag")) == str(tmp_path / "from_flag")


@pytest.mark.parametrize("off", ["off", "OFF", "0", "false", ""])
def test_off_in_the_flag_or_the_variable_turns_it_off(monkeypatch, off):
  assert compile_cache.chosen_dir(off) is None
  monkeypatch.setenv(compile_cache.ENV, off)
  assert compile_cache.chosen_dir() is None
  assert compile_cache.chosen_dir("/some/dir") == "/some/dir"
  assert compile_cache.enable(None) is None
