"""gqn_jax: the Generative Query Network (Eslami et al., Science 2018) in JAX/Flax."""

__version__ = "0.1.0"
