"""The GQN's generator and inference cores: one core step (Algorithm S2, lines 15-19), and L.

The inference core (the posterior network q) and the generator core run side by side in every
step, so they live together here.

`CoreStep` is one step l. Its order is the paper's and matters:
  1. prior pi_l from the generator state h^g_l BEFORE this step's update;
  2. (training) the inference ConvLSTM reads x^q, v^q, r, h^g_l and the canvas u_l, and the
     posterior q_l comes from its new state h^e_{l+1}; z_l ~ q_l and the step's KL(q_l || pi_l);
     (generation, no query image) z_l ~ pi_l;
  3. the generator ConvLSTM consumes (v^q, r, z_l) -> h^g_{l+1}, and the canvas grows by a
     4x4 stride-4 transposed conv of h^g_{l+1}: u_{l+1} = u_l + Delta(h^g_{l+1}).

The canvas is kept as its 4x4 patches, [B, S/4, S/4, 16 * canvas_channels] (space_to_depth of
the [B, S, S, canvas_channels] image), the layout in which both of its 4x4 stride-4 convs are
one matmul: at every step the canvas is read and written without a layout copy, and it is put
back into an image only once, by the image head after step L (gqn.GQN).

`Cores` runs the L steps as one `nn.scan` over stacked parameters (unshared cores, the paper's
default) or over one broadcast parameter set (shared cores), optionally under `nn.remat`. With
`scan=False` it runs a Python loop over the very same parameter layout, so both paths can be
checked against each other. Noise for step l is drawn from fold_in(key, l): the same draws in
either path.
"""

from typing import Any, NamedTuple, Optional

import flax.linen as nn
import jax
import jax.numpy as jnp

from gqn_jax.model import convlstm
from gqn_jax.model import convs
from gqn_jax.model import distributions
from gqn_jax.model.config import GQNConfig

QUERY_DOWN_CHANNELS = 48  # 4*4*3: enough channels to keep every pixel of a 4x4 patch
CORE_KERNEL_SIZE = 5  # the ConvLSTM gates' kernels
CANVAS_PATCH = 4  # the canvas is 4x the generator's grid: written and read in 4x4 patches


class CoreCarry(NamedTuple):
  generator: convlstm.LSTMState  # [B, h, w, H] each
  # [B, h, w, 16 * canvas_channels], float32: the sum of L updates, as 4x4 patches (see above)
  canvas: jax.Array
  inference: convlstm.LSTMState  # [B, h, w, H] each


def initial_carry(config: GQNConfig, batch_size):
  """All-zero states and canvas (Algorithm S2, lines 12-13)."""
  grid = config.grid_size
  zero = lambda: convlstm.zero_state(batch_size, grid, grid, config.h_channels, config.dtype)
  canvas = jnp.zeros((batch_size, grid, grid, CANVAS_PATCH**2 * config.canvas_channels),
                     jnp.float32)
  return CoreCarry(generator=zero(), canvas=canvas, inference=zero())


class LatentHead(nn.Module):
  """eta^pi / eta^q: a 5x5 conv of a hidden state to (mean, positive std) of z_l, float32."""
  z_channels: int
  conv_impl: str = "auto"
  dtype: Any = jnp.float32  # compute dtype of the conv; the distribution is float32

  @nn.compact
  def __call__(self, hidden_BxhxwxH):
    out = convs.SameConv(2 * self.z_channels, CORE_KERNEL_SIZE, self.conv_impl, self.dtype,
                         name="conv")(hidden_BxhxwxH)
    return distributions.split_mean_std(out.astype(jnp.float32))


