"""tf.data training and evaluation batches from GQN TFRecords (Algorithm S1's data side).

Stages, in order, and why they are where they are:
  1. files: this host's share (`shard_files`), shuffled per epoch, repeated, then read
     `cycle_length` at a time (parallel, deterministic interleave). Each file's readable bytes are
     counted, so a truncated or corrupt file is reported by name when its readable part ends.
  2. parse and check records in chunks (feature sizes, JPEG markers and segment headers, frame
     sizes; no decoding yet), before the shuffle buffer, so that a bad record is reported with its
     file and index.
  3. shuffle scenes, batch them (still as JPEG bytes), and number the batches: every random choice
     is a stateless function of (seed, batch index), which makes the stream deterministic for a
     seed, checkpointable with `tf.train.Checkpoint(iterator=iter(ds))`, and gives every host the
     same context size M for a batch.
  4. per batch: pick M + 1 distinct views per scene (M context views + the query), decode only
     those JPEGs, convert to float in [0, 1] and resize; the K - M empty context slots are zero
     and the mask says which are real.
No py_function/numpy_function anywhere: the iterator must stay serialisable.
"""

import functools
import sys

import numpy as np

from gqn_jax.data import reader
from gqn_jax.data import records

# The tf.data module: TensorFlow is imported here once, quietly and with its view of any GPU or TPU
# hidden (reader.import_tf), so that it never competes with JAX for the accelerator.
tf = reader.import_tf()

_JPEG_START = b"\xff\xd8\xff"
_JPEG_END = b"\xff\xd9"
_JPEG_TAIL_BYTES = 16  # the end marker must lie this close to the end (encoders may pad a little)
_MAX_HEADER_SEGMENTS = 24  # JPEG segments read before the scan must start (encoders write ~6-12)
_RECORD_FRAMING_BYTES = 16  # TFRecord: 8-byte length, 4-byte length CRC, data, 4-byte data CRC
_CHUNK_VIEWS = 640  # records are checked in chunks of about this many views
# Streams of the stateless random numbers; the context size stream ignores process_index.
_CONTEXT_SIZE_STREAM = 1
_VIEW_STREAM = 2
_SHUFFLE_STREAM = 3


def shard_files(files, process_index, process_count):
  """This host's files: every process_count-th file starting at process_index (balanced, disjoint).

  Raises ValueError when there are fewer files than processes, since a host with no files would
  stall every collective step.
  """
  if not 0 <= process_index < process_count:
    raise ValueError(f"process_index {process_index} is outside 0..{process_count - 1}")
  if len(files) < process_count:
    raise ValueError(
        f"{len(files)} shard files cannot be split across {process_count} processes (each needs "
        "at least one); download more shard files or use fewer hosts")
  return list(files)[process_index::process_count]


