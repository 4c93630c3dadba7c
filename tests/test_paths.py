"""Workdir paths: bucket URLs must never be turned into local folders.

The end-to-end tests stand a local folder in for the bucket: etils' epath test helper routes every
gs:// file operation there, so what the code writes through gqn_jax.runtime.paths lands in that folder,
and a URL mangled into a local path ('gs:/bucket/...') shows up in the current folder instead.
"""

import contextlib
import os
from unittest import mock

from etils.epath import gpath as epath_gpath
from etils.epath import testing as epath_testing
import pytest

from gqn_jax.runs import checkpointing
from gqn_jax.runtime import paths
from gqn_jax.trained import evaluate
from gqn_jax.trained import render
from gqn_jax.trained import restore
from gqn_jax.training import metrics
from gqn_jax.training import train


def test_urls_are_kept_and_local_paths_made_absolute(tmp_path, monkeypatch):
  assert str(paths.resolve("gs://bucket/run")) == "gs://bucket/run"
  assert str(paths.resolve("gs://bucket/run") / "checkpoints") == "gs://bucket/run/checkpoints"
  monkeypatch.chdir(tmp_path)
  assert str(paths.resolve("run")) == os.path.join(str(tmp_path), "run")


def test_checkpoint_locations_of_a_bucket_workdir_stay_in_the_bucket():
  assert str(restore.checkpoint_dir("gs://bucket/run")) == "gs://bucket/run/checkpoints"
  prefix = checkpointing._process_prefix("gs://bucket/run/checkpoints/5/data")  # pylint: disable=protected-access
  assert prefix == "gs://bucket/run/checkpoints/5/data/process_0"


def test_writable_dir_check_names_a_file_in_the_way_and_creates_nothing(tmp_path):
  blocker = tmp_path / "run"
  blocker.write_text("not a folder")
  with pytest.raises(OSError, match=f"{blocker} exists and is not a folder"):
    paths.check_writable_dir(blocker / "sub", what="the workdir")
  paths.check_writable_dir(tmp_path / "new" / "run", what="the workdir")
  assert sorted(os.listdir(tmp_path)) == ["run"]


def test_writable_dir_check_names_a_read_only_folder(tmp_path, monkeypatch):
  def refuse(self, *args, **kwargs):
    raise PermissionError(13, "Read-only file system", os.fspath(self))

  # A chmod would not stop root (CI may run as root); a read-only mount refuses every write.
  monkeypatch.setattr(type(paths.resolve(tmp_path)), "write_text", refuse)
  with pytest.raises(OSError, match=f"{tmp_path} is not writable .*Read-only file system"):
    paths.check_writable_dir(tmp_path / "run", what="the workdir")


@contextlib.contextmanager
def buckets_in(local_root):
  """In every file operation of etils.epath, gs://<bucket>/<path> means <local_root>/<bucket>/..."""

  def local(path):
    path = os.fspath(path)
    return os.path.join(local_root, path[len("gs://"):]) if path.startswith("gs://") else path

  def one_path(original, path, *args, **kwargs):
    return original(local(path), *args, **kwargs)

  def two_paths(original, path, destination, *args, **kwargs):
    return original(local(path), local(destination), *args, **kwargs)

  single = ("exists", "glob", "isdir", "listdir", "makedirs", "mkdir", "open", "remove", "rmtree",
            "stat", "walk")
  # With TensorFlow installed, epath sends gs:// to TF's gfile, past the mocked backend.
  with mock.patch.object(epath_gpath, "_is_tf_installed", lambda: False), \
      epath_testing.mock_epath(**{name: one_path for name in single}, copy=two_paths,
                               rename=two_paths, replace=two_paths):
    yield local


@pytest.fixture(name="cwd")
def fixture_cwd(tmp_path, monkeypatch):
  """An empty current folder: a URL turned into a relative local path would appear in it."""
  cwd = tmp_path / "cwd"
  cwd.mkdir()
  monkeypatch.chdir(cwd)
  return cwd


def test_training_hands_a_bucket_workdir_on_unchanged(tiny_config, tmp_path, cwd, monkeypatch):
  """Orbax and TensorBoard write to buckets themselves; they must be given the URL as it is."""
  given = []
  create_manager, metric_writer = checkpointing.create_manager, metrics.MetricWriter
  with buckets_in(tmp_path / "gcs") as local:
    monkeypatch.setattr(checkpointing, "create_manager", lambda workdir, max_to_keep: (
        given.append(str(workdir)) or create_manager(local(workdir), max_to_keep)))
    monkeypatch.setattr(metrics, "MetricWriter", lambda workdir, enabled, resume_step: (
        given.append(str(workdir)) or metric_writer(local(workdir), enabled, resume_step)))
    config = tiny_config(num_steps=1)
    config.train.eval_at_start = False
    train.train_and_evaluate(config, "gs://bucket/run")
  assert given == ["gs://bucket/run", "gs://bucket/run"]
  run = tmp_path / "gcs" / "bucket" / "run"
  assert (run / "config.json").is_file()  # written by train.py itself, through gqn_jax.runtime.paths
  assert (run / "checkpoints" / "1").is_dir()
  assert not os.listdir(cwd)


def test_evaluate_and_render_write_into_a_bucket(tiny_run_workdir, tmp_path, cwd):
  with buckets_in(tmp_path / "gcs"):
    evaluate.run(tiny_run_workdir, out="gs://bucket/eval", num_scenes=2)
    render.run(tiny_run_workdir, out="gs://bucket/pictures/grid.png", num_scenes=2,
               num_samples=1, num_frames=2)
  bucket = tmp_path / "gcs" / "bucket"
  assert sorted(os.listdir(bucket / "eval")) == ["evaluation.json", "evaluation.png"]
  assert sorted(os.listdir(bucket / "pictures")) == ["grid.gif", "grid.png"]
  assert not os.listdir(cwd)
