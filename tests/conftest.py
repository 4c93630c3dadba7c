"""Test-wide settings: keep TensorFlow off accelerators and quiet, and JAX on 64-bit-free CPU."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
