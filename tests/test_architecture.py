"""The house: every module of the package is on the architecture map, the package's top level
stays small, and the run-time helpers import nothing of the package."""

import ast
import pathlib

REPO_DIR = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = REPO_DIR / "gqn_jax"
MAP = (REPO_DIR / "docs" / "architecture.md").read_text(encoding="utf-8")
MAX_TOP_LEVEL_MODULES = 8


def _rows():
  return [line for line in MAP.splitlines() if line.startswith("| `")]


def _named(module):
  """Whether docs/architecture.md names `module` (a path under the repository): its full path
  anywhere, or its file name in the row of its folder."""
  relative = module.relative_to(REPO_DIR).as_posix()
  if f"`{relative}`" in MAP:
    return True
  folder = module.parent.relative_to(REPO_DIR).as_posix() + "/"
  return any(row.startswith(f"| `{folder}`") and f"`{module.name}`" in row for row in _rows())


def test_every_module_of_the_package_is_on_the_architecture_map():
  modules = [path for path in sorted(PACKAGE.rglob("*.py")) if path.name != "__init__.py"
             and "__pycache__" not in path.parts]
  assert len(modules) > 50
  missing = [path.relative_to(REPO_DIR).as_posix() for path in modules if not _named(path)]
  assert not missing, f"docs/architecture.md does not name {missing}"


def test_the_package_keeps_few_top_level_modules():
  top = sorted(path.name for path in PACKAGE.glob("*.py"))
  assert len(top) <= MAX_TOP_LEVEL_MODULES, top


def _imports(path):
  tree = ast.parse(path.read_text(encoding="utf-8"))
  for node in ast.walk(tree):
    if isinstance(node, ast.ImportFrom) and node.module:
      yield node.module
    elif isinstance(node, ast.Import):
      yield from (alias.name for alias in node.names)


def test_the_runtime_helpers_import_nothing_of_the_package():
  for path in (PACKAGE / "runtime").glob("*.py"):
    own = [name for name in _imports(path) if name.startswith("gqn_jax")
           and not name.startswith("gqn_jax.runtime")]
    assert not own, f"{path.name} imports {own}"


def test_the_command_lines_stay_thin():
  for name in ("main.py", "evaluate.py", "render.py", "export.py"):
    lines = len((PACKAGE / name).read_text(encoding="utf-8").splitlines())
    assert lines <= 120, f"gqn_jax/{name} has {lines} lines"
