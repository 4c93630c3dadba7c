"""TFDS builders that read DeepMind's GQN TFRecords where they lie; importing registers them.

  import tensorflow_datasets as tfds
  import tfds_builders  # registers 'gqn'
  ds = tfds.load('gqn/rooms_ring_camera', split='train', data_dir='/data/gqn', download=False,
                 try_gcs=False)
"""

from tfds_builders.gqn import Gqn
from tfds_builders.gqn import GqnConfig

__all__ = ["Gqn", "GqnConfig"]
