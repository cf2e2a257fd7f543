# Copyright 2026 The iknn_ros Authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""
One arm's kinematics and least-squares loops, compiled (numba).

At one arm per call the cost of a tick was Python's, not arithmetic's: about 40 numpy and
Pinocchio calls of a microsecond or more each, for a 6 x 7 problem. Here the forward
kinematics, the Jacobian, the residual of every target mode, the damped least-norm step with
joint limits and the two loops built from them (the tick's refinement, Levenberg-Marquardt
for cold solves) run as compiled code, one call per loop (bench/bench_arms.py measures both
against Pinocchio driven from Python; test_chain_kernels holds them to Pinocchio and to
:mod:`iknn_ros.kinematics.least_squares`).

Target modes are numbered as :data:`MODE_CODES`; the residual is
``(p_goal - p, w * rotation part)`` restricted to the mode's rows, as
:mod:`iknn_ros.ik.pose_tick` documents. Kernels are cached on disk (numba's ``cache``), so
only the first run on a machine compiles them.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from iknn_ros.kinematics import targets
from iknn_ros.kinematics.chain import KinematicChain
from iknn_ros.kinematics.targets import TargetMode
import numba
import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]

MODE_CODES = {TargetMode.POSITION: 0, TargetMode.POSE: 1, TargetMode.TOOL_AXIS: 2,
              TargetMode.PLANAR_POSE: 3}
_POSITION, _POSE, _TOOL_AXIS, _PLANAR_POSE = 0, 1, 2, 3
# Within this of pi, the rotation's axis comes from its symmetric part (as Pinocchio's log3).
_NEAR_PI = 1e-2

_jit = numba.njit(cache=True, nogil=True)


class ChainArrays(NamedTuple):
    """
    A chain as the kernels take it, in two arrays.

    numba checks each argument's type on every call: two arrays cost less than seven.
    """

    # (M + 1, 4, 4): each moving joint's frame in its parent's (followers too), then the
    # tip link's in the last joint's.
    frames: FloatArray
    # (M, 7): the joint's unit axis (3), 1.0 if prismatic, the chain joint that drives it,
    # and its multiplier and offset (motion = multiplier * q[driver] + offset).
    joints: FloatArray

    @classmethod
    def of(cls, chain: KinematicChain) -> 'ChainArrays':
        """Return ``chain``'s arrays."""
        motions = chain.motions
        frames = np.ascontiguousarray([m.origin for m in motions] + [chain.tip_offset],
                                      dtype=np.float64)
        joints = np.ascontiguousarray([
            [*m.axis, 1.0 if m.is_prismatic else 0.0, float(driver),
             m.multiplier if m.mimic else 1.0, m.offset if m.mimic else 0.0]
            for m, driver in zip(motions, chain.drivers)], dtype=np.float64).reshape(-1, 7)
        return cls(frames, joints)


# The target mode as the kernels take it: (mode code, position rows, weight m/rad).
Task = tuple


def kernel_task(mode: TargetMode, position_rows: int, weight: float) -> Task:
    """Return the task of ``mode`` as the kernels take it."""
    return (MODE_CODES[mode], int(position_rows), float(weight))


# A target as the kernels take it: (position (3,), rotation (3, 3), tool axis (3,), yaw),
# the parts its mode does not use zeros (the yaw NaN).
Aim = tuple
_NO_ROTATION = np.zeros((3, 3))
_NO_AXIS = np.zeros(3)


def kernel_aim(aim: targets.Aim) -> Aim:
    """Return ``aim`` as the kernels take it."""
    return (np.ascontiguousarray(aim.position, dtype=np.float64),
            _NO_ROTATION if aim.rotation is None else
            np.ascontiguousarray(aim.rotation, dtype=np.float64),
            _NO_AXIS if aim.axis is None else np.ascontiguousarray(aim.axis, dtype=np.float64),
            float(aim.yaw))


# ---- kinematics ------------------------------------------------------------------------

