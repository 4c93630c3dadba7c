"""Writing procedural datasets in DeepMind's on-disk format, and the cached default dataset.

Layout (gqn_jax.data.records): `<root>/<dataset>/<split>/<i>-of-<n>.tfrecord`, one
tf.train.Example per scene with one JPEG per view and the raw poses, plus the spec file
`<root>/<dataset>/gqn_jax_procedural.json` (`reader.spec_path`) telling the reader the frame size
and views per scene.

Scene `index` of split `split` is drawn from its own random stream, seeded by
(seed, dataset, split, index): a scene does not depend on how many scenes are written or how they
are sharded, and the train and test splits of one seed draw from disjoint streams.
"""

import collections
import concurrent.futures
import functools
import json
import os
import shutil
import socket
import tempfile
import zlib

from absl import logging
import numpy as np

from gqn_jax.data import reader
from gqn_jax.data import records
from gqn_jax.runtime import paths
from gqn_jax.scenes import datasets

GENERATOR_VERSION = 2  # bump whenever a seed would render a different scene
JPEG_QUALITY = 95
SCENES_PER_FILE = 500  # default shard size; several shards let tf.data interleave them
_SPLIT_CODES = {"train": 0, "test": 1}
STREAM_CODE = 2  # gqn_jax.scenes.stream's training scenes


@functools.cache
def _tf():
  """TensorFlow, imported on first use with accelerators hidden.

  A training run renders its default data in-process; TensorFlow must not take GPU memory there.
  """
  return reader.import_tf()


def scene_rng(name, split, index, seed):
  """The random generator of one scene, independent of every other (name, split, index)."""
  records.check_split(split)
  return keyed_rng(name, seed, _SPLIT_CODES[split], index)


def keyed_rng(name, seed, *keys):
  """A generator seeded by (seed, dataset name, keys): disjoint streams for distinct keys.

  The written splits use keys (split code, index); gqn_jax.scenes.stream uses (STREAM_CODE,
  host, index), so streamed training scenes are never scenes of either written split.
  """
  if not isinstance(seed, (int, np.integer)) or seed < 0:
    raise ValueError(f"seed must be a non-negative integer; got {seed!r}")
  name_code = zlib.crc32(name.encode("utf-8"))
  sequence = np.random.SeedSequence(int(seed), spawn_key=(name_code, *map(int, keys)))
  return np.random.default_rng(sequence)


def sample_scene(name, split, index, seed, sequence_size=None):
  """(params, poses [S, 5]) of scene `index` of a split, exactly as write_dataset draws it."""
  kind = datasets.get_kind(name)
  return kind.sample_scene(scene_rng(name, split, index, seed),
                           sequence_size or kind.sequence_size)


def render_scenes(name, split, indices, seed, sequence_size=None, frame_size=None):
  """Frames uint8 [len(indices), S, H, W, 3] and poses float32 [len(indices), S, 5]."""
  scenes = [sample_scene(name, split, index, seed, sequence_size) for index in indices]
  return render_sampled(name, scenes, frame_size)


def render_sampled(name, scenes, frame_size=None):
  """Every view of drawn scenes [(params, poses [S, 5])]: frames uint8 [N, S, H, W, 3] and poses
  float32 [N, S, 5]."""
  kind = datasets.get_kind(name)
  frame_size = frame_size or kind.frame_size
  frames, poses = [], []
  # Always the same batch shape, padded with copies of the last scene: one compilation, and the
  # same computation for a scene however many scenes are asked for.
  batch = kind.scenes_per_batch
  for start in range(0, len(scenes), batch):
    chunk = scenes[start:start + batch]
    padded = chunk + [chunk[-1]] * (batch - len(chunk))
    rendered = datasets.render_batch(name, [p for p, _ in padded], [c for _, c in padded],
                                     frame_size)
    frames.append(rendered[:len(chunk)])
    poses.append(np.stack([c for _, c in chunk]))
  return np.concatenate(frames), np.concatenate(poses).astype(np.float32)


def encode_jpeg(frame_HxWx3, quality=JPEG_QUALITY):
  """uint8 [H, W, 3] -> JPEG bytes.

  TensorFlow's encoder and PIL's took the same CPU time here (about 65 us per 64 x 64 frame,
  benchmarks/bench_scenes.py); TensorFlow is loaded anyway to write the records. Full-resolution
  chroma keeps the edges of small coloured objects.
  """
  return _tf().io.encode_jpeg(frame_HxWx3, quality=quality, chroma_downsampling=False).numpy()


