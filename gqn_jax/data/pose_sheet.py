"""A picture to check a posed dataset's cameras before training: one scene's views, numbered,
beside a top-down plot of where each camera stands and looks (the GQN world after the reader's
conversion: the up axis read from the data is +z) and a side view of their heights and pitches.

  python -m gqn_jax.data.pose_sheet --layout=srn --root=DIR [--split=train] [--scene=0] \
      [--out=poses.png]

Right poses: the arrows point at the object from all around it, view k shows the side arrow k
faces, and the side view's arrows tilt down where the images look down on the object. A layout
read with the wrong camera convention shows arrows pointing away from the object.
"""

from absl import app
from absl import flags
import numpy as np

from gqn_jax.data import posed_scenes

_LAYOUT = flags.DEFINE_enum("layout", "srn", posed_scenes.LAYOUTS, "The root's layout.")
_ROOT = flags.DEFINE_string("root", None, "The dataset's root folder.", required=True)
_NAME = flags.DEFINE_string("name", "srn", "SRN: the <name> to read when the root holds several.")
_SPLIT = flags.DEFINE_enum("split", "train", list(posed_scenes.SPLITS), "Which split.")
_SCENE = flags.DEFINE_integer("scene", 0, "Scene number in the split (sorted by folder).")
_VIEWS = flags.DEFINE_integer("views", 12, "Views shown (spread over the scene's views).")
_OUT = flags.DEFINE_string("out", "poses.png", "PNG file to write.")


def draw(dataset, split, scene_index, num_views, out):
  """Writes the sheet of scene `scene_index` of `split` to `out` (a PNG path)."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  scenes = dataset.scenes[split]
  if not 0 <= scene_index < len(scenes):
    raise posed_scenes.PosedDataError(
        f"--scene={scene_index} is out of range: the {split} split has {len(scenes)} scenes "
        f"(0..{len(scenes) - 1})")
  scene, poses = scenes[scene_index], dataset.poses[split][scene_index]
  shown = np.unique(np.linspace(0, scene.num_views, num_views, endpoint=False).astype(int))
  frames = posed_scenes.read_views(scene, shown, 96)
  columns = int(np.ceil(len(shown) / 2))
  figure = plt.figure(figsize=(2 * columns + 9, 5), constrained_layout=True)
  grid = figure.add_gridspec(2, columns + 4)
  for slot, (view, frame) in enumerate(zip(shown, frames)):
    axis = figure.add_subplot(grid[slot // columns, slot % columns])
    axis.imshow(frame)
    axis.set_title(f"view {view}", fontsize=8)
    axis.axis("off")
  radius = float(np.sqrt((poses[:, :3] ** 2).sum(axis=1)).max()) or 1.0
  arrow = 0.25 * radius
  top = figure.add_subplot(grid[:, columns:columns + 2])
  side = figure.add_subplot(grid[:, columns + 2:])
  yaw, pitch = poses[:, 3], poses[:, 4]
  top.quiver(poses[:, 0], poses[:, 1], np.cos(yaw) * np.cos(pitch), np.sin(yaw) * np.cos(pitch),
             color="tab:blue", angles="xy", scale_units="xy", scale=1 / arrow, width=0.004)
  horizontal = np.hypot(poses[:, 0], poses[:, 1])
  outward = np.cos(pitch) * (np.cos(yaw) * poses[:, 0] + np.sin(yaw) * poses[:, 1]) / np.maximum(
      horizontal, 1e-9)  # the view direction's part along the camera's distance from the axis
  side.quiver(horizontal, poses[:, 2], outward, np.sin(pitch), color="tab:blue",
              angles="xy", scale_units="xy", scale=1 / arrow, width=0.004)
  for view in shown:
    top.annotate(str(view), poses[view, :2], fontsize=7, color="tab:red")
    side.annotate(str(view), (horizontal[view], poses[view, 2]), fontsize=7, color="tab:red")
  top.plot([0], [0], "k+")
  top.set(aspect="equal", xlabel="x", ylabel="y",
          title=f"from above (+z up; the data's {dataset.up_axis})")
  side.plot([0], [0], "k+")
  side.set(aspect="equal", xlabel="distance from the z axis", ylabel="z (height)",
           title="side view (turned about z)")
  for axis in (top, side):
    axis.grid(alpha=0.3)
  figure.suptitle(f"{scene.name}: {scene.num_views} views, {dataset.convention} camera axes, "
                  f"field of view {dataset.fov_deg:.1f} degrees", fontsize=10)
  figure.savefig(out, dpi=90)
  plt.close(figure)
  return out


def main(argv):
  del argv
  dataset = posed_scenes.load(_LAYOUT.value, _ROOT.value.rstrip("/"), _NAME.value, 1)
  print(dataset.describe())
  print(f"wrote {draw(dataset, _SPLIT.value, _SCENE.value, _VIEWS.value, _OUT.value)}")


if __name__ == "__main__":
  app.run(main)
