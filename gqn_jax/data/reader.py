"""Finding and reading DeepMind's GQN TFRecords in place (local paths or gs:// URLs).

`find_dataset(name, root)` looks a dataset up on disk once and returns a `DatasetFiles` (its
root, sizes and shard files) that every reader takes: the tf.data pipeline, the TFDS builders,
evaluation, and `read_scenes`, a plain, slow, exact reader for inspection and notebooks.
Every problem with the data on disk raises an error that names the path (and the record) and
says what to do about it. TensorFlow is only ever used here on the CPU: `import_tf` hides
accelerators from it so that it never claims memory JAX needs.
"""

import concurrent.futures
import dataclasses
import json
import logging
import os
import sys
import tempfile

import numpy as np

from gqn_jax.data import records
from gqn_jax.runtime import console
from gqn_jax.runtime import errors

PROCEDURAL_SPEC_FILENAME = "gqn_jax_procedural.json"
BUCKET = "gs://gqn-dataset"


class DataError(errors.ProjectError, ValueError):
  """Data on disk that cannot be read as a GQN dataset (bad names, records or JPEGs)."""


class NoShardFilesError(DataError):
  """A split folder that holds no `<i>-of-<n>.tfrecord` file: the data is absent, not damaged."""


class DataAccessError(errors.ProjectError, PermissionError):
  """Data that may be there but cannot be read: missing or wrong credentials, no permission.
  Never a reason to train on other data (it is not a FileNotFoundError)."""


_CREDENTIALS_HINT = (
    "On gs://, check the credentials: `gcloud auth application-default login`, or "
    "GOOGLE_APPLICATION_CREDENTIALS=<key.json> for a service account, with read access to the "
    "bucket; locally, the folder's permissions.")


def _access_error(path, error):
  """The DataAccessError for a tf.errors PermissionDenied/Unauthenticated error at `path`."""
  tf = import_tf()
  kind = ("not authenticated" if isinstance(error, tf.errors.UnauthenticatedError)
          else "permission denied")
  return DataAccessError(f"cannot read {path}: {kind} ({error.message.splitlines()[0]}). "
                         f"{_CREDENTIALS_HINT}")


def is_dir(path):
  """True for a folder, False when nothing is at `path`; a DataAccessError when it cannot tell.

  tf.io.gfile.isdir answers False for every error, so a bucket with wrong credentials would
  look like a missing folder and `source='auto'` would quietly train on procedural scenes.
  """
  tf = import_tf()
  try:
    return tf.io.gfile.stat(path).is_directory
  except tf.errors.NotFoundError:
    return False
  except (tf.errors.PermissionDeniedError, tf.errors.UnauthenticatedError) as e:
    raise _access_error(path, e) from e


def import_tf():
  """TensorFlow with GPUs and TPUs hidden from it (input work belongs on the host CPU)."""
  tf = _import_tf_quietly()
  for device_type in ("GPU", "TPU"):
    try:
      tf.config.set_visible_devices([], device_type)
    except (RuntimeError, ValueError):
      # RuntimeError: TF's devices are already initialised (then they were hidden by the first
      # call, or there are none); ValueError: this TF build knows no such device type.
      pass
  return tf


def _import_tf_quietly():
  """`import tensorflow`, its C++ start-up lines (oneDNN, CPU features: they ignore
  TF_CPP_MIN_LOG_LEVEL) held back unless GQN_JAX_LIBRARY_LOGS=1; shown if the import fails."""
  if "tensorflow" in sys.modules or os.environ.get(console.LIBRARY_LOGS_ENV) == "1":
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    return tf
  sys.stderr.flush()
  saved_fd = os.dup(2)
  with tempfile.TemporaryFile() as captured:
    os.dup2(captured.fileno(), 2)
    try:
      import tensorflow as tf  # pylint: disable=g-import-not-at-top
    except BaseException:
      os.dup2(saved_fd, 2)
      captured.seek(0)
      sys.stderr.write(captured.read().decode("utf-8", "replace"))
      raise
    finally:
      os.dup2(saved_fd, 2)
      os.close(saved_fd)
  return tf


def fetch_hint(dataset, root):
  """How to download `dataset` into `root`, for error messages."""
  return (f"fetch it with `gsutil -m cp -r {BUCKET}/{dataset} {root}` (or a few files of it: "
          f"partial downloads work), or run launch/download_data.sh")


@dataclasses.dataclass(frozen=True)
class DatasetFiles:
  """One GQN dataset as found on disk: where it is, what a scene holds, and its shard files."""
  name: str
  root: str
  source: str  # 'deepmind' (DeepMind's table) or 'procedural' (described by its spec file)
  frame_size: int  # stored frames are frame_size x frame_size x 3
  views_per_scene: int
  shard_files: dict  # split -> tuple of sorted paths, for the splits that were looked up

  def files(self, split):
    """Sorted shard paths of `split`."""
    records.check_split(split)
    if split not in self.shard_files:
      raise ValueError(f"the {split} split of {self.name} under {self.root} was not looked up; "
                       f"pass splits=(..., {split!r}) to find_dataset")
    return self.shard_files[split]