@_jit
def _kinematics(frames, joints, q, position, rotation, jac, with_jacobian):
    motions = joints.shape[0]
    tip = frames[motions]
    frame = np.eye(3)
    point = np.zeros(3)
    moved = np.empty((3, 3))
    turn = np.empty((3, 3))
    axes_world = np.empty((motions, 3))
    points = np.empty((motions, 3))
    for i in range(motions):
        origin = frames[i]
        for r in range(3):
            point[r] += frame[r, 0] * origin[0, 3] + frame[r, 1] * origin[1, 3] \
                + frame[r, 2] * origin[2, 3]
        for r in range(3):
            for c in range(3):
                moved[r, c] = frame[r, 0] * origin[0, c] + frame[r, 1] * origin[1, c] \
                    + frame[r, 2] * origin[2, c]
        value = joints[i, 5] * q[int(joints[i, 4])] + joints[i, 6]
        x, y, z = joints[i, 0], joints[i, 1], joints[i, 2]
        if joints[i, 3] != 0.0:
            for r in range(3):
                point[r] += (moved[r, 0] * x + moved[r, 1] * y + moved[r, 2] * z) * value
                for c in range(3):
                    frame[r, c] = moved[r, c]
        else:
            # Rodrigues, as chain.axis_angle_matrices.
            cos, sin = math.cos(value), math.sin(value)
            t = 1.0 - cos
            turn[0, 0] = cos + t * x * x
            turn[0, 1] = t * x * y - sin * z
            turn[0, 2] = t * x * z + sin * y
            turn[1, 0] = t * x * y + sin * z
            turn[1, 1] = cos + t * y * y
            turn[1, 2] = t * y * z - sin * x
            turn[2, 0] = t * x * z - sin * y
            turn[2, 1] = t * y * z + sin * x
            turn[2, 2] = cos + t * z * z
            for r in range(3):
                for c in range(3):
                    frame[r, c] = moved[r, 0] * turn[0, c] + moved[r, 1] * turn[1, c] \
                        + moved[r, 2] * turn[2, c]
        for r in range(3):
            axes_world[i, r] = frame[r, 0] * x + frame[r, 1] * y + frame[r, 2] * z
            points[i, r] = point[r]
    for r in range(3):
        position[r] = point[r] + frame[r, 0] * tip[0, 3] + frame[r, 1] * tip[1, 3] \
            + frame[r, 2] * tip[2, 3]
        for c in range(3):
            rotation[r, c] = frame[r, 0] * tip[0, c] + frame[r, 1] * tip[1, c] \
                + frame[r, 2] * tip[2, c]
    if not with_jacobian:
        return
    jac[:, :] = 0.0
    # Followers add to their driver's column (the chain rule), as chain._spatial_jacobian.
    for i in range(motions):
        d, m = int(joints[i, 4]), joints[i, 5]
        a = axes_world[i]
        if joints[i, 3] != 0.0:
            for r in range(3):
                jac[r, d] += m * a[r]
        else:
            r0 = position[0] - points[i, 0]
            r1 = position[1] - points[i, 1]
            r2 = position[2] - points[i, 2]
            jac[0, d] += m * (a[1] * r2 - a[2] * r1)
            jac[1, d] += m * (a[2] * r0 - a[0] * r2)
            jac[2, d] += m * (a[0] * r1 - a[1] * r0)
            for r in range(3):
                jac[3 + r, d] += m * a[r]


# ---- rotations -------------------------------------------------------------------------

