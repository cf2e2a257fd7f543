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
What a target holds, per arm: a position, a full pose, or the planar subset.

A target is a flat tuple of floats in the base frame:

- ``position``: ``(x, y, z)``, or ``(x, y)`` for planar chains;
- ``pose``: ``(x, y, z, qx, qy, qz, qw)``, a unit quaternion as geometry_msgs has it (any
  non-zero length is normalised), for chains of six joints or more;
- ``planar_pose``: ``(x, y, yaw)``, what RViz's "2D Goal Pose" gives, for planar chains of
  three joints or more; yaw is the heading of the tool's x axis in the plane.

Errors are reported in both units: metres for the position part, radians for the
orientation part (the angle of the rotation between the tool and the goal).
"""

from __future__ import annotations

import enum
import math
from typing import NamedTuple, Optional, Sequence

from iknn_ros.kinematics.chain import KinematicChain
import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

# A quaternion (or tool axis) shorter than this is not a rotation (the all-zero message, a
# typo).
MIN_QUATERNION_NORM = 1e-6


class TargetMode(str, enum.Enum):
    """The degrees of freedom a target sets."""

    POSITION = 'position'
    POSE = 'pose'
    PLANAR_POSE = 'planar_pose'
    # The position and the direction of the tool's z axis (its approach axis, by ROS
    # convention): what a 5-joint arm can hold, and what a symmetric tool needs.
    TOOL_AXIS = 'tool_axis'


class Aim(NamedTuple):
    """A target in the form the tick works with."""

    # (3,) in base coordinates; planar targets have z at the plane's height.
    position: FloatArray
    # (3, 3) for poses, else None.
    rotation: Optional[FloatArray]
    # The heading for planar poses (rad), else NaN.
    yaw: float
    # (3,) unit direction of the tool's z axis for tool-axis targets, else None.
    axis: Optional[FloatArray] = None


def modes_for(chain: KinematicChain) -> tuple[TargetMode, ...]:
    """Return the target modes ``chain`` can hold."""
    modes = [TargetMode.POSITION]
    if chain.planar is not None:
        if chain.n_joints >= 3:
            modes.append(TargetMode.PLANAR_POSE)
    else:
        if chain.n_joints >= 5:
            modes.append(TargetMode.TOOL_AXIS)
        if chain.n_joints >= 6:
            modes.append(TargetMode.POSE)
    return tuple(modes)


def check_mode(chain: KinematicChain, mode: str) -> TargetMode:
    """Return ``mode`` as a TargetMode, or raise ValueError saying what the chain takes."""
    try:
        parsed = TargetMode(mode)
    except ValueError:
        names = [m.value for m in TargetMode]
        raise ValueError(f'target_mode must be one of {names}, got {mode!r}') from None
    allowed = modes_for(chain)
    if parsed not in allowed:
        why = {TargetMode.POSE: 'a full pose needs a spatial chain of six joints or more',
               TargetMode.TOOL_AXIS: 'a position and a tool axis need a spatial chain of five '
                                     'joints or more',
               TargetMode.PLANAR_POSE: 'x, y and yaw need a planar chain of three joints or '
                                       'more'}[parsed]
        raise ValueError(f"target_mode '{parsed.value}' does not fit the chain "
                         f"'{chain.base_link}' -> '{chain.tip_link}' ({chain.n_joints} joints, "
                         f"{'planar' if chain.planar is not None else 'spatial'}): {why}; it "
                         f'takes {[m.value for m in allowed]}')
    return parsed


def target_length(chain: KinematicChain, mode: TargetMode) -> int:
    """Return how many numbers a target has."""
    if mode is TargetMode.POSE:
        return 7
    if mode is TargetMode.TOOL_AXIS:
        return 6
    if mode is TargetMode.PLANAR_POSE:
        return 3
    return chain.target_dim


def target_fields(chain: KinematicChain, mode: TargetMode) -> tuple[str, ...]:
    """Return the names of a target's numbers (CSV headers, messages)."""
    if mode is TargetMode.POSE:
        return ('x', 'y', 'z', 'qx', 'qy', 'qz', 'qw')
    if mode is TargetMode.TOOL_AXIS:
        return ('x', 'y', 'z', 'ax', 'ay', 'az')
    if mode is TargetMode.PLANAR_POSE:
        return ('x', 'y', 'yaw')
    return ('x', 'y', 'z')[:chain.target_dim]


def quaternion_to_matrix(qx: float, qy: float, qz: float, qw: float) -> FloatArray:
    """Return the rotation matrix of a quaternion (normalised first)."""
    norm = math.sqrt(qx * qx + qy * qy + qz * qz + qw * qw)
    x, y, z, w = qx / norm, qy / norm, qz / norm, qw / norm
    return np.array([
        [1.0 - 2.0 * (y * y + z * z), 2.0 * (x * y - z * w), 2.0 * (x * z + y * w)],
        [2.0 * (x * y + z * w), 1.0 - 2.0 * (x * x + z * z), 2.0 * (y * z - x * w)],
        [2.0 * (x * z - y * w), 2.0 * (y * z + x * w), 1.0 - 2.0 * (x * x + y * y)]])