def find_dataset(name, root, splits=records.SPLITS):
  """The DatasetFiles of `name` under `root`, listing the shard files of `splits` (once).

  Raises FileNotFoundError or DataError, naming the path and how to fetch the data, when a split
  has no shard files; ValueError for an unknown name.
  """
  source, frame_size, views_per_scene = _read_spec(name, root)
  return DatasetFiles(
      name=name, root=str(root).rstrip("/"), source=source, frame_size=frame_size,
      views_per_scene=views_per_scene,
      shard_files={split: tuple(list_shard_files(name, split, root)) for split in splits})


def check_context_fits(max_context, views_per_scene, name):
  """max_context views must leave at least one more view of each scene to be the query."""
  if max_context >= views_per_scene:
    raise ValueError(
        f"max_context={max_context} leaves no query view: {name} has {views_per_scene} views per "
        f"scene, one of them the query, so max_context (config.data.max_context) must be at "
        f"most {views_per_scene - 1}")


def spec_path(dataset, root):
  return f"{str(root).rstrip('/')}/{dataset}/{PROCEDURAL_SPEC_FILENAME}"


def dataset_spec(dataset, root):
  """(frame_size, sequence_size) of `dataset` under `root`.

  Procedural datasets describe themselves in `<root>/<dataset>/gqn_jax_procedural.json`; DeepMind's
  datasets are described by `records.DATASETS`.
  """
  return _read_spec(dataset, root)[1:]


def _read_spec(dataset, root):
  """(source, frame_size, sequence_size), source 'procedural' when the spec file exists."""
  tf = import_tf()
  path = spec_path(dataset, root)
  try:
    present = tf.io.gfile.exists(path)
  except (tf.errors.PermissionDeniedError, tf.errors.UnauthenticatedError) as e:
    raise _access_error(path, e) from e
  if not present:
    if dataset not in records.DATASETS:
      raise ValueError(
          f"unknown GQN dataset {dataset!r}: it is not one of DeepMind's "
          f"({', '.join(sorted(records.DATASETS))}) and {path} does not exist. Check the name, or "
          "render procedural data with `python -m gqn_jax.scenes`.")
    info = records.get_info(dataset)
    return "deepmind", info.frame_size, info.sequence_size
  try:
    with tf.io.gfile.GFile(path, "r") as f:
      spec = json.load(f)
  except json.JSONDecodeError as e:
    raise DataError(f"{path} is not valid JSON ({e}); delete it and render the data again") from e
  sizes = []
  for key in ("frame_size", "sequence_size"):
    value = spec.get(key) if isinstance(spec, dict) else None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
      raise DataError(
          f"{path}: key {key!r} must be a positive integer, got {value!r}; fix the file or render "
          "the data again")
    sizes.append(value)
  if sizes[1] < 2:
    raise DataError(f"{path}: sequence_size must be at least 2 (a context and a query view), "
                    f"got {sizes[1]}")
  return ("procedural", *sizes)


def list_shard_files(dataset, split, root):
  """Sorted paths of the `<i>-of-<n>.tfrecord` files present in `<root>/<dataset>/<split>/`.

  Any n is accepted and missing shards are fine (partial downloads are normal); how many of the n
  were found is logged.
  """
  tf = import_tf()
  records.check_split(split)
  root = str(root).rstrip("/")
  if not is_dir(root):
    raise FileNotFoundError(
        f"GQN data root {root} does not exist; create it and {fetch_hint(dataset, root)}")
  dataset_dir = f"{root}/{dataset}"
  if not is_dir(dataset_dir):
    raise FileNotFoundError(
        f"dataset folder {dataset_dir} does not exist; {fetch_hint(dataset, root)}")
  directory = records.split_dir(root, dataset, split)
  if not is_dir(directory):
    raise FileNotFoundError(
        f"split folder {directory} does not exist; {fetch_hint(dataset, root)}")
  names = sorted(tf.io.gfile.listdir(directory))
  shards = sorted((parsed[1], parsed[0], name) for name in names
                  if (parsed := records.parse_shard_filename(name.rstrip("/"))) is not None)
  if not shards:
    shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "") if names else "nothing"
    raise NoShardFilesError(
        f"no files named like <i>-of-<n>.tfrecord (e.g. 0001-of-2160.tfrecord) in {directory}; "
        f"it holds {shown}. Keep DeepMind's file names; {fetch_hint(dataset, root)}")
  totals = sorted({total for total, _, _ in shards})
  logging.info("%s/%s: found %d of %s expected shard files in %s", dataset, split, len(shards),
               "/".join(map(str, totals)), directory)
  return [f"{directory}/{name}" for _, _, name in shards]


