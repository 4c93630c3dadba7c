"""Turning model outputs into pictures: image grids, colour maps, PNG and GIF files (PIL).

Everything here works on host numpy arrays of floats in [0, 1] laid out [..., H, W, 3]; values
outside [0, 1] (a generator's mean can overshoot slightly) are clipped when converted to bytes.
Files are written through gqn_jax.runtime.paths, so a path may be a local file or a bucket URL.
"""

import numpy as np
from PIL import Image
from PIL import ImageDraw

from gqn_jax.runtime import paths


def to_uint8(images):
  """Floats in [0, 1] (any leading shape) -> uint8 in [0, 255], clipping what lies outside."""
  images = np.asarray(images, dtype=np.float32)
  if not np.all(np.isfinite(images)):
    raise ValueError("images contain NaN or infinite values; refusing to write them as pixels")
  return np.round(np.clip(images, 0.0, 1.0) * 255.0).astype(np.uint8)


def upscale(images, factor):
  """Nearest-neighbour upscaling of [..., H, W, C] by an integer factor (64x64 frames are small)."""
  if int(factor) != factor or factor < 1:
    raise ValueError(f"upscale factor must be a positive integer; got {factor}")
  factor = int(factor)
  images = np.asarray(images)
  return np.repeat(np.repeat(images, factor, axis=-3), factor, axis=-2)


def grid(images_RxCxHxWx3, pad=2, pad_value=1.0):
  """Tiles images [R, C, H, W, 3] into one picture [R*H + (R+1)*pad, C*W + (C+1)*pad, 3]."""
  images = np.asarray(images_RxCxHxWx3, dtype=np.float32)
  if images.ndim != 5 or images.shape[-1] != 3:
    raise ValueError(f"grid expects images shaped [rows, cols, H, W, 3]; got {images.shape}")
  rows, cols, height, width, _ = images.shape
  canvas = np.full(
      (rows * height + (rows + 1) * pad, cols * width + (cols + 1) * pad, 3), pad_value,
      dtype=np.float32)
  for row in range(rows):
    for col in range(cols):
      top = pad + row * (height + pad)
      left = pad + col * (width + pad)
      canvas[top:top + height, left:left + width] = images[row, col]
  return canvas


def add_column_titles(picture_HxWx3, titles, cell_width, pad=2, title_height=14):
  """Prepends a white strip with one short title per grid column (PIL's built-in bitmap font)."""
  picture = Image.fromarray(to_uint8(picture_HxWx3))
  titled = Image.new("RGB", (picture.width, picture.height + title_height), (255, 255, 255))
  titled.paste(picture, (0, title_height))
  draw = ImageDraw.Draw(titled)
  for col, title in enumerate(titles):
    draw.text((pad + col * (cell_width + pad) + 1, 1), title, fill=(0, 0, 0))
  return np.asarray(titled, dtype=np.float32) / 255.0


def colorize(values_HxW, vmin=None, vmax=None, cmap="magma"):
  """A scalar map [..., H, W] -> RGB [..., H, W, 3] in [0, 1] through a matplotlib colour map.

  vmin/vmax default to the map's own range, so compare several maps by passing a shared range.
  """
  from matplotlib import colormaps  # pylint: disable=g-import-not-at-top
  values = np.asarray(values_HxW, dtype=np.float32)
  low = float(values.min()) if vmin is None else float(vmin)
  high = float(values.max()) if vmax is None else float(vmax)
  scaled = (values - low) / max(high - low, 1e-12)
  return colormaps[cmap](np.clip(scaled, 0.0, 1.0))[..., :3].astype(np.float32)


def _save(path, picture, **save_options):
  """Writes a PIL picture to `path` (local or URL), creating the folder; returns the path."""
  path = paths.resolve(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  with path.open("wb") as file:
    picture.save(file, **save_options)
  return path


def save_png(path, image_HxWx3):
  """Writes one float image [H, W, 3] in [0, 1] as a PNG file, creating the folder if needed."""
  image = np.asarray(image_HxWx3)
  if image.ndim != 3 or image.shape[-1] != 3:
    raise ValueError(f"save_png expects one image [H, W, 3]; got shape {image.shape} for {path}")
  return _save(path, Image.fromarray(to_uint8(image)), format="PNG")


def save_gif(path, frames_TxHxWx3, fps=12):
  """Writes frames [T, H, W, 3] in [0, 1] as an animated GIF that loops forever."""
  frames = to_uint8(frames_TxHxWx3)
  if frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[0] < 1:
    raise ValueError(
        f"save_gif expects frames [T, H, W, 3] with T >= 1; got shape {frames.shape} for {path}")
  pictures = [Image.fromarray(frame) for frame in frames]
  return _save(path, pictures[0], format="GIF", save_all=True, append_images=pictures[1:],
               duration=max(int(round(1000 / fps)), 20), loop=0, optimize=False)
