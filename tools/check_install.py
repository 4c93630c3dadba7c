"""Does `pip install gqn_jax` resolve on the platforms researchers use? One dry run per platform.

  python tools/check_install.py                 # every platform of PLATFORMS, Python 3.11 and 3.12
  python tools/check_install.py --platforms=macos_arm64 --pythons=3.12

For each (platform, Python) it evaluates pyproject.toml's dependency markers for that platform
(pip would evaluate them for the machine it runs on), then asks pip to resolve those requirements
with binary wheels only for that platform's tags (`pip install --dry-run --platform ...`), and
prints one line per pair: the TensorFlow and jaxlib it would install, or pip's error. Needs the
package index; nothing is installed. Markers of the dependencies' own dependencies are still
evaluated by pip for this machine: a pip limitation, rarely a difference for these packages.
A dependency published only as a source archive (e.g. `promise`, which tensorflow-datasets needs)
cannot be resolved for another platform, since pip builds nothing there; when pip names one, it
is built here into a wheel and accepted if that wheel is pure Python (`-none-any`, the same on
every platform), and the resolution is tried again.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import tomllib

from packaging.requirements import Requirement

REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# platform name -> (marker environment, wheel tags pip may pick for it)
PLATFORMS = {
    "linux_x86_64": ({"sys_platform": "linux", "platform_system": "Linux",
                      "platform_machine": "x86_64"},
                     ["manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux_2_27_x86_64",
                      "manylinux_2_28_x86_64", "manylinux_2_31_x86_64", "linux_x86_64"]),
    "linux_aarch64": ({"sys_platform": "linux", "platform_system": "Linux",
                       "platform_machine": "aarch64"},
                      ["manylinux2014_aarch64", "manylinux_2_17_aarch64",
                       "manylinux_2_27_aarch64", "manylinux_2_28_aarch64",
                       "manylinux_2_31_aarch64", "linux_aarch64"]),
    "macos_arm64": ({"sys_platform": "darwin", "platform_system": "Darwin",
                     "platform_machine": "arm64"},
                    [f"macosx_{major}_0_arm64" for major in (11, 12, 13, 14, 15)]
                    + ["macosx_11_0_universal2"]),
    "windows_amd64": ({"sys_platform": "win32", "platform_system": "Windows",
                       "platform_machine": "AMD64"}, ["win_amd64"]),
}


def requirements_for(platform_name, python_version):
  """pyproject.toml's dependencies whose markers hold on that platform, markers removed."""
  with open(os.path.join(REPO_DIR, "pyproject.toml"), "rb") as f:
    dependencies = tomllib.load(f)["project"]["dependencies"]
  environment = dict(PLATFORMS[platform_name][0], python_version=python_version,
                     python_full_version=f"{python_version}.0", implementation_name="cpython")
  chosen = []
  for line in dependencies:
    requirement = Requirement(line)
    if requirement.marker is None or requirement.marker.evaluate(environment):
      requirement.marker = None
      chosen.append(str(requirement))
  return chosen


def _pure_python_wheel(name, wheel_dir):
  """Build `name` from its source archive into wheel_dir; True when the wheel is pure Python."""
  subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", wheel_dir,
                  name], capture_output=True, text=True, check=False)
  normalised = re.sub(r"[-_.]+", "_", name).lower()
  return any(f.lower().startswith(normalised + "-") and f.endswith("-none-any.whl")
             for f in os.listdir(wheel_dir))


def _resolve(platform_name, python_version, wheel_dir, extra_flags=()):
  """One `pip install --dry-run` for the platform; the CompletedProcess."""
  with tempfile.TemporaryDirectory() as target:
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed",
               "--only-binary=:all:", "--python-version", python_version, "--target", target,
               "--find-links", wheel_dir, "--quiet", "--report", "-", *extra_flags]
    for tag in PLATFORMS[platform_name][1]:
      command += ["--platform", tag]
    return subprocess.run(command + requirements_for(platform_name, python_version),
                          capture_output=True, text=True, check=False)


def dry_run(platform_name, python_version, wheel_dir):
  """pip's verdict for one pair: 'ok: <what it would install>' or 'FAILED: <pip's error>'."""
  built = set()
  while True:
    result = _resolve(platform_name, python_version, wheel_dir)
    missing = re.search(r"No matching distribution found for ([A-Za-z0-9_.-]+)", result.stderr)
    if not (result.returncode and missing and missing.group(1) not in built
            and _pure_python_wheel(missing.group(1), wheel_dir)):
      break
    built.add(missing.group(1))
  if result.returncode:
    errors = [line for line in result.stderr.splitlines()
              if line.startswith("ERROR") and "Ignored the following" not in line]
    direct = _resolve(platform_name, python_version, wheel_dir, ["--no-deps"])
    direct_verdict = "resolve" if direct.returncode == 0 else "do not resolve either"
    return (f"FAILED: {' '.join(errors) or result.stderr.strip()[-300:]} "
            f"(pyproject's own requirements alone, --no-deps, {direct_verdict})")
  names = re.findall(r'"name": "([^"]+)",\s*"version": "([^"]+)"', result.stdout)
  picked = {re.sub(r"[-_.]+", "-", name).lower(): version for name, version in names}
  shown = [f"{name} {picked[name]}" for name in ("jax", "jaxlib", "tensorflow", "tensorflow-cpu")
           if name in picked]
  note = f" (built here, pure Python: {', '.join(sorted(built))})" if built else ""
  return f"ok: {len(picked)} packages, " + ", ".join(shown) + note


def main(argv):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--platforms", default=",".join(PLATFORMS))
  parser.add_argument("--pythons", default="3.11,3.12")
  args = parser.parse_args(argv)
  failed = False
  with tempfile.TemporaryDirectory() as wheel_dir:
    for platform_name in args.platforms.split(","):
      for python_version in args.pythons.split(","):
        verdict = dry_run(platform_name, python_version, wheel_dir)
        failed |= verdict.startswith("FAILED")
        print(f"{platform_name:14s} Python {python_version}: {verdict}", flush=True)
  return 1 if failed else 0


if __name__ == "__main__":
  sys.exit(main(sys.argv[1:]))
