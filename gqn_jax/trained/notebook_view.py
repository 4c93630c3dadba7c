"""The live viewer inside a notebook (Colab, Jupyter): ipywidgets sliders for the query camera's
position, yaw and pitch, a held-out scene number, a check box per context view and the drawing
mode, and the prediction beside the nearest true view, redrawn as the controls move.

  from gqn_jax.trained import live_view, notebook_view
  panel = notebook_view.NotebookView(live_view.LiveView(trained, frames, cameras))
  display(panel.widget)

The renders are gqn_jax.trained.live_view's (the same as the web page's, python -m gqn_jax.view).
"""

import numpy as np

from gqn_jax.trained import live_view


class NotebookView:
  """`widget`: the controls and pictures; `pose()`: the camera the sliders describe."""

  def __init__(self, live):
    import ipywidgets as widgets  # pylint: disable=g-import-not-at-top
    self.live = live
    reach = 1.5 * float(np.abs(live.cameras[..., :3]).max() or 1.0)
    start = live.cameras[live.scene_index, live.num_context % live.cameras.shape[1]]
    slider = lambda name, value, low, high: widgets.FloatSlider(
        value=float(value), min=low, max=high, step=(high - low) / 200, description=name,
        continuous_update=True)
    self.position = [slider(name, value, -reach, reach) for name, value in zip("xyz", start[:3])]
    self.yaw = slider("yaw (deg)", np.degrees(start[3]), -180.0, 180.0)
    self.pitch = slider("pitch (deg)", np.degrees(start[4]), -89.0, 89.0)
    self.scene = widgets.IntSlider(value=live.scene_index, min=0, max=live.num_scenes - 1,
                                   description="scene")
    self.views = [widgets.Checkbox(value=True, description=f"view {slot}", indent=False)
                  for slot in range(live.num_context)]
    self.mode = widgets.Dropdown(options=live_view.MODES, value="mean", description="draw")
    self.prediction = widgets.Image(format="png", width=live_view.DISPLAY_SIZE)
    self.truth = widgets.Image(format="png", width=live_view.DISPLAY_SIZE)
    self.caption = widgets.Label()
    for control in [*self.position, self.yaw, self.pitch, self.mode, *self.views]:
      control.observe(lambda _: self.draw(), names="value")
    self.scene.observe(lambda change: self._set_scene(change["new"]), names="value")
    self.widget = widgets.HBox([
        widgets.VBox([self.scene, *self.position, self.yaw, self.pitch, self.mode,
                      widgets.HBox(self.views)]),
        widgets.VBox([widgets.HBox([self.prediction, self.truth]), self.caption])])
    self.draw()

  def pose(self):
    values = [control.value for control in self.position]
    return np.array(values + [np.radians(self.yaw.value), np.radians(self.pitch.value)],
                    np.float32)

  def _set_scene(self, index):
    self.live.set_scene(index)
    for box in self.views:
      box.value = True
    self.draw()

  def draw(self):
    """Renders the sliders' camera; returns the prediction [H, W, 3]."""
    for slot, box in enumerate(self.views):
      self.live.set_view(slot, box.value)
    pose = self.pose()
    image = self.live.render(pose, self.mode.value)
    self.prediction.value = live_view.display_png(image)
    near = self.live.nearest_true_view(pose)
    self.truth.value = live_view.display_png(near[1] if near is not None else np.ones_like(image))
    self.caption.value = (f"prediction ({self.mode.value}); "
                          + (f"true view {near[0]}" if near is not None else "no true view near"))
    return image
