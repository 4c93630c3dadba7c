"""Render one split of a procedural GQN dataset.

  python -m gqn_jax.scenes --dataset=shepard_metzler_7_parts --root=/tmp/gqn --num_scenes=1000 \
      --split=train --seed=0
"""

from absl import app
from absl import flags
from absl import logging

from gqn_jax import scenes

_DATASET = flags.DEFINE_enum("dataset", "rooms_ring_camera", scenes.PROCEDURAL_DATASETS,
                             "Which dataset to render.")
_ROOT = flags.DEFINE_string("root", None, "Directory to write <dataset>/<split>/ under.",
                            required=True)
_SPLIT = flags.DEFINE_enum("split", "train", ["train", "test"], "Which split to write.")
_NUM_SCENES = flags.DEFINE_integer("num_scenes", 1000, "Scenes to render.", lower_bound=1)
_SEED = flags.DEFINE_integer("seed", 0, "Random seed; same seed, same files.", lower_bound=0)
_NUM_FILES = flags.DEFINE_integer("num_files", None, "Shards (default: one per 500 scenes).")
_SEQUENCE_SIZE = flags.DEFINE_integer("sequence_size", None,
                                      "Views per scene (default: DeepMind's for the dataset).")
_FRAME_SIZE = flags.DEFINE_integer("frame_size", None, "Frame size (default: DeepMind's).")
_OVERWRITE = flags.DEFINE_bool("overwrite", False, "Replace shards already in the split dir.")


def main(argv):
  del argv
  logging.set_verbosity(logging.INFO)
  paths = scenes.write_dataset(
      _DATASET.value, _ROOT.value, _SPLIT.value, _NUM_SCENES.value, _SEED.value,
      num_files=_NUM_FILES.value, sequence_size=_SEQUENCE_SIZE.value,
      frame_size=_FRAME_SIZE.value, overwrite=_OVERWRITE.value)
  print(f"wrote {_NUM_SCENES.value} scenes of {_DATASET.value} ({_SPLIT.value}) in "
        f"{len(paths)} files under {_ROOT.value}")


if __name__ == "__main__":
  app.run(main)