def file_sizes(paths):
  """Byte sizes of `paths`, asked for concurrently (each is a network round trip on gs://)."""
  tf = import_tf()
  with concurrent.futures.ThreadPoolExecutor(max_workers=32) as pool:
    return list(pool.map(lambda path: tf.io.gfile.stat(path).length, paths))


def redownload_hint(path):
  """What to do about a damaged shard file."""
  parts = path.rstrip("/").split("/")
  source = "/".join([BUCKET] + parts[-3:])
  return (f"download it again with `gsutil cp {source} {path}`, delete it, or pass "
          "skip_bad_records=True to skip bad records")


def parse_scene(serialized, sequence_size, frame_size, where):
  """One serialized scene -> {'frames': uint8 [S, H, W, 3], 'cameras': float32 [S, 5]}.

  `where` names the record in errors, e.g. 'record 3 of /data/mazes/train/001-of-120.tfrecord'.
  """
  tf = import_tf()
  fix = "re-download the file or pass skip_bad_records=True"
  try:
    example = tf.train.Example.FromString(serialized)
  except Exception as e:  # the protobuf error type depends on the protobuf backend
    raise DataError(f"{where} is not a tf.train.Example ({e}); {fix}") from e
  feature = example.features.feature
  jpegs = list(feature[records.FRAMES_KEY].bytes_list.value)
  cameras = np.asarray(feature[records.CAMERAS_KEY].float_list.value, dtype=np.float32)
  if len(jpegs) != sequence_size or cameras.size != 5 * sequence_size:
    raise DataError(
        f"{where} has {len(jpegs)} '{records.FRAMES_KEY}' and {cameras.size} "
        f"'{records.CAMERAS_KEY}' values; this dataset needs {sequence_size} and "
        f"{5 * sequence_size} ({sequence_size} views). Is it a file of another dataset? {fix}")
  cameras = cameras.reshape(sequence_size, 5)
  finite_S = np.isfinite(cameras).all(axis=1)
  if not finite_S.all():
    view = int(np.argmin(finite_S))
    raise DataError(f"view {view} of {where} has a non-finite camera pose {cameras[view].tolist()} "
                    f"(NaN or inf: training on it would diverge); {fix}")
  frames = [decode_frame(jpeg, frame_size, f"view {view} of {where}", fix)
            for view, jpeg in enumerate(jpegs)]
  return {"frames": np.stack(frames), "cameras": cameras}


def decode_frame(jpeg, frame_size, where, fix):
  """One JPEG -> uint8 [frame_size, frame_size, 3], or a DataError naming `where`."""
  tf = import_tf()
  try:
    frame = tf.io.decode_jpeg(jpeg, channels=3).numpy()
  except tf.errors.InvalidArgumentError as e:
    raise DataError(f"{where} is not a decodable JPEG ({e.message.splitlines()[0]}); {fix}") from e
  if frame.shape != (frame_size, frame_size, 3):
    raise DataError(
        f"{where} is {frame.shape[0]}x{frame.shape[1]}; this dataset has {frame_size}x{frame_size} "
        f"frames. Is it a file of another dataset? {fix}")
  return frame


def _records_with_index(path):
  """(index, serialized record) pairs of one file; DataLossError for a truncated/corrupt file."""
  tf = import_tf()
  for index, record in enumerate(tf.data.TFRecordDataset(path).as_numpy_iterator()):
    yield index, record


def read_scenes(dataset_files, split, *, skip_bad_records=False):
  """Every scene of split `split` of `dataset_files` (a DatasetFiles) in file order.

  Yields {'frames': uint8 [S, H, W, 3], 'cameras': float32 [S, 5]} with views in stored order and
  cameras as raw poses (x, y, z, yaw, pitch). With skip_bad_records, bad records (and the rest of a
  truncated file) are skipped; each is logged and the total is logged at the end.
  """
  tf = import_tf()
  frame_size, sequence_size = dataset_files.frame_size, dataset_files.views_per_scene
  files = dataset_files.files(split)
  num_bad = 0
  for path in files:
    index = -1
    try:
      for index, serialized in _records_with_index(path):
        try:
          yield parse_scene(serialized, sequence_size, frame_size, f"record {index} of {path}")
        except DataError as e:
          if not skip_bad_records:
            raise
          num_bad += 1
          logging.warning("skipping bad record (%d so far): %s", num_bad, e)
    except tf.errors.DataLossError as e:
      message = (f"{path} is truncated or corrupt after its first {index + 1} records "
                 f"({e.message.splitlines()[0]}); {redownload_hint(path)}")
      if not skip_bad_records:
        raise DataError(message) from e
      num_bad += 1
      logging.warning("skipping the rest of a file (%d bad so far): %s", num_bad, message)
  if num_bad:
    logging.warning("%s/%s: skipped %d bad records or file tails in %d files",
                    dataset_files.name, split, num_bad, len(files))
