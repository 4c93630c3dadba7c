"""The convolutional LSTM cell used by the GQN generator and inference cores.

All four gates come from ONE convolution over the concatenated [inputs, h]: one large op instead
of eight small ones (an input and a hidden conv per gate) is what the CPU and accelerators run
fastest, and it is the same function (a conv of a concatenation is the sum of the convs). The
inputs may come as a list of pieces, some prepared once for many steps
(convs.prepare_fixed_input); the kernel's input channels follow the pieces' order, then h.
"""

from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from gqn_jax.model import convs


class LSTMState(NamedTuple):
  cell: jax.Array  # [B, h, w, C], float32: it carries precision across the L steps
  hidden: jax.Array  # [B, h, w, C], in the compute dtype


def zero_state(batch_size, height, width, channels, dtype=jnp.float32):
  """All-zero state; `dtype` is the hidden state's (the compute dtype)."""
  shape = (batch_size, height, width, channels)
  return LSTMState(cell=jnp.zeros(shape, jnp.float32), hidden=jnp.zeros(shape, dtype))


class ConvLSTMCell(nn.Module):
  """(state, inputs [B, h, w, Cin]) -> new state; `features` hidden channels, square kernels."""
  features: int
  kernel_size: int = 5
  conv_impl: str = "auto"  # see convs.resolve_conv_impl
  dtype: Any = jnp.float32  # compute dtype of the gates and the hidden state

  @nn.compact
  def __call__(self, state: LSTMState, inputs):
    """inputs: [B, h, w, Cin], or a list of pieces (arrays or prepared inputs) in kernel order."""
    pieces = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    pieces.append(state.hidden)
    gates = convs.SameConv(4 * self.features, self.kernel_size, self.conv_impl, self.dtype,
                           name="gates")(pieces)  # [B, h, w, 4C]
    # Recomputed in the backward pass from the gates and the old cell state, rather than keeping
    # the six gate activations of every step (docs/model.md has what that saves).
    cell, hidden = jax.checkpoint(_update)(gates, state.cell)
    return LSTMState(cell=cell, hidden=hidden.astype(self.dtype))


def _update(gates_BxHxWx4C, cell_BxHxWxC):
  """The LSTM's elementwise step: (gates, c) -> (c', h'), c' in float32."""
  input_gate, forget_gate, output_gate, candidate = jnp.split(gates_BxHxWx4C, 4, axis=-1)
  cell = (jax.nn.sigmoid(forget_gate) * cell_BxHxWxC
          + jax.nn.sigmoid(input_gate) * jnp.tanh(candidate)).astype(jnp.float32)
  return cell, jax.nn.sigmoid(output_gate) * jnp.tanh(cell)