def _check_metadata(path, expected):
  """Raise if an existing metadata file disagrees with the sizes about to be written."""
  with open(path, encoding="utf-8") as f:
    existing = json.load(f)
  for key in ("dataset", "frame_size", "sequence_size", "generator_version"):
    if existing.get(key) != expected[key]:
      raise ValueError(
          f"{path} says {key}={existing.get(key)!r} but this run writes {key}={expected[key]!r}; "
          "both splits of a dataset must match. Use another --root or delete that dataset.")
  return existing


def _write_metadata(root, name, split, frame_size, sequence_size, num_scenes, num_files, seed):
  path = reader.spec_path(name, root)
  kind = datasets.get_kind(name)
  metadata = {
      "dataset": name,
      "frame_size": frame_size,
      "sequence_size": sequence_size,
      "generator": "gqn_jax.scenes",
      "generator_version": GENERATOR_VERSION,
      "fov_degrees": kind.fov_degrees,
      "jpeg_quality": JPEG_QUALITY,
      "camera": "pose (x, y, z, yaw, pitch), z up, yaw from +x towards +y about +z, pitch "
                "positive looking up, radians; see docs/scenes.md",
      "splits": {},
  }
  if os.path.exists(path):
    metadata["splits"] = _check_metadata(path, metadata).get("splits", {})
  metadata["splits"][split] = {"num_scenes": num_scenes, "num_files": num_files, "seed": seed}
  with open(path + ".tmp", "w", encoding="utf-8") as f:
    json.dump(metadata, f, indent=2, sort_keys=True)
  os.replace(path + ".tmp", path)