@_jit
def _log3(r, out):
    """
    Write the rotation vector of ``r`` into ``out`` (pinocchio.log3's, to 1e-8 near pi).

    The angle is atan2 of the antisymmetric part (sin times the axis) and the trace, exact
    to rounding at any angle. Near pi, where the antisymmetric part vanishes, the axis comes
    from the symmetric part (one column of it, so the components keep their signs).
    """
    cosine = 0.5 * (r[0, 0] + r[1, 1] + r[2, 2] - 1.0)
    cosine = min(max(cosine, -1.0), 1.0)
    skew0, skew1, skew2 = 0.5 * (r[2, 1] - r[1, 2]), 0.5 * (r[0, 2] - r[2, 0]), \
        0.5 * (r[1, 0] - r[0, 1])
    if cosine > math.cos(math.pi - _NEAR_PI):
        sine = math.sqrt(skew0 * skew0 + skew1 * skew1 + skew2 * skew2)
        theta = math.atan2(sine, cosine)
        scale = theta / sine if theta > 1e-8 else 1.0
        out[0], out[1], out[2] = scale * skew0, scale * skew1, scale * skew2
        return
    # (R + R^T) / 2 - cos I = (1 - cos) a a^T: its column with the largest diagonal.
    k = 0
    if r[1, 1] > r[k, k]:
        k = 1
    if r[2, 2] > r[k, k]:
        k = 2
    column = np.empty(3)
    for i in range(3):
        column[i] = 0.5 * (r[i, k] + r[k, i]) - (cosine if i == k else 0.0)
    column /= math.sqrt(column[0] ** 2 + column[1] ** 2 + column[2] ** 2)
    # The antisymmetric part is sin * a: its sign orients the axis.
    sine = skew0 * column[0] + skew1 * column[1] + skew2 * column[2]
    if sine < 0.0:
        column = -column
        sine = -sine
    theta = math.atan2(sine, cosine)
    out[0], out[1], out[2] = theta * column[0], theta * column[1], theta * column[2]


@_jit
def _exp3(v, out):
    """
    Write the rotation matrix of the rotation vector ``v`` into ``out`` (Pinocchio's exp3).

    Rodrigues' formula, with the series of ``sin(a) / a`` and ``(1 - cos a) / a^2`` for
    tiny angles.
    """
    x, y, z = v[0], v[1], v[2]
    theta2 = x * x + y * y + z * z
    if theta2 > 1e-8:
        theta = math.sqrt(theta2)
        a, b = math.sin(theta) / theta, (1.0 - math.cos(theta)) / theta2
    else:
        a, b = 1.0 - theta2 / 6.0, 0.5 - theta2 / 24.0
    out[0, 0], out[0, 1], out[0, 2] = 1.0 - b * (y * y + z * z), b * x * y - a * z, \
        b * x * z + a * y
    out[1, 0], out[1, 1], out[1, 2] = b * x * y + a * z, 1.0 - b * (x * x + z * z), \
        b * y * z - a * x
    out[2, 0], out[2, 1], out[2, 2] = b * x * z - a * y, b * y * z + a * x, \
        1.0 - b * (x * x + y * y)


@_jit
def _log3_many(rotations, out):
    for i in range(rotations.shape[0]):
        _log3(rotations[i], out[i])


@_jit
def _exp3_many(vectors, out):
    for i in range(vectors.shape[0]):
        _exp3(vectors[i], out[i])


@_jit
def _least_aligned_axis(v):
    """Return the base axis least aligned with ``v`` (its smallest component's)."""
    k = 0
    if abs(v[1]) < abs(v[k]):
        k = 1
    if abs(v[2]) < abs(v[k]):
        k = 2
    out = np.zeros(3)
    out[k] = 1.0
    return out


@_jit
def _cross(a, b):
    return np.array([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2],
                     a[0] * b[1] - a[1] * b[0]])


@_jit
def _axis_turn(current, goal):
    """Return the shortest rotation vector turning the unit axis ``current`` to ``goal``."""
    cross = _cross(current, goal)
    sine = math.sqrt(cross[0] ** 2 + cross[1] ** 2 + cross[2] ** 2)
    cosine = current[0] * goal[0] + current[1] * goal[1] + current[2] * goal[2]
    angle = math.atan2(sine, cosine)
    if sine > 1e-12:
        return cross * (angle / sine)
    if cosine > 0.0:
        return cross
    perpendicular = _cross(current, _least_aligned_axis(current))
    return perpendicular * (angle / math.sqrt(perpendicular[0] ** 2 + perpendicular[1] ** 2
                                              + perpendicular[2] ** 2))


