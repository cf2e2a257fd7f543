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

"""What a tick is told and what it answers: the solver's settings, statuses and results."""

from __future__ import annotations

import dataclasses
import enum
import math
from typing import NamedTuple, Optional

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

# A state this far outside the URDF limits is bad feedback, not rounding.
STATE_LIMIT_TOLERANCE = 1e-6
# Levenberg-Marquardt damping never falls below this share of the reach squared: far above
# the rounding of J J^T (so a singular arm gives a finite step) and far below anything that
# slows convergence (a factor 1e-12 / sigma^2 per iteration).
DAMPING_FLOOR_FRACTION = 1e-12
# Numerical iterations taken from the current state when the network's answer is rejected.
FALLBACK_ITERATIONS = 3
# A velocity-limited network step gives way to the damped step from the current joints when
# that is scaled down by at most this share of the network step's scaling: a clear gain in
# speed, not rounding (where the two reach the same joints, the choice must not flip on it).
DAMPED_STEP_SCALING_SHARE = 0.9
# A new spatial target reached from the current joints in this many bounded Newton steps
# is its own goal, without the numeric projection (a moving target converges in one or two).
QUICK_REACH_ITERATIONS = 8


class Status(enum.IntEnum):
    """What a tick did; the lower the value, the better the news."""

    REACHED = 0
    MOVING = 1
    JOINT_LIMIT = 2
    FALLBACK = 3
    RECONFIGURING = 4
    OUT_OF_REACH = 5
    INVALID_TARGET = 6
    INVALID_STATE = 7


STATUS_MESSAGES = {
    Status.REACHED: 'goal reached',
    Status.MOVING: 'moving toward the goal',
    Status.JOINT_LIMIT: 'a joint is held at its limit (less the margin)',
    Status.FALLBACK: "a numerical step was used instead of the network's (it missed the "
                     'waypoint, or the velocity limit slowed it more)',
    Status.RECONFIGURING: 'stuck in a local minimum (joint limits): moving in joint space to '
                          'a solution that reaches the goal',
    Status.OUT_OF_REACH: 'target out of reach: moving to the nearest reachable point',
    Status.INVALID_TARGET: 'target is not finite: holding position',
    Status.INVALID_STATE: 'joint state is not finite or is outside the URDF limits: no command',
}


class ModelLoadError(RuntimeError):
    """A model file that is missing, corrupt or not an iknn_ros model."""


