"""A headless Chromium driven over the DevTools protocol, for the tests of web pages.

Debian's `chromium` package (apt-get install chromium) is all it needs; `find_chromium` returns
None where there is none, so a test can say why it skipped. The protocol is spoken over one
websocket (the `websockets` package, which viser brings): navigate, evaluate JavaScript, take
screenshots, move and click the mouse.
"""

import base64
import io
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import numpy as np
from PIL import Image

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "chrome")


def find_chromium():
  for name in CANDIDATES:
    path = shutil.which(name)
    if path:
      return path
  return None


def free_port():
  with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    return probe.getsockname()[1]


class Browser:
  """One headless Chromium with one page."""

  def __init__(self, width=1400, height=900):
    from websockets.sync import client  # pylint: disable=g-import-not-at-top
    self._profile = tempfile.mkdtemp(prefix="gqn_jax_chromium_")
    port = free_port()
    self._process = subprocess.Popen(
        [find_chromium(), "--headless=new", "--no-sandbox", "--no-first-run",
         "--enable-unsafe-swiftshader", "--use-angle=swiftshader",
         f"--remote-debugging-port={port}", f"--user-data-dir={self._profile}",
         f"--window-size={width},{height}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 30
    while True:
      try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2) as reply:
          pages = [t for t in json.load(reply) if t["type"] == "page"]
        if pages:
          break
      except OSError:
        pass
      if time.time() > deadline:
        raise RuntimeError("chromium did not open its DevTools port within 30 s")
      time.sleep(0.2)
    self._socket = client.connect(pages[0]["webSocketDebuggerUrl"], max_size=2 ** 26)
    self._ids = itertools.count(1)
    self.send("Page.enable")

  def send(self, method, **params):
    """The result of one DevTools command (events that arrive meanwhile are dropped)."""
    message_id = next(self._ids)
    self._socket.send(json.dumps({"id": message_id, "method": method, "params": params}))
    while True:
      reply = json.loads(self._socket.recv(timeout=60))
      if reply.get("id") == message_id:
        if "error" in reply:
          raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

  def open(self, url):
    self.send("Page.navigate", url=url)

  def evaluate(self, expression):
    result = self.send("Runtime.evaluate", expression=expression, returnByValue=True,
                       awaitPromise=True)
    return result.get("result", {}).get("value")

  def wait_for(self, expression, timeout=60.0, interval=0.25):
    """The first truthy value of `expression`, polled; TimeoutError after `timeout` seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
      value = self.evaluate(expression)
      if value:
        return value
      time.sleep(interval)
    raise TimeoutError(f"the page never satisfied: {expression}")

  def screenshot(self, clip=None):
    """uint8 [H, W, 3] of the page (or the clip {x, y, width, height} in CSS pixels)."""
    params = {"format": "png"}
    if clip is not None:
      params["clip"] = dict(clip, scale=1)
    data = self.send("Page.captureScreenshot", **params)["data"]
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB"))

  def drag(self, start, end, steps=10):
    """A left-button drag from `start` to `end` (x, y in CSS pixels)."""
    self.send("Input.dispatchMouseEvent", type="mouseMoved", x=start[0], y=start[1])
    self.send("Input.dispatchMouseEvent", type="mousePressed", x=start[0], y=start[1],
              button="left", buttons=1, clickCount=1)
    for fraction in np.linspace(0, 1, steps + 1)[1:]:
      x, y = (start[i] + fraction * (end[i] - start[i]) for i in range(2))
      self.send("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y, button="left", buttons=1)
      time.sleep(0.03)
    self.send("Input.dispatchMouseEvent", type="mouseReleased", x=end[0], y=end[1],
              button="left", buttons=0, clickCount=1)

  def click(self, x, y):
    for kind in ("mousePressed", "mouseReleased"):
      self.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

  def close(self):
    try:
      self._socket.close()
    finally:
      self._process.terminate()
      self._process.wait(timeout=10)
      shutil.rmtree(self._profile, ignore_errors=True)


_CHECKBOXES = """JSON.stringify([...document.querySelectorAll('input[type=checkbox]')].filter(
    i => i.getBoundingClientRect().width > 0).map(i => {
    const r = i.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }))"""


def checkbox_centres(page):
  """[(x, y)] of the page's visible check boxes, in document order."""
  return json.loads(page.wait_for(_CHECKBOXES))


def settled_text(page, seconds=1.5, timeout=60.0, needs=""):
  """The page's text once it has not changed for `seconds` (and holds `needs`)."""
  deadline, last, since = time.time() + timeout, None, time.time()
  while time.time() < deadline:
    text = page.evaluate("document.body.innerText")
    if text != last:
      last, since = text, time.time()
    elif time.time() - since >= seconds and needs in text:
      return text
    time.sleep(0.2)
  raise TimeoutError("the page kept changing")


def start_viewer(*flags):
  """(process, url) of `python -m gqn_jax.view` with `flags` on a free port, once it serves;
  RuntimeError with its output if it stops first."""
  port = free_port()
  process = subprocess.Popen([sys.executable, "-m", "gqn_jax.view", f"--port={port}", *flags],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
  output = []
  for line in process.stdout:
    output.append(line)
    if "serving http://" in line:
      return process, f"http://127.0.0.1:{port}"
  raise RuntimeError("the viewer stopped before serving:\n" + "".join(output[-30:]))


def open_viewer(url, width=1400, height=900):
  """A Browser on the viewer at `url`, once its first frame is drawn."""
  page = Browser(width, height)
  page.open(url)
  page.wait_for("document.body.innerText.includes('render:')", timeout=120)
  return page


def environment_note():
  """Why a browser test cannot run here, or None."""
  if find_chromium() is None:
    return "no chromium on PATH (Debian: apt-get install chromium)"
  try:
    import websockets.sync.client  # pylint: disable=g-import-not-at-top,unused-import
  except ImportError:
    return "the websockets package is missing (pip install -e \".[view]\")"
  if os.environ.get("GQN_JAX_NO_BROWSER"):
    return "GQN_JAX_NO_BROWSER is set"
  return None
