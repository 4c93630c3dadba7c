"""An option that departs from Algorithm S1: some training queries are copies of a context view.

Algorithm S1 always queries a view the context does not hold. With
config.train.copy_query_fraction = p > 0, each scene of a batch with M >= 1 context views has its
query replaced, with probability p, by one of its own context views (frame and pose). The model
can then score that query by reading the view back out of r at the query pose: a direct signal for
which colours sit where in r, which the novel-view task only gives through a long chain of
learning. With config.train.copy_query_until_step = N > 0 the copies stop at step N (a warm-up:
learn to redraw the context first, then only novel views). Off (p = 0) by default;
docs/learning.md has the screens that measured it.

The choices are a pure function of (seed, step), so a resumed run repeats them exactly.
"""

import numpy as np

_COPY_STREAM = 4  # keeps these draws apart from the data pipeline's streams (data/pipeline.py)


def fraction_at(train_config, step):
  """The copy fraction at `step`: copy_query_fraction, or 0 from copy_query_until_step on."""
  until = train_config.get("copy_query_until_step", 0)
  if until and step >= until:
    return 0.0
  return train_config.get("copy_query_fraction", 0.0)


def copy_queries(host_batch, fraction, seed, step):
  """host_batch with, per scene that has context, its query replaced by a context view with
  probability `fraction`."""
  if fraction <= 0:
    return host_batch
  mask_BxK = np.asarray(host_batch["context_mask"])
  num_context_B = mask_BxK.sum(axis=1)
  rng = np.random.default_rng([seed, _COPY_STREAM, step])
  copy_B = (rng.uniform(size=num_context_B.shape) < fraction) & (num_context_B > 0)
  if not copy_B.any():
    return host_batch
  slot_B = np.floor(rng.uniform(size=num_context_B.shape) * np.maximum(num_context_B, 1))
  slot_B = slot_B.astype(np.int64)
  rows = np.arange(len(slot_B))
  out = dict(host_batch)
  out["query_frame"] = np.where(copy_B[:, None, None, None],
                                host_batch["context_frames"][rows, slot_B],
                                host_batch["query_frame"])
  out["query_camera"] = np.where(copy_B[:, None], host_batch["context_cameras"][rows, slot_B],
                                 host_batch["query_camera"])
  return out
