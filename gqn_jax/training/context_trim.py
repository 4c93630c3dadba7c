"""Training steps on the context slots in use: the representation network skips empty slots.

Algorithm S1 draws one number of context views M ~ U{0..K} per batch, and the input pipeline puts
a batch's real views in its first M slots. The tower costs the same for an empty slot as for a
real one (its code is then masked out of r), so with K = 10 about half of its work is wasted.
Here each batch is cut to the smallest of a few slot counts that holds every real view, and the
jitted step compiles once per count: four compiles for any K instead of one, for on average 40%
less tower work at K = 10 (numbers in docs/model.md). Cutting only drops slots whose mask is
False, so the loss is unchanged: r sums the same codes.
"""

import numpy as np

CONTEXT_KEYS = ("context_frames", "context_cameras", "context_mask")


def context_sizes(max_context):
  """The slot counts steps are compiled for: K/4, K/2, 3K/4 and K, rounded up, at least 1."""
  return tuple(sorted({max(1, -(-max_context * quarter // 4)) for quarter in (1, 2, 3, 4)}))


def slots_in_use(mask_BxK):
  """1 + the last slot that holds a real view in any scene of the batch (0 if none does)."""
  used_K = np.asarray(mask_BxK).any(axis=0)
  return int(np.flatnonzero(used_K)[-1]) + 1 if used_K.any() else 0


def trim(host_batch, sizes):
  """host_batch with its context cut to the smallest of `sizes` that keeps every real view."""
  needed = slots_in_use(host_batch["context_mask"])
  size = min(s for s in sizes if s >= needed)
  if size == host_batch["context_mask"].shape[1]:
    return host_batch
  return {name: value[:, :size] if name in CONTEXT_KEYS else value
          for name, value in host_batch.items()}
