"""Training scenes rendered in the training process: fresh scenes at every step, no epochs, no
TensorFlow (config.data.source='stream').

Scene i of host p is a pure function of (config.seed, dataset, p, i) (writer.keyed_rng with
STREAM_CODE), so hosts render disjoint scenes and no streamed scene is a scene of the written
train or test splits. Batch b of a host holds its scenes b*B .. b*B + B - 1, with the views chosen
by gqn_jax.data.views (the same rule as the tf.data pipeline); only the K + 1 views a batch uses
are rendered. A background thread renders a few batches ahead of the training step, and the
position in the stream is one integer, the number of batches handed out (gqn_jax.data.prefetch):
a resumed run continues with exactly the batches an uninterrupted one would have seen.

The held-out scenes are not streamed: `test_scenes` renders the first N scenes of the procedural
test split (the scenes `python -m gqn_jax.scenes` writes for that split, without the JPEG step),
once per process, and evaluation reads only those.
"""

import functools

import numpy as np

from gqn_jax.data import prefetch
from gqn_jax.data import views
from gqn_jax.scenes import datasets
from gqn_jax.scenes import writer

TEST_SEED = 0  # the procedural test split's seed (runs.data_source._PROCEDURAL_SEED)
_EVAL_STREAM = 1_000_000_007  # the evaluation batches' view draws, apart from training's


def stream_scene(name, seed, process_index, index, sequence_size=None):
  """(params, poses [S, 5]) of streamed training scene `index` of host `process_index`."""
  kind = datasets.get_kind(name)
  rng = writer.keyed_rng(name, seed, writer.STREAM_CODE, process_index, index)
  return kind.sample_scene(rng, sequence_size or kind.sequence_size)


def render_views(name, scenes, views_BxV, frame_size):
  """uint8 frames [B, V, H, W, 3] and poses [B, V, 5] of the chosen views of each scene."""
  poses = [poses_Sx5[chosen] for (_, poses_Sx5), chosen in zip(scenes, views_BxV)]
  frames = datasets.render_batch(name, [params for params, _ in scenes], poses, frame_size)
  return frames, np.stack(poses).astype(np.float32)


class SceneStream(prefetch.PrefetchedBatches):
  """An endless iterator of training batches (numpy dicts, docs/architecture.md) for one host."""

  thread_name = "gqn_jax-scene-stream"

  def __init__(self, name, *, batch_size, max_context, image_size, seed, process_index=0,
               prefetch_batches=4):
    super().__init__(prefetch_batches)
    kind = datasets.get_kind(name)
    if not 1 <= max_context < kind.sequence_size:
      raise ValueError(f"max_context={max_context} must be in 1..{kind.sequence_size - 1} for "
                       f"{name} ({kind.sequence_size} views per scene)")
    self.name, self.batch_size, self.max_context = name, batch_size, max_context
    self.image_size, self.seed, self.process_index = image_size, seed, process_index
    self.views_per_scene = kind.sequence_size

  def make_batch(self, batch_index):
    """Batch `batch_index` of this host, computed directly (the thread calls this too)."""
    first = batch_index * self.batch_size
    scenes = [stream_scene(self.name, self.seed, self.process_index, first + offset)
              for offset in range(self.batch_size)]
    order = views.view_orders(self.seed, self.process_index, batch_index, self.batch_size,
                              self.views_per_scene)
    chosen = views.chosen_views(order, self.max_context)
    frames, cameras = render_views(self.name, scenes, chosen, self.image_size)
    context_size = views.num_context(self.seed, batch_index, self.max_context)
    return views.assemble(frames, cameras, context_size, self.max_context)


@functools.cache
def _rendered_test_split(name, num_scenes, image_size):
  frames, cameras = writer.render_scenes(name, "test", range(num_scenes), TEST_SEED,
                                         frame_size=image_size)
  frames.setflags(write=False)
  cameras.setflags(write=False)
  return frames, cameras


def test_scenes(name, num_scenes, image_size):
  """The held-out scenes: uint8 frames [N, S, H, W, 3] and poses [N, S, 5], rendered once."""
  return _rendered_test_split(name, int(num_scenes), int(image_size))


def training_scenes(name, seed, num_scenes, image_size, process_index=0):
  """The first streamed training scenes, all views: uint8 [N, S, H, W, 3], poses [N, S, 5]
  (the mean training image and background baselines are computed from these)."""
  scenes = [stream_scene(name, seed, process_index, index) for index in range(num_scenes)]
  return writer.render_sampled(name, scenes, image_size)


class TestBatches:
  """The evaluation batches over the held-out scenes: the same batches at every evaluation.

  Iterating starts a fresh pass (as tf.data's test dataset does) and cycles through the scenes.
  """

  def __init__(self, name, *, batch_size, max_context, image_size, num_scenes, seed):
    self.name, self.batch_size, self.max_context = name, batch_size, max_context
    self.image_size, self.num_scenes, self.seed = image_size, num_scenes, seed

  def __iter__(self):
    frames, cameras = test_scenes(self.name, self.num_scenes, self.image_size)
    views_per_scene = frames.shape[1]
    batch_index = 0
    while True:
      rows = (batch_index * self.batch_size + np.arange(self.batch_size)) % self.num_scenes
      order = views.view_orders(self.seed, _EVAL_STREAM, batch_index, self.batch_size,
                                views_per_scene)
      chosen = views.chosen_views(order, self.max_context)
      context_size = views.num_context(self.seed + _EVAL_STREAM, batch_index, self.max_context)
      yield views.assemble(frames[rows[:, None], chosen], cameras[rows[:, None], chosen],
                           context_size, self.max_context)
      batch_index += 1