@_jit
def _tilt_basis(axis):
    """Return pose_tick.tilt_basis: two unit rows across ``axis``."""
    first = _cross(axis, _least_aligned_axis(axis))
    first /= math.sqrt(first[0] ** 2 + first[1] ** 2 + first[2] ** 2)
    basis = np.empty((2, 3))
    basis[0] = first
    basis[1] = _cross(axis, first)
    return basis


# ---- residual and task Jacobian ----------------------------------------------------------

@_jit
def _residual(task, aim, position, rotation, out):
    """
    Write the weighted residual toward ``aim`` into ``out``.

    Return (its rows, the position error, the angle: NaN for positions).
    """
    mode, k, weight = task
    aim_position, aim_rotation, aim_axis, aim_yaw = aim
    squared = 0.0
    for i in range(k):
        out[i] = aim_position[i] - position[i]
        squared += out[i] * out[i]
    position_error = math.sqrt(squared)
    if mode == _POSITION:
        return k, position_error, math.nan
    if mode == _POSE:
        offset = np.empty((3, 3))
        for r in range(3):
            for c in range(3):
                offset[r, c] = aim_rotation[r, 0] * rotation[c, 0] \
                    + aim_rotation[r, 1] * rotation[c, 1] + aim_rotation[r, 2] * rotation[c, 2]
        turn = np.empty(3)
        _log3(offset, turn)
        for i in range(3):
            out[k + i] = weight * turn[i]
        return k + 3, position_error, math.sqrt(turn[0] ** 2 + turn[1] ** 2 + turn[2] ** 2)
    if mode == _TOOL_AXIS:
        axis = np.ascontiguousarray(rotation[:, 2])
        turn = _axis_turn(axis, aim_axis)
        basis = _tilt_basis(axis)
        for i in range(2):
            out[k + i] = weight * (basis[i, 0] * turn[0] + basis[i, 1] * turn[1]
                                   + basis[i, 2] * turn[2])
        return k + 2, position_error, math.sqrt(turn[0] ** 2 + turn[1] ** 2 + turn[2] ** 2)
    turn = aim_yaw - math.atan2(rotation[1, 0], rotation[0, 0])
    # angles.wrap_scalar (Python's float modulo, as numba's).
    turn = (turn + math.pi) % (2.0 * math.pi) - math.pi
    out[k] = weight * turn
    return k + 1, position_error, abs(turn)


@_jit
def _task_jacobian(task, jac6, rotation, out):
    """Write the rows of ``jac6`` the task holds, weighted, into ``out``."""
    mode, k, weight = task
    n = jac6.shape[1]
    for i in range(k):
        for j in range(n):
            out[i, j] = jac6[i, j]
    if mode == _POSE:
        for i in range(3):
            for j in range(n):
                out[k + i, j] = weight * jac6[3 + i, j]
    elif mode == _TOOL_AXIS:
        basis = _tilt_basis(np.ascontiguousarray(rotation[:, 2]))
        for i in range(2):
            for j in range(n):
                out[k + i, j] = weight * (basis[i, 0] * jac6[3, j] + basis[i, 1] * jac6[4, j]
                                          + basis[i, 2] * jac6[5, j])
    elif mode == _PLANAR_POSE:
        for j in range(n):
            out[k, j] = weight * jac6[5, j]


# ---- damped least squares ----------------------------------------------------------------

@_jit
def _normal_factor(jac, rows, damping):
    """Return the Cholesky factor of ``J J^T + damping I`` (its ``rows`` rows)."""
    n = jac.shape[1]
    factor = np.zeros((rows, rows))
    for i in range(rows):
        for j in range(i + 1):
            total = 0.0
            for c in range(n):
                total += jac[i, c] * jac[j, c]
            if i == j:
                total += damping
            for c in range(j):
                total -= factor[i, c] * factor[j, c]
            factor[i, j] = math.sqrt(total) if i == j else total / factor[j, j]
    return factor