class CoreStep(nn.Module):
  """One step of Algorithm S2 (query given) or S3 (query None). See module docstring.

  viewpoint_r: [v^q, r] along channels and query: the downsampled x^q, both the same at every
  step and so prepared once by `Cores` (convs.prepare_fixed_input).
  """
  config: GQNConfig

  @nn.compact
  def __call__(self, carry: CoreCarry, step_index, viewpoint_r, query, key):
    cfg = self.config
    # 1. The prior reads h^g_l, the state before z_l is consumed (Algorithm S2 line 15).
    prior_mean, prior_std = LatentHead(cfg.z_channels, cfg.conv_impl, cfg.dtype, name="prior")(
        carry.generator.hidden)
    self.sow("intermediates", "prior_mean", prior_mean)
    self.sow("intermediates", "prior_std", prior_std)
    # 2. z_l: from the posterior when the query image is given, else from the prior.
    noise_key = jax.random.fold_in(key, step_index)
    inference_state = carry.inference
    if query is None:  # generation: z_l from the prior
      z = distributions.sample(noise_key, prior_mean, prior_std)
      kl_B = jnp.zeros(z.shape[:1], jnp.float32)
    else:  # training: z_l from the posterior
      canvas_down = convs.PatchConv(cfg.canvas_channels, CANVAS_PATCH, cfg.dtype,
                                    input_as_patches=True, name="canvas_down")(
                                        carry.canvas)  # [B, h, w, canvas_channels]
      # The kernel's input channels: [x^q, canvas, v^q, r, h^g], then h^e.
      inference_state = convlstm.ConvLSTMCell(
          cfg.h_channels, CORE_KERNEL_SIZE, cfg.conv_impl, cfg.dtype, name="inference")(
              inference_state, [query, canvas_down, viewpoint_r, carry.generator.hidden])
      post_mean, post_std = LatentHead(cfg.z_channels, cfg.conv_impl, cfg.dtype, name="posterior")(
          inference_state.hidden)
      z = distributions.sample(noise_key, post_mean, post_std)
      kl_B = jnp.sum(distributions.kl_gaussians(post_mean, post_std, prior_mean, prior_std),
                     axis=(1, 2, 3))
    self.sow("intermediates", "z", z)
    # 3. Only now does the generator consume z_l. Its kernel's inputs: [v^q, r, z], then h^g.
    generator_state = convlstm.ConvLSTMCell(
        cfg.h_channels, CORE_KERNEL_SIZE, cfg.conv_impl, cfg.dtype, name="generator")(
            carry.generator, [viewpoint_r, z])
    canvas_update = convs.PatchConvTranspose(cfg.canvas_channels, CANVAS_PATCH, cfg.dtype,
                                             output_as_patches=True, name="canvas_up")(
                                                 generator_state.hidden)
    new_carry = CoreCarry(generator=generator_state, canvas=carry.canvas + canvas_update,
                          inference=inference_state)
    return new_carry, kl_B


def _scanned_steps(config: GQNConfig):
  step = CoreStep
  if config.remat:
    step = nn.remat(step, prevent_cse=False)
  if config.shared_cores:  # one parameter set, seen by every step
    scan_options = dict(variable_axes={"intermediates": 0}, variable_broadcast="params",
                        split_rngs={"params": False, "sample": True})
  else:  # parameters stacked on a leading axis of length L
    scan_options = dict(variable_axes={"params": 0, "intermediates": 0},
                        split_rngs={"params": True, "sample": True})
  return nn.scan(step, in_axes=(0, nn.broadcast, nn.broadcast, nn.broadcast),
                 length=config.num_layers, **scan_options)


class Cores(nn.Module):
  """The L core steps. Returns (final carry, kl per step [L, B])."""
  config: GQNConfig

  def setup(self):
    self.steps = _scanned_steps(self.config)(self.config)

  def __call__(self, carry: CoreCarry, viewpoint_map, r_map, query_down: Optional[jax.Array],
               key):
    # v^q, r and x^q are the same at every step: under Winograd their input transform is done
    # here once instead of in each of the L steps, and only once kept for the backward pass.
    prepare = lambda x: convs.prepare_fixed_input(x, self.config.conv_impl, CORE_KERNEL_SIZE,
                                                  self.config.dtype)
    viewpoint_r = prepare(jnp.concatenate([viewpoint_map, r_map], axis=-1))
    query = None if query_down is None else prepare(query_down)
    step_indices = jnp.arange(self.config.num_layers)
    if self.config.scan or self.is_initializing():
      return self.steps(carry, step_indices, viewpoint_r, query, key)
    return self._unrolled(carry, viewpoint_r, query, key)

  def _unrolled(self, carry, viewpoint_r, query, key):
    """A Python loop over the scanned parameter layout: slice l of each stacked leaf."""
    stacked = self.variables["params"]["steps"]
    step = CoreStep(self.config, parent=None)
    kls = []
    for l in range(self.config.num_layers):
      params_l = stacked if self.config.shared_cores else jax.tree.map(lambda p: p[l], stacked)
      carry, kl_B = step.apply({"params": params_l}, carry, l, viewpoint_r, query, key)
      kls.append(kl_B)
    return carry, jnp.stack(kls)  # [L, B]
