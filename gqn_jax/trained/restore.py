"""Restoring a trained GQN from a checkpoint written by training: `load` -> `TrainedGQN`.

`load(workdir)` reads `<workdir>/checkpoints` (an Orbax CheckpointManager directory, see
docs/architecture.md), restores only the `config` and `params` items, and places the parameters
on the first local device, so a checkpoint written by a multi-device run opens on one CPU. No
optimizer is built. The returned `TrainedGQN` wraps jitted calls of the model:

  trained = restore.load('/tmp/gqn')
  out = trained.render(frames_BxMxHxWx3, cameras_BxMx5, query_cameras_BxQx5, jax.random.key(0),
                       num_samples=4)
  out.images   # [B, Q, H, W, 3], the mean over the prior samples
  out.samples  # [B, Q, S, H, W, 3], one eta^g(u_L) per prior sample (Algorithm S3)

Rendering is chunked over (scene, query, sample) rows with a fixed chunk size, so any number of
query poses fits in memory and one compiled function serves every chunk. The scenes to show it
are read by gqn_jax.trained.run_scenes.
"""

import dataclasses

from absl import logging
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import orbax.checkpoint as ocp

from gqn_jax.model import gqn
from gqn_jax.model import viewpoint
from gqn_jax.runs import camera_scale
from gqn_jax.runs import checkpointing
from gqn_jax.runs import configs
from gqn_jax.runs import schedules
from gqn_jax.runtime import paths

DEFAULT_CHUNK_SIZE = 32  # generator rows per compiled call: bounds memory (samples depend on it)


@dataclasses.dataclass(frozen=True)
class RenderOutput:
  """What `render` returns: per-query mean image and the prior samples it averages."""
  images: jax.Array  # [B, Q, H, W, 3]
  samples: jax.Array  # [B, Q, S, H, W, 3]


def checkpoint_dir(workdir):
  """`<workdir>/checkpoints` as an epath.Path (local or gs://)."""
  return paths.resolve(workdir) / checkpointing.CHECKPOINT_DIR


def available_steps(workdir):
  """Sorted steps saved under `<workdir>/checkpoints` ([] when there is none)."""
  directory = checkpoint_dir(workdir)
  if not directory.is_dir():
    return []
  with checkpointing.reading_manager(directory) as manager:
    return sorted(manager.all_steps())


def abstract_params(config, device=None):
  """ShapeDtypeStructs of the params pytree for `config`, placed on `device` (first by default).

  The model is initialised abstractly (no FLOPs); the result is the restore target, so Orbax
  reshards whatever layout training used onto this one device.
  """
  device = jax.local_devices()[0] if device is None else device
  model = configs.build_model(config)
  batch = gqn.dummy_batch(config.data.image_size, num_slots=1)
  key = jax.random.key(0)
  shapes = jax.eval_shape(
      lambda: model.init({"params": key, "sample": key}, batch, 1.0)["params"])
  sharding = jax.sharding.SingleDeviceSharding(device)
  return jax.tree.map(
      lambda leaf: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=sharding), shapes)


def _checked_config(saved, directory, step):
  config = ml_collections.ConfigDict(saved)
  for section in ("model", "data", "train"):
    if section not in config:
      raise ValueError(
          f"the config saved at step {step} in {directory} has no `{section}` section; expected "
          f"the sections model, data, train and seed; found {sorted(config.keys())}")
  return config


def _restore_params(manager, directory, step, config):
  target = abstract_params(config)
  checkpointing.check_params_fit(manager, step, target, config)
  try:
    restored = manager.restore(
        step, args=ocp.args.Composite(**{checkpointing.PARAMS: ocp.args.StandardRestore(target)}))
  except Exception as error:  # pylint: disable=broad-except
    expected = jax.tree.map(lambda leaf: leaf.shape, target)
    raise ValueError(
        f"the `params` item of step {step} in {directory} does not match the model its own "
        f"config describes (config.model = {config.model.to_dict()}, image_size = "
        f"{config.data.image_size}). Expected parameter shapes: {expected}. Orbax said: {error}"
    ) from error
  return restored[checkpointing.PARAMS]


