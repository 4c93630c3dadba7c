"""Every command the user documents show parses: configs named as `configs/...` load, and each flag
of a `python -m gqn_jax...` command is one that module defines (or a key of its config).

The documents: README, docs/, model and launch READMEs, notebooks, launch scripts and benchmarks.
The specified layout is checked here too (the top-level folders and setup.py).
"""

import pathlib
import re
import shlex

import pytest

from gqn_jax.runs import config_files

REPO = pathlib.Path(__file__).resolve().parents[1]
DOCUMENTS = sorted(
    [REPO / "README.md", *REPO.glob("docs/*.md"), *REPO.glob("docs/benchmarks/*.md"),
     *REPO.glob("pretrained/*/README.md"), *REPO.glob("launch/*"), *REPO.glob("notebooks/*.ipynb"),
     *REPO.glob("benchmarks/*.py"), *REPO.glob("benchmarks/*.sh")])
CONFIG_SPEC = re.compile(r"(?<![\w/])configs/([a-z_]+)\.py(:[a-z0-9_,]+)?")
COMMAND = re.compile(r"python -m (gqn_jax(?:\.[a-z_]+)+)((?:[ \t]+(?:\\\n[ \t]*)?[^\s`\"|&;)]+)*)")
# absl's own flags, which every command line has.
ABSL_FLAGS = {"help", "helpfull", "helpshort", "flagfile", "logtostderr", "alsologtostderr", "v",
              "verbosity"}


def _texts():
  for path in DOCUMENTS:
    if path.is_file():
      yield path.relative_to(REPO), path.read_text(encoding="utf-8").replace("\\n\",\n", "\n")


def _config_specs():
  specs = set()
  for _, text in _texts():
    for match in CONFIG_SPEC.finditer(text):
      specs.add(match.group(0))
  return sorted(specs)


def _commands():
  found = []
  for name, text in _texts():
    for match in COMMAND.finditer(text):
      words = shlex.split(match.group(2).replace("\\\n", " "), comments=True)
      found.append((str(name), match.group(1), words))
  return found


def _module_flags(module):
  """The flag names `module`'s source defines (absl DEFINE_* calls), read without importing it
  (several command lines define the same names)."""
  relative = module.replace(".", "/")
  source = REPO / f"{relative}.py"
  if not source.is_file():
    source = REPO / relative / "__main__.py"
  text = source.read_text(encoding="utf-8")
  names = set(re.findall(r"DEFINE_\w+\(\s*\"(\w+)\"", text))
  if "compile_cache.define_flag()" in text:
    names.add("compilation_cache")
  return names


def test_the_specified_layout_is_at_the_top():
  for folder in ("gqn_jax", "configs", "tfds_builders", "tests", "launch"):
    assert (REPO / folder).is_dir(), folder
  assert (REPO / "setup.py").is_file()
  assert {p.stem for p in (REPO / "configs").glob("*.py")} >= {
      "default", "rooms", "rooms_free_camera", "shepard_metzler", "mazes", "jaco"}


def test_the_documents_name_configs_only_by_their_top_level_path():
  for name, text in _texts():
    assert "gqn_jax/configs" not in text, name


@pytest.mark.parametrize("spec", _config_specs())
def test_every_documented_config_loads(spec):
  if spec == "configs/default.py":  # Table S1 itself, which the dataset files build on
    with pytest.raises(ValueError, match="not a training config"):
      config_files.load(spec)
    return
  config = config_files.load(spec)
  assert {"model", "data", "train"} <= set(config.keys())


def test_the_main_command_is_documented_with_its_first_run_config():
  commands = {(module, " ".join(words)) for _, module, words in _commands()}
  assert ("gqn_jax.main", "--config=configs/rooms.py:small") in commands
  assert ("gqn_jax.main", "--config=configs/rooms.py --workdir=/tmp/gqn_rooms") in commands


def _check_flag(module, word, module_flags, config):
  name, _, value = word.lstrip("[").rstrip("]").lstrip("-").partition("=")
  if name.startswith("config.") and config is not None:
    node = config
    for key in name.split(".")[1:]:
      assert key in node, f"{word}: no such config key"
      node = node[key]
    return
  assert name in module_flags | ABSL_FLAGS, f"{module} has no flag --{name}"
  del value


@pytest.mark.parametrize("document, module, words", _commands(),
                         ids=lambda value: value if isinstance(value, str) else None)
def test_every_documented_command_line_parses(document, module, words):
  del document
  module_flags = _module_flags(module)
  config = None
  for word in words:
    spec = word.strip("[]").partition("=")[2]
    if word.strip("[").startswith("--config=") and spec and "$" not in spec:  # not a variable
      config = config_files.load(spec)
  for word in words:
    if word.startswith(("--", "[--")) and not word.startswith(("--config=", "[--config=")):
      _check_flag(module, word, module_flags, config)


def test_user_documents_carry_no_issue_numbers():
  """README and docs speak to users: results and commands, not the project's tracker (another
  project's issue is cited as 'issue #N' of that repository)."""
  user_documents = [REPO / "README.md", *REPO.glob("docs/**/*.md"),
                    *REPO.glob("pretrained/*/README.md"), REPO / "launch" / "README.md"]
  for path in user_documents:
    text = path.read_text(encoding="utf-8")
    found = re.findall(r"\b[Ii]ssues? \d+|\b[Ii]ssue \d+'s", text)
    assert not found, (path.relative_to(REPO), found)


PYTHON_BLOCK = re.compile(r"```python\n(.*?)```", re.S)


@pytest.mark.parametrize("document", ["docs/model.md", "docs/inference.md"])
def test_every_python_block_runs_as_written(document, monkeypatch):
  """The usage examples run as a user pastes them, from the repository's root, one namespace per
  document (a later block may use an earlier one's names)."""
  blocks = PYTHON_BLOCK.findall((REPO / document).read_text(encoding="utf-8"))
  assert blocks, document
  monkeypatch.chdir(REPO)
  namespace = {"__name__": "__doc_example__"}
  for index, block in enumerate(blocks):
    exec(compile(block, f"{document}, python block {index + 1}", "exec"), namespace)  # pylint: disable=exec-used
