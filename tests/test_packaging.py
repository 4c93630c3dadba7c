"""pyproject.toml: one TensorFlow wheel that exists per platform, the license and citation files."""

import os
import sys
import tomllib

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tools"))
import check_install  # pylint: disable=g-import-not-at-top,wrong-import-position


def _names(requirements):
  return {requirement.split(">")[0].split("<")[0].split("=")[0].strip()
          for requirement in requirements}


@pytest.mark.parametrize("platform_name, tensorflow", [
    ("linux_x86_64", "tensorflow-cpu"), ("windows_amd64", "tensorflow-cpu"),
    ("linux_aarch64", "tensorflow"), ("macos_arm64", "tensorflow")])
@pytest.mark.parametrize("python_version", ["3.11", "3.12"])
def test_each_platform_gets_exactly_the_tensorflow_wheel_that_exists_for_it(
    platform_name, tensorflow, python_version):
  names = _names(check_install.requirements_for(platform_name, python_version))
  assert names & {"tensorflow", "tensorflow-cpu"} == {tensorflow}
  assert {"jax", "flax", "optax", "orbax-checkpoint", "tensorflow-datasets"} <= names


def test_the_jax_range_admits_0_11():
  from packaging.requirements import Requirement  # pylint: disable=g-import-not-at-top
  with open(os.path.join(REPO, "pyproject.toml"), "rb") as f:
    dependencies = tomllib.load(f)["project"]["dependencies"]
  jax = next(Requirement(d) for d in dependencies if Requirement(d).name == "jax")
  assert "0.10.2" in jax.specifier and "0.11.2" in jax.specifier and "0.12.0" not in jax.specifier


def test_license_and_citation_name_apache_2_and_the_paper():
  with open(os.path.join(REPO, "pyproject.toml"), "rb") as f:
    project = tomllib.load(f)["project"]
  with open(os.path.join(REPO, "LICENSE"), encoding="utf-8") as f:
    assert "Apache License" in f.read(200) and project["license"] == "Apache-2.0"
  with open(os.path.join(REPO, "CITATION.cff"), encoding="utf-8") as f:
    citation = yaml.safe_load(f)
  assert citation["license"] == "Apache-2.0" and citation["version"] == project["version"]
  assert citation["preferred-citation"]["doi"] in project["urls"]["Paper"]