def load(workdir, step=None):
  """Restores config and params of `step` (by default the newest intact one: a damaged newer
  step is named in a warning and skipped) from `<workdir>/checkpoints`, its files checked
  against their recorded digests; checkpointing.DamagedCheckpointError when none is intact."""
  directory = checkpoint_dir(workdir)
  if not directory.is_dir():
    raise checkpointing.CheckpointNotFoundError(
        f"no checkpoint directory at {directory}: expected `<workdir>/"
        f"{checkpointing.CHECKPOINT_DIR}` written by training "
        "(gqn_jax.training.train.train_and_evaluate). Check --workdir.")
  step, saved_config, _ = checkpointing.newest_intact(directory, step)
  if step is None:
    raise checkpointing.CheckpointNotFoundError(
        f"no checkpoint found in {directory}: expected an Orbax CheckpointManager directory with "
        "numbered step folders, as `python -m gqn_jax.main --workdir=...` writes. Train first or "
        "pass the workdir of a finished run.")
  config = _checked_config(saved_config, directory, step)
  with checkpointing.reading_manager(directory) as manager:
    params = _restore_params(manager, directory, step, config)
  return TrainedGQN(config=config, params=params, step=int(step))


def _as_float_array(name, value, ndim, last_dims):
  array = jnp.asarray(value)
  if not jnp.issubdtype(array.dtype, jnp.floating):
    hint = " (divide uint8 images by 255)" if array.dtype == jnp.uint8 else ""
    raise TypeError(f"{name} must be floating point{hint}; got dtype {array.dtype}")
  if array.ndim != ndim or tuple(array.shape[ndim - len(last_dims):]) != tuple(last_dims):
    raise ValueError(
        f"{name} must have {ndim} dimensions ending in {tuple(last_dims)}; got shape "
        f"{tuple(array.shape)}")
  return array.astype(jnp.float32)


def _check_finite(name, array, keep=None):
  """ValueError naming the first non-finite element of `array` (only where `keep` [B, M] holds,
  for context slots the mask switches off): a NaN in gives NaN images out, without a word."""
  bad = ~np.isfinite(np.asarray(array))
  if keep is not None:
    bad &= np.asarray(keep).reshape(keep.shape + (1,) * (bad.ndim - keep.ndim))
  if bad.any():
    index = tuple(int(i) for i in np.argwhere(bad)[0])
    raise ValueError(
        f"{name} holds {int(bad.sum())} NaN or infinite values (the first at index {index}, value "
        f"{np.asarray(array)[index]}); give finite pixels in [0, 1] and finite poses")


