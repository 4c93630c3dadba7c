"""Screenshots of the live viewer in headless Chromium, for the README and docs/inference.md.

  python tools/viewer_screenshot.py --workdir=pretrained/rooms_ring_camera_small --out=docs/images

Starts `python -m gqn_jax.view` on a free port, opens it, and saves viewer_start.png (as
opened), viewer_orbit.png (after a mouse drag orbits the camera) and viewer_one_view.png (every
context view but the first switched off). Needs Debian's `chromium`.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

import browser  # pylint: disable=g-import-not-at-top,wrong-import-position
from PIL import Image  # pylint: disable=g-import-not-at-top,wrong-import-position

def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--workdir", required=True)
  parser.add_argument("--out", default="docs/images")
  args = parser.parse_args()
  server, url = browser.start_viewer(f"--workdir={args.workdir}", "--num_scenes=4")
  page = None
  try:
    page = browser.open_viewer(url, width=1400, height=860)
    page.evaluate("document.querySelectorAll('.mantine-Notification-closeButton')"
                  ".forEach(b => b.click())")  # the software-WebGL notice
    browser.settled_text(page, seconds=2.0)
    Image.fromarray(page.screenshot()).save(os.path.join(args.out, "viewer_start.png"))
    page.drag((450, 420), (620, 400))
    browser.settled_text(page, seconds=2.0)
    Image.fromarray(page.screenshot()).save(os.path.join(args.out, "viewer_orbit.png"))
    for x, y in browser.checkbox_centres(page)[1:]:
      page.click(x, y)
      time.sleep(0.5)
    browser.settled_text(page, seconds=2.0)
    Image.fromarray(page.screenshot()).save(os.path.join(args.out, "viewer_one_view.png"))
    print(f"wrote viewer_start.png, viewer_orbit.png, viewer_one_view.png under {args.out}")
  finally:
    if page is not None:
      page.close()
    server.terminate()
    server.wait(timeout=20)


if __name__ == "__main__":
  main()
