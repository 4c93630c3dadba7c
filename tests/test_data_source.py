"""gqn_jax.runs.data_source: DeepMind's files when they are there, else procedural scenes."""

import pytest

import gqn_test_files
from gqn_jax.data import reader
from gqn_jax.runs import data_source


def _data_config(tiny_config, root, source):
  config = tiny_config()
  config.data.root = str(root)
  config.data.source = source
  return config.data


def test_deepminds_files_are_found_once_with_both_splits(tiny_config, tmp_path):
  for split in ("train", "test"):
    gqn_test_files.write_dataset(str(tmp_path), "rooms_ring_camera", split, file_numbers=(1,),
                                 scenes_per_file=1)
  for source in ("auto", "deepmind"):
    found = data_source.resolve(_data_config(tiny_config, tmp_path, source))
    assert (found.source, found.root, found.views_per_scene) == ("deepmind", str(tmp_path), 10)
    assert [len(found.files(split)) for split in ("train", "test")] == [1, 1]


def test_missing_files_fall_back_to_procedural_scenes_or_fail_when_required(tiny_config,
                                                                            tmp_path):
  found = data_source.resolve(_data_config(tiny_config, tmp_path / "nothing", "auto"))
  assert found.source == "procedural" and found.files("train") and found.files("test")
  with pytest.raises(FileNotFoundError, match="config.data.source='deepmind' but .*`gsutil -m cp"):
    data_source.resolve(_data_config(tiny_config, tmp_path / "nothing", "deepmind"))
  with pytest.raises(ValueError, match="config.data.source='web'"):
    data_source.resolve(_data_config(tiny_config, tmp_path, "web"))


def test_damaged_data_is_an_error_not_a_reason_to_train_on_other_scenes(tiny_config, tmp_path):
  for split in ("train", "test"):
    gqn_test_files.write_dataset(str(tmp_path), "rooms_ring_camera", split, file_numbers=(1,),
                                 scenes_per_file=1)
  with open(reader.spec_path("rooms_ring_camera", tmp_path), "w", encoding="utf-8") as file:
    file.write("{not json")
  with pytest.raises(reader.DataError, match="gqn_jax_procedural.json is not valid JSON"):
    data_source.resolve(_data_config(tiny_config, tmp_path, "auto"))


@pytest.mark.parametrize("error_name, kind", [("PermissionDeniedError", "permission denied"),
                                              ("UnauthenticatedError", "not authenticated")])
def test_unreadable_data_is_named_and_never_a_reason_to_train_on_other_scenes(
    tiny_config, tmp_path, monkeypatch, error_name, kind):
  tf = reader.import_tf()
  root = str(tmp_path / "bucket")  # stands in for gs://...: a bucket the credentials cannot read
  real_stat = tf.io.gfile.stat

  def stat(path):
    if str(path).startswith(root):
      raise getattr(tf.errors, error_name)(None, None, "401 Anonymous caller has no access")
    return real_stat(path)

  monkeypatch.setattr(tf.io.gfile, "stat", stat)
  monkeypatch.setattr(tf.io.gfile, "exists", lambda path: False)  # no procedural spec file
  for source in ("auto", "deepmind"):
    with pytest.raises(reader.DataAccessError, match=(
        f"cannot read {root}: {kind} .*GOOGLE_APPLICATION_CREDENTIALS")):
      data_source.resolve(_data_config(tiny_config, root, source))