@dataclasses.dataclass(frozen=True)
class SolverConfig:
    """How the solver turns the network into commands."""

    # Damped Newton iterations after the network step (0: the network alone).
    refine_iterations: int = 1
    # Limited joints are commanded no closer than this to their URDF limits (rad).
    limit_margin_rad: float = 0.05
    # A tick whose command puts the tip within this of the goal reports REACHED (m).
    goal_tolerance_m: float = 1e-4
    # Cartesian speed of the waypoint toward the goal (m/s); the trained step caps it too.
    max_cartesian_speed: float = 0.5
    # The network's answer is rejected when its tip lands farther from the waypoint than
    # this share of the step plus fallback_floor_m.
    fallback_ratio: float = 0.5
    fallback_floor_m: float = 1e-4
    # Use the network at all (False: damped least squares alone, for comparison).
    use_network: bool = True
    # Replace a poor network answer by a numerical step (False: measure the network alone;
    # a non-finite answer still becomes "hold position", never a NaN command).
    fallback: bool = True
    # A redundant arm's path goes around the disk (sphere) of this share of its reach about
    # the shoulder, or the workspace's own hole where larger (0: the hole alone). Sweeping
    # the tip through the base folds such an arm through poses from which no local step
    # leads out (curled against its limits); every arm's path goes around its hole.
    keep_out_fraction: float = 0.25
    # What a target holds (iknn_ros.kinematics.targets.TargetMode): 'position', 'pose'
    # (position and orientation), 'tool_axis' (position and the tool's z axis) or
    # 'planar_pose' (x, y and yaw).
    target_mode: str = 'position'
    # A tick whose command turns the tool within this of the goal's orientation (and within
    # goal_tolerance_m of its position) reports REACHED (rad).
    goal_tolerance_rad: float = 1e-4
    # Angular speed of the waypoint's orientation toward the goal's (rad/s).
    max_angular_speed: float = 1.0
    # Metres one radian of orientation error weighs against position error, wherever the
    # two are summed: the least-squares rows, the nearest reachable pose (pick_ik's
    # rotation_scale, 0.5 m/rad, is the same idea).
    orientation_weight_m_per_rad: float = 0.5
    # Rate (1/s) at which a redundant arm's self-motion pulls its joints toward
    # rest_posture, inside the refinement and without moving the tool (0: off, the
    # least-norm step's own drift). Makes a closed tool path come back to the same joints.
    posture_gain: float = 0.0
    # The posture that pull heads for (one value per joint; empty: the middle of each
    # limited joint's range, continuous joints left free).
    rest_posture: tuple = ()

    def validate(self) -> 'SolverConfig':
        """Raise ValueError naming the first invalid field; return self."""
        checks = [
            (isinstance(self.refine_iterations, int) and 0 <= self.refine_iterations <= 50,
             f'refine_iterations must be an integer in [0, 50], got {self.refine_iterations}'),
            (math.isfinite(self.limit_margin_rad) and 0.0 <= self.limit_margin_rad < 0.5,
             f'limit_margin_rad must be in [0, 0.5), got {self.limit_margin_rad}'),
            (math.isfinite(self.goal_tolerance_m) and self.goal_tolerance_m > 0.0,
             f'goal_tolerance_m must be > 0, got {self.goal_tolerance_m}'),
            (math.isfinite(self.max_cartesian_speed) and self.max_cartesian_speed > 0.0,
             f'max_cartesian_speed must be > 0, got {self.max_cartesian_speed}'),
            (math.isfinite(self.fallback_ratio) and 0.0 < self.fallback_ratio <= 1.0,
             f'fallback_ratio must be in (0, 1], got {self.fallback_ratio}'),
            (math.isfinite(self.fallback_floor_m) and self.fallback_floor_m >= 0.0,
             f'fallback_floor_m must be >= 0, got {self.fallback_floor_m}'),
            (math.isfinite(self.keep_out_fraction) and 0.0 <= self.keep_out_fraction < 1.0,
             f'keep_out_fraction must be in [0, 1), got {self.keep_out_fraction}'),
            (self.target_mode in ('position', 'pose', 'tool_axis', 'planar_pose'),
             f"target_mode must be 'position', 'pose', 'tool_axis' or 'planar_pose', got "
             f'{self.target_mode!r}'),
            (math.isfinite(self.goal_tolerance_rad) and self.goal_tolerance_rad > 0.0,
             f'goal_tolerance_rad must be > 0, got {self.goal_tolerance_rad}'),
            (math.isfinite(self.max_angular_speed) and self.max_angular_speed > 0.0,
             f'max_angular_speed must be > 0, got {self.max_angular_speed}'),
            (math.isfinite(self.orientation_weight_m_per_rad) and
             self.orientation_weight_m_per_rad > 0.0,
             f'orientation_weight_m_per_rad must be > 0, got '
             f'{self.orientation_weight_m_per_rad}'),
            (math.isfinite(self.posture_gain) and 0.0 <= self.posture_gain <= 100.0,
             f'posture_gain must be in [0, 100] (1/s), got {self.posture_gain}'),
            (all(math.isfinite(v) for v in self.rest_posture),
             f'rest_posture must be finite, got {self.rest_posture}'),
            (self.use_network or self.refine_iterations > 0,
             'without the network at least one refine iteration is needed'),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        return self


class TickResult(NamedTuple):
    """One tick's command and what happened, for one arm."""

    # The next joint positions; None when the state is invalid (publish nothing).
    command: Optional[tuple]
    status: Status
    # Where the arm is heading: the target, or its nearest reachable point.
    goal: tuple
    goal_error_m: float
    target_error_m: float
    projected: bool
    fallback: bool
    position_limited: bool
    velocity_limited: bool
    # The elbow branch to pass to the next tick.
    branch: float
    network_error_m: float
    # The command puts the tip within the goal tolerance of the goal (the projection of an
    # unreachable target, which the status then still reports as OUT_OF_REACH).
    reached: bool
    # The command is a tick of a joint-space detour out of a trap (Tracker); the last one
    # may report REACHED, and a detour within one tick has no RECONFIGURING tick at all.
    detour: bool = False
    # The orientation parts of goal_error_m and target_error_m (rad; NaN for positions).
    goal_error_rad: float = math.nan
    target_error_rad: float = math.nan
    # Which part of an out-of-reach target cannot be held: 'position' or 'orientation'
    # (the position alone is reachable); '' when the target is reachable.
    unreachable: str = ''

    @property
    def message(self) -> str:
        """Return a sentence saying what the status means."""
        return STATUS_MESSAGES[self.status]


@dataclasses.dataclass(frozen=True)
class BatchTickResult:
    """One tick for many arms: arrays with a leading batch axis."""

    command: FloatArray
    status: NDArray[np.int64]
    goal: FloatArray
    goal_error_m: FloatArray
    target_error_m: FloatArray
    projected: NDArray[np.bool_]
    fallback: NDArray[np.bool_]
    position_limited: NDArray[np.bool_]
    velocity_limited: NDArray[np.bool_]
    branch: FloatArray
    network_error_m: FloatArray
    reached: NDArray[np.bool_]