def create_dataset(dataset_files, *, split, batch_size, max_context, image_size, seed,
                   shuffle=True, repeat=True, process_index=0, process_count=1,
                   skip_bad_records=False, shuffle_buffer_size=1024, cycle_length=16,
                   prefetch_batches=2):
  """Batches of GQN scenes as a tf.data.Dataset (see docs/architecture.md, "Batch").

  Args:
    dataset_files: the dataset on disk, from `reader.find_dataset` (its shard files, frame size
      and views per scene).
    split: 'train' or 'test'.
    batch_size: scenes per batch on this host.
    max_context: K, the number of context slots; must be below the views per scene.
    image_size: side of the frames in the batch; None keeps the stored size, otherwise frames are
      resized (bilinear with antialiasing, e.g. mazes 84 -> 64).
    seed: integer; the batches are a deterministic function of it.
    shuffle: shuffle files and scenes (turn off for ordered evaluation).
    repeat: cycle through the files forever.
    process_index, process_count: this host's share of the files (`shard_files`).
    skip_bad_records: skip bad records and the unreadable tails of damaged files instead of
      raising; each is printed to stderr as "gqn_jax: bad GQN data: skipped (N so far): <what
      and where>". A JPEG of the wrong size (found only when its batch is made) costs its
      whole batch, logged by tf.data as "Ignoring error".
    shuffle_buffer_size: scenes in the shuffle buffer (it is saved in iterator checkpoints).
    cycle_length: files read concurrently.
    prefetch_batches: finished batches kept ready (also saved in iterator checkpoints).

  Returns:
    A dataset of dicts: context_frames float32 [B, K, H, W, 3] in [0, 1], context_cameras float32
    [B, K, 5] (raw poses), context_mask bool [B, K], query_frame float32 [B, H, W, 3],
    query_camera float32 [B, 5]; the last partial batch is dropped.
  """
  frame_size, sequence_size = dataset_files.frame_size, dataset_files.views_per_scene
  _check_sizes(dataset_files.name, batch_size, max_context, image_size, sequence_size)
  files = shard_files(dataset_files.files(split), process_index, process_count)
  scenes = read_checked_scenes(
      files, sequence_size=sequence_size, frame_size=frame_size,
      skip_bad_records=skip_bad_records, shuffle=shuffle, repeat=repeat,
      cycle_length=cycle_length, seed=_int_seed(seed, process_index, 0))
  if shuffle:
    scenes = scenes.shuffle(shuffle_buffer_size, seed=_int_seed(seed, process_index, 1),
                            reshuffle_each_iteration=True)
  make_batch = functools.partial(
      _make_batch, batch_size=batch_size, max_context=max_context, frame_size=frame_size,
      image_size=image_size or frame_size,
      context_size_key=tf.constant([seed, _CONTEXT_SIZE_STREAM], tf.int64),
      view_key=tf.constant(_stream_key(seed, process_index, _VIEW_STREAM), tf.int64))
  batches = scenes.batch(batch_size, drop_remainder=True).enumerate().map(
      make_batch, num_parallel_calls=tf.data.AUTOTUNE)
  if skip_bad_records:
    batches = batches.ignore_errors(log_warning=True)
  options = tf.data.Options()
  options.deterministic = True
  return batches.with_options(options).prefetch(prefetch_batches)


def _check_sizes(name, batch_size, max_context, image_size, sequence_size):
  for key, value in (("batch_size", batch_size), ("max_context", max_context)):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
      raise ValueError(f"{key} must be a positive integer, got {value!r}")
  reader.check_context_fits(max_context, sequence_size, name)
  if image_size is not None and (not isinstance(image_size, (int, np.integer))
                                 or isinstance(image_size, bool) or image_size < 1):
    raise ValueError(f"image_size must be a positive integer or None, got {image_size!r}")


def _int_seed(seed, process_index, stream):
  """A tf.data shuffle seed (Python int) for one stream of one host."""
  return int(np.random.SeedSequence([seed, process_index, _SHUFFLE_STREAM, stream])
             .generate_state(1, np.uint32)[0])


def _stream_key(seed, process_index, stream):
  # Distinct hosts get distinct view choices; the stream id keeps them apart from other uses.
  return [seed, stream * 1_000_003 + process_index]


