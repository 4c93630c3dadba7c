"""Vectorised ray-primitive intersection and shading in jax.numpy (jit-friendly, static shapes).

Every `intersect_*` function takes R rays (origins and unit directions [R, 3]) and N primitives
of one kind as padded arrays with a `valid_N` mask, and returns the nearest hit as a `Hit`: the
distance t [R] (inf where the ray misses), the outward unit normal [R, 3] and the colour [R, 3].
Scenes combine kinds with `nearest`. Primitives stand upright (axis along +z); boxes may turn
about their vertical axis by a yaw angle.

Three choices keep this fast on a CPU. The [R, N] work is written per coordinate (x, y, z as
separate [R, N] arrays), so each test is one fused elementwise loop; reductions over a trailing
axis of 3 made Shepard-Metzler rendering 1.6x slower. Normals are worked out only for the
primitive each ray hits, from the hit point ([R] arrays), not for all N candidates. And picking
the nearest primitive's fields uses a chain of selects, not argmin and gathers (see _Nearest).
"""

from typing import NamedTuple

import jax.numpy as jnp

EPS = 1e-4  # hits closer than this are ignored, so shadow rays do not hit their own origin
_SURFACE_TOLERANCE = 1e-3  # how close to a cap a hit point must be to count as on it


class Hit(NamedTuple):
  t: jnp.ndarray  # [R] distance along the ray, inf for a miss
  normal: jnp.ndarray  # [R, 3]
  color: jnp.ndarray  # [R, 3]


def nearest(*hits):
  """The closest of several Hits, ray by ray (ties go to the earlier one)."""
  t_R, normal_Rx3, color_Rx3 = hits[0]
  for hit in hits[1:]:
    closer_R = hit.t < t_R
    t_R = jnp.where(closer_R, hit.t, t_R)
    normal_Rx3 = jnp.where(closer_R[:, None], hit.normal, normal_Rx3)
    color_Rx3 = jnp.where(closer_R[:, None], hit.color, color_Rx3)
  return Hit(t_R, normal_Rx3, color_Rx3)


def _relative_origins(origins_Rx3, position_Nx3):
  """(x, y, z), each [R, N]: ray origins relative to each primitive's position."""
  return tuple(origins_Rx3[:, k:k + 1] - position_Nx3[None, :, k] for k in range(3))


def _direction_components(directions_Rx3):
  """(x, y, z), each [R, 1], broadcasting against [R, N]."""
  return tuple(directions_Rx3[:, k:k + 1] for k in range(3))


def _safe_divide(numerator, denominator):
  # Axis-parallel rays give +-inf slab distances, which the tests handle; only exact zeros need
  # nudging so that 0 * inf never makes a NaN.
  return numerator / jnp.where(jnp.abs(denominator) < 1e-12, 1e-12, denominator)


class _Nearest(NamedTuple):
  """Which of the N primitives each ray hits first: index [R] (0 for a miss)."""
  index: jnp.ndarray

  def take(self, values_N):
    """values_N[index] [R, ...] by a chain of selects rather than a gather.

    With the few primitives of a scene, N fused selects beat XLA's CPU gathers (and argmin)
    under vmap, which took over half the time of rendering a Shepard-Metzler scene.
    """
    values_N = jnp.asarray(values_N)
    index = self.index.reshape(self.index.shape + (1,) * (values_N.ndim - 1))
    picked = jnp.broadcast_to(values_N[0], self.index.shape + values_N.shape[1:])
    for n in range(1, values_N.shape[0]):
      picked = jnp.where(index == n, values_N[n], picked)
    return picked


def _nearest_of(t_RxN):
  """The nearest primitive and its distance [R]; ties go to the lowest index."""
  t_R = jnp.min(t_RxN, axis=1)
  num = t_RxN.shape[1]
  index_R = jnp.min(jnp.where(t_RxN == t_R[:, None], jnp.arange(num), num - 1), axis=1)
  return _Nearest(index_R), t_R


def _hit_points(origins_Rx3, directions_Rx3, t_R):
  return origins_Rx3 + jnp.where(jnp.isinf(t_R), 0.0, t_R)[:, None] * directions_Rx3


def _turn(x, y, angle):
  """(x, y) rotated by `angle` about z."""
  cos, sin = jnp.cos(angle), jnp.sin(angle)
  return cos * x - sin * y, sin * x + cos * y