def matrix_to_quaternion(rotation: FloatArray) -> tuple[float, float, float, float]:
    """Return ``(qx, qy, qz, qw)`` of a rotation matrix, with ``qw >= 0``."""
    r = np.asarray(rotation, dtype=np.float64)
    trace = r[0, 0] + r[1, 1] + r[2, 2]
    # Shepperd's method: divide by the largest of the four candidates.
    candidates = (trace, r[0, 0], r[1, 1], r[2, 2])
    k = int(np.argmax(candidates))
    if k == 0:
        s = 2.0 * math.sqrt(max(1.0 + trace, 0.0))
        q = ((r[2, 1] - r[1, 2]) / s, (r[0, 2] - r[2, 0]) / s, (r[1, 0] - r[0, 1]) / s, 0.25 * s)
    elif k == 1:
        s = 2.0 * math.sqrt(max(1.0 + r[0, 0] - r[1, 1] - r[2, 2], 0.0))
        q = (0.25 * s, (r[0, 1] + r[1, 0]) / s, (r[0, 2] + r[2, 0]) / s, (r[2, 1] - r[1, 2]) / s)
    elif k == 2:
        s = 2.0 * math.sqrt(max(1.0 + r[1, 1] - r[0, 0] - r[2, 2], 0.0))
        q = ((r[0, 1] + r[1, 0]) / s, 0.25 * s, (r[1, 2] + r[2, 1]) / s, (r[0, 2] - r[2, 0]) / s)
    else:
        s = 2.0 * math.sqrt(max(1.0 + r[2, 2] - r[0, 0] - r[1, 1], 0.0))
        q = ((r[0, 2] + r[2, 0]) / s, (r[1, 2] + r[2, 1]) / s, 0.25 * s, (r[1, 0] - r[0, 1]) / s)
    sign = -1.0 if q[3] < 0.0 else 1.0
    return tuple(float(sign * v) for v in q)


def heading(rotation: FloatArray) -> float:
    """Return the yaw of a frame's x axis in the base xy plane."""
    return math.atan2(rotation[1, 0], rotation[0, 0])


def parse_target(chain: KinematicChain, mode: TargetMode,
                 target: Sequence[float]) -> Optional[Aim]:
    """
    Return the target as an Aim, or None when it is not finite (or not a rotation).

    Raises ValueError when it has the wrong number of values.
    """
    length = target_length(chain, mode)
    if len(target) != length:
        fields = target_fields(chain, mode)
        raise ValueError(f'expected a {mode.value} target {fields} for this arm ({length} '
                         f'values), got {len(target)} values')
    # map, not comprehensions: parsing is on every new target's tick (measured: 1.5 us less).
    values = list(map(float, target))
    if not all(map(math.isfinite, values)):
        return None
    if mode is TargetMode.POSE:
        if math.hypot(*values[3:]) < MIN_QUATERNION_NORM:
            return None
        return Aim(np.array(values[:3]), quaternion_to_matrix(*values[3:]), math.nan)
    if mode is TargetMode.TOOL_AXIS:
        norm = math.sqrt(sum(v * v for v in values[3:]))
        if norm < MIN_QUATERNION_NORM:
            return None
        return Aim(np.array(values[:3]), None, math.nan, np.array(values[3:]) / norm)
    if chain.planar is not None:
        position = np.array([values[0], values[1], chain.planar.height])
        yaw = values[2] if mode is TargetMode.PLANAR_POSE else math.nan
        return Aim(position, None, yaw)
    return Aim(np.array(values[:3]), None, math.nan)


def format_target(chain: KinematicChain, mode: TargetMode, position: FloatArray,
                  rotation: FloatArray) -> tuple:
    """Return the flat target tuple of a tool pose (the inverse of :func:`parse_target`)."""
    if mode is TargetMode.POSE:
        return tuple(float(v) for v in position) + matrix_to_quaternion(rotation)
    if mode is TargetMode.TOOL_AXIS:
        return tuple(float(v) for v in position) + tuple(float(v) for v in rotation[:, 2])
    if mode is TargetMode.PLANAR_POSE:
        return (float(position[0]), float(position[1]), heading(rotation))
    return tuple(float(v) for v in position[:chain.target_dim])


# ---- batched, for training and evaluation ----------------------------------------------

# How a pose model takes its target (the ONNX ``target`` input, 12 numbers): the position,
# then the rotation matrix row by row. A matrix, not a quaternion: one rotation has one
# encoding (a quaternion and its negative are the same pose), and the graph needs no
# conversion to compare it with the tool's frame.
POSE_TARGET_ENCODING = 'position_then_rotation_matrix_row_major'
POSE_TARGET_WIDTH = 12


def pose_targets(frames: FloatArray) -> FloatArray:
    """Return tool frames ``(..., 4, 4)`` as pose-model targets ``(..., 12)``."""
    frames = np.asarray(frames, dtype=np.float64)
    lead = frames.shape[:-2]
    return np.concatenate([frames[..., :3, 3], frames[..., :3, :3].reshape(lead + (9,))],
                          axis=-1)


def pose_target_rotations(targets: FloatArray) -> FloatArray:
    """Return the rotation matrices ``(..., 3, 3)`` of pose-model targets."""
    targets = np.asarray(targets, dtype=np.float64)
    return targets[..., 3:12].reshape(targets.shape[:-1] + (3, 3))