@_jit
def _factor_solve(factor, rows, rhs):
    out = np.empty(rows)
    for i in range(rows):
        total = rhs[i]
        for c in range(i):
            total -= factor[i, c] * out[c]
        out[i] = total / factor[i, i]
    for i in range(rows - 1, -1, -1):
        total = out[i]
        for c in range(i + 1, rows):
            total -= factor[c, i] * out[c]
        out[i] = total / factor[i, i]
    return out


@_jit
def _transpose_times(jac, rows, vector):
    n = jac.shape[1]
    out = np.zeros(n)
    for i in range(rows):
        for j in range(n):
            out[j] += jac[i, j] * vector[i]
    return out


@_jit
def _least_norm(jac, rows, residual, damping):
    """Return least_squares.damped_least_norm for one arm: J^T (J J^T + damping I)^-1 r."""
    return _transpose_times(jac, rows, _factor_solve(_normal_factor(jac, rows, damping), rows,
                                                     residual))


@_jit
def _without(jac, rows, dropped):
    out = jac[:rows].copy()
    for j in range(jac.shape[1]):
        if dropped[j]:
            out[:, j] = 0.0
    return out


@_jit
def _stop_at_limits(q, step, jac, rows, residual, lower, upper, damping):
    """Return least_squares.stop_at_limits for one arm."""
    n = q.size
    fixed = np.zeros(n, dtype=np.bool_)
    fixed_step = np.zeros(n)
    any_fixed = False
    for j in range(n):
        trial = q[j] + step[j]
        if trial > upper[j] or trial < lower[j]:
            fixed[j] = True
            fixed_step[j] = (upper[j] if trial > upper[j] else lower[j]) - q[j]
            any_fixed = True
    if not any_fixed:
        return step
    rest = residual[:rows].copy()
    for i in range(rows):
        for j in range(n):
            rest[i] -= jac[i, j] * fixed_step[j]
    free = _least_norm(_without(jac, rows, fixed), rows, rest, damping)
    for j in range(n):
        if fixed[j]:
            free[j] = fixed_step[j]
    return free


@_jit
def _leave_blocked_joints(q, step, jac, rows, residual, lower, upper, damping):
    """Return least_squares.leave_blocked_joints for one arm."""
    n = q.size
    blocked = np.zeros(n, dtype=np.bool_)
    any_blocked = False
    for j in range(n):
        if (q[j] <= lower[j] and step[j] < 0.0) or (q[j] >= upper[j] and step[j] > 0.0):
            blocked[j] = True
            any_blocked = True
    if not any_blocked:
        return step
    free = _least_norm(_without(jac, rows, blocked), rows, residual, damping)
    for j in range(n):
        if blocked[j]:
            free[j] = 0.0
    return free


@_jit
def _with_posture(jac, rows, residual, damping, pull, allowance):
    """Return the least-norm step plus the pull's share in the task's null space."""
    factor = _normal_factor(jac, rows, damping)
    along = np.zeros(rows)
    for i in range(rows):
        for j in range(jac.shape[1]):
            along[i] += jac[i, j] * pull[j]
    free = pull - _transpose_times(jac, rows, _factor_solve(factor, rows, along))
    share = 0.0
    for j in range(free.size):
        share = max(share, abs(free[j]) / allowance[j])
    if share > 1.0:
        free /= share
    return _transpose_times(jac, rows, _factor_solve(factor, rows, residual)) + free


@_jit
def _exact(position_error, angle, gap):
    return position_error <= gap and not angle > gap


