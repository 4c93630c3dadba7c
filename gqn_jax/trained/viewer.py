"""The live viewer's web page (python -m gqn_jax.view), built on viser: the 3D viewport's camera is
the query camera, and the model's prediction for it is drawn in the panel as the camera moves.

Why viser: it is what nerfstudio's viewer is built on, the convention neural-rendering users
know (orbit, pan and zoom a camera around a scene, frustums for the posed views); its web client
ships inside the Python wheel, so the page works offline, and it needs no front-end code of ours.
It is an optional extra (`pip install -e ".[view]"`).

In the page: the scene's context views stand in 3D as camera frustums showing their images; the
panel picks the held-out scene (number, previous, next), switches each context view on or off
(0 views included), chooses what is drawn (gqn_jax.trained.live_view.MODES), shows the
prediction, the scene's true view where one was taken near the camera, the camera as (x, y, z,
yaw, pitch), the last frame's render time, and saves the current view as a PNG (downloaded, and
written to --out). Renders run on one worker thread; a newer camera replaces one still queued,
so the page never waits on a backlog.
"""

import contextlib
import io
import os
import threading
import time

import numpy as np

from gqn_jax.data import camera_frames
from gqn_jax.trained import live_view

FRUSTUM_FRACTION = 0.12  # a context frustum's size, of the cameras' distance from the origin


def pose_of_camera(position_3, wxyz_4):
  """GQN pose (x, y, z, yaw, pitch) of a viser camera (OpenCV axes, world +z up)."""
  import viser.transforms as viser_tf  # pylint: disable=g-import-not-at-top
  matrix = np.eye(4)
  matrix[:3, :3] = viser_tf.SO3(np.asarray(wxyz_4, np.float64)).as_matrix()
  matrix[:3, 3] = position_3
  poses, _ = camera_frames.viewpoints(matrix[None], "opencv", np.eye(3))
  return poses[0].astype(np.float32)


def camera_of_pose(pose_5):
  """(position [3], wxyz [4]) of a viser camera or frustum at GQN pose `pose_5`."""
  import viser.transforms as viser_tf  # pylint: disable=g-import-not-at-top
  matrix = camera_frames.camera_to_world(np.asarray(pose_5)[None], "opencv")[0]
  return matrix[:3, 3], viser_tf.SO3.from_matrix(matrix[:3, :3]).wxyz


def format_pose(pose_5):
  x, y, z, yaw, pitch = (float(v) for v in pose_5)
  return (f"camera: x={x:.4f} y={y:.4f} z={z:.4f} yaw={np.degrees(yaw):.3f} "
          f"pitch={np.degrees(pitch):.3f}")


class LatestRequest:
  """A one-slot queue: `put` replaces what is waiting, `take` blocks for the newest."""

  def __init__(self):
    self._condition = threading.Condition()
    self._item = None
    self._closed = False

  def put(self, item):
    with self._condition:
      self._item = item
      self._condition.notify()

  def take(self):
    """The newest item, or None once closed."""
    with self._condition:
      while self._item is None and not self._closed:
        self._condition.wait()
      item, self._item = self._item, None
      return item

  def close(self):
    with self._condition:
      self._closed = True
      self._condition.notify()


