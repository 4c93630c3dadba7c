"""Executes notebooks/train_tpu.ipynb and notebooks/render.ipynb top to bottom on the CPU.

Like papermill, the test inserts a cell of overrides right after the cell tagged 'parameters':
a tiny configuration, procedural data and temporary folders. A notebook that raises fails the test
with the failing cell's traceback.
"""

import pathlib
import sys

import nbclient
import nbformat
import pytest


@pytest.fixture(scope="module", name="notebooks_dir")
def fixture_notebooks_dir(repo_dir):
  return repo_dir / "notebooks"


def inject_parameters(notebook, parameters):
  """Inserts `NAME = value` lines after the 'parameters' cell, as papermill does."""
  tagged = [i for i, cell in enumerate(notebook.cells)
            if "parameters" in cell.get("metadata", {}).get("tags", [])]
  assert len(tagged) == 1, "a notebook needs exactly one cell tagged 'parameters'"
  source = "\n".join(f"{name} = {value!r}" for name, value in parameters.items())
  cell = nbformat.v4.new_code_cell(source)
  cell.metadata["tags"] = ["injected-parameters"]
  notebook.cells.insert(tagged[0] + 1, cell)
  return notebook


# Run before the install cell: a stand-in google.colab (so IN_COLAB is True), a TPU address, no
# gqn_jax to be found, and subprocess.run recording the install commands instead of running them.
_AS_ON_COLAB = """
import importlib.util, os, subprocess, sys, types
_colab = types.ModuleType("google.colab")
_colab.drive = types.SimpleNamespace(mount=lambda path: None)
_colab.auth = types.SimpleNamespace(authenticate_user=lambda: None)
sys.modules["google.colab"] = _colab
os.environ["COLAB_TPU_ADDR"] = "10.0.0.2:8470"
_real_run, _real_find_spec, INSTALL_COMMANDS = subprocess.run, importlib.util.find_spec, []
importlib.util.find_spec = lambda name, *a: None if name == "gqn_jax" else _real_find_spec(name, *a)
subprocess.run = lambda command, **kw: (INSTALL_COMMANDS.append(list(command)),
                                        subprocess.CompletedProcess(command, 0))[1]
"""
# Run after it: everything real again (the stand-in too has to go: JAX imports more of
# google.colab when it sees one), and the recorded commands printed for the test.
_BACK_FROM_COLAB = """
subprocess.run, importlib.util.find_spec = _real_run, _real_find_spec
del os.environ["COLAB_TPU_ADDR"], sys.modules["google.colab"]
print("INSTALL_COMMANDS", INSTALL_COMMANDS)
"""


def as_on_colab(notebook):
  """Wraps the install cell in _AS_ON_COLAB / _BACK_FROM_COLAB: its IN_COLAB branch runs."""
  install = next(i for i, cell in enumerate(notebook.cells)
                 if 'IN_COLAB = "google.colab" in sys.modules' in cell.source)
  notebook.cells.insert(install + 1, nbformat.v4.new_code_cell(_BACK_FROM_COLAB))
  notebook.cells.insert(install, nbformat.v4.new_code_cell(_AS_ON_COLAB))
  return notebook


def execute(notebooks_dir, name, parameters, tmp_path, colab=False):
  notebook = nbformat.read(notebooks_dir / name, as_version=4)
  nbformat.validate(notebook)
  inject_parameters(notebook, parameters)
  if colab:
    as_on_colab(notebook)
  client = nbclient.NotebookClient(
      notebook, timeout=600, kernel_name="python3",
      resources={"metadata": {"path": str(notebooks_dir)}})
  client.execute()
  nbformat.write(notebook, tmp_path / name)  # kept for inspection when something looks off
  return notebook


def outputs_of(notebook, kind):
  return [output for cell in notebook.cells if cell.cell_type == "code"
          for output in cell.get("outputs", []) if output.get("output_type") == kind]


def test_train_notebook_trains_in_resumable_chunks(notebooks_dir, tmp_path, tiny_run_workdir,
                                                   procedural_cache):
  del tiny_run_workdir  # it rendered the procedural scenes this test reuses
  workdir = tmp_path / "run"
  parameters = {
      "CONFIG": "configs/rooms.py:tiny", "WORKDIR": str(workdir),
      "DATA_SOURCE": "procedural",
      "DATA_ROOT": str(tmp_path / "no_deepmind_data"), "PROCEDURAL_CACHE": procedural_cache,
      "NUM_STEPS": 2, "STEPS_PER_CHUNK": 1, "NUM_PLOT_SCENES": 2,
  }
  notebook = execute(notebooks_dir, "train_tpu.ipynb", parameters, tmp_path)
  steps = sorted(int(p.name) for p in (workdir / "checkpoints").iterdir() if p.name.isdigit())
  assert steps == [1, 2]  # chunk 2 resumed from chunk 1's checkpoint, as after a restart
  text = "".join(output.get("text", "") for output in outputs_of(notebook, "stream"))
  assert "trained 2 of 2 steps" in text
  assert any("image/png" in output.get("data", {})
             for output in outputs_of(notebook, "display_data"))


def test_render_notebook_runs_on_a_tiny_checkpoint_as_on_a_colab_tpu(notebooks_dir, tmp_path,
                                                                    tiny_run_workdir, repo_dir):
  workdir = tiny_run_workdir
  parameters = {"WORKDIR": workdir, "NUM_SCENES": 3, "NUM_SAMPLES": 2, "NUM_FRAMES": 4}
  notebook = execute(notebooks_dir, "render.ipynb", parameters, tmp_path, colab=True)
  text = "".join(output.get("text", "") for output in outputs_of(notebook, "stream"))
  # The IN_COLAB branch: the checkout installed, then the TPU build of jax in pyproject's range.
  assert "Colab: True, TPU attached: True" in text
  assert (f"INSTALL_COMMANDS [[{sys.executable!r}, '-m', 'pip', 'install', '-q', '-e', "
          f"{str(repo_dir)!r}], [{sys.executable!r}, '-m', 'pip', 'install', '-q', "
          "'jax[tpu]>=0.10.2,<0.12']]") in text
  pictures = [output for output in outputs_of(notebook, "display_data")
              if "image/png" in output.get("data", {}) or "image/gif" in output.get("data", {})]
  # Novel views, fly-around, uncertainty, information gain, scene algebra.
  assert len(pictures) >= 5
  # The live viewer's cell: its widgets drawn, a slider moved, a new prediction rendered.
  assert "live viewer: camera" in text
  assert any("application/vnd.jupyter.widget-view+json" in output.get("data", {})
             for output in outputs_of(notebook, "display_data"))
  assert pathlib.Path(workdir, "flyaround.gif").is_file()
