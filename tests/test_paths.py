"""Workdir paths: bucket URLs must never be turned into local folders."""

import os

from gqn_jax import checkpointing
from gqn_jax import inference
from gqn_jax import paths


def test_urls_are_kept_and_local_paths_made_absolute(tmp_path, monkeypatch):
  assert str(paths.resolve("gs://bucket/run")) == "gs://bucket/run"
  assert str(paths.resolve("gs://bucket/run") / "checkpoints") == "gs://bucket/run/checkpoints"
  monkeypatch.chdir(tmp_path)
  assert str(paths.resolve("run")) == os.path.join(str(tmp_path), "run")


def test_checkpoint_locations_of_a_bucket_workdir_stay_in_the_bucket():
  assert str(inference.checkpoint_dir("gs://bucket/run")) == "gs://bucket/run/checkpoints"
  prefix = checkpointing._process_prefix("gs://bucket/run/checkpoints/5/data")  # pylint: disable=protected-access
  assert prefix == "gs://bucket/run/checkpoints/5/data/process_0"


def test_append_text_appends_locally_and_by_rewriting_on_object_stores(tmp_path, monkeypatch):
  local = tmp_path / "metrics.jsonl"
  paths.append_text(local, "a\n")
  paths.append_text(local, "b\n")
  assert local.read_text() == "a\nb\n"
  # Object stores have no append mode: the URL branch rewrites the whole file.
  monkeypatch.setattr(paths, "is_url", lambda path: True)
  remote_like = tmp_path / "remote.jsonl"
  paths.append_text(remote_like, "a\n")
  paths.append_text(remote_like, "b\n")
  assert remote_like.read_text() == "a\nb\n"
