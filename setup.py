"""setup.py for tools and habits that look for one; the metadata lives in pyproject.toml.

`pip install -e .` and `pip install .` read pyproject.toml (PEP 621) through setuptools either
way; this file only hands over to it.
"""

import setuptools

setuptools.setup()