def intersect_boxes(origins_Rx3, directions_Rx3, centre_Nx3, half_size_Nx3, yaw_N, color_Nx3,
                    valid_N):
  """Boxes given by their centre and half sizes, turned by yaw about their vertical axis.

  yaw_N=None means axis-aligned boxes, which skips the rotations.
  """
  ox, oy, oz = _relative_origins(origins_Rx3, centre_Nx3)
  dx, dy, dz = _direction_components(directions_Rx3)
  if yaw_N is not None:  # into each box's frame: turn by -yaw
    ox, oy = _turn(ox, oy, -yaw_N[None])
    dx, dy = _turn(dx, dy, -yaw_N[None])
  t_enter, t_exit = -jnp.inf, jnp.inf
  for axis, (o, d) in enumerate(((ox, dx), (oy, dy), (oz, dz))):  # slab test
    half = half_size_Nx3[None, :, axis]
    t_low, t_high = _safe_divide(-half - o, d), _safe_divide(half - o, d)
    t_enter = jnp.maximum(t_enter, jnp.minimum(t_low, t_high))
    t_exit = jnp.minimum(t_exit, jnp.maximum(t_low, t_high))
  hit = valid_N[None] & (t_enter > EPS) & (t_exit >= t_enter)
  best, t_R = _nearest_of(jnp.where(hit, t_enter, jnp.inf))
  # The face hit is the axis along which the hit point lies furthest out, relative to the half
  # size, in the box's frame.
  relative_Rx3 = _hit_points(origins_Rx3, directions_Rx3, t_R) - best.take(centre_Nx3)
  x, y, z = relative_Rx3[:, 0], relative_Rx3[:, 1], relative_Rx3[:, 2]
  if yaw_N is not None:
    x, y = _turn(x, y, -best.take(yaw_N))
  scaled_Rx3 = jnp.stack([x, y, z], -1) / best.take(half_size_Nx3)
  face_R = jnp.argmax(jnp.abs(scaled_Rx3), axis=-1)
  normal_Rx3 = (face_R[:, None] == jnp.arange(3)) * jnp.sign(scaled_Rx3)
  if yaw_N is not None:
    nx, ny = _turn(normal_Rx3[:, 0], normal_Rx3[:, 1], best.take(yaw_N))
    normal_Rx3 = jnp.stack([nx, ny, normal_Rx3[:, 2]], -1)
  return Hit(t_R, normal_Rx3.astype(jnp.float32), best.take(color_Nx3))


def intersect_spheres(origins_Rx3, directions_Rx3, centre_Nx3, radius_N, color_Nx3, valid_N):
  """Spheres seen from outside."""
  ox, oy, oz = _relative_origins(origins_Rx3, centre_Nx3)
  dx, dy, dz = _direction_components(directions_Rx3)
  half_b = ox * dx + oy * dy + oz * dz
  discriminant = half_b * half_b - (ox * ox + oy * oy + oz * oz - radius_N[None] ** 2)
  t = -half_b - jnp.sqrt(jnp.maximum(discriminant, 0.0))
  best, t_R = _nearest_of(jnp.where(valid_N[None] & (discriminant >= 0) & (t > EPS), t, jnp.inf))
  normal_Rx3 = ((_hit_points(origins_Rx3, directions_Rx3, t_R) - best.take(centre_Nx3)) /
                best.take(radius_N)[:, None])
  return Hit(t_R, normal_Rx3, best.take(color_Nx3))


def _disc_hit(o, d, height, radius_sq):
  """Distance [R, N] to horizontal discs of squared radius `radius_sq` at local `height`."""
  (ox, oy, oz), (dx, dy, dz) = o, d
  t = _safe_divide(height - oz, dz)
  x, y = ox + t * dx, oy + t * dy
  return jnp.where((t > EPS) & (x * x + y * y <= radius_sq), t, jnp.inf)


def _lowest_root_in_range(a, half_b, c, oz, dz, z_max):
  """Smallest root t > EPS of a t^2 + 2 half_b t + c = 0 whose point has 0 <= z <= z_max."""
  discriminant = half_b * half_b - a * c
  root = jnp.sqrt(jnp.maximum(discriminant, 0.0))
  best = jnp.inf
  for numerator in (-half_b + root, -half_b - root):
    t = _safe_divide(numerator, a)
    z = oz + t * dz
    ok = (discriminant >= 0) & (t > EPS) & (z >= 0) & (z <= z_max)
    best = jnp.minimum(best, jnp.where(ok, t, jnp.inf))
  return best