def read_checked_scenes(files, *, sequence_size, frame_size, chunk_size=None,
                        skip_bad_records=False, shuffle=False, repeat=False, cycle_length=16,
                        seed=0):
  """Checked, undecoded scenes: (path, index in file, jpegs [S], cameras [S, 5]) per record.

  Files are read `cycle_length` at a time, one record from each in turn (with cycle_length=1 and
  no shuffle: file order). A bad record or damaged file raises InvalidArgumentError naming it;
  with skip_bad_records it is dropped instead, printed to stderr with a running count (kept in
  the iterator's state, so it survives checkpoints). Records are parsed `chunk_size` at a time
  (default: about 640 views' worth) to share the per-call cost.
  """
  chunk_size = chunk_size or max(1, _CHUNK_VIEWS // sequence_size)
  sizes = reader.file_sizes(files)
  file_list = tf.data.Dataset.from_tensor_slices((list(files), np.asarray(sizes, np.int64)))
  if shuffle:
    file_list = file_list.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
  if repeat:
    file_list = file_list.repeat()
  read = functools.partial(_read_file, sequence_size=sequence_size, frame_size=frame_size,
                           chunk_size=chunk_size, skip_bad_records=skip_bad_records)
  scenes = file_list.interleave(read, cycle_length=min(cycle_length, len(files)), block_length=1,
                                num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  if not skip_bad_records:
    return scenes.map(lambda path, index, jpegs_S, cameras_Sx5, problem: (
        path, index, jpegs_S, cameras_Sx5))

  def count_bad(num_bad, scene):
    is_bad = tf.strings.length(scene[-1]) > 0
    num_bad += tf.cast(is_bad, tf.int64)
    printed = tf.cond(is_bad, lambda: _print_problem(tf.strings.join([
        "skipped (", tf.strings.as_string(num_bad), " so far): ", scene[-1]])), lambda: True)
    with tf.control_dependencies([printed]):
      return num_bad, (tf.logical_not(is_bad),) + scene[:-1]

  def is_good(good, *scene):
    del scene
    return good

  def drop_flag(good, *scene):
    del good
    return scene

  scenes = scenes.scan(tf.constant(0, tf.int64), count_bad).filter(is_good).map(drop_flag)
  # A record that passes the TFRecord checksums but is no tf.train.Example makes the parser
  # itself fail (with TF's message, for its whole chunk); ignore_errors is the last resort.
  return scenes.ignore_errors(log_warning=True)


def _read_file(path, size, *, sequence_size, frame_size, chunk_size, skip_bad_records):
  """One file's scenes with a problem string each ('' when fine), checked in chunks.

  TFRecordDataset's own error for a truncated or corrupt file does not say which file; so it is
  swallowed here (which ends this file's records) and replaced by one that does, raised (or, when
  skipping, reported) once the readable records are used up.
  """
  chunks = tf.data.TFRecordDataset(path).ignore_errors().batch(chunk_size)
  # batch() never yields an empty chunk, so an empty one marks the end of the file.
  chunks = chunks.concatenate(tf.data.Dataset.from_tensors(tf.zeros([0], tf.string)))

  def count(state, records_N):
    consumed, num_read = state
    num_records = tf.size(records_N, out_type=tf.int64)
    consumed += tf.reduce_sum(tf.cast(tf.strings.length(records_N), tf.int64))
    consumed += _RECORD_FRAMING_BYTES * num_records
    damaged = tf.logical_and(tf.equal(num_records, 0), tf.not_equal(consumed, size))
    problem = _problem(
        damaged, "{} is truncated or corrupt: only its first {} records ({} of {} bytes) are "
        "readable. Download it again (gsutil cp gs://gqn-dataset/<dataset>/<split>/<file> <that "
        "path>), delete it, or pass skip_bad_records=True.", [path, num_read, consumed, size])
    # A damaged file's end becomes one placeholder record carrying the problem.
    records_N = tf.cond(damaged, lambda: tf.constant([b""]), lambda: records_N)
    indices_N = num_read + tf.range(tf.size(records_N, out_type=tf.int64))
    return (consumed, num_read + num_records), (indices_N, records_N, problem)

  chunks = chunks.scan((tf.constant(0, tf.int64), tf.constant(0, tf.int64)), count)
  chunks = chunks.filter(lambda indices_N, records_N, problem: tf.size(records_N) > 0)
  parse = functools.partial(_parse_chunk, sequence_size, frame_size, path,
                            skip_bad_records=skip_bad_records)
  return chunks.map(parse).unbatch()


def _problem(is_bad, template, inputs):
  """A message from template ('{}' placeholders) and inputs when is_bad, else ''.

  Vectorised: inputs may be [N] (with scalars broadcast); the message is only built when needed.
  """
  def message():
    pieces = template.split("{}")
    parts = [pieces[0]]
    for value, piece in zip(inputs, pieces[1:]):
      parts += [value if value.dtype == tf.string else tf.strings.as_string(value), piece]
    return tf.where(is_bad, tf.strings.join(parts), "")

  return tf.cond(tf.reduce_any(is_bad), message, lambda: tf.where(is_bad, "", ""))


def _print_problem(message):
  """Prints to stderr; tf.data's own logging goes through TF's C++ log, often silenced."""
  with tf.control_dependencies([tf.print("gqn_jax: bad GQN data:", message,
                                         output_stream=sys.stderr)]):
    return tf.constant(True)


def _check(ok, template, inputs):
  """True, or an InvalidArgumentError with the formatted message (also printed) when not `ok`."""
  return _raise_problem(_problem(tf.logical_not(ok), template, inputs))


def _raise_problem(problem):
  """True if `problem` is '', else an InvalidArgumentError (and stderr line) saying it."""
  def fail():
    with tf.control_dependencies([_print_problem(problem)]):
      with tf.control_dependencies([tf.debugging.Assert(False, [problem])]):
        return tf.constant(False)

  return tf.cond(tf.equal(problem, ""), lambda: tf.constant(True), fail)


def _parse_chunk(sequence_size, frame_size, path, indices_N, records_N, file_problem, *,
                 skip_bad_records):
  """Parses N scenes and checks feature sizes, JPEG markers and headers (no decoding yet).

  Returns per scene (path, index, jpegs [S], cameras [S, 5], problem); bad scenes get placeholder
  features. Unless skipping, any problem raises here.
  """
  parsed = tf.io.parse_example(records_N, {
      records.FRAMES_KEY: tf.io.RaggedFeature(tf.string),
      records.CAMERAS_KEY: tf.io.RaggedFeature(tf.float32),
  })
  frames_N = tf.cast(parsed[records.FRAMES_KEY].row_lengths(), tf.int64)
  cameras_N = tf.cast(parsed[records.CAMERAS_KEY].row_lengths(), tf.int64)
  wrong_size_N = tf.logical_and(
      tf.equal(file_problem, ""),  # a damaged file's placeholder has only the file's problem
      tf.logical_or(tf.not_equal(frames_N, sequence_size),
                    tf.not_equal(cameras_N, 5 * sequence_size)))
  # Padding or cutting to S views keeps shapes static; a record of another size is bad anyway.
  jpegs_NxS = parsed[records.FRAMES_KEY].to_tensor(shape=[None, sequence_size])
  cameras_NxSx5 = tf.reshape(
      parsed[records.CAMERAS_KEY].to_tensor(shape=[None, 5 * sequence_size]),
      [-1, sequence_size, 5])
  is_jpeg_NxS = tf.reshape(_looks_like_jpeg(tf.reshape(jpegs_NxS, [-1])), [-1, sequence_size])
  checked_N = tf.logical_and(tf.equal(file_problem, ""), tf.logical_not(wrong_size_N))
  not_jpeg_N = tf.logical_and(checked_N, tf.logical_not(tf.reduce_all(is_jpeg_NxS, axis=1)))
  headers_ok, heights, widths = _jpeg_headers(tf.reshape(jpegs_NxS, [-1]))
  headers_ok_NxS = tf.reshape(headers_ok, [-1, sequence_size])
  is_jpeg_N = tf.logical_and(checked_N, tf.logical_not(not_jpeg_N))
  bad_header_N = tf.logical_and(is_jpeg_N, tf.logical_not(tf.reduce_all(headers_ok_NxS, axis=1)))
  right_size_NxS = tf.reshape(tf.logical_or(  # what could not be read is reported above
      tf.logical_not(headers_ok),
      tf.logical_and(tf.equal(heights, frame_size), tf.equal(widths, frame_size))),
                              [-1, sequence_size])
  wrong_frame_N = tf.logical_and(tf.logical_and(is_jpeg_N, tf.logical_not(bad_header_N)),
                                 tf.logical_not(tf.reduce_all(right_size_NxS, axis=1)))
  first_wrong_N = tf.argmin(tf.cast(right_size_NxS, tf.int32), axis=1, output_type=tf.int32)
  wrong_at_N = tf.range(tf.shape(first_wrong_N)[0]) * sequence_size + first_wrong_N
  size_problem_N = _problem(
      wrong_size_N, "record {} of {} has {} frames and {} cameras values; this dataset needs "
      f"{sequence_size} and {5 * sequence_size} ({sequence_size} views). Is it a file of another "
      "dataset? Re-download the file or pass skip_bad_records=True.",
      [indices_N, path, frames_N, cameras_N])
  jpeg_problem_N = _problem(
      not_jpeg_N, "view {} of record {} of {} is not a complete JPEG (no JPEG start or end "
      "marker). Re-download the file or pass skip_bad_records=True.",
      [tf.argmin(tf.cast(is_jpeg_NxS, tf.int32), axis=1), indices_N, path])
  header_problem_N = _problem(
      bad_header_N, "view {} of record {} of {} is a damaged JPEG (its segment headers are "
      "broken: the decoder would give up). Re-download the file or pass skip_bad_records=True.",
      [tf.argmin(tf.cast(headers_ok_NxS, tf.int32), axis=1), indices_N, path])
  frame_problem_N = _problem(
      wrong_frame_N, "view {} of record {} of {} is {}x{} pixels; this dataset has "
      f"{frame_size}x{frame_size} frames. Is it a file of another dataset?",
      [first_wrong_N, indices_N, path, tf.gather(heights, wrong_at_N),
       tf.gather(widths, wrong_at_N)])
  # A NaN or inf pose would make the loss NaN steps later, with nothing to say which record.
  finite_NxS = tf.reduce_all(tf.math.is_finite(cameras_NxSx5), axis=2)
  bad_pose_N = tf.logical_and(checked_N, tf.logical_not(tf.reduce_all(finite_NxS, axis=1)))
  pose_problem_N = _problem(
      bad_pose_N, "view {} of record {} of {} has a non-finite camera pose (NaN or inf: "
      "training on it would diverge). Re-download the file or pass skip_bad_records=True.",
      [tf.argmin(tf.cast(finite_NxS, tf.int32), axis=1), indices_N, path])
  problem_N = tf.strings.join([file_problem, size_problem_N, jpeg_problem_N, header_problem_N,
                               frame_problem_N, pose_problem_N])
  if not skip_bad_records:
    first = tf.argmax(tf.cast(tf.strings.length(problem_N) > 0, tf.int32))
    with tf.control_dependencies([_raise_problem(problem_N[first])]):
      problem_N = tf.identity(problem_N)
  paths_N = tf.fill(tf.shape(indices_N), path)
  return paths_N, indices_N, jpegs_NxS, cameras_NxSx5, problem_N


def _looks_like_jpeg(jpegs):
  """[N] bool: starts with a JPEG start-of-image marker and ends with an end-of-image marker."""
  starts = tf.equal(tf.strings.substr(jpegs, 0, len(_JPEG_START)), _JPEG_START)
  lengths = tf.strings.length(jpegs)
  tails = tf.strings.substr(jpegs, tf.maximum(lengths - _JPEG_TAIL_BYTES, 0),
                            tf.fill(tf.shape(lengths), _JPEG_TAIL_BYTES))
  tail_bytes = tf.io.decode_raw(tails, tf.uint8, fixed_length=_JPEG_TAIL_BYTES)  # [N, 16]
  ends = tf.reduce_any(tf.logical_and(tf.equal(tail_bytes[:, :-1], _JPEG_END[0]),
                                      tf.equal(tail_bytes[:, 1:], _JPEG_END[1])), axis=1)
  return tf.logical_and(starts, ends)


def _jpeg_headers(jpegs_N):
  """([N] bool, [N] height, [N] width): whether the chain of JPEG segments from the start marker
  to the scan is intact, and the size its frame header gives (0 where there is none).

  Vectorised over N with a fixed number of steps, so checking every view of every record costs
  little (decoding them all here cut the pipeline's throughput 13x). This finds what makes the
  decoder give up (a damaged or missing table, a broken marker: "jpeg::Uncompress failed" with no
  file named) and frames of another size. Damage inside the compressed pixel data is not found:
  the decoder mostly draws it without complaint, and the format has no per-image checksum.
  """
  lengths = tf.strings.length(jpegs_N)
  position = tf.fill(tf.shape(lengths), 2)  # just after the start-of-image marker
  ok = lengths >= 4
  reached_scan = tf.zeros_like(ok)
  height = width = tf.zeros_like(lengths)

  def read(offset, count):  # [N, count] bytes at `offset`, zeros where a JPEG is too short
    inside = offset + count <= lengths
    start = tf.where(inside, offset, 0)
    data = tf.io.decode_raw(tf.strings.substr(jpegs_N, start, tf.fill(tf.shape(lengths), count)),
                            tf.uint8, fixed_length=count)
    return tf.cast(data, tf.int32) * tf.cast(inside[:, None], tf.int32), inside

  def step(count, position, ok, reached_scan, height, width):
    active = tf.logical_and(ok, tf.logical_not(reached_scan))
    segment, inside = read(position, 4)  # FF, marker, 2-byte length (which counts itself)
    marker, length = segment[:, 1], segment[:, 2] * 256 + segment[:, 3]
    valid = inside & tf.equal(segment[:, 0], 0xFF) & (length >= 2) & (
        position + 2 + length <= lengths)
    ok = tf.logical_and(ok, tf.logical_or(tf.logical_not(active), valid))
    is_frame = active & valid & (marker >= 0xC0) & (marker <= 0xC2)  # baseline/progressive SOF
    frame, _ = read(position + 5, 4)  # height and width, big-endian
    height = tf.where(is_frame, frame[:, 0] * 256 + frame[:, 1], height)
    width = tf.where(is_frame, frame[:, 2] * 256 + frame[:, 3], width)
    reached_scan = tf.logical_or(reached_scan, active & valid & tf.equal(marker, 0xDA))
    position = tf.where(active & valid, position + 2 + length, position)
    return count + 1, position, ok, reached_scan, height, width

  def more(count, position, ok, reached_scan, height, width):
    del position, height, width
    return (count < _MAX_HEADER_SEGMENTS) & tf.reduce_any(ok & tf.logical_not(reached_scan))

  _, _, ok, reached_scan, height, width = tf.while_loop(
      more, step, (tf.constant(0), position, ok, reached_scan, height, width))
  return ok & reached_scan & (height > 0), height, width


def _make_batch(batch_index, scenes, *, batch_size, max_context, frame_size, image_size,
                context_size_key, view_key):
  """A training batch from B checked scenes: M context views and a distinct query per scene.

  Only the B (M + 1) JPEGs in use are decoded.
  """
  paths_B, indices_B, jpegs_BxS, cameras_BxSx5 = scenes
  num_views = jpegs_BxS.shape[1]
  num_context = tf.random.stateless_uniform(
      [], seed=tf.random.experimental.stateless_fold_in(context_size_key, batch_index),
      minval=0, maxval=max_context + 1, dtype=tf.int32)  # M ~ U{0..K}, as in Algorithm S1
  order_BxS = tf.argsort(tf.random.stateless_uniform(
      [batch_size, num_views],
      seed=tf.random.experimental.stateless_fold_in(view_key, batch_index)), axis=1)
  # The query is always position K of the permutation, so it differs from every context view.
  chosen_BxM1 = tf.concat(
      [order_BxS[:, :num_context], order_BxS[:, max_context:max_context + 1]], axis=1)
  num_chosen = num_context + 1
  decode = functools.partial(_decode, frame_size)
  frames = tf.map_fn(
      decode, (tf.reshape(tf.gather(jpegs_BxS, chosen_BxM1, batch_dims=1), [-1]),
               tf.repeat(paths_B, num_chosen), tf.repeat(indices_B, num_chosen)),
      fn_output_signature=tf.TensorSpec([frame_size, frame_size, 3], tf.uint8))
  frames = to_float(image_size, frames)
  frames_BxM1 = tf.reshape(frames, [batch_size, num_chosen, image_size, image_size, 3])
  padding = [[0, 0], [0, max_context - num_context]]
  context_cameras = tf.gather(cameras_BxSx5, order_BxS[:, :num_context], batch_dims=1)
  return {
      "context_frames": tf.ensure_shape(
          tf.pad(frames_BxM1[:, :num_context], padding + [[0, 0]] * 3),
          [batch_size, max_context, image_size, image_size, 3]),
      "context_cameras": tf.ensure_shape(tf.pad(context_cameras, padding + [[0, 0]]),
                                         [batch_size, max_context, 5]),
      "context_mask": tf.broadcast_to(tf.range(max_context) < num_context,
                                      [batch_size, max_context]),
      "query_frame": tf.ensure_shape(frames_BxM1[:, num_context],
                                     [batch_size, image_size, image_size, 3]),
      "query_camera": tf.ensure_shape(
          tf.gather(cameras_BxSx5, order_BxS[:, max_context], batch_dims=1), [batch_size, 5]),
  }


def _decode(frame_size, item):
  jpeg, path, index = item
  frame = tf.io.decode_jpeg(jpeg, channels=3)
  shape = tf.shape(frame)
  size_ok = tf.logical_and(tf.equal(shape[0], frame_size), tf.equal(shape[1], frame_size))
  with tf.control_dependencies([_check(
      size_ok, "a view of record {} of {} is {}x{} pixels; this dataset has "
      f"{frame_size}x{frame_size} frames. Is it a file of another dataset?",
      [index, path, shape[0], shape[1]])]):
    return tf.ensure_shape(tf.identity(frame), [frame_size, frame_size, 3])


def to_float(image_size, frames_NxHxWx3):
  """uint8 (or float in [0, 1]) frames -> float32 in [0, 1] at image_size (bilinear with
  antialiasing); gqn_jax.trained.restore converts test scenes with it too."""
  frames = tf.convert_to_tensor(frames_NxHxWx3)
  if frames.dtype == tf.uint8:
    frames = tf.cast(frames, tf.float32) / 255.0
  frames = tf.cast(frames, tf.float32)
  if frames.shape[1] != image_size:
    frames = tf.image.resize(frames, [image_size, image_size], method="bilinear", antialias=True)
    frames = tf.clip_by_value(frames, 0.0, 1.0)
  return frames