class Viewer:
  """The page for one LiveView, served by viser on host:port."""

  def __init__(self, live, host="127.0.0.1", port=8080, out_dir="."):
    import viser  # pylint: disable=g-import-not-at-top
    self.live, self.out_dir = live, out_dir
    with contextlib.redirect_stdout(io.StringIO()):  # viser's banner: the command prints the URL
      self.server = viser.ViserServer(host=host, port=port, verbose=False)
    self.server.scene.set_up_direction("+z")
    self.mode = live_view.MODES[0]
    # the first view that is not a context view: the page opens on a camera with a true view
    self.pose = live.cameras[live.scene_index, live.num_context % live.cameras.shape[1]]
    self.latency_s = []  # seconds from a camera's arrival to its image being sent
    self._requests = LatestRequest()
    self._lock = threading.Lock()  # the LiveView is used by the worker and the GUI callbacks
    self._build_panel()
    self._show_scene()
    self.server.on_client_connect(self._connected)
    self._worker = threading.Thread(target=self._work, name="gqn_jax-viewer", daemon=True)
    self._worker.start()

  @property
  def url(self):
    return f"http://{self.server.get_host()}:{self.server.get_port()}"

  def _build_panel(self):
    gui, live = self.server.gui, self.live
    with gui.add_folder("Scene"):
      self.scene_number = gui.add_number("held-out scene", live.scene_index, min=0,
                                         max=live.num_scenes - 1,
                                         step=1)
      previous, following = gui.add_button("previous"), gui.add_button("next")
    self.scene_number.on_update(lambda _: self._set_scene(int(self.scene_number.value)))
    previous.on_click(lambda _: self._step_scene(-1))
    following.on_click(lambda _: self._step_scene(1))
    with gui.add_folder("Context views"):
      self.view_boxes = [gui.add_checkbox(f"view {slot}", True) for slot in range(live.num_context)]
    for slot, box in enumerate(self.view_boxes):
      box.on_update(lambda _, slot=slot: self._set_view(slot))
    self.mode_choice = gui.add_dropdown("draw", live_view.MODES, initial_value=self.mode)
    self.mode_choice.on_update(lambda _: self._set_mode(self.mode_choice.value))
    blank = np.zeros((live_view.DISPLAY_SIZE, live_view.DISPLAY_SIZE, 3), np.uint8)
    self.prediction = gui.add_image(blank, label="prediction", format="png")
    self.truth = gui.add_image(blank, label="true view", format="png", visible=False)
    self.readout = gui.add_markdown(format_pose(self.pose))
    self.timing = gui.add_markdown("")
    save = gui.add_button("save PNG")
    save.on_click(lambda event: self._save(event.client))

  def _show_scene(self):
    """Context frustums of the scene shown, each with its image, dimmed when switched off."""
    frames, cameras = self.live.context()
    scale = FRUSTUM_FRACTION * float(np.sqrt((cameras[:, :3] ** 2).sum(-1)).mean() or 1.0)
    for slot, (frame, pose) in enumerate(zip(frames, cameras)):
      position, wxyz = camera_of_pose(pose)
      self.server.scene.add_camera_frustum(
          f"/context/view_{slot}", fov=np.radians(45.0), aspect=1.0, scale=scale,
          image=live_view.display(frame), format="png", wxyz=wxyz, position=position,
          color=(40, 120, 220) if self.live.enabled[slot] else (180, 180, 180),
          visible=bool(self.live.enabled[slot]))

  def _connected(self, client):
    position, wxyz = camera_of_pose(self.pose)
    client.camera.position, client.camera.wxyz = position, wxyz

    @client.camera.on_update
    def _(camera):
      self.request(pose_of_camera(camera.position, camera.wxyz))

    self.request(self.pose)

  def request(self, pose_5):
    """Asks for the prediction at `pose_5`; a request still waiting is replaced."""
    self._requests.put((np.asarray(pose_5, np.float32), time.perf_counter()))

  def _work(self):
    while True:
      item = self._requests.take()
      if item is None:
        return
      pose, arrived = item
      self._draw(pose, arrived)

  def _draw(self, pose, arrived):
    with self._lock:
      self.pose = pose
      image = self.live.render(pose, self.mode)
      near = self.live.nearest_true_view(pose)
    self.prediction.image = live_view.display(image)
    if near is not None:
      self.truth.image, self.truth.label = live_view.display(near[1]), f"true view {near[0]}"
    self.truth.visible = near is not None
    self.readout.content = format_pose(pose)
    self.latency_s.append(time.perf_counter() - arrived)
    self.timing.content = f"render: {1000 * self.latency_s[-1]:.0f} ms"

  def _set_scene(self, index):
    with self._lock:
      self.live.set_scene(index)
      for box in self.view_boxes:
        box.value = True
      self._show_scene()
    self.request(self.pose)

  def _step_scene(self, delta):
    self.scene_number.value = (int(self.scene_number.value) + delta) % self.live.num_scenes

  def _set_view(self, slot):
    with self._lock:
      self.live.set_view(slot, self.view_boxes[slot].value)
      self._show_scene()
    self.request(self.pose)

  def _set_mode(self, mode):
    self.mode = mode
    self.request(self.pose)

  def _save(self, client):
    """The current prediction as a PNG: downloaded by the page and written under out_dir."""
    with self._lock:
      image = self.live.render(self.pose, self.mode)
      name = f"gqn_view_scene{self.live.scene_index}_{self.mode}.png"
    png = live_view.display_png(image)
    os.makedirs(self.out_dir, exist_ok=True)
    path = os.path.join(self.out_dir, name)
    with open(path, "wb") as file:
      file.write(png)
    if client is not None:
      client.send_file_download(name, png)
    return path

  def close(self):
    self._requests.close()
    with contextlib.redirect_stdout(io.StringIO()):
      self.server.stop()