@_jit
def _errors_kernel(mode, k, weight, aim_position, aim_rotation, aim_axis, aim_yaw, position,
                   rotation):
    _, position_error, angle = _residual((mode, k, weight), (aim_position, aim_rotation,
                                                             aim_axis, aim_yaw),
                                         position, rotation, np.empty(6))
    return position_error, angle


# ---- loops -------------------------------------------------------------------------------

@_jit
def _refine_kernel(frames, joints, mode, k, weight, aim_position, aim_rotation, aim_axis,
                   aim_yaw, q, lower, upper, damping_floor, iterations, gap, pull, allowance,
                   out):
    """
    Run the tick's refinement: up to ``iterations`` bounded damped Newton steps.

    Damping is the squared residual plus ``damping_floor``; a joint a step would carry past
    its limit stops there (stop_at_limits). The first step adds the posture ``pull`` when
    ``allowance`` is not empty. Stops once both errors are within ``gap``.
    Writes the joints into ``out`` and returns (the first step's errors as metres plus
    weighted radians, the position error and angle before the last step, whether the
    joints are exact: then those are their own errors). Results go out through ``out``,
    not as a new array: boxing one costs numba about a microsecond (measured).
    """
    task, aim = (mode, k, weight), (aim_position, aim_rotation, aim_axis, aim_yaw)
    n = q.size
    position = np.empty(3)
    rotation = np.empty((3, 3))
    jac6 = np.empty((6, n))
    jac = np.empty((6, n))
    residual = np.empty(6)
    first = position_error = angle = math.nan
    for k in range(iterations):
        _kinematics(frames, joints, q, position, rotation, jac6, True)
        rows, position_error, angle = _residual(task, aim, position, rotation, residual)
        posture = k == 0 and allowance.size > 0
        if k == 0:
            first = position_error + (0.0 if math.isnan(angle) else weight * angle)
        if not posture and _exact(position_error, angle, gap):
            out[:] = q
            return first, position_error, angle, True
        _task_jacobian(task, jac6, rotation, jac)
        damping = damping_floor
        for i in range(rows):
            damping += residual[i] * residual[i]
        if posture:
            step = _with_posture(jac, rows, residual, damping, pull, allowance)
        else:
            step = _least_norm(jac, rows, residual, damping)
        q = q + _stop_at_limits(q, step, jac, rows, residual, lower, upper, damping)
    out[:] = q
    return first, position_error, angle, False


@_jit
def _minimise_kernel(frames, joints, mode, k, weight, aim_position, aim_rotation, aim_axis,
                     aim_yaw, q, lower, upper, iterations, gap, max_step, stall, stall_share,
                     stall_motion, initial_damping, settled, max_damping, out):
    """
    Return pose_tick.PoseTick.minimise: Levenberg-Marquardt within the limits.

    Writes the joints into ``out``; returns (position error, angle, iterations used).
    """
    task, aim = (mode, k, weight), (aim_position, aim_rotation, aim_axis, aim_yaw)
    n = q.size
    q = np.minimum(np.maximum(q, lower), upper)
    position = np.empty(3)
    rotation = np.empty((3, 3))
    jac6 = np.empty((6, n))
    jac = np.empty((6, n))
    residual = np.empty(6)
    t_position = np.empty(3)
    t_rotation = np.empty((3, 3))
    t_jac6 = np.empty((6, n))
    t_residual = np.empty(6)
    _kinematics(frames, joints, q, position, rotation, jac6, True)
    rows, position_error, angle = _residual(task, aim, position, rotation, residual)
    cost = 0.0
    for i in range(rows):
        cost += residual[i] * residual[i]
    # The cost and joints after each iteration, for the stall test.
    costs = np.empty(iterations + 1)
    path = np.empty((iterations + 1, n))
    costs[0] = cost
    path[0] = q
    kept = 1
    damping = initial_damping
    used = 0
    for used in range(1, iterations + 1):
        if _exact(position_error, angle, gap):
            used -= 1
            break
        if stall and used > stall and cost > stall_share * costs[kept - stall]:
            moved = 0.0
            for j in range(n):
                moved = max(moved, abs(q[j] - path[kept - stall, j]))
            if moved < stall_motion:
                used -= 1
                break
        _task_jacobian(task, jac6, rotation, jac)
        step = _leave_blocked_joints(q, _least_norm(jac, rows, residual, damping), jac, rows,
                                     residual, lower, upper, damping)
        largest = 0.0
        for j in range(n):
            largest = max(largest, abs(step[j]))
        if largest > max_step:
            step = step * (max_step / largest)
        trial = np.minimum(np.maximum(q + step, lower), upper)
        _kinematics(frames, joints, trial, t_position, t_rotation, t_jac6, True)
        _, t_position_error, t_angle = _residual(task, aim, t_position, t_rotation, t_residual)
        t_cost = 0.0
        for i in range(rows):
            t_cost += t_residual[i] * t_residual[i]
        if t_cost < cost:
            is_settled = cost - t_cost <= settled * cost
            q = trial
            jac6[:, :] = t_jac6
            rotation[:, :] = t_rotation
            residual[:] = t_residual
            cost, position_error, angle = t_cost, t_position_error, t_angle
            damping = max(damping * 0.3, 1e-12)
            if is_settled:
                break
        else:
            if damping >= max_damping:
                break
            damping = min(damping * 10.0, max_damping)
        if stall:
            costs[kept] = cost
            path[kept] = q
            kept += 1
    out[:] = q
    return position_error, angle, used


