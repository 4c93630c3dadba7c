"""The convolutional LSTM cell used by the GQN generator and inference cores.

All four gates come from ONE convolution over the concatenated [inputs, h]: one large op instead
of eight small ones (an input and a hidden conv per gate) is what the CPU and accelerators run
fastest, and it is the same function (a conv of a concatenation is the sum of the convs).
"""

from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from gqn_jax.model import convs


class LSTMState(NamedTuple):
  cell: jax.Array  # [B, h, w, C]
  hidden: jax.Array  # [B, h, w, C]


def zero_state(batch_size, height, width, channels, dtype=jnp.float32):
  zeros = jnp.zeros((batch_size, height, width, channels), dtype)
  return LSTMState(cell=zeros, hidden=zeros)


class ConvLSTMCell(nn.Module):
  """(state, inputs [B, h, w, Cin]) -> new state; `features` hidden channels, square kernels."""
  features: int
  kernel_size: int = 5
  conv_impl: str = "auto"  # see convs.use_matmul

  @nn.compact
  def __call__(self, state: LSTMState, inputs_BxHxWxC):
    stacked = jnp.concatenate([inputs_BxHxWxC, state.hidden], axis=-1)
    gates = convs.SameConv(4 * self.features, self.kernel_size, self.conv_impl,
                                name="gates")(stacked)  # [B, h, w, 4C]
    input_gate, forget_gate, output_gate, candidate = jnp.split(gates, 4, axis=-1)
    cell = (jax.nn.sigmoid(forget_gate) * state.cell
            + jax.nn.sigmoid(input_gate) * jnp.tanh(candidate))
    hidden = jax.nn.sigmoid(output_gate) * jnp.tanh(cell)
    return LSTMState(cell=cell, hidden=hidden)
