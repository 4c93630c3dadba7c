"""Procedural GQN datasets rendered offline by vectorised ray casting, in DeepMind's format.

`write_dataset` writes one split of `shepard_metzler_5_parts`, `shepard_metzler_7_parts`,
`rooms_ring_camera` or `mazes` as `<root>/<dataset>/<split>/<i>-of-<n>.tfrecord` (JPEG frames,
raw (x, y, z, yaw, pitch) cameras) plus `<root>/<dataset>/gqn_jax_procedural.json`;
`ensure_procedural_dataset` renders both splits once into a cache and returns the root to hand to
the reader. The command line is `python -m gqn_jax.scenes`; camera conventions are in
gqn_jax/scenes/camera.py and docs/scenes.md.
"""

from gqn_jax.scenes.datasets import KINDS
from gqn_jax.scenes.datasets import get_kind
from gqn_jax.scenes.writer import GENERATOR_VERSION
from gqn_jax.scenes.writer import ensure_procedural_dataset
from gqn_jax.scenes.writer import render_scenes
from gqn_jax.scenes.writer import sample_scene
from gqn_jax.scenes.writer import write_dataset

PROCEDURAL_DATASETS = tuple(sorted(KINDS))
