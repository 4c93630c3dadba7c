"""Winograd minimal filtering F(m x m, r x r): stride-1 'SAME' convolutions with fewer multiplies.

Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks" (2016). Each m x m tile of the
output is computed from an n x n tile of the input (n = m + r - 1) as

  Y = A^T [ (G g G^T) . (B^T d B) ] A

with '.' elementwise: n*n multiplies per input-output channel pair instead of m*m*r*r. Summed
over input channels, the elementwise products become ONE batched matmul over the n*n transformed
positions, [n*n, tiles, Cin] x [n*n, Cin, Cout], which is the op XLA:CPU runs fastest. For the
cores' 5x5 convs: F(2x2, 5x5) does 36 multiplies per 2x2 tile (2.8x fewer than direct),
F(4x4, 5x5) 64 per 4x4 tile (6.25x fewer).

The matrices come from the Toom-Cook construction. With evaluation points p_0..p_{n-2} and the
point at infinity, let V_k be the n x k matrix whose row j is (1, p_j, ..., p_j^(k-1)) and whose
last row is (0, ..., 0, 1). Linear convolution of a length-r and a length-m sequence is
s = V_n^-1 [(V_r g) . (V_m e)]; the correlation a conv layer computes is its transpose:
y = V_m^T [(V_r g) . (V_n^-T d)], so A^T = V_m^T, G = V_r, B^T = V_n^-T. Rows of B^T are scaled
by powers of two to a max-abs entry in [1, 2) and G's rows by the inverse: the same product,
exact in binary, and the transformed inputs keep the inputs' scale. More points (larger m) means
larger, less well conditioned transforms: tests/test_winograd.py states the error of each size
against a float64 direct convolution.

Each transform is a windowing copy and dots with a small constant matrix on a leading axis, so
its gradient is dots and a few pads too. Both transforms are recomputed in the backward pass
instead of saved (a custom VJP), so a conv keeps only its input and kernel for the gradient,
not the n*n/m*m times larger transformed tiles (nor im2col's r*r copy).
"""

import functools

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

# Finite evaluation points, in the order they are used (n - 1 of them for an n x n tile). Small
# integers and their reciprocals keep the transforms' entries, and so the rounding, small.
POINTS = (0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5, 3.0, -3.0, 1 / 3, -1 / 3)


def _vandermonde(points, columns):
  """n x columns: rows (1, p, ..., p^(columns-1)) for each finite point, then (0, ..., 0, 1)."""
  finite = np.array(points, np.float64)[:, None] ** np.arange(columns)[None, :]
  infinity = np.zeros((1, columns))
  infinity[0, -1] = 1.0
  return np.concatenate([finite, infinity], axis=0)


@functools.lru_cache(maxsize=None)
def transforms(tile, kernel_size):
  """(A^T [m, n], G [n, r], B^T [n, n]) in float64 for F(m x m, r x r), m = tile, r = kernel."""
  n = tile + kernel_size - 1
  if n - 1 > len(POINTS):
    raise ValueError(f"F({tile}x{tile}, {kernel_size}x{kernel_size}) needs {n - 1} points; "
                     f"only {len(POINTS)} are defined")
  points = POINTS[:n - 1]
  output_transform = _vandermonde(points, tile).T  # A^T
  kernel_transform = _vandermonde(points, kernel_size)  # G
  input_transform = np.linalg.inv(_vandermonde(points, n)).T  # B^T
  # Scale row j of B^T by 2^e_j and row j of G by 2^-e_j: exact in binary, same product.
  exponents = -np.floor(np.log2(np.abs(input_transform).max(axis=1)))
  input_transform = input_transform * np.exp2(exponents)[:, None]
  kernel_transform = kernel_transform * np.exp2(-exponents)[:, None]
  return output_transform, kernel_transform, input_transform


