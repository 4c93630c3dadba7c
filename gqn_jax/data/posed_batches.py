"""Training and evaluation batches (docs/architecture.md) from posed scene files
(gqn_jax.data.posed_scenes), decoded without TensorFlow.

Training (`TrainBatches`), the rule of gqn_jax.data.views for scenes of any number of views:
  - scenes are taken in a fresh random order each epoch: position p of the endless sequence is
    scene order(seed, p // N)[p % N]; host h's batch b holds positions (b * hosts + h) * B ...;
  - per scene a random permutation of its S views: the first M are the context, view K the query;
  - M ~ U{0..K}, one per batch, the same on every host (views.num_context).
Every draw is a pure function of (seed, host, batch index), so the position is one integer and a
resumed run sees exactly the batches an uninterrupted one would (gqn_jax.data.prefetch, whose
background thread decodes a few batches ahead of the step).

Evaluation uses fixed views (`evaluation_views`): the context views follow pixelNeRF's SRN
protocol, views 64 and 104 first where a scene has more than 104 views, then views spread evenly
over the scene; the query is one other view per scene, drawn with the scene's index as seed.
"""

import numpy as np

from gqn_jax.data import posed_scenes
from gqn_jax.data import prefetch
from gqn_jax.data import views

PIXELNERF_CONTEXT_VIEWS = (64, 104)
_ORDER_STREAM = 21  # apart from gqn_jax.data.views' streams
_VIEW_STREAM = 22
_QUERY_STREAM = 23
_EVAL_STREAM = 1_000_000_007  # the training-time evaluation batches' context sizes


def scene_positions(seed, num_scenes, positions):
  """Scene indices at positions [...] of the endless epoch-by-epoch shuffled sequence."""
  positions = np.asarray(positions, np.int64)
  out = np.empty_like(positions)
  for epoch in np.unique(positions // num_scenes):
    order = np.random.default_rng([seed, _ORDER_STREAM, int(epoch)]).permutation(num_scenes)
    chosen = positions // num_scenes == epoch
    out[chosen] = order[positions[chosen] % num_scenes]
  return out


def training_views(seed, process_index, batch_index, slot, num_views, max_context):
  """The K + 1 views of one scene of a batch: context candidates, then the query."""
  rng = np.random.default_rng([seed, _VIEW_STREAM, process_index, batch_index, slot])
  return rng.permutation(num_views)[:max_context + 1]


def evaluation_views(num_views, max_context, scene_index):
  """[query, context_1 .. context_K]: the fixed views a held-out scene is scored on."""
  context = [view for view in PIXELNERF_CONTEXT_VIEWS
             if num_views > PIXELNERF_CONTEXT_VIEWS[-1]][:max_context]
  for view in np.linspace(0, num_views, max_context + 1, endpoint=False).astype(int):
    if len(context) < max_context and int(view) not in context:
      context.append(int(view))
  unused = [view for view in range(num_views) if view not in context]
  context += unused[:max_context - len(context)]
  rest = np.setdiff1d(np.arange(num_views), context)
  query = int(np.random.default_rng([_QUERY_STREAM, scene_index]).choice(rest))
  return np.array([query] + context)


class TrainBatches(prefetch.PrefetchedBatches):
  """An endless iterator of one host's training batches over a PosedDataset's train split."""

  thread_name = "gqn_jax-posed-batches"

  def __init__(self, dataset, *, batch_size, max_context, image_size, seed, process_index=0,
               process_count=1, prefetch_batches=4):
    super().__init__(prefetch_batches)
    self.dataset, self.batch_size, self.max_context = dataset, batch_size, max_context
    self.image_size, self.seed = image_size, seed
    self.process_index, self.process_count = process_index, process_count

  def make_batch(self, batch_index):
    scenes = self.dataset.scenes["train"]
    first = (batch_index * self.process_count + self.process_index) * self.batch_size
    chosen = scene_positions(self.seed, len(scenes), first + np.arange(self.batch_size))
    frames, cameras = [], []
    for slot, scene_index in enumerate(chosen):
      scene = scenes[scene_index]
      view_indices = training_views(self.seed, self.process_index, batch_index, slot,
                                    scene.num_views, self.max_context)
      frames.append(posed_scenes.read_views(scene, view_indices, self.image_size))
      cameras.append(self.dataset.poses["train"][scene_index][view_indices])
    context_size = views.num_context(self.seed, batch_index, self.max_context)
    return views.assemble(np.stack(frames), np.stack(cameras), context_size, self.max_context)


def test_scene(dataset, index, max_context, image_size):
  """uint8 frames [K + 1, H, W, 3] and poses [K + 1, 5] of held-out scene `index`, its
  evaluation views in order (query first)."""
  scene = dataset.scenes["test"][index]
  chosen = evaluation_views(scene.num_views, max_context, index)
  return (posed_scenes.read_views(scene, chosen, image_size),
          dataset.poses["test"][index][chosen])


class TestBatches:
  """Training-time evaluation batches over the first `num_scenes` held-out scenes, on their
  evaluation views: the same batches at every evaluation; iterating starts a fresh pass."""

  def __init__(self, dataset, *, batch_size, max_context, image_size, num_scenes, seed):
    self.dataset, self.batch_size, self.max_context = dataset, batch_size, max_context
    self.image_size, self.seed = image_size, seed
    self.num_scenes = min(num_scenes, len(dataset.scenes["test"]))
    self._scenes = None

  def __iter__(self):
    if self._scenes is None:  # decoded once: evaluations repeat every few hundred steps
      self._scenes = [test_scene(self.dataset, index, self.max_context, self.image_size)
                      for index in range(self.num_scenes)]
    batch_index = 0
    while True:
      rows = (batch_index * self.batch_size + np.arange(self.batch_size)) % self.num_scenes
      frames = np.stack([self._scenes[row][0] for row in rows])
      cameras = np.stack([self._scenes[row][1] for row in rows])
      # [query, contexts] -> [contexts, query], the order views.assemble takes
      order = np.r_[1:self.max_context + 1, 0]
      context_size = views.num_context(self.seed + _EVAL_STREAM, batch_index, self.max_context)
      yield views.assemble(frames[:, order], cameras[:, order], context_size, self.max_context)
      batch_index += 1
