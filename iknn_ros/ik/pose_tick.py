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
The tick for any serial chain and any target mode, and the cold solve beside it.

The same algorithm as :meth:`IKSolver.tick_batch` (validate, goal, waypoint, network,
bounded damped least squares, safety) for one arm whose target is a position, a pose or
a planar pose. The kinematics and the least-squares loops (refinement, Levenberg-Marquardt)
are compiled (:mod:`iknn_ros.kinematics.chain_kernels`), because at one arm per call
numpy's and Pinocchio's per-call overhead, not arithmetic, was the cost; this module holds
the decisions around them (goals, waypoints, projection, statuses).

The residual a least-squares step drives to zero is ``(p_goal - p, w * log(R_goal R^T))``
restricted to the mode's rows (x, y, z and the rotation vector; x, y and yaw for planar
poses), with ``w = orientation_weight_m_per_rad``. Refinement runs up to
``refine_iterations`` steps and stops once the tool is exact (REFINED_GAP).
"""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple, Optional, Sequence

from iknn_ros.ik.routes import DISK_TOUCH_TOLERANCE_M
from iknn_ros.ik.routes import scalar_segment_enters_ball
from iknn_ros.ik.routes import scalar_spherical_waypoint
from iknn_ros.ik.safety import bounded_moves
from iknn_ros.ik.safety import checked_joints
from iknn_ros.ik.safety import safe_command
from iknn_ros.ik.tick_types import DAMPED_STEP_SCALING_SHARE
from iknn_ros.ik.tick_types import DAMPING_FLOOR_FRACTION
from iknn_ros.ik.tick_types import FALLBACK_ITERATIONS
from iknn_ros.ik.tick_types import QUICK_REACH_ITERATIONS
from iknn_ros.ik.tick_types import SolverConfig
from iknn_ros.ik.tick_types import STATE_LIMIT_TOLERANCE
from iknn_ros.ik.tick_types import Status
from iknn_ros.ik.tick_types import TickResult
from iknn_ros.kinematics import EXACT_GAP_M
from iknn_ros.kinematics import KinematicChain
from iknn_ros.kinematics import nearest_keeping_elbows
from iknn_ros.kinematics.angles import TWO_PI
from iknn_ros.kinematics.angles import wrap_scalar
from iknn_ros.kinematics.chain_kernels import axis_turn
from iknn_ros.kinematics.chain_kernels import ChainKernels
from iknn_ros.kinematics.chain_kernels import exp3
from iknn_ros.kinematics.chain_kernels import kernel_aim
from iknn_ros.kinematics.chain_kernels import kernel_task
from iknn_ros.kinematics.chain_kernels import log3
from iknn_ros.kinematics.chain_kernels import Task as KernelTask
from iknn_ros.kinematics.targets import Aim
from iknn_ros.kinematics.targets import check_mode
from iknn_ros.kinematics.targets import format_target
from iknn_ros.kinematics.targets import heading
from iknn_ros.kinematics.targets import parse_target
from iknn_ros.kinematics.targets import TargetMode
import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

# Refinement stops once the tool is this close to the waypoint (m, and rad): rounding.
REFINED_GAP = 1e-12
# A step toward a goal within reach that cuts the error to this share of what it was is
# converging (quadratically, near a solution) and the goal is taken as reachable.
CONVERGING = 1e-2
# Fixed starting poses for the nearest reachable pose and for cold solves (a fixed seed:
# the same target always gets the same answer).
START_POSES = 64
START_POSE_SEED = 0
# Iterations of the minimiser per start, and its damping schedule (Levenberg's).
SOLVE_ITERATIONS = 100
INITIAL_DAMPING = 1e-3
# An accepted step that lowers the cost by less than this share of it has settled.
SETTLED = 1e-10
MAX_DAMPING = 1e6
# A cold solve's start is given up once it is stuck: in STALL_ITERATIONS iterations the
# cost did not fall to STALL_SHARE of what it was and no joint moved STALL_MOTION (rad, or
# m): a joint limit or a local minimum holds it. The next start, the one whose tool is
# nearest the target first, takes over. (A start that slides slowly along a limit to the
# target still moves: giving up on cost alone lost 2 of 10,000 random poses.) Its steps move
# a joint at most SOLVE_STEP: a trust region, so that a far target's first Gauss-Newton
# steps do not throw joints against their limits.
STALL_ITERATIONS = 5
STALL_SHARE = 0.25
STALL_MOTION = 0.1
SOLVE_STEP = 1.0
# The posture pull takes at most this share of a joint's velocity limit per tick, so the
# tool's own step keeps the rest.
POSTURE_VELOCITY_SHARE = 0.25


@dataclasses.dataclass(frozen=True)
class SolveResult:
    """What a cold solve found."""

    joints: tuple
    # REACHED, or OUT_OF_REACH with the nearest reachable target's joints.
    status: Status
    position_error_m: float
    orientation_error_rad: float
    # '' when reached; else 'position' or 'orientation' (the position alone is reachable).
    unreachable: str
    iterations: int
    starts: int

    @property
    def reached(self) -> bool:
        """Return whether the joints reach the target."""
        return self.status is Status.REACHED


class Task(NamedTuple):
    """What a least-squares step works on: the mode and its residual's rows."""

    mode: TargetMode
    rows: int
    # The same, as the compiled loops take it.
    kernel: KernelTask


