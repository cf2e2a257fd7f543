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
The way a tip takes toward its goal: straight, or around a keep-out disk (sphere).

A redundant arm sweeping its tip through its base folds through poses from which no local
step leads out; every path here goes around the disk (sphere) about the shoulder instead,
radius and angle changing together. The numpy functions serve the batched tick, their
float twins (``scalar_*``) the one-arm ticks; tests hold them equal.
"""

from __future__ import annotations

import math

from iknn_ros.kinematics import AnnulusWorkspace
from iknn_ros.kinematics import KinematicChain
from iknn_ros.kinematics import Workspace
from iknn_ros.kinematics.angles import wrap_scalar
from iknn_ros.kinematics.angles import wrap_to_pi
from iknn_ros.kinematics.chain_kernels import pose_residuals
from iknn_ros.kinematics.chain_kernels import rotation_exp
import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]

# A path that only touches the inner hole's rim (a goal on it) does not go around it.
DISK_TOUCH_TOLERANCE_M = 1e-9


def route_disk(chain: KinematicChain, workspace: Workspace, keep_out_fraction: float) -> tuple:
    """
    Return the centre and radius of the disk (sphere) paths go around (radius 0: none).

    It is the workspace's hole about the shoulder, widened for a redundant chain to
    ``keep_out_fraction`` of its reach (see SolverConfig.keep_out_fraction).
    """
    if isinstance(workspace, AnnulusWorkspace):
        center, hole = workspace.center.copy(), float(workspace.r_min)
    else:
        # The hole about the shoulder a spatial arm cannot fold its tip into.
        center = chain.shoulder()
        hole = float(workspace.solve(center)[1])
    if chain.n_joints > chain.target_dim:
        return center, max(hole, keep_out_fraction * chain.reach)
    return center, hole


def route_waypoint(tip: FloatArray, goal: FloatArray, max_step: ArrayLike,
                   center: FloatArray, radius: float) -> FloatArray:
    """
    Return the point at most ``max_step`` from each tip on the way to its goal.

    The way is straight unless it would pass inside the disk (sphere) of ``radius`` about
    ``center``; then it spirals around the centre, radius and angle changing together,
    which also reaches goals inside the disk without crossing the centre.
    """
    d = goal - tip
    dist = np.linalg.norm(d, axis=-1)
    ratio = np.where(dist > max_step, max_step / np.where(dist > 0.0, dist, 1.0), 1.0)
    straight = tip + d * ratio[..., None]
    if radius <= 0.0:
        return straight
    around = _segment_enters_disk(tip - center, goal - center, radius) & (dist > max_step)
    if not around.any():
        return straight
    a = tip - center
    spiral = _polar_point if center.shape[-1] == 2 else _spherical_point
    # The chord of an arc is shorter than the arc, so scale onto the step if it overshoots.
    chord = spiral(a, goal - center, max_step) - a
    chord_len = np.linalg.norm(chord, axis=-1)
    fit = np.where(chord_len > max_step, max_step / np.where(chord_len > 0, chord_len, 1), 1.0)
    return np.where(around[..., None], tip + chord * fit[..., None], straight)


def pose_waypoints(frames: FloatArray, goal: FloatArray, max_step: float, max_turn: float,
                   center: FloatArray, radius: float) -> tuple:
    """
    Return each tool's waypoint toward its pose goal, and the distance and angle left.

    Goals and waypoints are pose-model targets (position, then the rotation row-major).
    Position and orientation move the same share of the way each, so that neither goes
    beyond ``max_step`` (m) or ``max_turn`` (rad); the position goes around the ball of
    ``radius`` about ``center``, as :func:`route_waypoint` takes it. The batched form of
    the general tick's waypoint (``PoseTick.waypoint``) for pose targets.
    """
    residual = pose_residuals(frames, goal)
    distance = np.linalg.norm(residual[:, :3], axis=-1)
    angle = np.linalg.norm(residual[:, 3:], axis=-1)
    share = np.minimum(1.0, np.minimum(max_step / np.maximum(distance, 1e-300),
                                       max_turn / np.maximum(angle, 1e-300)))
    position = route_waypoint(frames[:, :3, 3], goal[:, :3], share * distance, center, radius)
    rotation = rotation_exp(share[:, None] * residual[:, 3:]) @ frames[:, :3, :3]
    return np.concatenate([position, rotation.reshape(-1, 9)], axis=-1), distance, angle


def route_length(tip: FloatArray, goal: FloatArray, center: FloatArray,
                 radius: float) -> FloatArray:
    """Return the length of the way :func:`route_waypoint` takes from each tip to its goal."""
    straight = np.linalg.norm(goal - tip, axis=-1)
    if radius <= 0.0:
        return straight
    a, b = tip - center, goal - center
    ra, rb = np.linalg.norm(a, axis=-1), np.linalg.norm(b, axis=-1)
    cos_sweep = np.sum(a * b, axis=-1) / np.maximum(ra * rb, 1e-24)
    spiral = np.hypot(rb - ra, 0.5 * (ra + rb) * np.arccos(np.clip(cos_sweep, -1.0, 1.0)))
    return np.where(_segment_enters_disk(a, b, radius), spiral, straight)


def _segment_enters_disk(a: FloatArray, b: FloatArray, radius: float) -> NDArray[np.bool_]:
    """Return whether the segment a-b (centre-relative) passes inside the disk."""
    ab = b - a
    length2 = np.sum(ab * ab, axis=-1)
    t = np.clip(-np.sum(a * ab, axis=-1) / np.where(length2 > 0.0, length2, 1.0), 0.0, 1.0)
    closest = a + ab * t[..., None]
    return np.linalg.norm(closest, axis=-1) < radius - DISK_TOUCH_TOLERANCE_M


def _polar_point(a: FloatArray, b: FloatArray, max_step: FloatArray) -> FloatArray:
    """Return the point ``max_step`` along the spiral from a to b (centre-relative)."""
    ra, rb = np.linalg.norm(a, axis=-1), np.linalg.norm(b, axis=-1)
    ta, tb = np.arctan2(a[..., 1], a[..., 0]), np.arctan2(b[..., 1], b[..., 0])
    sweep = wrap_to_pi(tb - ta)
    length = np.hypot(rb - ra, 0.5 * (ra + rb) * sweep)
    s = np.clip(max_step / np.where(length > 0.0, length, 1.0), 0.0, 1.0)
    r = ra + s * (rb - ra)
    theta = ta + s * sweep
    return np.stack([r * np.cos(theta), r * np.sin(theta)], axis=-1)


def _spherical_point(a: FloatArray, b: FloatArray, max_step: FloatArray) -> FloatArray:
    """Return the point ``max_step`` along the spiral from a to b about the origin (3D)."""
    ra, rb = np.linalg.norm(a, axis=-1), np.linalg.norm(b, axis=-1)
    ua = a / np.maximum(ra, 1e-12)[..., None]
    ub = b / np.maximum(rb, 1e-12)[..., None]
    sweep = np.arccos(np.clip(np.sum(ua * ub, axis=-1), -1.0, 1.0))
    # The unit vector orthogonal to ua toward ub; for opposite directions, over the top.
    side = ub - ua * np.sum(ua * ub, axis=-1, keepdims=True)
    over = np.array([0.0, 0.0, 1.0]) - ua * ua[..., 2:3]
    side = np.where(np.linalg.norm(side, axis=-1, keepdims=True) > 1e-9, side, over)
    side /= np.maximum(np.linalg.norm(side, axis=-1, keepdims=True), 1e-12)
    length = np.hypot(rb - ra, 0.5 * (ra + rb) * sweep)
    s = np.clip(max_step / np.where(length > 0.0, length, 1.0), 0.0, 1.0)
    r = ra + s * (rb - ra)
    angle = s * sweep
    return r[..., None] * (np.cos(angle)[..., None] * ua + np.sin(angle)[..., None] * side)


def scalar_segment_enters_disk(ax: float, ay: float, bx: float, by: float,
                               radius: float) -> bool:
    abx, aby = bx - ax, by - ay
    length2 = abx * abx + aby * aby
    t = -(ax * abx + ay * aby) / length2 if length2 > 0.0 else 0.0
    t = min(max(t, 0.0), 1.0)
    return math.hypot(ax + abx * t, ay + aby * t) < radius - DISK_TOUCH_TOLERANCE_M


def scalar_polar_waypoint(ax: float, ay: float, bx: float, by: float,
                          max_step: float) -> tuple:
    ra, rb = math.hypot(ax, ay), math.hypot(bx, by)
    ta, tb = math.atan2(ay, ax), math.atan2(by, bx)
    sweep = wrap_scalar(tb - ta)
    length = math.hypot(rb - ra, 0.5 * (ra + rb) * sweep)
    s = min(max(max_step / length if length > 0.0 else 1.0, 0.0), 1.0)
    r = ra + s * (rb - ra)
    theta = ta + s * sweep
    px, py = r * math.cos(theta), r * math.sin(theta)
    cx, cy = px - ax, py - ay
    chord = math.hypot(cx, cy)
    fit = max_step / chord if chord > max_step else 1.0
    return ax + cx * fit, ay + cy * fit


def scalar_segment_enters_ball(a: tuple, b: tuple, radius: float) -> bool:
    ab = [v - u for u, v in zip(a, b)]
    length2 = sum(v * v for v in ab)
    t = -sum(u * v for u, v in zip(a, ab)) / length2 if length2 > 0.0 else 0.0
    t = min(max(t, 0.0), 1.0)
    return math.hypot(*(u + v * t for u, v in zip(a, ab))) < radius - DISK_TOUCH_TOLERANCE_M


def scalar_spherical_waypoint(a: tuple, b: tuple, max_step: float) -> tuple:
    """Return the float twin of :func:`_spherical_point`, fitted onto the step."""
    ra, rb = math.hypot(*a), math.hypot(*b)
    ua = [v / max(ra, 1e-12) for v in a]
    ub = [v / max(rb, 1e-12) for v in b]
    cos_sweep = sum(u * v for u, v in zip(ua, ub))
    sweep = math.acos(min(max(cos_sweep, -1.0), 1.0))
    side = [v - u * cos_sweep for u, v in zip(ua, ub)]
    if math.hypot(*side) <= 1e-9:
        side = [-ua[0] * ua[2], -ua[1] * ua[2], 1.0 - ua[2] * ua[2]]
    norm = max(math.hypot(*side), 1e-12)
    side = [v / norm for v in side]
    length = math.hypot(rb - ra, 0.5 * (ra + rb) * sweep)
    s = min(max(max_step / length if length > 0.0 else 1.0, 0.0), 1.0)
    r = ra + s * (rb - ra)
    c, sn = math.cos(s * sweep), math.sin(s * sweep)
    chord = [r * (c * u + sn * w) - v for u, w, v in zip(ua, side, a)]
    length_chord = math.hypot(*chord)
    fit = max_step / length_chord if length_chord > max_step else 1.0
    return tuple(v + d * fit for v, d in zip(a, chord))
