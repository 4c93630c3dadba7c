"""Which views of a scene a training batch uses (Algorithm S1), for inputs that are not tf.data.

The rule, the same as the tf.data pipeline's (gqn_jax.data.pipeline._make_batch, which has to
state it in TensorFlow ops so that its iterator stays serialisable):
  - one number of context views M ~ U{0..K} per batch, the same on every host;
  - per scene a random permutation of its S views; the first M are the context (slots 0..M-1, the
    other K - M slots zero and masked out) and view K of the permutation is the query, so the
    query is never one of the context views.
Every draw is a pure function of (seed, batch index) and, for the permutations, the host: a
stream resumed at batch b repeats the batches an uninterrupted one would have made.
tests/test_views.py checks both implementations against this rule.
"""

import numpy as np

# Streams of the random draws, apart from each other and from data/pipeline.py's.
_CONTEXT_SIZE_STREAM = 11
_VIEW_STREAM = 12


def num_context(seed, batch_index, max_context):
  """M of batch `batch_index`: uniform on 0..max_context, the same on every host."""
  rng = np.random.default_rng([seed, _CONTEXT_SIZE_STREAM, batch_index])
  return int(rng.integers(0, max_context + 1))


def view_orders(seed, process_index, batch_index, batch_size, views_per_scene):
  """[batch_size, views_per_scene] permutations of view indices for one host's batch."""
  rng = np.random.default_rng([seed, _VIEW_STREAM, process_index, batch_index])
  return np.argsort(rng.uniform(size=(batch_size, views_per_scene)), axis=1)


def chosen_views(order_BxS, max_context):
  """The K + 1 views a batch needs per scene: [B, K + 1], context candidates then the query."""
  return order_BxS[:, :max_context + 1]


def assemble(frames_BxVxHxWx3, cameras_BxVx5, context_size, max_context):
  """A batch (docs/architecture.md) from the chosen views of `chosen_views`, uint8 or float.

  frames/cameras hold, per scene, its K + 1 chosen views in order: the first `context_size` are
  the context, the last is the query.
  """
  frames = np.asarray(frames_BxVxHxWx3)
  if frames.dtype == np.uint8:
    frames = frames.astype(np.float32) / 255.0
  frames = frames.astype(np.float32)
  cameras = np.asarray(cameras_BxVx5, np.float32)
  batch_size = frames.shape[0]
  real_K = np.arange(max_context) < context_size
  context_frames = np.where(real_K[None, :, None, None, None], frames[:, :max_context], 0.0)
  context_cameras = np.where(real_K[None, :, None], cameras[:, :max_context], 0.0)
  return {
      "context_frames": context_frames.astype(np.float32),
      "context_cameras": context_cameras.astype(np.float32),
      "context_mask": np.broadcast_to(real_K, (batch_size, max_context)).copy(),
      "query_frame": frames[:, max_context],
      "query_camera": cameras[:, max_context],
  }
