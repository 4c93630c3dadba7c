"""A contact sheet of procedural scenes: per dataset a titled block, one row per scene, one column
per view, exactly as `write_dataset` renders them (before JPEG).

  python -m gqn_jax.scenes.contact_sheet --out=docs/images/procedural_scenes.png
"""

from absl import app
from absl import flags
import numpy as np
from PIL import Image
from PIL import ImageDraw

from gqn_jax.scenes import datasets
from gqn_jax.scenes import writer

_OUT = flags.DEFINE_string("out", "docs/images/procedural_scenes.png", "PNG file to write.")
_DATASETS = flags.DEFINE_list("datasets", sorted(datasets.KINDS), "Datasets to show, in order.")
_SCENES = flags.DEFINE_integer("scenes", 3, "Scenes (rows) per dataset.", lower_bound=1)
_VIEWS = flags.DEFINE_integer("views", 8, "Views (columns) per scene.", lower_bound=1)
_SCALE = flags.DEFINE_integer("scale", 2, "Integer upscaling of each frame.", lower_bound=1)
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the scenes shown (train split).")

_GAP = 4
_TITLE_HEIGHT = 18
_BACKGROUND = (255, 255, 255)


def dataset_block(name, num_scenes, num_views, seed, scale):
  """uint8 [rows, cols, 3]: num_scenes rows of num_views frames with gaps between them."""
  frames, _ = writer.render_scenes(name, "train", range(num_scenes), seed,
                                   sequence_size=max(num_views, 2))
  frames = frames[:, :num_views].repeat(scale, axis=2).repeat(scale, axis=3)
  _, _, height, width, _ = frames.shape
  block = np.full((num_scenes * (height + _GAP) - _GAP, num_views * (width + _GAP) - _GAP, 3),
                  255, np.uint8)
  for row in range(num_scenes):
    for col in range(num_views):
      top, left = row * (height + _GAP), col * (width + _GAP)
      block[top:top + height, left:left + width] = frames[row, col]
  return block


def contact_sheet(names, num_scenes, num_views, seed, scale):
  """A PIL image with one titled block per dataset, stacked vertically."""
  blocks = [dataset_block(name, num_scenes, num_views, seed, scale) for name in names]
  width = max(block.shape[1] for block in blocks) + 2 * _GAP
  height = sum(block.shape[0] + _TITLE_HEIGHT + 2 * _GAP for block in blocks)
  sheet = Image.new("RGB", (width, height), _BACKGROUND)
  draw = ImageDraw.Draw(sheet)
  top = 0
  for name, block in zip(names, blocks):
    kind = datasets.get_kind(name)
    draw.text((_GAP, top + 3), f"{name}  ({kind.frame_size}x{kind.frame_size}; rows: scenes, "
              f"columns: views)", fill=(0, 0, 0))
    top += _TITLE_HEIGHT
    sheet.paste(Image.fromarray(block), (_GAP, top))
    top += block.shape[0] + 2 * _GAP
  return sheet


def main(argv):
  del argv
  for name in _DATASETS.value:
    datasets.get_kind(name)  # fail early on a bad name
  sheet = contact_sheet(_DATASETS.value, _SCENES.value, _VIEWS.value, _SEED.value, _SCALE.value)
  sheet.save(_OUT.value)
  print(f"wrote {_OUT.value} ({sheet.width}x{sheet.height})")


if __name__ == "__main__":
  app.run(main)