# ---- the Python face ---------------------------------------------------------------------

def log3(rotation: ArrayLike) -> FloatArray:
    """Return the rotation vector (3,) of a rotation matrix: axis times angle, up to pi."""
    out = np.empty(3)
    _log3(np.ascontiguousarray(rotation, dtype=np.float64), out)
    return out


def exp3(vector: ArrayLike) -> FloatArray:
    """Return the rotation matrix (3, 3) of a rotation vector: the inverse of :func:`log3`."""
    out = np.empty((3, 3))
    _exp3(np.ascontiguousarray(vector, dtype=np.float64), out)
    return out


def rotation_log(rotations: ArrayLike) -> FloatArray:
    """Return :func:`log3` of each rotation matrix of ``(..., 3, 3)``: ``(..., 3)``."""
    r = np.asarray(rotations, dtype=np.float64)
    flat = np.ascontiguousarray(r.reshape(-1, 3, 3))
    out = np.empty((flat.shape[0], 3))
    _log3_many(flat, out)
    return out.reshape(r.shape[:-2] + (3,))


def rotation_exp(vectors: ArrayLike) -> FloatArray:
    """Return :func:`exp3` of each rotation vector of ``(..., 3)``: ``(..., 3, 3)``."""
    v = np.asarray(vectors, dtype=np.float64)
    flat = np.ascontiguousarray(v.reshape(-1, 3))
    out = np.empty((flat.shape[0], 3, 3))
    _exp3_many(flat, out)
    return out.reshape(v.shape[:-1] + (3, 3))


def pose_residuals(frames: FloatArray, goals: FloatArray) -> FloatArray:
    """Return ``(p_goal - p, log(R_goal R^T))`` of tool frames toward pose targets, (..., 6)."""
    rotation = np.asarray(frames)[..., :3, :3]
    turn = rotation_log(targets.pose_target_rotations(goals) @ np.swapaxes(rotation, -1, -2))
    return np.concatenate([np.asarray(goals)[..., :3] - np.asarray(frames)[..., :3, 3],
                           turn], axis=-1)


def axis_turn(current: ArrayLike, goal: ArrayLike) -> FloatArray:
    """
    Return the rotation vector turning the unit axis ``current`` onto ``goal`` (the shortest).

    Its length is the angle between them; opposite axes turn about any perpendicular.
    """
    return _axis_turn(np.ascontiguousarray(current, dtype=np.float64),
                      np.ascontiguousarray(goal, dtype=np.float64))


