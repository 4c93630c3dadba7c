"""The procedural datasets: how to draw a scene of each kind and how to render a batch of them."""

import dataclasses
import functools
from typing import Callable

import jax
import numpy as np

from gqn_jax.scenes import mazes
from gqn_jax.scenes import rooms
from gqn_jax.scenes import shepard_metzler


@dataclasses.dataclass(frozen=True)
class SceneKind:
  """One procedural dataset (named as DeepMind's counterpart) and its defaults."""
  name: str
  frame_size: int
  sequence_size: int
  fov_degrees: float
  sample_scene: Callable  # (rng, sequence_size) -> (params dict of arrays, poses [S, 5])
  render_scene: Callable  # (params, poses [S, 5], frame_size) -> uint8 [S, H, W, 3]; traceable
  scenes_per_batch: int  # scenes rendered per compiled call


KINDS = {
    kind.name: kind for kind in (
        SceneKind("shepard_metzler_5_parts", shepard_metzler.FRAME_SIZE,
                  shepard_metzler.SEQUENCE_SIZE, shepard_metzler.FOV_DEGREES,
                  functools.partial(shepard_metzler.sample_scene, num_parts=5),
                  shepard_metzler.render, 32),
        SceneKind("shepard_metzler_7_parts", shepard_metzler.FRAME_SIZE,
                  shepard_metzler.SEQUENCE_SIZE, shepard_metzler.FOV_DEGREES,
                  functools.partial(shepard_metzler.sample_scene, num_parts=7),
                  shepard_metzler.render, 32),
        SceneKind("rooms_ring_camera", rooms.FRAME_SIZE, rooms.SEQUENCE_SIZE, rooms.FOV_DEGREES,
                  rooms.sample_scene, rooms.render, 16),
        SceneKind("mazes", mazes.FRAME_SIZE, mazes.SEQUENCE_SIZE, mazes.FOV_DEGREES,
                  mazes.sample_scene, mazes.render, 1),
    )
}


def get_kind(name):
  """The SceneKind called `name`, or a ValueError naming the ones that exist."""
  try:
    return KINDS[name]
  except KeyError:
    raise ValueError(f"no procedural generator for dataset {name!r}; procedural datasets: "
                     f"{', '.join(sorted(KINDS))}") from None


@functools.cache
def _batch_renderer(name):
  kind = KINDS[name]
  return jax.jit(jax.vmap(kind.render_scene, in_axes=(0, 0, None)), static_argnums=2)


def render_batch(name, params_list, poses_list, frame_size):
  """Frames uint8 [B, S, H, W, 3] of B scenes, compiled once per (dataset, B, S, frame_size)."""
  stacked_params = jax.tree.map(lambda *leaves: np.stack(leaves), *params_list)
  poses_BxSx5 = np.stack(poses_list).astype(np.float32)
  return np.asarray(_batch_renderer(name)(stacked_params, poses_BxSx5, frame_size))
