"""The paper's training configuration (Table S1), shared by every file in configs/.

Each configs/<family>.py picks a dataset and calls `paper_config`; its `arg` string (e.g.
`configs/rooms.py:small`) then applies a named preset from here, a flat dict of overrides
(SIZE_PRESETS; gqn_jax.runs.config_files applies it). The result is data only.
`config.model` starts as GQNConfig's own defaults (gqn_jax.model.config, their only home) and the
model is built from it by gqn_jax.runs.configs.build_model.
"""

import os

import ml_collections
from ml_collections import config_dict

from gqn_jax.model import config as gqn_config


def default_data_root():
  """Where `python -m gqn_jax.main` looks for DeepMind's files: $GQN_DATA_DIR or ~/gqn-datasets."""
  return os.environ.get("GQN_DATA_DIR", os.path.expanduser("~/gqn-datasets"))


def default_procedural_cache():
  """Where the procedural stand-in is rendered: $GQN_PROCEDURAL_CACHE or ~/.cache/gqn_jax/..."""
  return os.environ.get("GQN_PROCEDURAL_CACHE",
                        os.path.expanduser("~/.cache/gqn_jax/procedural"))


def paper_config(dataset_name, image_size, max_context):
  """Table S1 hyper-parameters for `dataset_name` at `image_size` with up to `max_context` views."""
  config = ml_collections.ConfigDict()
  config.seed = 0

  # Every field of GQNConfig but image_size (that is config.data.image_size), with its default.
  config.model = ml_collections.ConfigDict(gqn_config.defaults())
  # A run's camera positions enter the networks at about unit scale: 'auto' is 1 / the training
  # cameras' measured distance (config.data.camera_distance_rms), turned into the model's number
  # before the model is built; a number (from a config file or the command line) is used as given.
  config.model.position_scale = config_dict.FieldReference("auto", field_type=object)

  config.data = ml_collections.ConfigDict()
  config.data.name = dataset_name
  config.data.source = "auto"  # 'auto' | 'deepmind' | 'procedural'
  config.data.root = default_data_root()
  config.data.max_context = max_context
  config.data.image_size = image_size
  config.data.skip_bad_records = False
  # Scenes held by the shuffle buffer, which is saved in every checkpoint (tf.data iterator state).
  config.data.shuffle_buffer_size = 1024
  config.data.procedural_cache = default_procedural_cache()
  config.data.procedural_num_train = 2000
  config.data.procedural_num_test = 200
  # The training cameras' root mean square distance from the origin, in the data's units:
  # measured from the first training scenes when a run starts (gqn_jax.runs.camera_scale) and
  # stored with the run; model.position_scale='auto' divides positions by it. Set it (or give
  # position_scale a number) to skip the measurement.
  config.data.camera_distance_rms = config_dict.placeholder(float)

  config.train = ml_collections.ConfigDict()
  config.train.num_steps = 2_000_000
  config.train.batch_size = 36  # global, split evenly over every device of every host
  config.train.adam_b1 = 0.9
  config.train.adam_b2 = 0.999
  config.train.adam_eps = 1e-8
  config.train.lr_initial = 5e-4
  config.train.lr_final = 5e-5
  config.train.lr_anneal_steps = 1_600_000
  config.train.sigma_initial = 2.0
  config.train.sigma_final = 0.7
  config.train.sigma_anneal_steps = 200_000
  config.train.log_every = 100
  config.train.checkpoint_every = 5000
  config.train.eval_every = 10_000
  config.train.eval_batches = 10  # test batches (of batch_size scenes) per evaluation
  config.train.eval_at_start = True  # evaluate the initial model: the baseline of the curve
  config.train.max_checkpoints_to_keep = 3
  # Stop (with a checkpoint and an evaluation) after this many seconds in the loop; 0: no limit.
  # For fixed-length jobs and benchmarks/cpu_demo.py; a restart continues from the checkpoint.
  config.train.time_limit_s = 0
  config.train.num_image_examples = 4  # scenes drawn in the TensorBoard image grids
  # Run each step's representation network only on the context slots in use, compiling a few
  # slot counts (training/context_trim.py); False: one compile over all max_context slots.
  config.train.trim_context = True
  # A departure from Algorithm S1 (training/query_copy.py): this fraction of training queries
  # are copies of a context view. 0: the paper's training.
  config.train.copy_query_fraction = 0.0
  config.train.copy_query_until_step = 0  # > 0: no copies from this step on (a warm-up)
  return config


# The README's first command: sized so that it ends within 12 minutes on a 2-core CPU, report
# included, leaving a slower laptop inside 15 (measured: docs/learning.md, "The README's first
# command").
_SMALL_NUM_STEPS = 3500

# The CPU demo and the README's first command: a 32x32, 4-layer model for a 2-core CPU (its
# minutes are measured in docs/learning.md). Flat {"section.key": value} overrides of
# paper_config, applied by gqn_jax.runs.config_files.apply_overrides.
SMALL = {
    "data.image_size": 32,
    "data.max_context": 5,
    "model.num_layers": 4,
    "model.h_channels": 32,
    "model.z_channels": 4,
    "model.canvas_channels": 32,
    "model.r_channels": 64,
    # Unrolled: with L=4 compile time is no concern (the scanned cores with XLA's conv were
    # far slower on CPU; conv_impl='auto' now avoids that path: docs/model.md has the numbers).
    "model.scan": False,
    # Batch 8: batches of 8 to 64 learn alike per CPU minute (docs/learning.md, screen 4).
    "train.batch_size": 8,
    "train.num_steps": _SMALL_NUM_STEPS,
    "train.lr_initial": 1e-3,
    "train.lr_final": 1e-4,
    "train.lr_anneal_steps": _SMALL_NUM_STEPS,  # the rate reaches lr_final at the end
    "train.sigma_anneal_steps": _SMALL_NUM_STEPS // 3,  # sigma reaches 0.7 after the first third
    "train.log_every": 50,
    # SIGTERM and Ctrl-C save the step in flight (training.preemption); this bounds only what a
    # hard kill loses. At the same steps as the evaluations.
    "train.checkpoint_every": 500,
    "train.eval_every": 500,
    "train.eval_batches": 8,
    # Fresh procedural scenes at every step (gqn_jax.scenes.stream): no epochs, no TensorFlow on
    # the training path; as good as the 2000 cached scenes at equal steps (docs/learning.md). It
    # never reads files: --config.data.source=auto trains on DeepMind's files where present.
    "data.source": "stream",
    "data.shuffle_buffer_size": 256,  # (files only) saved with every checkpoint: keep it small
    "data.procedural_num_train": 2000,  # (files only)
    "data.procedural_num_test": 100,  # the held-out scenes, rendered once
}

# Seconds-long runs for tests: 16x16 images, two tiny layers, a handful of steps.
TINY = {
    "data.image_size": 16,
    "data.max_context": 3,
    "model.num_layers": 2,
    "model.h_channels": 8,
    "model.z_channels": 2,
    "model.canvas_channels": 8,
    "model.r_channels": 16,
    "model.scan": False,  # see SMALL
    "train.batch_size": 4,
    "train.num_steps": 4,
    "train.log_every": 1,
    "train.checkpoint_every": 2,
    "train.eval_every": 4,
    "train.eval_batches": 1,
    "train.num_image_examples": 2,
    "data.procedural_num_train": 16,
    "data.procedural_num_test": 8,
}

SIZE_PRESETS = {"paper": {}, "small": SMALL, "tiny": TINY}
