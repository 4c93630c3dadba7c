"""The live viewer: its renders are gqn_jax.trained's, a newer camera replaces a queued one, bad
input gets one line, and in a real browser (headless Chromium) the page draws the prediction for
its camera, which changes as the camera orbits and as a context view is switched off."""

import json
import re
import socket
import subprocess
import sys
import threading
import time

import jax
import numpy as np
import pytest

import browser
from gqn_jax.trained import live_view
from gqn_jax.trained import run_scenes
from gqn_jax.trained import viewer

NUM_SCENES = 4
NUM_SAMPLES = 4


@pytest.fixture(scope="module")
def scenes(trained):
  return run_scenes.load_test_scenes(trained.config, NUM_SCENES)


def expected(trained, frames, cameras, pose, enabled, mode="mean"):
  """What gqn_jax.trained renders for `pose` from the scene's first K views (`enabled` on)."""
  k = len(enabled)
  output = trained.render(frames[None, :k], cameras[None, :k], np.asarray(pose)[None, None],
                          jax.random.key(0), NUM_SAMPLES, mask=np.asarray(enabled)[None])
  samples = np.asarray(output.samples[0, 0])
  if mode == "sample":
    return samples[0]
  return np.asarray(output.images[0, 0])


def test_live_renders_are_the_trained_models(trained, scenes):
  frames, cameras = scenes
  live = live_view.LiveView(trained, frames, cameras, num_samples=NUM_SAMPLES)
  live.set_scene(2)
  pose = cameras[2, -1]
  np.testing.assert_allclose(live.render(pose), expected(trained, frames[2], cameras[2], pose,
                                                         live.enabled), atol=1e-6)
  live.set_view(0, False)
  off = live.render(pose, "sample")
  np.testing.assert_allclose(off, expected(trained, frames[2], cameras[2], pose, live.enabled,
                                           "sample"), atol=1e-6)
  assert live.render(pose, "sample") is off  # a camera standing still is not rendered again
  spread = live.render(pose, "spread")
  assert spread.shape == off.shape and 0 <= spread.min() and spread.max() <= 1
  index, frame = live.nearest_true_view(pose)
  assert index == cameras.shape[1] - 1 and np.array_equal(frame, frames[2, -1])
  far = pose.copy()
  far[:3] *= 5
  assert live.nearest_true_view(far) is None
  with pytest.raises(IndexError, match=r"scene 4 is out of range: 4 held-out scenes"):
    live.set_scene(4)


def test_a_newer_camera_replaces_a_queued_one():
  requests = viewer.LatestRequest()
  for item in range(5):
    requests.put(item)
  assert requests.take() == 4
  taken = []
  reader = threading.Thread(target=lambda: taken.append(requests.take()))
  reader.start()
  requests.close()
  reader.join(timeout=5)
  assert taken == [None]


def test_camera_conversions_round_trip():
  pose = np.array([1.0, -2.0, 0.7, 2.2, -0.4], np.float32)
  position, wxyz = viewer.camera_of_pose(pose)
  np.testing.assert_allclose(viewer.pose_of_camera(position, wxyz), pose, atol=1e-5)


def _run_view(args, timeout=120):
  return subprocess.run([sys.executable, "-m", "gqn_jax.view", *args], capture_output=True,
                        text=True, timeout=timeout, check=False)


def test_bad_input_gets_one_line(tiny_run_workdir, tmp_path):
  empty = _run_view([f"--workdir={tmp_path}", "--port=0"])
  assert empty.returncode == 1 and "gqn_jax.view:" in empty.stderr
  assert str(tmp_path) in empty.stderr and "Traceback" not in empty.stderr
  out_of_range = _run_view([f"--workdir={tiny_run_workdir}", "--port=0", "--scene=9",
                            f"--num_scenes={NUM_SCENES}"])
  assert out_of_range.returncode == 1 and "Traceback" not in out_of_range.stderr
  assert "--scene=9: scene 9 is out of range: 4 held-out scenes" in out_of_range.stderr
  with socket.socket() as taken:
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    in_use = _run_view([f"--workdir={tiny_run_workdir}", f"--port={port}"])
  assert in_use.returncode == 1 and f"port {port} on 127.0.0.1 is in use" in in_use.stderr


# ---- in a real browser ----

_POSE = re.compile(r"camera: x=(\S+) y=(\S+) z=(\S+) yaw=(\S+) pitch=(\S+)")
_PREDICTION_RECT = """JSON.stringify([...document.querySelectorAll('img')].filter(
    i => i.src.startsWith('blob:') && i.getBoundingClientRect().width > 0).map(i => {
    const r = i.getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; })[0])"""
def _shown_pose(page):
  match = _POSE.search(page.evaluate("document.body.innerText"))
  values = [float(v) for v in match.groups()]
  return np.array(values[:3] + [np.radians(values[3]), np.radians(values[4])], np.float32)


def _drawn_prediction(page, image_size):
  """The prediction as drawn on the screen, one value per model pixel: [S, S, 3] in [0, 1]."""
  x, y, width, height = json.loads(page.wait_for(_PREDICTION_RECT))
  shot = page.screenshot({"x": x, "y": y, "width": width, "height": height}).astype(np.float32)
  rows = ((np.arange(image_size) + 0.5) * shot.shape[0] / image_size).astype(int)
  cols = ((np.arange(image_size) + 0.5) * shot.shape[1] / image_size).astype(int)
  return shot[rows][:, cols] / 255.0


@pytest.mark.skipif(browser.environment_note() is not None,
                    reason=f"no browser test: {browser.environment_note()}")
def test_the_page_draws_the_models_view_of_its_camera(tiny_run_workdir, trained, scenes, tmp_path):
  frames, cameras = scenes
  server, url = browser.start_viewer(
      f"--workdir={tiny_run_workdir}", f"--num_scenes={NUM_SCENES}",
      f"--num_samples={NUM_SAMPLES}", f"--out={tmp_path}")
  page = None
  try:
    page = browser.open_viewer(url)
    size = trained.image_size
    k = trained.config.data.max_context
    enabled = np.ones(k, bool)

    def check_drawn():
      browser.settled_text(page, needs="render:")
      pose = _shown_pose(page)
      drawn = _drawn_prediction(page, size)
      want = expected(trained, frames[0], cameras[0], pose, enabled)
      assert np.abs(drawn - want).max() < 0.03, np.abs(drawn - want).max()
      return pose, drawn

    first_pose, first = check_drawn()
    page.drag((500, 400), (700, 380))  # orbit the viewport's camera
    page.wait_for(f"!document.body.innerText.includes('{viewer.format_pose(first_pose)}')")
    second_pose, second = check_drawn()
    assert np.abs(second_pose - first_pose).max() > 0.05
    assert np.abs(second - first).mean() > 0.005  # the drawing follows the camera
    box_x, box_y = browser.checkbox_centres(page)[0]
    page.click(box_x, box_y)  # context view 0 off
    enabled[0] = False
    time.sleep(1.0)
    _, third = check_drawn()
    assert np.abs(third - second).mean() > 0.001  # and the context views it is given
  finally:
    if page is not None:
      page.close()
    server.terminate()
    server.wait(timeout=20)