def make_task(mode: TargetMode, position_rows: int, weight: float) -> Task:
    """Return the task of ``mode``: x, y (and z), then the rotation rows it holds."""
    rotation_rows = {TargetMode.POSITION: 0, TargetMode.POSE: 3, TargetMode.TOOL_AXIS: 2,
                     TargetMode.PLANAR_POSE: 1}[mode]
    return Task(mode, position_rows + rotation_rows,
                kernel_task(mode, position_rows, weight))


class PoseTick:
    """One arm's tick and cold solve for the solver's chain, config and network."""

    def __init__(self, chain: KinematicChain, safe_chain: KinematicChain,
                 config: SolverConfig, network, step_m: float,
                 route_center: FloatArray, route_radius: float, project=None) -> None:
        """
        Set the tick up for ``chain`` (``safe_chain``: its limits less the margin).

        ``project(target, q)`` returns the nearest reachable position for position targets
        (the solver's workspace); pose targets are projected here.
        """
        self.chain = chain
        self.config = config
        self.mode = check_mode(chain, config.target_mode)
        self.body = ChainKernels(chain)
        self.network = network
        # A pose model takes the goal's rotation too (POSE_TARGET_ENCODING).
        self.pose_network = network is not None and network.card.target_mode == 'pose'
        self.step_m = step_m
        # The largest turn a step takes: the pose model's trained turn.
        self.step_rad = float(network.card.step_rad) if self.pose_network else math.inf
        planar = chain.planar is not None
        self.position_rows = 2 if planar else 3
        self.weight = config.orientation_weight_m_per_rad
        self.task = make_task(self.mode, self.position_rows, self.weight)
        # Where the whole target cannot be held, can its position?
        self.position_task = make_task(TargetMode.POSITION, self.position_rows, self.weight)
        self.n = chain.n_joints
        self.continuous = chain.continuous
        self.any_continuous = bool(self.continuous.any())
        self.elbows = self.chain.elbow_joints()
        # Contiguous float64, the one layout the compiled loops are built for.
        self.lo = np.ascontiguousarray(safe_chain.lower, dtype=np.float64)
        self.hi = np.ascontiguousarray(safe_chain.upper, dtype=np.float64)
        self.hard_lo = chain.lower - STATE_LIMIT_TOLERANCE
        self.hard_hi = chain.upper + STATE_LIMIT_TOLERANCE
        self.velocity = chain.velocity_limits
        self._hard_lo, self._hard_hi = self.hard_lo.tolist(), self.hard_hi.tolist()
        self._limits = list(zip(self.lo.tolist(), self.hi.tolist(), self.velocity.tolist(),
                                self.continuous.tolist()))
        self.damping_floor = DAMPING_FLOOR_FRACTION * chain.reach ** 2
        self.route_center = tuple(float(v) for v in route_center)
        self.route_radius = float(route_radius)
        self.project_position = project
        self._safe_chain = safe_chain
        self._starts: Optional[FloatArray] = None
        self._start_tools: Optional[tuple] = None
        # The goal of the last target, and whether it is known to be reachable.
        self._last_target: Optional[tuple] = None
        self._last_aim: Optional[Aim] = None
        self._goal: Optional[Aim] = None
        self._goal_tuple: tuple = ()
        self._projected = False
        self._unreachable = ''
        self._verified = False
        # The last projected target: (its aim, the nearest pose's joints, the part out of
        # reach), from which a stream of targets just beside it is followed locally.
        self._projection: Optional[tuple] = None
        self.posture_gain = config.posture_gain if self.task.rows < self.n else 0.0
        if config.rest_posture:
            self.rest = np.clip(np.array(config.rest_posture, dtype=np.float64),
                                self.lo, self.hi)
            self.rest_weight = np.ones(self.n)
        else:
            self.rest = 0.5 * (np.where(self.continuous, 0.0, self.lo)
                               + np.where(self.continuous, 0.0, self.hi))
            self.rest_weight = np.where(self.continuous, 0.0, 1.0)

    def browser_constants(self, workspace_starts: Optional[FloatArray] = None) -> dict:
        """
        Return this tick as plain data for the browser's port (web/static/pose_tick.js).

        Every number the port needs, so that it runs on exactly these: the chain's joint
        frames and axes (the kinematics), the limits, the configuration and the fixed
        starting poses. ``workspace_starts``: the grid the solver's numeric workspace
        projects position targets from (its coarse and polish iterations are the
        defaults). Infinite values are given as None (JSON has no infinity).
        """
        def finite(values) -> list:
            return [float(v) if math.isfinite(v) else None for v in np.ravel(values)]

        cfg = self.config
        motions = [{'origin': self.chain.motions[i].origin.tolist(),
                    'axis': [float(v) for v in joint.axis],
                    'prismatic': bool(joint.is_prismatic), 'driver': int(driver),
                    'multiplier': float(joint.multiplier if joint.mimic else 1.0),
                    'offset': float(joint.offset if joint.mimic else 0.0)}
                   for i, (joint, driver) in enumerate(zip(self.chain.motions,
                                                           self.chain.drivers))]
        return {
            'motions': motions, 'tip_offset': self.chain.tip_offset.tolist(),
            'mode': self.mode.value, 'position_rows': self.position_rows,
            'planar_height': float(self.chain.planar.height) if self.chain.planar else None,
            'weight': self.weight, 'step_m': float(self.step_m),
            'step_rad': finite([self.step_rad])[0], 'pose_network': self.pose_network,
            'lo': finite(self.lo), 'hi': finite(self.hi), 'hard_lo': finite(self.hard_lo),
            'hard_hi': finite(self.hard_hi), 'velocity': finite(self.velocity),
            'continuous': [bool(v) for v in self.continuous],
            'damping_floor': self.damping_floor, 'route_center': list(self.route_center),
            'route_radius': self.route_radius, 'start_poses': self._start_poses().tolist(),
            'elbow_joints': [int(j) for j in self.chain.elbow_joints()],
            'workspace_starts': None if workspace_starts is None else workspace_starts.tolist(),
            'solver': {'refine_iterations': cfg.refine_iterations, 'fallback': cfg.fallback,
                       'fallback_ratio': cfg.fallback_ratio,
                       'fallback_floor_m': cfg.fallback_floor_m,
                       'goal_tolerance_m': cfg.goal_tolerance_m,
                       'goal_tolerance_rad': cfg.goal_tolerance_rad,
                       'max_cartesian_speed': cfg.max_cartesian_speed,
                       'max_angular_speed': cfg.max_angular_speed},
            'constants': {'refined_gap': REFINED_GAP, 'converging': CONVERGING,
                          'solve_iterations': SOLVE_ITERATIONS,
                          'initial_damping': INITIAL_DAMPING, 'settled': SETTLED,
                          'max_damping': MAX_DAMPING, 'exact_gap_m': EXACT_GAP_M,
                          'stall_iterations': STALL_ITERATIONS, 'stall_share': STALL_SHARE,
                          'stall_motion': STALL_MOTION,
                          'solve_step': SOLVE_STEP,
                          'quick_reach_iterations': QUICK_REACH_ITERATIONS,
                          'fallback_iterations': FALLBACK_ITERATIONS,
                          'damped_step_scaling_share': DAMPED_STEP_SCALING_SHARE,
                          'disk_touch_tolerance_m': DISK_TOUCH_TOLERANCE_M}}

    # ---- residuals -----------------------------------------------------------------------

    def tool_errors(self, position: FloatArray, rotation: FloatArray, aim: Aim,
                    task: Optional[Task] = None) -> tuple[float, float]:
        """Return the position (m) and orientation (rad; NaN for positions) errors to ``aim``."""
        return self.body.errors((task or self.task).kernel, kernel_aim(aim), position,
                                rotation)

    def errors(self, q: FloatArray, aim: Aim) -> tuple[float, float]:
        """Return the tool's position (m) and orientation (rad) error at ``q``."""
        return self.tool_errors(*self.body.placement(q), aim)

    def _exact(self, position_error: float, angle: float, gap: float) -> bool:
        return position_error <= gap and not angle > gap

    def lm_step(self, q: FloatArray, aim: Aim, stop_gap: float = -1.0,
                posture: Optional[tuple] = None) -> tuple:
        """
        Return one bounded damped Newton step toward ``aim`` and the errors before it.

        Damping is the squared residual (Newton as it vanishes). A joint the step would
        carry past its limit stops there and the others take up the rest (one active-set
        pass), as in the batched tick. No step is taken when both errors are within
        ``stop_gap`` already. With ``posture`` (:meth:`posture_step`), the step adds the
        pull's share in the null space of the task (Liegeois' gradient projection), which
        moves the joints without moving the tool (to first order).
        """
        solution, _, position_error, angle, _ = self.body.refine(
            self.task.kernel, kernel_aim(aim), np.asarray(q, dtype=np.float64), self.lo,
            self.hi, self.damping_floor, 1, stop_gap, posture)
        return solution, position_error, angle

    # ---- goals ---------------------------------------------------------------------------

    def _start_poses(self) -> FloatArray:
        if self._starts is None:
            self._starts = self._safe_chain.random_configurations(
                np.random.default_rng(START_POSE_SEED), START_POSES)
        return self._starts

    def _starts_nearest(self, aim: Aim) -> FloatArray:
        """Return the starting poses, the one whose tool is nearest ``aim`` first."""
        poses = self._start_poses()
        if self._start_tools is None:
            placements = [self.body.placement(q) for q in poses]
            rotations = np.array([r for _, r in placements])
            self._start_tools = (np.array([p for p, _ in placements]), rotations,
                                 np.array([heading(r) for r in rotations]))
        positions, rotations, headings = self._start_tools
        k = self.position_rows
        gap = np.sum((positions[:, :k] - aim.position[:k]) ** 2, axis=1)
        # The turn as 2 (1 - cos angle), about its square: no logarithm per pose.
        if self.mode is TargetMode.POSE:
            gap += self.weight ** 2 * (3.0 - np.einsum('sij,ij->s', rotations, aim.rotation))
        elif self.mode is TargetMode.TOOL_AXIS:
            gap += self.weight ** 2 * 2.0 * (1.0 - rotations[:, :, 2] @ aim.axis)
        elif self.mode is TargetMode.PLANAR_POSE:
            gap += self.weight ** 2 * 2.0 * (1.0 - np.cos(headings - aim.yaw))
        return poses[np.argsort(gap, kind='stable')]

    def minimise(self, q: FloatArray, aim: Aim, iterations: int = SOLVE_ITERATIONS,
                 gap: float = REFINED_GAP, task: Optional[Task] = None,
                 max_step: float = math.inf, stall: int = 0) -> tuple:
        """
        Return joints within the margin that bring the tool nearest ``aim`` from ``q``.

        Levenberg-Marquardt with accepted and rejected steps; joints pressed against a
        limit leave the step, and no joint moves more than ``max_step`` in one. With
        ``stall``, it stops once that many iterations neither cut the cost to STALL_SHARE
        nor moved a joint STALL_MOTION.
        Returns (joints, position error, angle, iterations used).
        """
        task = task or self.task
        q, position_error, angle, used = self.body.minimise(
            task.kernel, kernel_aim(aim), np.asarray(q, dtype=np.float64), self.lo, self.hi,
            iterations, gap, max_step, stall,
            (STALL_SHARE, STALL_MOTION, INITIAL_DAMPING, SETTLED, MAX_DAMPING))
        return q, position_error, angle, used

    def solve(self, target: Sequence[float], seed: Optional[Sequence[float]] = None,
              max_starts: int = START_POSES) -> SolveResult:
        """
        Return joints within the margin that reach ``target``, with no velocity bound.

        From ``seed`` (default: the middle of the limits), then from fixed starting poses,
        the one whose tool is nearest the target first, until one reaches the target to
        REFINED_GAP; a start that is stuck is given up. When none reaches it, every start is
        minimised again to its end (no trust region, never given up): what that finds, this
        finds. At most twice ``max_starts + 1`` starts of SOLVE_ITERATIONS each, so it always
        ends. An unreachable target gives the nearest reachable one's joints (the best end
        of the second pass) and says which part is out of reach.
        """
        aim = parse_target(self.chain, self.mode, target)
        if aim is None:
            raise ValueError(f'target {tuple(target)} is not finite (or its quaternion is zero)')
        if seed is None:
            start = 0.5 * (np.where(self.continuous, 0.0, self.lo)
                           + np.where(self.continuous, 0.0, self.hi))
        else:
            start = np.asarray(seed, dtype=np.float64)
            if start.shape != (self.n,) or not np.all(np.isfinite(start)):
                raise ValueError(f'seed must be {self.n} finite joint positions, got {seed}')
        starts = [start]
        # The fixed starts are ordered only when the seed does not reach the target (most
        # do: the ordering costs more than the seed's whole solve).
        ordered = max_starts <= 0
        total, best = 0, None
        for thorough in (False, True):
            count = 0
            while count < len(starts):
                q0 = starts[count]
                count += 1
                q, position_error, angle, used = self.minimise(q0, aim) if thorough else \
                    self.minimise(q0, aim, max_step=SOLVE_STEP, stall=STALL_ITERATIONS)
                total += used
                if self._exact(position_error, angle, REFINED_GAP):
                    return SolveResult(self._report_joints(q), Status.REACHED, position_error,
                                       angle, '', total, count + thorough * len(starts))
                cost = self._cost(position_error, angle)
                if thorough and (best is None or cost < best[0]):
                    best = (cost, q, position_error, angle)
                if not ordered:
                    starts += list(self._starts_nearest(aim)[:max_starts])
                    ordered = True
        _, q, position_error, angle = best
        return SolveResult(self._report_joints(q), Status.OUT_OF_REACH, position_error, angle,
                           self._unreachable_part(aim, q), total, 2 * len(starts))

    def _cost(self, position_error: float, angle: float) -> float:
        return position_error ** 2 + (0.0 if math.isnan(angle) else (self.weight * angle) ** 2)

    def _report_joints(self, q: FloatArray) -> tuple:
        q = np.where(self.continuous, (q + math.pi) % TWO_PI - math.pi, q)
        return tuple(float(v) for v in q)

    def _unreachable_part(self, aim: Aim, q: FloatArray) -> str:
        """Return 'orientation' when the position alone can be reached, else 'position'."""
        if self.mode is TargetMode.POSITION:
            return 'position'
        for q0 in [q] + list(self._start_poses()[:8]):
            if self.minimise(q0, aim, task=self.position_task)[1] <= EXACT_GAP_M:
                return 'orientation'
        return 'position'

    def nearest_solution(self, goal: Sequence[float], joints: Sequence[float]
                         ) -> Optional[FloatArray]:
        """Return the joints reaching ``goal`` nearest ``joints`` (None: none found)."""
        aim = parse_target(self.chain, self.mode, goal)
        q = np.asarray(joints, dtype=np.float64)
        reached = []
        for q0 in [q] + list(self._start_poses()):
            solution, position_error, angle, _ = self.minimise(q0, aim)
            if self._exact(position_error, angle, EXACT_GAP_M):
                reached.append(solution)
        if not reached:
            return None
        return nearest_keeping_elbows(self.chain, np.array(reached), q)

    def _new_goal(self, target: tuple, aim: Aim) -> None:
        """Make ``target`` its own goal until a step shows otherwise (:meth:`_verify`)."""
        self._last_target, self._last_aim = target, aim
        self._goal, self._goal_tuple = aim, target
        self._projected, self._verified = False, False
        # The last part out of reach stays known for a stream that continues a projection.
        if self._projection is None:
            self._unreachable = ''

    def _verify(self, q: FloatArray) -> None:
        """Check that the goal is reachable from near ``q``; project it where it is not."""
        aim = self._goal
        self._verified = True
        trial = np.minimum(np.maximum(q, self.lo), self.hi)
        for _ in range(QUICK_REACH_ITERATIONS):
            trial, position_error, angle = self.lm_step(trial, aim)
            if self._exact(position_error, angle, EXACT_GAP_M):
                return
        if self._exact(*self.errors(trial, aim), EXACT_GAP_M):
            return
        if self.mode is TargetMode.POSITION and self.project_position is not None:
            # Position targets keep the solver's workspace (the batched tick's projection).
            goal = tuple(float(v) for v in self.project_position(self._goal_tuple, q))
            if math.dist(goal, self._goal_tuple) <= 1e-12:
                return
            joints = None
        elif self._continues_projection(aim):
            # A stream sliding along outside the reachable set (a teleop pushing past the
            # workspace): the nearest pose moves with it, so one local minimisation from the
            # last one's joints follows it, instead of a search per tick.
            joints, position_error, angle, _ = self.minimise(self._projection[1], aim)
            if self._exact(position_error, angle, EXACT_GAP_M):
                return
            position, rotation = self.body.placement(joints)
            goal = format_target(self.chain, self.mode, position, rotation)
            part = self._unreachable or 'position'
        else:
            result = self.solve(self._goal_tuple, seed=np.minimum(np.maximum(q, self.lo),
                                                                  self.hi), max_starts=16)
            if result.reached:
                return
            joints = np.asarray(result.joints)
            position, rotation = self.body.placement(joints)
            goal = format_target(self.chain, self.mode, position, rotation)
            part = self._unreachable_part(aim, joints)
        self._goal, self._goal_tuple = parse_target(self.chain, self.mode, goal), goal
        self._projected = True
        self._unreachable = 'position' if joints is None else part
        if joints is not None:
            self._projection = (aim, joints, part)

    def _continues_projection(self, aim: Aim) -> bool:
        """Return whether ``aim`` is within one step of the last projected target."""
        if self._projection is None:
            return False
        previous = self._projection[0]
        if math.dist(previous.position, aim.position) > self.step_m:
            return False
        if self.mode is TargetMode.POSE:
            turn = log3(aim.rotation @ previous.rotation.T)
            return math.sqrt(turn @ turn) * self.weight <= self.step_m
        if self.mode is TargetMode.TOOL_AXIS:
            turn = axis_turn(previous.axis, aim.axis)
            return math.sqrt(turn @ turn) * self.weight <= self.step_m
        if self.mode is TargetMode.PLANAR_POSE:
            return abs(wrap_scalar(aim.yaw - previous.yaw)) * self.weight <= self.step_m
        return True

    # ---- waypoints -----------------------------------------------------------------------

    def waypoint(self, position: FloatArray, rotation: FloatArray, goal: Aim,
                 dt: float) -> tuple[Aim, bool]:
        """
        Return the aim of this tick and whether it is the goal itself.

        Position and orientation move together, the same share of the way each, so that
        neither exceeds its speed (position around the keep-out ball, as positions do).
        """
        max_step = min(self.step_m, self.config.max_cartesian_speed * dt)
        max_turn = min(self.step_rad, self.config.max_angular_speed * dt)
        # Both parts of the way left in one compiled call; the turn itself only when the
        # goal is more than one step away.
        distance, angle = self.tool_errors(position, rotation, goal)
        if math.isnan(angle):
            angle = 0.0
        share = 1.0 if distance <= max_step else max_step / distance
        if angle > max_turn:
            share = min(share, max_turn / angle)
        if share >= 1.0:
            return goal, True
        aim_position = self._position_waypoint(position, goal.position, share * distance) \
            if distance > 0.0 else goal.position
        if self.mode is TargetMode.POSE:
            turn = log3(goal.rotation @ rotation.T)
            return Aim(aim_position, exp3(share * turn) @ rotation, math.nan), False
        if self.mode is TargetMode.TOOL_AXIS:
            turn = axis_turn(rotation[:, 2], goal.axis)
            return Aim(aim_position, None, math.nan,
                       exp3(share * turn) @ rotation[:, 2]), False
        if self.mode is TargetMode.PLANAR_POSE:
            yaw = heading(rotation)
            return Aim(aim_position, None, yaw + share * wrap_scalar(goal.yaw - yaw)), False
        return Aim(aim_position, None, math.nan), False

    def _position_waypoint(self, tip: FloatArray, goal: FloatArray, max_step: float
                           ) -> FloatArray:
        dist = math.dist(tip, goal)
        if dist <= max_step:
            return goal
        if self.route_radius > 0.0 and self.position_rows == 3:
            center = self.route_center
            a = tuple(float(v) - c for v, c in zip(tip, center))
            b = tuple(float(v) - c for v, c in zip(goal, center))
            if math.hypot(*a) - dist < self.route_radius and \
                    scalar_segment_enters_ball(a, b, self.route_radius):
                point = scalar_spherical_waypoint(a, b, max_step)
                return np.array([p + c for p, c in zip(point, center)])
        return tip + (goal - tip) * (max_step / dist)

    def way_left(self, joints: Sequence[float], goal: Sequence[float]) -> float:
        """
        Return how far the tool is from ``goal``: metres plus weighted radians.

        The position part is the length of the way the waypoints take (around the
        keep-out ball: the straight-line distance first grows).
        """
        aim = parse_target(self.chain, self.mode, goal)
        position, rotation = self.body.placement(np.asarray(joints, dtype=np.float64))
        position_error, angle = self.tool_errors(position, rotation, aim)
        if self.route_radius > 0.0 and self.position_rows == 3:
            a = tuple(float(v) - c for v, c in zip(position, self.route_center))
            b = tuple(float(v) - c for v, c in zip(aim.position, self.route_center))
            if scalar_segment_enters_ball(a, b, self.route_radius):
                ra, rb = math.hypot(*a), math.hypot(*b)
                cos_sweep = sum(u * v for u, v in zip(a, b)) / max(ra * rb, 1e-24)
                sweep = math.acos(min(max(cos_sweep, -1.0), 1.0))
                position_error = math.hypot(rb - ra, 0.5 * (ra + rb) * sweep)
        return position_error + (0.0 if math.isnan(angle) else self.weight * angle)

    def describe(self, joints: FloatArray, target: Sequence[float]) -> tuple:
        """Return :meth:`IKSolver.describe` for ``target`` (its goal as the tick has it)."""
        key = tuple(float(v) for v in target)
        aim = parse_target(self.chain, self.mode, key)
        if key != self._last_target:
            self._new_goal(key, aim)
            self._verify(np.asarray(joints, dtype=np.float64))
        goal_error, goal_angle = self.errors(joints, self._goal)
        target_error, target_angle = self.errors(joints, aim)
        return (self._goal_tuple, goal_error, target_error, goal_angle, target_angle,
                self._projected)

    # ---- the tick ------------------------------------------------------------------------

    def posture_step(self, q: FloatArray, dt: float) -> Optional[tuple]:
        """Return this tick's pull toward the rest posture and its bound (None: off)."""
        if not self.posture_gain or not dt > 0.0:
            return None
        away = self.rest - q
        if self.any_continuous:
            away = np.where(self.continuous, (away + math.pi) % TWO_PI - math.pi, away)
        pull = min(1.0, self.posture_gain * dt) * self.rest_weight * away
        return (pull, POSTURE_VELOCITY_SHARE * dt * self.velocity) if np.any(pull) else None

    def _refine(self, q: FloatArray, aim: Aim, branch: float, step_length: float,
                dt: float = 0.0) -> tuple:
        """
        Return the network's step refined (or least squares alone), fell back, error.

        With the fallback on, a refined network step that the velocity limit would scale
        down is compared with the damped step from ``q``: the damped one is taken (and
        reports a fallback) when it is scaled clearly less (DAMPED_STEP_SCALING_SHARE).
        Both end at the same waypoint, but the network's redundancy can ask for more joint
        motion, and a velocity-limited arm then crawls. The damped step knows no elbow
        branch: it is not taken where it would turn an elbow joint through its stretch.
        """
        cfg = self.config
        iterations = cfg.refine_iterations
        fallback, network_error = False, math.nan
        solution = q
        if self.network is not None:
            k = self.position_rows
            network_target = aim.position[:k].tolist()
            if self.pose_network:
                network_target += aim.rotation.ravel().tolist()
            delta = self.network.step_one(q.tolist(), network_target + [branch])
            solution = q + np.asarray(delta, dtype=np.float64)
            position, rotation = self.body.placement(solution)
            if self.pose_network:
                # Metres plus weighted radians, as the step it is compared with.
                position_error, angle = self.tool_errors(position, rotation, aim)
                network_error = position_error + self.weight * angle
            else:
                network_error = math.dist(position[:k], aim.position[:k])
            limit = cfg.fallback_ratio * step_length + cfg.fallback_floor_m \
                if cfg.fallback else math.inf
            if not network_error <= limit:
                fallback, solution = True, q
                if cfg.fallback:
                    iterations = max(iterations, FALLBACK_ITERATIONS)
        refined = self._least_squares(solution, aim, iterations, dt)
        if self.network is not None and not fallback and cfg.fallback and iterations and \
                dt > 0.0:
            scaling = self._velocity_scaling(q, refined[0], dt)
            if scaling > 1.0:
                damped = self._least_squares(q, aim, iterations, dt)
                if self._velocity_scaling(q, damped[0], dt) <= DAMPED_STEP_SCALING_SHARE * \
                        scaling and self._keeps_elbows(q, damped[0]):
                    fallback, refined = True, damped
        return (refined[0], fallback, network_error) + refined[1:]

    def _least_squares(self, start: FloatArray, aim: Aim, iterations: int,
                       dt: float) -> tuple:
        """Return the refined joints, the first step's error and the final errors (or None)."""
        posture = self.posture_step(start, dt) if iterations else None
        if posture is not None:
            # The pull's own step moves the tool at second order: one more to take it back.
            iterations += 1
        solution, first, position_error, angle, exact = self.body.refine(
            self.task.kernel, kernel_aim(aim), start, self.lo, self.hi, self.damping_floor,
            iterations, REFINED_GAP, posture)
        # With exact, these are the errors of the answer itself.
        return solution, first, (position_error, angle) if exact else None

    def _keeps_elbows(self, q: FloatArray, solution: FloatArray) -> bool:
        """Return whether no elbow joint changes sign from ``q`` to ``solution``."""
        return all(q[e] * solution[e] > 0.0 or q[e] == 0.0 for e in self.elbows)

    def _velocity_scaling(self, q: FloatArray, solution: FloatArray, dt: float) -> float:
        """Return how far past its velocity limit the move to ``solution`` goes (<= 1: not)."""
        return bounded_moves(q.tolist(), solution.tolist(), dt, self._limits)[2]

    def _safety(self, q: FloatArray, solution: FloatArray, dt: float) -> tuple:
        """Return the command (a tuple): wrapped increments, position and velocity limits."""
        command, position_limited, velocity_limited = safe_command(
            q.tolist(), solution.tolist(), dt, self._limits)
        return tuple(command), position_limited, velocity_limited

    def hold(self, q: FloatArray, dt: float) -> FloatArray:
        """Return the command that holds ``q``, back inside the margin no faster than allowed."""
        allowance = self.velocity * dt
        return q + np.clip(np.minimum(np.maximum(q, self.lo), self.hi) - q,
                           -allowance, allowance)

    def tick(self, joints: Sequence[float], target: Sequence[float], dt: float,
             branch: Optional[float]) -> TickResult:
        """Return the next command toward ``target`` for one arm."""
        q = checked_joints(joints, dt, self._hard_lo, self._hard_hi)
        q = None if q is None else np.array(q)
        key = tuple(map(float, target))
        # A target held from tick to tick (the usual case) is parsed once.
        aim = self._last_aim if key == self._last_target else \
            parse_target(self.chain, self.mode, key)
        if q is None:
            return TickResult(command=None, status=Status.INVALID_STATE, goal=key,
                              goal_error_m=math.nan, target_error_m=math.nan, projected=False,
                              fallback=False, position_limited=False, velocity_limited=False,
                              branch=1.0, network_error_m=math.nan, reached=False)
        # The network is told the branch it is given; chains without an elbow report +1
        # (IKSolver.branch_of).
        br = 1.0 if branch is None or branch >= 0.0 else -1.0
        position, rotation = self.body.placement(q)
        if aim is None:
            # Hold; the goal is where the tool is.
            command = self.hold(q, dt)
            here = format_target(self.chain, self.mode, position, rotation)
            goal_error, goal_angle = self.errors(command, parse_target(self.chain, self.mode,
                                                                       here))
            return TickResult(command=tuple(command.tolist()), status=Status.INVALID_TARGET,
                              goal=here, goal_error_m=goal_error, target_error_m=math.nan,
                              projected=False, fallback=False, position_limited=False,
                              velocity_limited=False, branch=1.0, network_error_m=math.nan,
                              reached=False, goal_error_rad=goal_angle)
        if key != self._last_target:
            self._new_goal(key, aim)
        aim_now, at_goal = self.waypoint(position, rotation, self._goal, dt)
        if not self._verified and not at_goal:
            # A far target is checked before the first step, so the path heads for the
            # right goal; a target within one step is checked by the step itself.
            self._verify(q)
            aim_now, at_goal = self.waypoint(position, rotation, self._goal, dt)
        while True:
            # The step's length sets the network's fallback limit.
            if self.network is None:
                step_length = math.nan
            elif self.pose_network:
                step_position, step_angle = self.tool_errors(position, rotation, aim_now)
                step_length = step_position + self.weight * step_angle
            else:
                step_length = math.dist(aim_now.position[:self.position_rows],
                                        position[:self.position_rows])
            solution, fallback, network_error, before, final = self._refine(
                q, aim_now, br, step_length, dt)
            command, position_limited, velocity_limited = self._safety(q, solution, dt)
            if at_goal and final is not None and not (position_limited or velocity_limited):
                goal_position_error, goal_angle = final
            else:
                goal_position_error, goal_angle = self.errors(command, self._goal)
            if self._verified or self._exact(goal_position_error, goal_angle, EXACT_GAP_M):
                self._verified = True
                break
            after = goal_position_error + (0.0 if math.isnan(goal_angle) else
                                           self.weight * goal_angle)
            if at_goal and not velocity_limited and after <= CONVERGING * before:
                # Newton is converging on it (outside the reachable set the error would
                # stall at the gap): reachable, for now; the next tick looks again.
                break
            self._verify(solution)
            if not self._projected:
                break
            aim_now, at_goal = self.waypoint(position, rotation, self._goal, dt)
        if self._projected:
            target_position_error, target_angle = self.errors(command, aim)
        else:
            target_position_error, target_angle = goal_position_error, goal_angle
        reached = goal_position_error <= self.config.goal_tolerance_m and \
            not goal_angle > self.config.goal_tolerance_rad
        if self._projected:
            status = Status.OUT_OF_REACH
        elif fallback:
            status = Status.FALLBACK
        elif position_limited:
            status = Status.JOINT_LIMIT
        elif reached:
            status = Status.REACHED
        else:
            status = Status.MOVING
        return TickResult(
            command=command, status=status, goal=self._goal_tuple,
            goal_error_m=goal_position_error, target_error_m=target_position_error,
            projected=self._projected, fallback=fallback, position_limited=position_limited,
            velocity_limited=velocity_limited, branch=1.0, network_error_m=network_error,
            reached=reached, goal_error_rad=goal_angle, target_error_rad=target_angle,
            unreachable=self._unreachable if self._projected else '')