def write_dataset(name, root, split, num_scenes, seed, num_files=None, sequence_size=None,
                  frame_size=None, overwrite=False):
  """Render `num_scenes` scenes of one split into `<root>/<name>/<split>/`; returns the files.

  Args:
    name: a procedural dataset (see gqn_jax.scenes.datasets.KINDS).
    root: directory to write under (created if missing).
    split: 'train' or 'test'.
    num_scenes: scenes to write (>= 1).
    seed: non-negative integer; the same seed gives byte-identical files.
    num_files: shards to spread the scenes over (default: one per SCENES_PER_FILE scenes).
    sequence_size: views per scene (default: DeepMind's count for the dataset).
    frame_size: frame height and width in pixels (default: DeepMind's size).
    overwrite: replace shards already in the split directory instead of refusing.
  """
  kind = datasets.get_kind(name)
  records.check_split(split)
  sequence_size = sequence_size or kind.sequence_size
  frame_size = frame_size or kind.frame_size
  if num_scenes < 1:
    raise ValueError(f"num_scenes must be at least 1; got {num_scenes}")
  if sequence_size < 2:
    raise ValueError(f"sequence_size must be at least 2 (a context view and a query view); got "
                     f"{sequence_size}")
  if frame_size < 8:
    raise ValueError(f"frame_size must be at least 8 pixels; got {frame_size}")
  num_files = num_files or max(1, -(-num_scenes // SCENES_PER_FILE))
  if not 1 <= num_files <= num_scenes:
    raise ValueError(f"num_files must be in 1..num_scenes={num_scenes}; got {num_files}")
  out_dir = records.split_dir(root, name, split)
  existing = sorted(f for f in os.listdir(out_dir) if f.endswith(".tfrecord")) if os.path.isdir(
      out_dir) else []
  if existing and not overwrite:
    raise FileExistsError(
        f"{out_dir} already holds {len(existing)} .tfrecord files (e.g. {existing[0]}); pass "
        "overwrite=True (--overwrite) to replace them or choose another root")
  os.makedirs(out_dir, exist_ok=True)
  for filename in existing:
    os.remove(os.path.join(out_dir, filename))
  _write_metadata(root, name, split, frame_size, sequence_size, num_scenes, num_files, seed)

  return _write_shards(name, split, num_scenes, seed, num_files, sequence_size, frame_size,
                       out_dir)


def _rendered_chunks(name, split, chunks, seed, sequence_size, frame_size):
  """(frames, poses) of each range of scene indices in `chunks`, in order.

  The next chunk renders on a worker thread while the caller encodes and writes this one; XLA
  and the JPEG encoder both release the GIL, so the two overlap.
  """
  with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
    pending = collections.deque()
    for chunk in chunks:
      pending.append(
          pool.submit(render_scenes, name, split, chunk, seed, sequence_size, frame_size))
      if len(pending) > 1:
        yield pending.popleft().result()
    while pending:
      yield pending.popleft().result()


def _write_shards(name, split, num_scenes, seed, num_files, sequence_size, frame_size, out_dir):
  """Render, encode and write every scene, the scenes split evenly and in order over the files."""
  tf = _tf()
  boundaries = np.linspace(0, num_scenes, num_files + 1).round().astype(int)
  chunk_size = 2 * datasets.get_kind(name).scenes_per_batch
  chunks = [(file_index, range(start, min(start + chunk_size, boundaries[file_index + 1])))
            for file_index in range(num_files)
            for start in range(boundaries[file_index], boundaries[file_index + 1], chunk_size)]
  paths = [os.path.join(out_dir, records.shard_filename(i + 1, num_files))
           for i in range(num_files)]
  shard, shard_index = None, None
  rendered = _rendered_chunks(name, split, [chunk for _, chunk in chunks], seed, sequence_size,
                              frame_size)
  try:
    for (file_index, _), (frames, poses) in zip(chunks, rendered):
      if file_index != shard_index:
        if shard is not None:
          shard.close()
          logging.info("wrote %s", paths[shard_index])
        shard, shard_index = tf.io.TFRecordWriter(paths[file_index]), file_index
      for frames_SxHxWx3, poses_Sx5 in zip(frames, poses):
        jpegs = [encode_jpeg(frame) for frame in frames_SxHxWx3]
        shard.write(records.serialize_scene(jpegs, poses_Sx5))
  finally:
    rendered.close()
    if shard is not None:
      shard.close()
  logging.info("wrote %s; %d scenes in %d files", paths[-1], num_scenes, num_files)
  return paths


def cache_key(name, num_train, num_test, seed, sequence_size=None, frame_size=None):
  """Directory name of one cached procedural dataset; changes with anything that changes it."""
  key = f"{name}-train{num_train}-test{num_test}-seed{seed}-v{GENERATOR_VERSION}"
  if sequence_size:
    key += f"-views{sequence_size}"
  if frame_size:
    key += f"-size{frame_size}"
  return key


def _partial_prefix(root):
  return f".partial-{os.path.basename(root)}-"


def _host_token():
  """This host's name as one '-'-free token: partial folders are named by host and pid, since a
  pid means nothing on another host that shares the cache folder (e.g. an NFS home)."""
  return socket.gethostname().replace("-", "_") or "localhost"


def _remove_abandoned_partials(root):
  """Deletes the unfinished renders of `root` by processes of this host that are gone (killed by
  SIGKILL or SIGTERM, which skip the cleanup below). A live process's render, and every render
  of another host (whose processes cannot be checked from here), is left alone."""
  prefix = _partial_prefix(root)
  for name in os.listdir(os.path.dirname(root)):
    if not name.startswith(prefix):
      continue
    host, _, rest = name[len(prefix):].partition("-")
    if host.isdigit():  # written before partial folders named their host: this host's
      host, rest = _host_token(), name[len(prefix):]
    owner = rest.split("-")[0]
    if host != _host_token() or not owner.isdigit() or paths.process_alive(int(owner)):
      continue
    logging.info("removing %s, an unfinished render of a process that is gone", name)
    shutil.rmtree(os.path.join(os.path.dirname(root), name), ignore_errors=True)


def ensure_procedural_dataset(name, cache_dir, num_train, num_test, seed=0, sequence_size=None,
                              frame_size=None):
  """Render both splits of a procedural dataset once into `cache_dir`; return the root to read.

  The dataset is rendered into a temporary directory beside the final one and renamed into place
  when complete, so an interrupted run leaves no half-written cache behind; a later call with
  the same arguments finds the finished root and returns at once.
  """
  datasets.get_kind(name)
  root = os.path.join(os.path.expanduser(str(cache_dir)),
                      cache_key(name, num_train, num_test, seed, sequence_size, frame_size))
  if os.path.exists(reader.spec_path(name, root)):
    return root
  os.makedirs(os.path.dirname(root), exist_ok=True)
  _remove_abandoned_partials(root)
  partial = tempfile.mkdtemp(prefix=f"{_partial_prefix(root)}{_host_token()}-{os.getpid()}-",
                             dir=os.path.dirname(root))
  try:
    logging.info("rendering procedural %s (%d train + %d test scenes) into %s", name, num_train,
                 num_test, root)
    for split, count in (("train", num_train), ("test", num_test)):
      write_dataset(name, partial, split, count, seed, sequence_size=sequence_size,
                    frame_size=frame_size)
    os.chmod(partial, 0o755)  # mkdtemp makes it private; the finished cache is not
    try:
      os.rename(partial, root)
    except OSError:
      if not os.path.exists(reader.spec_path(name, root)):
        raise
      # Another process finished the same dataset first; theirs is identical.
  finally:
    if os.path.exists(partial):
      shutil.rmtree(partial, ignore_errors=True)
  return root
