"""Command line: `python -m gqn_jax.view --workdir=DIR [--port=8080]`.

Opens a live viewer of a trained run (a training workdir or a `pretrained/` model) on
http://127.0.0.1:PORT: orbit a camera around a held-out scene and watch the model's prediction,
switch context views on and off, see its uncertainty (gqn_jax.trained.viewer). Needs the optional
extra: `pip install -e ".[view]"`.
"""

import socket
import time

from absl import app
from absl import flags

from gqn_jax.runtime import compile_cache
from gqn_jax.runtime import console
from gqn_jax.runtime import errors
from gqn_jax.runtime import host_memory

_COMPILATION_CACHE = compile_cache.define_flag()
_WORKDIR = flags.DEFINE_string("workdir", None, "Training workdir or exported model folder.")
_PORT = flags.DEFINE_integer("port", 8080, "Port on 127.0.0.1 (0: any free port).")
_STEP = flags.DEFINE_integer("step", None, "Checkpoint step (default: latest).")
_SCENE = flags.DEFINE_integer("scene", 0, "Held-out scene shown first.")
_NUM_SCENES = flags.DEFINE_integer("num_scenes", 20, "Held-out scenes to browse.", lower_bound=1)
_NUM_SAMPLES = flags.DEFINE_integer("num_samples", 4, "Prior samples per frame.", lower_bound=1)
_DATA_ROOT = flags.DEFINE_string("data_root", None, "Override config.data.root.")
_OUT = flags.DEFINE_string("out", ".", "Folder the 'save PNG' button writes to.")
HOST = "127.0.0.1"


def check_port(port):
  """ConfigError when `port` is taken on HOST (viser would quietly move to another one)."""
  if port == 0:
    return
  with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
    try:
      probe.bind((HOST, port))
    except OSError:
      raise errors.ConfigError(
          f"port {port} on {HOST} is in use (another viewer?): pass --port=<a free port>, or "
          "--port=0 for any free one") from None


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  console.quiet_libraries()
  check_port(_PORT.value)
  try:
    import viser  # pylint: disable=g-import-not-at-top,unused-import
  except ImportError:
    raise errors.ConfigError("the viewer needs viser: pip install -e \".[view]\"") from None
  compile_cache.setup(_COMPILATION_CACHE.value)
  from gqn_jax.trained import live_view  # pylint: disable=g-import-not-at-top  (after configure)
  from gqn_jax.trained import restore  # pylint: disable=g-import-not-at-top
  from gqn_jax.trained import run_scenes  # pylint: disable=g-import-not-at-top
  from gqn_jax.trained import viewer  # pylint: disable=g-import-not-at-top
  trained = restore.load(_WORKDIR.value, _STEP.value)
  frames, cameras = run_scenes.load_test_scenes(trained.config, _NUM_SCENES.value,
                                                _DATA_ROOT.value)
  live = live_view.LiveView(trained, frames, cameras, num_samples=_NUM_SAMPLES.value)
  try:
    live.set_scene(_SCENE.value)
  except IndexError as error:
    raise errors.ConfigError(f"--scene={_SCENE.value}: {error}") from None
  page = viewer.Viewer(live, HOST, _PORT.value, out_dir=_OUT.value)
  print(f"gqn_jax.view: serving {page.url} (step {trained.step}, {live.num_scenes} held-out "
        "scenes); Ctrl-C stops", flush=True)
  try:
    while True:
      time.sleep(1)
  except KeyboardInterrupt:
    page.close()


if __name__ == "__main__":
  host_memory.configure()  # before numpy or JAX starts a thread (main imports them)
  flags.mark_flag_as_required("workdir")
  app.run(errors.command_line("gqn_jax.view", main))
