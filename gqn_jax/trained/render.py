"""Novel views of test scenes from a trained GQN: a PNG grid and a fly-around GIF.

  python -m gqn_jax.render --workdir=DIR --out=FILE.png [--gif=FILE.gif] [--num_scenes=4]

(the command line is gqn_jax/render.py; the work is done here.)

The grid has one row per test scene: the context views, the held-out target view, several
prior samples of the target rendered from the context (Algorithm S3) and their mean. The GIF
flies the camera a full circle around the scenes (all rendered side by side), on the ring the
data's own cameras lie on: centre, radius, height, pitch and the yaw offset between a camera's
heading and its bearing from the centre are all measured from the test cameras (`fit_ring`). Each
frame reuses one random key, so the latent noise stays fixed and the animation does not flicker.
"""

import dataclasses

import jax
import numpy as np

from gqn_jax import images
from gqn_jax.runtime import console
from gqn_jax.runtime import paths
from gqn_jax.trained import restore
from gqn_jax.trained import run_scenes


@dataclasses.dataclass(frozen=True)
class Ring:
  """A circle of camera poses: where the data's cameras sit and which way they look."""
  center_xy: tuple[float, float]
  radius: float
  height: float
  pitch: float
  yaw_offset: float  # yaw - bearing angle of the camera as seen from the centre


def _circular_mean(angles):
  return float(np.arctan2(np.mean(np.sin(angles)), np.mean(np.cos(angles))))


def _circle_center(points_Nx2):
  """Least-squares centre of a circle through the points (Kasa's algebraic fit).

  x^2 + y^2 = 2 a x + 2 b y + c is linear in (a, b, c); exact for points on a circle however
  unevenly spread, which the mean of the positions is not (ring cameras sit at random azimuths).
  Falls back to the mean when the points are (nearly) on a line or a single point.
  """
  design = np.concatenate([2 * points_Nx2, np.ones((len(points_Nx2), 1))], axis=1)
  target = np.sum(points_Nx2 ** 2, axis=1)
  solution, _, rank, _ = np.linalg.lstsq(design, target, rcond=None)
  if rank < 3:
    return points_Nx2.mean(axis=0)
  return solution[:2]


def fit_ring(cameras_Nx5):
  """The Ring the raw poses [..., 5] lie on: a circle fitted to the positions, mean height/pitch."""
  cameras = np.asarray(cameras_Nx5, np.float64).reshape(-1, 5)
  if len(cameras) < 3:
    raise ValueError(f"fit_ring needs at least three camera poses; got {len(cameras)}")
  center = _circle_center(cameras[:, :2])
  offset_Nx2 = cameras[:, :2] - center
  bearing = np.arctan2(offset_Nx2[:, 1], offset_Nx2[:, 0])
  return Ring(
      center_xy=(float(center[0]), float(center[1])),
      radius=float(np.linalg.norm(offset_Nx2, axis=1).mean()),
      height=float(cameras[:, 2].mean()),
      pitch=_circular_mean(cameras[:, 4]),
      yaw_offset=_circular_mean(cameras[:, 3] - bearing))


def ring_poses(ring, num_frames):
  """num_frames raw poses [T, 5] evenly spaced on a full circle of `ring`."""
  if num_frames < 1:
    raise ValueError(f"num_frames must be positive; got {num_frames}")
  bearing = np.linspace(0.0, 2.0 * np.pi, num_frames, endpoint=False)
  x = ring.center_xy[0] + ring.radius * np.cos(bearing)
  y = ring.center_xy[1] + ring.radius * np.sin(bearing)
  yaw = np.angle(np.exp(1j * (bearing + ring.yaw_offset)))  # wrapped to (-pi, pi]
  return np.stack([x, y, np.full_like(x, ring.height), yaw, np.full_like(x, ring.pitch)],
                  axis=-1).astype(np.float32)


def sample_grid(trained, frames_NxSxHxWx3, cameras_NxSx5, num_context, num_samples, rng):
  """Rows [N, M + 1 + S + 1, H, W, 3]: context, target (view M), S prior samples, their mean."""
  frames = np.asarray(frames_NxSxHxWx3, np.float32)
  cameras = np.asarray(cameras_NxSx5, np.float32)
  if not 0 <= num_context < frames.shape[1]:
    raise ValueError(
        f"num_context={num_context} must leave a target view; scenes have {frames.shape[1]} views")
  context_frames = frames[:, :num_context]
  target = frames[:, num_context]
  rendered = trained.render(
      context_frames, cameras[:, :num_context], cameras[:, num_context:num_context + 1], rng,
      num_samples)
  samples = np.asarray(rendered.samples[:, 0])  # [N, S, H, W, 3]
  mean = np.asarray(rendered.images[:, 0])
  return np.concatenate(
      [context_frames, target[:, None], samples, mean[:, None]], axis=1), rendered


def column_titles(num_context, num_samples):
  return ([f"ctx {i + 1}" for i in range(num_context)] + ["target"]
          + [f"smp {i + 1}" for i in range(num_samples)] + ["mean"])


def fly_around(trained, context_frames, context_cameras, poses_Tx5, rng, num_samples=1):
  """Frames [T, N, H, W, 3]: every scene seen from each ring pose, one key for all frames."""
  batch = context_frames.shape[0]
  r = trained.represent(context_frames, context_cameras)
  frames = []
  progress = console.Progress("render: fly-around frames", total=len(poses_Tx5))
  for pose in np.asarray(poses_Tx5, np.float32):
    query = np.broadcast_to(pose, (batch, 1, 5))
    frames.append(np.asarray(
        trained.render_from_representation(r, query, rng, num_samples).images[:, 0]))
    progress.update(len(frames))
  progress.finish(len(frames))
  return np.stack(frames)


def run(workdir, out=None, gif=None, step=None, num_scenes=4, num_context=None, num_samples=4,
        num_frames=36, scale=None, seed=0, data_root=None):
  """Writes the PNG grid to `out` (default <workdir>/render.png) and the fly-around GIF to `gif`
  (default: `out` with .gif), locally or to a bucket URL; returns both paths."""
  out = paths.resolve(workdir) / "render.png" if out is None else paths.resolve(out)
  gif = out.with_suffix(".gif") if gif is None else paths.resolve(gif)
  trained = restore.load(workdir, step)
  frames, cameras = run_scenes.load_test_scenes(trained.config, num_scenes, data_root)
  num_context = trained.config.data.max_context if num_context is None else num_context
  num_context = min(num_context, frames.shape[1] - 1)
  # Aim for pictures a few hundred pixels wide whatever the training resolution.
  scale = max(1, 128 // trained.image_size) if scale is None else scale
  grid_key, gif_key = jax.random.split(jax.random.key(seed))

  rows, _ = sample_grid(trained, frames, cameras, num_context, num_samples, grid_key)
  picture = images.grid(images.upscale(rows, scale))
  picture = images.add_column_titles(
      picture, column_titles(num_context, num_samples), trained.image_size * scale)
  images.save_png(out, picture)

  poses = ring_poses(fit_ring(cameras), num_frames)
  movie = fly_around(
      trained, frames[:, :num_context], cameras[:, :num_context], poses, gif_key)
  tiled = [images.grid(images.upscale(frame[None], scale)) for frame in movie]
  images.save_gif(gif, np.stack(tiled))
  return out, gif