class ChainKernels:
    """One chain's compiled kinematics and loops (the interface of RigidBodyModel and more)."""

    def __init__(self, chain: KinematicChain) -> None:
        """Take ``chain``'s arrays."""
        self.frames, self.joints = ChainArrays.of(chain)
        self.n_joints = chain.n_joints
        self._no_pull = np.empty(0)
        _warm_up(self)

    def placement(self, q: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Return the tip position (3,) and rotation (3, 3) in base coordinates."""
        position, rotation = np.empty(3), np.empty((3, 3))
        _kinematics(self.frames, self.joints, np.asarray(q, dtype=np.float64), position,
                    rotation, rotation, False)
        return position, rotation

    def placement_and_jacobian(self, q: ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Return the tip position, rotation and 6 x n Jacobian (LOCAL_WORLD_ALIGNED rows)."""
        position, rotation, jac = np.empty(3), np.empty((3, 3)), np.empty((6, self.n_joints))
        _kinematics(self.frames, self.joints, np.asarray(q, dtype=np.float64), position,
                    rotation, jac, True)
        return position, rotation, jac

    def errors(self, task: Task, aim: Aim, position: FloatArray, rotation: FloatArray
               ) -> tuple[float, float]:
        """Return the position error (m) and angle (rad; NaN for positions) to ``aim``."""
        return _errors_kernel(*task, *aim, np.ascontiguousarray(position, dtype=np.float64),
                              np.ascontiguousarray(rotation, dtype=np.float64))

    def refine(self, task: Task, aim: Aim, q: FloatArray, lower: FloatArray,
               upper: FloatArray, damping_floor: float, iterations: int, gap: float,
               posture=None) -> tuple:
        """Return :func:`_refine_kernel`'s answer; ``posture``: (pull, allowance) or None."""
        pull, allowance = posture if posture is not None else (self._no_pull, self._no_pull)
        out = np.empty(self.n_joints)
        return (out,) + _refine_kernel(self.frames, self.joints, *task, *aim, q, lower, upper,
                                       damping_floor, iterations, gap, pull, allowance, out)

    def minimise(self, task: Task, aim: Aim, q: FloatArray, lower: FloatArray,
                 upper: FloatArray, iterations: int, gap: float, max_step: float, stall: int,
                 constants: tuple) -> tuple:
        """Return :func:`_minimise_kernel`'s answer (``constants``: its last five)."""
        out = np.empty(self.n_joints)
        return (out,) + _minimise_kernel(self.frames, self.joints, *task, *aim, q, lower,
                                         upper, iterations, gap, max_step, stall, *constants,
                                         out)


_warm = False


def _warm_up(kernels: ChainKernels) -> None:
    """
    Run every kernel once, so that no tick is the one that loads (or compiles) them.

    Loading them from numba's cache takes about a second, once per process; compiling them,
    on a machine's first run, about 20 s.
    """
    global _warm
    if _warm:
        return
    q = np.zeros(kernels.n_joints)
    lower, upper = np.full_like(q, -1.0), np.full_like(q, 1.0)
    position, rotation = kernels.placement(q)
    kernels.placement_and_jacobian(q)
    task = kernel_task(TargetMode.POSE, 3, 1.0)
    aim = kernel_aim(targets.Aim(position, rotation, math.nan))
    kernels.errors(task, aim, position, rotation)
    kernels.refine(task, aim, q, lower, upper, 1e-6, 1, -1.0)
    kernels.refine(task, aim, q, lower, upper, 1e-6, 1, -1.0, (q, np.ones_like(q)))
    kernels.minimise(task, aim, q, lower, upper, 1, -1.0, math.inf, 0,
                     (0.25, 0.1, 1e-3, 1e-10, 1e6))
    exp3(log3(rotation))
    rotation_exp(rotation_log(rotation[None]))
    axis_turn(rotation[:, 2], rotation[:, 0])
    _warm = True