class TrainedGQN:
  """A restored model: its config, params and step, with jitted represent/render/elbo."""

  def __init__(self, config, params, step=0, chunk_size=DEFAULT_CHUNK_SIZE):
    self.config = config
    self.params = params
    self.step = int(step)
    self.chunk_size = int(chunk_size)
    self.image_size = int(config.data.image_size)
    self.module = configs.build_model(config)
    self._represent = jax.jit(self._represent_fn)
    self._generate = jax.jit(self._generate_fn)
    self._elbo = jax.jit(self._elbo_fn)
    self._warned_far = set()

  def _check_distance(self, name, cameras):
    """Warns, once per argument name, about poses far beyond the training cameras."""
    if name in self._warned_far:
      return
    message = camera_scale.far_cameras_message(cameras, self.config, name)
    if message:
      self._warned_far.add(name)
      logging.warning("%s", message)

  @property
  def sigma(self):
    """The pixel standard deviation of the annealing schedule at this checkpoint's step."""
    return float(schedules.sigma_schedule(self.config.train)(self.step))

  # Pure functions of params, jitted once per instance.
  def _represent_fn(self, params, frames, cameras, mask):
    return self.module.apply(
        {"params": params}, frames, cameras, mask, method=gqn.GQN.represent)

  def _generate_fn(self, params, r, query_cameras, key):
    return self.module.apply(
        {"params": params}, r, query_cameras, rngs={"sample": key},
        method=gqn.GQN.generate_from_representation)

  def _elbo_fn(self, params, r, query_frames, query_cameras, sigma, key):
    return self.module.apply(
        {"params": params}, r, query_frames, query_cameras, sigma, rngs={"sample": key},
        method=gqn.GQN.elbo_from_representation)

  def _context(self, frames, cameras, mask):
    """Validated (frames, cameras, mask); zero context views become one masked-out zero slot."""
    size = self.image_size
    frames = _as_float_array("frames", frames, 5, (size, size, 3))
    cameras = _as_float_array("cameras", cameras, 3, (viewpoint.RAW_POSE_SIZE,))
    batch, num_views = frames.shape[:2]
    if cameras.shape[:2] != (batch, num_views):
      raise ValueError(
          f"cameras {tuple(cameras.shape)} must be [B, M, 5] matching frames "
          f"{tuple(frames.shape)}")
    if mask is None:
      mask = jnp.ones((batch, num_views), bool)
    mask = jnp.asarray(mask, bool)
    if mask.shape != (batch, num_views):
      raise ValueError(f"mask must have shape {(batch, num_views)}; got {tuple(mask.shape)}")
    _check_finite("frames", frames, keep=mask)
    _check_finite("cameras", cameras, keep=mask)
    self._check_distance("cameras", np.asarray(cameras)[np.asarray(mask)])
    if num_views == 0:
      # The contract's way to say "no context": a slot the mask switches off.
      frames = jnp.zeros((batch, 1, size, size, 3), jnp.float32)
      cameras = jnp.zeros((batch, 1, viewpoint.RAW_POSE_SIZE), jnp.float32)
      mask = jnp.zeros((batch, 1), bool)
    return frames, cameras, mask

  def represent(self, frames, cameras, mask=None):
    """Scene representation r [B, h, w, C] of context views frames [B, M, H, W, 3] (M may be 0)."""
    frames, cameras, mask = self._context(frames, cameras, mask)
    return self._represent(self.params, frames, cameras, mask)

  def render_from_representation(self, r, query_cameras, rng, num_samples=1):
    """Prior samples for query poses [B, Q, 5] given representations r [B, ...] -> RenderOutput."""
    query_cameras = _as_float_array(
        "query_cameras", query_cameras, 3, (viewpoint.RAW_POSE_SIZE,))
    _check_finite("query_cameras", query_cameras)
    self._check_distance("query_cameras", query_cameras)
    batch, num_queries = query_cameras.shape[:2]
    if r.shape[0] != batch:
      raise ValueError(
          f"r has {r.shape[0]} scenes but query_cameras has {batch}; give [B, Q, 5] poses")
    if num_samples < 1:
      raise ValueError(f"num_samples must be at least 1; got {num_samples}")
    # One row per (scene, query, sample), in that order.
    scene_N = np.repeat(np.arange(batch), num_queries * num_samples)
    cameras_Nx5 = jnp.repeat(query_cameras.reshape(batch * num_queries, -1), num_samples, axis=0)
    rows = _chunked_rows(len(scene_N), self.chunk_size)
    images = []
    for index, (start, stop, padded) in enumerate(rows):
      take = np.arange(start, start + padded).clip(max=len(scene_N) - 1)
      chunk = self._generate(
          self.params, r[scene_N[take]], cameras_Nx5[take], jax.random.fold_in(rng, index))
      images.append(chunk[:stop - start])
    # Pictures: a linear image head's Gaussian mean may leave [0, 1] slightly; no picture can.
    samples = jnp.clip(jnp.concatenate(images), 0.0, 1.0).reshape(
        batch, num_queries, num_samples, self.image_size, self.image_size, 3)
    return RenderOutput(images=samples.mean(axis=2), samples=samples)

  def render(self, frames, cameras, query_cameras, rng, num_samples=1, mask=None):
    """Novel views: images [B, Q, H, W, 3] (mean of `num_samples` prior samples) and the samples."""
    r = self.represent(frames, cameras, mask)
    return self.render_from_representation(r, query_cameras, rng, num_samples)

  def elbo_from_representation(self, r, query_frames, query_cameras, rng, sigma=None):
    """ELBOTerms ([B] nats per image) of targets [B, H, W, 3] at poses [B, 5] given r."""
    size = self.image_size
    query_frames = _as_float_array("query_frames", query_frames, 4, (size, size, 3))
    query_cameras = _as_float_array(
        "query_cameras", query_cameras, 2, (viewpoint.RAW_POSE_SIZE,))
    _check_finite("query_frames", query_frames)
    _check_finite("query_cameras", query_cameras)
    self._check_distance("query_cameras", query_cameras)
    sigma = self.sigma if sigma is None else float(sigma)
    return self._elbo(self.params, r, query_frames, query_cameras, jnp.float32(sigma), rng)

  def elbo(self, frames, cameras, query_frames, query_cameras, rng, mask=None, sigma=None):
    """Scores a target view: ELBOTerms for query_frames [B, H, W, 3] at query_cameras [B, 5].

    sigma defaults to the annealed pixel standard deviation at the checkpoint's step.
    """
    r = self.represent(frames, cameras, mask)
    return self.elbo_from_representation(r, query_frames, query_cameras, rng, sigma)


def _chunked_rows(num_rows, chunk_size):
  """[(start, stop, padded_size)]: every chunk has the same padded size, so one compile suffices."""
  padded = min(chunk_size, num_rows)
  return [(start, min(start + padded, num_rows), padded) for start in range(0, num_rows, padded)]
