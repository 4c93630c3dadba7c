"""Test-wide settings, and the fixtures several test modules share (session-scoped: built once).

- `repo_dir`: the checkout's root; command-line tests run there.
- `procedural_cache`: where the procedural scenes of the tiny runs are rendered, once a session.
- `tiny_config`: makes a fresh `configs/rooms.py:tiny` config on those procedural scenes.
- the suite's persistent compilation cache (below), shared by every test and subprocess.
- `tiny_run_workdir`: the workdir of one finished tiny training run (4 steps, checkpoints at 2
  and 4), shared by the tests of restoring, rendering, evaluating, analysis and the notebooks.
- `trained`: that run restored with gqn_jax.trained.restore.load.
"""

import atexit
import os
import pathlib
import shutil
import tempfile

# Before TensorFlow is first imported: keep it quiet and its CPU kernels deterministic.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
# The TFDS builder's counted split sizes: kept out of the user's ~/.cache during the suite, in a
# folder of the suite's own that goes with it.
if "GQN_TFDS_SPLIT_SIZES" not in os.environ:
  os.environ["GQN_TFDS_SPLIT_SIZES"] = tempfile.mkdtemp(prefix="gqn_jax_tfds_sizes-")
  atexit.register(shutil.rmtree, os.environ["GQN_TFDS_SPLIT_SIZES"], ignore_errors=True)

import pytest  # pylint: disable=wrong-import-position

from gqn_jax.runs import config_files  # pylint: disable=wrong-import-position
from gqn_jax.runtime import compile_cache  # pylint: disable=wrong-import-position
from gqn_jax.trained import restore  # pylint: disable=wrong-import-position

# One persistent compilation cache for the whole suite, in-process and in the command lines it
# starts (they read the variable): each program of the tiny configs compiles once per suite, not
# once per test and subprocess. It is the suite's own folder, removed at exit.
if compile_cache.ENV not in os.environ:
  os.environ[compile_cache.ENV] = tempfile.mkdtemp(prefix="gqn_jax_compilation_cache-")
  atexit.register(shutil.rmtree, os.environ[compile_cache.ENV], ignore_errors=True)
compile_cache.enable(compile_cache.chosen_dir())

REPO_DIR = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo_dir():
  return REPO_DIR


@pytest.fixture(scope="session")
def procedural_cache(tmp_path_factory):
  return str(tmp_path_factory.mktemp("procedural"))


@pytest.fixture(scope="session")
def tiny_config(procedural_cache):
  """A function returning a new configs/rooms.py:tiny config that trains on procedural
  scenes."""

  def make(num_steps=None):
    config = config_files.load("configs/rooms.py:tiny")
    config.data.source = "procedural"
    config.data.procedural_cache = procedural_cache
    if num_steps is not None:
      config.train.num_steps = num_steps
    return config

  return make


@pytest.fixture(scope="session")
def tiny_run_workdir(tiny_config, tmp_path_factory):
  from gqn_jax.training import train  # pylint: disable=g-import-not-at-top
  workdir = tmp_path_factory.mktemp("tiny_run") / "workdir"
  train.train_and_evaluate(tiny_config(), str(workdir))
  return str(workdir)


@pytest.fixture(scope="session")
def trained(tiny_run_workdir):
  return restore.load(tiny_run_workdir)


# The longest files first (measured; two workers take whole files, pyproject.toml): a long file
# started last would leave one worker running alone at the end.
_LONGEST_FIRST = ("test_preemption.py", "test_distributed.py", "test_train.py",
                  "test_own_scenes_example.py", "test_learning_harness.py", "test_multidevice.py",
                  "test_model.py", "test_restore.py", "test_notebooks.py", "test_posed_scenes.py",
                  "test_viewer.py")


def pytest_collection_modifyitems(items):
  rank = {name: index for index, name in enumerate(_LONGEST_FIRST)}
  items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