def _windows(x, tile, n, num_tiles, axis):
  """The n-long windows along `axis` at stride `tile`: a new leading axis of n window offsets,
  and `axis` shortened to num_tiles.

  Built from whole tile-sized blocks: offset u = q * tile + s (s < tile) of window t is row s of
  block t + q, so ceil(n / tile) block-shifted views give every offset, each a contiguous slice,
  a reshape and a transpose, and their gradient as many pads. Slicing each of the n offsets with
  a stride instead makes n strided pads in the gradient, each a full pass over the input.
  """
  pieces = []
  for q in range(-(-n // tile)):
    view = jax.lax.slice_in_dim(x, q * tile, (q + num_tiles) * tile, axis=axis)
    view = view.reshape(x.shape[:axis] + (num_tiles, tile) + x.shape[axis + 1:])
    view = jax.lax.slice_in_dim(view, 0, min(tile, n - q * tile), axis=axis + 1)
    pieces.append(jnp.moveaxis(view, axis + 1, 0))
  return jnp.concatenate(pieces, axis=0)


def _apply_leading(matrix, x):
  """matrix [k, n] applied to x's leading axis of n: one dot, whose transpose is one dot too.

  Computed and returned in float32 (at least) whatever x's dtype: see `conv_pieces`.
  """
  wide = jnp.promote_types(x.dtype, jnp.float32)
  out = jnp.asarray(matrix, wide) @ x.reshape(x.shape[0], -1).astype(wide)
  return out.reshape(matrix.shape[0], *x.shape[1:])


def transform_input(x_BxHpxWpxC, tile, kernel_size, num_tiles_h, num_tiles_w):
  """Padded input (enough for whole tiles and block shifts, see `_pad`) -> B^T d B of each
  tile, [n*n, B*Th*Tw, C], position p = b * n + a for row index a and column index b.

  Rows first, then columns, each stage a windowing copy and a dot on the leading axis: the
  windowing puts the axis to transform in front, so neither dot needs a transposed operand.
  """
  _, _, input_transform = transforms(tile, kernel_size)
  n, c = input_transform.shape[0], x_BxHpxWpxC.shape[-1]
  rows = _apply_leading(input_transform,
                        _windows(x_BxHpxWpxC, tile, n, num_tiles_h, axis=1))  # [n_a, B, Th, Wp, C]
  tiles = _apply_leading(input_transform,
                         _windows(rows, tile, n, num_tiles_w, axis=3))  # [n_b, n_a, B, Th, Tw, C]
  return tiles.reshape(n * n, -1, c)


def transform_kernel(kernel_rxrxCinxCout, tile):
  """G g G^T for a [r, r, Cin, Cout] kernel -> [n*n, Cin, Cout], in transform_input's order.

  One [n*n, r*r] x [r*r, Cin*Cout] matmul with the constant kron(G, G): the long axis stays
  contiguous, where two einsums over the small axes moved the whole kernel around (10x slower).
  """
  r = kernel_rxrxCinxCout.shape[0]
  _, kernel_transform, _ = transforms(tile, r)
  n = kernel_transform.shape[0]
  # kron's row a * n + b pairs G[a] with the kernel's rows (H); transform_input's order is
  # b * n + a.
  both = np.kron(kernel_transform, kernel_transform).reshape(n, n, r * r)
  both = both.transpose(1, 0, 2).reshape(n * n, r * r)
  return _apply_leading(both, kernel_rxrxCinxCout.reshape(r * r, *kernel_rxrxCinxCout.shape[2:]))


def transform_output(m_NNxBTTxO, tile, kernel_size, batch, num_tiles_h, num_tiles_w):
  """A^T M A of every tile (M in transform_input's order) -> [B, Th*m, Tw*m, O]."""
  output_transform, _, _ = transforms(tile, kernel_size)
  n = output_transform.shape[1]
  columns = _apply_leading(output_transform, m_NNxBTTxO.reshape(n, n, -1))  # [m_j, n_a, R]
  tiles = jnp.einsum("ia,jar->ijr", jnp.asarray(output_transform, columns.dtype), columns,
                     precision="highest")
  tiles = tiles.reshape(tile, tile, batch, num_tiles_h, num_tiles_w, -1)  # [m_i, m_j, ...]
  out = tiles.transpose(2, 3, 0, 4, 1, 5)  # [B, Th, m_i, Tw, m_j, O]
  return out.reshape(batch, num_tiles_h * tile, num_tiles_w * tile, -1)


def _num_tiles(x_BxHxWxC, tile):
  """(tiles down, tiles across) that cover x's output, the last ones possibly cropped."""
  _, h, w, _ = x_BxHxWxC.shape
  return -(-h // tile), -(-w // tile)


def _pad(x_BxHxWxC, tile, kernel_size):
  """'SAME' padding, plus enough at the bottom and right for whole tiles and block shifts."""
  _, h, w, _ = x_BxHxWxC.shape
  num_tiles_h, num_tiles_w = _num_tiles(x_BxHxWxC, tile)
  pad, extra = kernel_size // 2, (-(-(tile + kernel_size - 1) // tile) - 1) * tile  # see _windows
  return jnp.pad(x_BxHxWxC, ((0, 0), (pad, extra + num_tiles_h * tile - h - pad),
                             (pad, extra + num_tiles_w * tile - w - pad), (0, 0)))


@flax.struct.dataclass
class Transformed:
  """A conv input already transformed (`transform`): B^T d B of its tiles, [n*n, B*Th*Tw, C].

  For an input that stays the same over many convs (the cores' r, v^q and query image, at every
  one of the L steps): transformed once, its tiles are reused, and since the transform acts on
  each channel alone, transformed pieces and raw ones can be concatenated along channels.
  """
  tiles: jax.Array
  tile: int = flax.struct.field(pytree_node=False)  # static: the same for every step of a scan
  kernel_size: int = flax.struct.field(pytree_node=False)


def transform(x_BxHxWxC, tile, kernel_size):
  """Pads and transforms x once, for use as a piece of several `conv_pieces` calls."""
  tiles = transform_input(_pad(x_BxHxWxC, tile, kernel_size), tile, kernel_size,
                          *_num_tiles(x_BxHxWxC, tile))
  return Transformed(tiles, tile, kernel_size)


def _transform_raw(pieces, tile, kernel_size):
  """The transformed tiles of every piece, concatenated along channels."""
  return jnp.concatenate(
      [p.tiles if isinstance(p, Transformed) else transform(p, tile, kernel_size).tiles
       for p in pieces], axis=-1)


def _products_forward(pieces, kernel, tile):
  """(B^T d B) x (G g G^T), one matmul per transformed position -> [n*n, B*Th*Tw, Cout]."""
  transformed = _transform_raw(pieces, tile, kernel.shape[0])
  return jnp.einsum("pnc,pco->pno", transformed, transform_kernel(kernel, tile))


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _transformed_products(pieces, kernel, tile):
  return _products_forward(pieces, kernel, tile)


def _transformed_products_fwd(pieces, kernel, tile):
  # Only the inputs are kept for the backward pass; both transforms are recomputed there (a few
  # cheap passes). Saved, the transformed tiles are n*n/m*m times the input, and inside the
  # cores' scan the transformed kernels would be stacked over the L steps: 1.7 GB for the paper
  # model's gates at F(4x4), whatever the batch size. jax.checkpoint cannot do this: a matmul's
  # own residuals are its operands, which are the transforms' outputs.
  return _products_forward(pieces, kernel, tile), (pieces, kernel)


def _transformed_products_bwd(tile, residuals, d_products):
  pieces, kernel = residuals
  transformed, input_vjp = jax.vjp(
      lambda p: _transform_raw(p, tile, kernel.shape[0]), pieces)
  transformed_kernel, kernel_vjp = jax.vjp(lambda k: transform_kernel(k, tile), kernel)
  d_transformed = jnp.einsum("pno,pco->pnc", d_products, transformed_kernel)
  d_transformed_kernel = jnp.einsum("pnc,pno->pco", transformed, d_products)
  return input_vjp(d_transformed)[0], kernel_vjp(d_transformed_kernel)[0]


_transformed_products.defvjp(_transformed_products_fwd, _transformed_products_bwd)


def conv_pieces(pieces, kernel_rxrxCinxCout, tile):
  """conv(concatenate(pieces, -1), kernel, tile), some pieces possibly `Transformed` already.

  At least one piece must be a raw [B, H, W, C] array: it gives the output's size. The result
  has the kernel's dtype, but everything in between is float32 (or wider): the output transform
  adds products with coefficients up to 8 (F(4x4)) that largely cancel, which turns bfloat16's
  rounding of the transformed operands into errors of 7% (2% at F(2x2)); in float32 the whole
  conv stays within tests/test_winograd.py's bounds and bfloat16 loses only its own rounding.
  """
  r = kernel_rxrxCinxCout.shape[0]
  if r % 2 == 0 or kernel_rxrxCinxCout.shape[1] != r:
    raise ValueError(f"Winograd conv needs a square odd kernel; got {kernel_rxrxCinxCout.shape}")
  for piece in pieces:
    if isinstance(piece, Transformed) and (piece.tile, piece.kernel_size) != (tile, r):
      raise ValueError(f"a piece transformed for F({piece.tile}x{piece.tile}, "
                       f"{piece.kernel_size}x{piece.kernel_size}) cannot feed "
                       f"F({tile}x{tile}, {r}x{r})")
  raw = next(p for p in pieces if not isinstance(p, Transformed))
  b, h, w, _ = raw.shape
  products = _transformed_products(tuple(pieces), kernel_rxrxCinxCout, tile)
  out = transform_output(products, tile, r, b, *_num_tiles(raw, tile))
  return out[:, :h, :w, :].astype(kernel_rxrxCinxCout.dtype)


def conv(x_BxHxWxC, kernel_rxrxCinxCout, tile):
  """'SAME' stride-1 correlation of x with an odd r x r kernel, as lax.conv computes it."""
  return conv_pieces((x_BxHxWxC,), kernel_rxrxCinxCout, tile)
