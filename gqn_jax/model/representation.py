"""Representation networks f (Figure S1 of Eslami et al. 2018) and their sum over context views.

Each network maps one image [N, S, S, 3] and its encoded viewpoint [N, 7] to a code:
- `Tower`: [N, S/4, S/4, R] (16x16x256 for 64x64 images); the viewpoint is broadcast and
  concatenated after the first downsampling stage (two stride-2 stages, at S/4).
- `Pool`: the tower followed by a spatial mean, [N, 1, 1, R].
- `Pyramid`: the viewpoint is broadcast over the image and concatenated at the input; four
  strided convs bring it to [N, 1, 1, R].
Every conv is followed by a ReLU. `aggregate` sums the per-view codes of a scene over its real
(mask True) context views, so a scene with no context gets r = 0.
"""

import functools
from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from gqn_jax.model import convs

REPRESENTATIONS = ("tower", "pool", "pyramid")


def broadcast_viewpoint(viewpoint_Nx7, height, width):
  """[N, 7] -> [N, height, width, 7], the same vector at every position."""
  return jnp.broadcast_to(viewpoint_Nx7[:, None, None, :],
                          (viewpoint_Nx7.shape[0], height, width, viewpoint_Nx7.shape[-1]))


def _conv(features, kernel, stride, name, conv_impl, dtype):
  """nn.Conv(features, kernel, stride, 'SAME') with its parameters, the fastest way we have."""
  if stride > 1:  # every strided conv here has kernel == stride: non-overlapping patches
    assert kernel == stride, (kernel, stride)
    return convs.PatchConv(features, stride, dtype, name=name)
  return convs.SameConv(features, kernel, conv_impl, dtype, name=name)


class Tower(nn.Module):
  """Figure S1 'tower': two residual stages, viewpoint injected between them."""
  r_channels: int = 256
  conv_impl: str = "auto"  # how the 3x3 convs run (convs.resolve_conv_impl)
  dtype: Any = jnp.float32  # compute dtype; parameters stay float32

  @nn.compact
  def __call__(self, frames_NxSxSx3, viewpoint_Nx7):
    r, half = self.r_channels, self.r_channels // 2
    conv = functools.partial(_conv, conv_impl=self.conv_impl, dtype=self.dtype)
    x = nn.relu(conv(r, 2, 2, "conv1")(frames_NxSxSx3))  # [N, S/2, S/2, R]
    skip = nn.relu(conv(r, 2, 2, "conv2")(x))  # [N, S/4, S/4, R]
    x = nn.relu(conv(half, 3, 1, "conv3")(x))
    x = nn.relu(conv(r, 2, 2, "conv4")(x)) + skip  # [N, S/4, S/4, R]
    viewpoint = broadcast_viewpoint(viewpoint_Nx7, *x.shape[1:3]).astype(x.dtype)
    x = jnp.concatenate([x, viewpoint], axis=-1)
    skip = nn.relu(conv(r, 3, 1, "conv5")(x))
    x = nn.relu(conv(half, 3, 1, "conv6")(x))
    x = nn.relu(conv(r, 3, 1, "conv7")(x)) + skip
    return nn.relu(conv(r, 1, 1, "conv8")(x))  # [N, S/4, S/4, R]


class Pool(nn.Module):
  """Figure S1 'pool': the tower, then the mean over space."""
  r_channels: int = 256
  conv_impl: str = "auto"
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, frames_NxSxSx3, viewpoint_Nx7):
    tower = Tower(self.r_channels, self.conv_impl, self.dtype, name="tower")
    tower_NxhxwxR = tower(frames_NxSxSx3, viewpoint_Nx7)
    return jnp.mean(tower_NxhxwxR, axis=(1, 2), keepdims=True)  # [N, 1, 1, R]


class Pyramid(nn.Module):
  """Figure S1 'pyramid': viewpoint at the input, three stride-2 convs, one S/8 x S/8 conv."""
  r_channels: int = 256
  conv_impl: str = "auto"  # unused: every conv here is strided; kept so the three nets agree
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, frames_NxSxSx3, viewpoint_Nx7):
    size = frames_NxSxSx3.shape[1]
    x = jnp.concatenate([frames_NxSxSx3, broadcast_viewpoint(viewpoint_Nx7, size, size)], axis=-1)
    x = x.astype(self.dtype)
    conv = functools.partial(_conv, conv_impl=self.conv_impl, dtype=self.dtype)
    x = nn.relu(conv(self.r_channels // 8, 2, 2, "conv1")(x))  # [N, S/2, S/2, R/8]
    x = nn.relu(conv(self.r_channels // 4, 2, 2, "conv2")(x))  # [N, S/4, S/4, R/4]
    x = nn.relu(conv(self.r_channels // 2, 2, 2, "conv3")(x))  # [N, S/8, S/8, R/2]
    return nn.relu(conv(self.r_channels, size // 8, size // 8, "conv4")(x))  # [N, 1, 1, R]


def make_representation_net(kind, r_channels, conv_impl="auto", dtype=jnp.float32,
                            name="representation"):
  nets = {"tower": Tower, "pool": Pool, "pyramid": Pyramid}
  if kind not in nets:
    raise ValueError(f"unknown representation {kind!r}; expected one of {REPRESENTATIONS}")
  return nets[kind](r_channels=r_channels, conv_impl=conv_impl, dtype=dtype, name=name)


def aggregate(codes_BxKxhxwxR, mask_BxK):
  """r = sum of the codes of the views whose mask is True; zero for a scene with no views.

  `where`, not a multiply by the mask: a masked-out slot holding inf or NaN must not leak in.
  """
  keep = mask_BxK[:, :, None, None, None]
  codes = jnp.where(keep, codes_BxKxhxwxR, 0.0).astype(jnp.float32)  # summed in float32
  return jnp.sum(codes, axis=1)  # [B, h, w, R]