def intersect_cylinders(origins_Rx3, directions_Rx3, base_Nx3, radius_N, height_N, color_Nx3,
                        valid_N):
  """Upright capped cylinders standing on their base centre."""
  o = _relative_origins(origins_Rx3, base_Nx3)
  d = _direction_components(directions_Rx3)
  (ox, oy, oz), (dx, dy, dz) = o, d
  radius_sq, height = radius_N[None] ** 2, height_N[None]
  t_side = _lowest_root_in_range(dx * dx + dy * dy, ox * dx + oy * dy,
                                 ox * ox + oy * oy - radius_sq, oz, dz, height)
  t = jnp.minimum(t_side, jnp.minimum(_disc_hit(o, d, height, radius_sq),
                                      _disc_hit(o, d, 0.0, radius_sq)))
  best, t_R = _nearest_of(jnp.where(valid_N[None], t, jnp.inf))
  local_Rx3 = _hit_points(origins_Rx3, directions_Rx3, t_R) - best.take(base_Nx3)
  z, top = local_Rx3[:, 2], best.take(height_N)
  cap_z = jnp.where(z >= top - _SURFACE_TOLERANCE, 1.0, jnp.where(z <= _SURFACE_TOLERANCE, -1.0,
                                                                     0.0))
  side_Rx3 = local_Rx3 * jnp.array([1.0, 1.0, 0.0]) / best.take(radius_N)[:, None]
  cap_Rx3 = jnp.stack([jnp.zeros_like(z), jnp.zeros_like(z), cap_z], -1)
  normal_Rx3 = jnp.where((cap_z == 0)[:, None], side_Rx3, cap_Rx3)
  return Hit(t_R, normal_Rx3, best.take(color_Nx3))


def intersect_cones(origins_Rx3, directions_Rx3, base_Nx3, radius_N, height_N, color_Nx3,
                    valid_N):
  """Upright cones with their base disc on the base centre and the apex above it."""
  o = _relative_origins(origins_Rx3, base_Nx3)
  d = _direction_components(directions_Rx3)
  (ox, oy, oz), (dx, dy, dz) = o, d
  slope_sq = (radius_N / height_N)[None] ** 2  # (radius / height)^2
  apex_z = oz - height_N[None]  # origin heights relative to the apex
  # Points on the cone's surface satisfy x^2 + y^2 = slope^2 (z - height)^2.
  a = dx * dx + dy * dy - slope_sq * dz * dz
  half_b = ox * dx + oy * dy - slope_sq * apex_z * dz
  c = ox * ox + oy * oy - slope_sq * apex_z * apex_z
  t_side = _lowest_root_in_range(a, half_b, c, oz, dz, height_N[None])
  t = jnp.minimum(t_side, _disc_hit(o, d, 0.0, radius_N[None] ** 2))
  best, t_R = _nearest_of(jnp.where(valid_N[None], t, jnp.inf))
  local_Rx3 = _hit_points(origins_Rx3, directions_Rx3, t_R) - best.take(base_Nx3)
  x, y, z = local_Rx3[:, 0], local_Rx3[:, 1], local_Rx3[:, 2]
  # The gradient of x^2 + y^2 - slope^2 (z - height)^2 points out of the cone.
  best_slope_sq = best.take(radius_N / height_N) ** 2
  side_Rx3 = jnp.stack([x, y, -best_slope_sq * (z - best.take(height_N))], -1)
  side_Rx3 = side_Rx3 / jnp.maximum(jnp.linalg.norm(side_Rx3, axis=-1, keepdims=True), 1e-9)
  base_Rx3 = jnp.broadcast_to(jnp.array([0.0, 0.0, -1.0]), side_Rx3.shape)
  normal_Rx3 = jnp.where((z <= _SURFACE_TOLERANCE)[:, None], base_Rx3, side_Rx3)
  return Hit(t_R, normal_Rx3, best.take(color_Nx3))


def lambert(normals_Rx3, light_direction_3, ambient, visibility_R=1.0):
  """Diffuse brightness [R]: ambient plus (1 - ambient) * max(0, n . l) where the light reaches."""
  cosine_R = jnp.maximum(normals_Rx3 @ light_direction_3, 0.0)
  return ambient + (1.0 - ambient) * cosine_R * visibility_R


def to_uint8(colors_Rx3):
  """Linear [0, 1] colours -> uint8, rounding to nearest."""
  return jnp.round(jnp.clip(colors_Rx3, 0.0, 1.0) * 255.0).astype(jnp.uint8)
