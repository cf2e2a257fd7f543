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
The runtime IK solver: one safe control tick from the network, refined to exactness.

A tick takes the current joint angles, a target position and the tick duration, and
returns the next joint command with a status:

1. Validate the state (finite, inside the URDF limits) and the target (finite).
2. Project the target onto the reachable set of the arm with its limit margin; an
   unreachable target becomes its nearest reachable point (status OUT_OF_REACH).
3. Take a waypoint toward it no farther than the network's trained step and the Cartesian
   speed allow (a constant speed; around the inner hole of an annulus, not through it).
4. Network step toward the waypoint; if its answer is poor, a numerical step instead
   (status FALLBACK). Then ``refine_iterations`` damped Newton (Levenberg-Marquardt)
   iterations with the chain's Jacobian make the answer exact to numerical precision.
5. Safety: continuous joints move by their wrapped increment (never the long way round),
   limited joints stay inside their limits less the margin, and every joint moves at most
   its velocity limit times the tick. The command is never outside the URDF limits.

:meth:`IKSolver.tick_batch` is the reference implementation (numpy, many arms at once);
:meth:`IKSolver.tick` runs the same algorithm for one arm (planar or spatial) in plain
Python floats for a 1 kHz loop (its equality with the batched path is tested).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Optional, Sequence, Union

from iknn_ros.ik.model_card import INPUT_BRANCH
from iknn_ros.ik.model_card import INPUT_JOINTS
from iknn_ros.ik.model_card import INPUT_TARGET
from iknn_ros.ik.model_card import ModelCard
from iknn_ros.ik.model_card import ModelCardError
from iknn_ros.ik.model_card import OUTPUT_DELTA
from iknn_ros.ik.pose_tick import PoseTick
from iknn_ros.ik.pose_tick import SolveResult
from iknn_ros.ik.routes import DISK_TOUCH_TOLERANCE_M
from iknn_ros.ik.routes import pose_waypoints
from iknn_ros.ik.routes import route_disk
from iknn_ros.ik.routes import route_length  # noqa: F401 (part of the solver's API)
from iknn_ros.ik.routes import route_waypoint
from iknn_ros.ik.routes import scalar_polar_waypoint
from iknn_ros.ik.routes import scalar_segment_enters_disk
from iknn_ros.ik.safety import checked_joints
from iknn_ros.ik.safety import safe_command
from iknn_ros.ik.tick_types import BatchTickResult
from iknn_ros.ik.tick_types import DAMPED_STEP_SCALING_SHARE
from iknn_ros.ik.tick_types import DAMPING_FLOOR_FRACTION
from iknn_ros.ik.tick_types import FALLBACK_ITERATIONS
from iknn_ros.ik.tick_types import ModelLoadError
from iknn_ros.ik.tick_types import SolverConfig
from iknn_ros.ik.tick_types import STATE_LIMIT_TOLERANCE
from iknn_ros.ik.tick_types import Status
from iknn_ros.ik.tick_types import STATUS_MESSAGES  # noqa: F401 (part of the solver's API)
from iknn_ros.ik.tick_types import TickResult
from iknn_ros.kinematics import AnnulusWorkspace
from iknn_ros.kinematics import KinematicChain
from iknn_ros.kinematics import nearest_keeping_elbows
from iknn_ros.kinematics import NumericWorkspace
from iknn_ros.kinematics import TwoLinkGeometry
from iknn_ros.kinematics import Workspace
from iknn_ros.kinematics import workspace_of
from iknn_ros.kinematics.angles import TWO_PI
from iknn_ros.kinematics.angles import wrap_scalar  # noqa: F401 (part of the solver's API)
from iknn_ros.kinematics.angles import wrap_to_pi
from iknn_ros.kinematics.least_squares import damped_least_norm
from iknn_ros.kinematics.least_squares import stop_at_limits
from iknn_ros.kinematics.targets import check_mode
from iknn_ros.kinematics.targets import format_target
from iknn_ros.kinematics.targets import parse_target
from iknn_ros.kinematics.targets import TargetMode
import numpy as np
from numpy.typing import ArrayLike, NDArray
import onnxruntime

FloatArray = NDArray[np.float64]

# The tracker calls an arm crawling, and searches, when its way left creeps for this many
# stall windows in a row, at a limit or not.
CRAWL_WINDOW_STALLS = 4
# Creeping, held at a limit for stall_ticks: the way left fell by less than this share of a
# full step a tick (and did not halve).
HELD_CREEP_STEP_SHARE = 0.01
# The same for the network alone, whose steps a limit clips (a refined step's active set
# works around the limit; the network's does not): on 1,000 held-out chained 7-joint poses
# it crept along limits at a third of a step a tick and then a tenth, and 5 poses ran out
# of the 1,000-tick budget that way before any search.
NETWORK_HELD_CREEP_STEP_SHARE = 0.25
# Crawling, over CRAWL_WINDOW_STALLS such windows, at a limit or not: less than this share.
# A tenth: with a hundredth, on 1,000 held-out chained 7-joint poses refined arms crept
# 0.3 mm a tick for 700 ticks before a detour (996 reached within the 1,000-tick budget,
# against 1,000 now; damped least squares alone 994 and 1,000; the network alone 977 and
# 995). A tenth for the shorter held window too sent a spatial trap into a detour that
# flipped the elbow, before the arm had crept to where a detour keeps it.
CRAWL_STEP_SHARE = 0.1
# The elbow counts as decided when it is at least this far from stretched or folded.
BRANCH_HYSTERESIS_RAD = 0.05
# A trapped arm without numerical help looks for a way out by rolling the network out from
# fixed poses (a fixed seed, so the same trap always gets the same answer), each also
# approached a quarter and half of the way from the current joints, for at most this many
# trained steps: enough to cross the workspace around the shoulder and converge. 128
# poses: with 32 (and 64), three of the 1,000 held-out chained 7-joint poses found none.
DETOUR_POSES = 128
DETOUR_POSE_SEED = 0
DETOUR_BLENDS = (0.25, 0.5, 1.0)
DETOUR_ROLLOUT_STEPS = 80

# --------------------------------------------------------------------------------------
# The network
# --------------------------------------------------------------------------------------


class OnnxIKNetwork:
    """An iknn_ros ONNX model in one onnxruntime session, created once."""

    def __init__(self, model: Union[str, os.PathLike, bytes], threads: int = 1) -> None:
        source = 'model bytes' if isinstance(model, bytes) else f"model '{model}'"
        if not isinstance(model, bytes):
            path = Path(model)
            if not path.is_file():
                raise ModelLoadError(f"model file '{path}' does not exist")
            model = path.read_bytes()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3
        try:
            self.session = onnxruntime.InferenceSession(model, options,
                                                        providers=['CPUExecutionProvider'])
        except Exception as err:  # noqa: B902 - onnxruntime raises its own exception types
            raise ModelLoadError(f'{source} is not a loadable ONNX model: {err}') from err
        metadata = self.session.get_modelmeta().custom_metadata_map
        try:
            self.card = ModelCard.from_metadata(metadata, source)
        except ModelCardError as err:
            raise ModelLoadError(str(err)) from err
        self._check_interface(source)
        self._all_0_2pi = self.card.joint_input == 'wrap_all_0_2pi'
        self._continuous = self.card.continuous_joints
        n, d = len(self.card.joint_names), self.card.target_dim
        # Zero-copy buffers for the single-arm path: onnxruntime reads and writes them. The
        # three inputs are views of one array, so one assignment fills them all.
        self._inputs = np.zeros(n + d + 1, np.float32)
        views = {INPUT_JOINTS: self._inputs[:n].reshape(1, n),
                 INPUT_TARGET: self._inputs[n:n + d].reshape(1, d),
                 INPUT_BRANCH: self._inputs[n + d:].reshape(1, 1)}
        self._delta = np.zeros((1, n), np.float32)
        self._binding = self.session.io_binding()
        for name, view in views.items():
            self._binding.bind_ortvalue_input(
                name, onnxruntime.OrtValue.ortvalue_from_numpy(view))
        self._binding.bind_ortvalue_output(
            OUTPUT_DELTA, onnxruntime.OrtValue.ortvalue_from_numpy(self._delta))

    def _check_interface(self, source: str) -> None:
        n, d = len(self.card.joint_names), self.card.target_dim
        expected = {INPUT_JOINTS: n, INPUT_TARGET: d, INPUT_BRANCH: 1}
        inputs = {i.name: i for i in self.session.get_inputs()}
        outputs = {o.name: o for o in self.session.get_outputs()}
        if set(inputs) != set(expected) or OUTPUT_DELTA not in outputs:
            raise ModelLoadError(f'{source} has inputs {sorted(inputs)} and outputs '
                                 f'{sorted(outputs)}; expected {sorted(expected)} -> '
                                 f'{OUTPUT_DELTA}')
        for name, width in expected.items():
            shape = inputs[name].shape
            if len(shape) != 2 or shape[1] != width or inputs[name].type != 'tensor(float)':
                raise ModelLoadError(f'{source} input {name!r} is {inputs[name].type} '
                                     f'{shape}; expected float32 [batch, {width}]')

    def network_joints(self, joints: FloatArray) -> FloatArray:
        """Return joint angles as the model's card says the network takes them."""
        if self._all_0_2pi:
            return np.mod(joints, TWO_PI)
        return np.where(self._continuous, wrap_to_pi(joints), joints)

    def step_batch(self, joints: FloatArray, target: FloatArray,
                   branch: FloatArray) -> FloatArray:
        """Return joint increments for many arms (float64 in and out)."""
        (delta,) = self.session.run([OUTPUT_DELTA], {
            INPUT_JOINTS: np.ascontiguousarray(self.network_joints(joints), dtype=np.float32),
            INPUT_TARGET: np.ascontiguousarray(target, dtype=np.float32),
            INPUT_BRANCH: np.ascontiguousarray(np.reshape(branch, (-1, 1)),
                                               dtype=np.float32)})
        return delta.astype(np.float64)

    def step_one(self, joints: Sequence[float], target_and_branch: Sequence[float]) -> list:
        """
        Return the joint increment for one arm, through preallocated buffers.

        ``target_and_branch`` is the target's coordinates followed by the branch.
        """
        if self._all_0_2pi:
            inputs = [v % TWO_PI for v in joints]
        else:
            inputs = [(v + math.pi) % TWO_PI - math.pi if c else v
                      for v, c in zip(joints, self._continuous)]
        inputs += target_and_branch
        self._inputs[:] = inputs
        self.session.run_with_iobinding(self._binding)
        return self._delta[0].tolist()


# --------------------------------------------------------------------------------------
# The solver
# --------------------------------------------------------------------------------------

class IKSolver:
    """The control tick for one chain and one network (or none: damped least squares)."""

    def __init__(self, chain: KinematicChain, network: Optional[OnnxIKNetwork],
                 config: SolverConfig = SolverConfig()) -> None:
        self.config = config.validate()
        if config.use_network and network is None:
            raise ValueError('a network is required unless use_network is False')
        if network is not None:
            network.card.check_chain(chain)
        mode = check_mode(chain, config.target_mode)
        unsupported = [j.name for j in chain.joints if j.is_prismatic] + \
            [j.name for j in chain.followers]
        if unsupported and network is not None and config.use_network:
            # The chain's kinematics and the general tick handle them; training does not
            # yet, so no network fits such a chain.
            raise ValueError(f'joint(s) {unsupported} are prismatic or mimic joints: networks '
                             'support revolute and continuous joints only; run without a '
                             'model (use_network=False, model_path: none)')
        if network is not None and config.use_network and \
                network.card.target_mode != mode.value:
            raise ValueError(
                f'the model takes {network.card.target_mode} targets; target_mode '
                f"'{mode.value}' needs a {mode.value} model or none (use_network=False, "
                f'model_path: none), or set target_mode: {network.card.target_mode}')
        missing = [j.name for j in chain.joints if not math.isfinite(j.velocity)]
        if missing:
            raise ValueError(f'joint(s) {missing} have no velocity limit in the URDF; iknn_ros '
                             'needs <limit velocity="..."/> to rate-limit commands')
        if config.rest_posture and len(config.rest_posture) != chain.n_joints:
            raise ValueError(f'rest_posture has {len(config.rest_posture)} values for the '
                             f'{chain.n_joints} joints {list(chain.joint_names)}')
        self.chain = chain
        self.network = network if config.use_network else None
        self.step_m = network.card.step_m if network is not None else 0.05
        self.safe_chain = chain.with_limit_margin(config.limit_margin_rad)
        self.workspace: Workspace = workspace_of(self.safe_chain)
        self.route_center, self.route_radius = route_disk(chain, self.workspace,
                                                          config.keep_out_fraction)
        try:
            self._two_link: Optional[TwoLinkGeometry] = TwoLinkGeometry.of(chain)
        except ValueError:
            self._two_link = None
        self.target_mode = mode
        # Planar position targets keep their float tick (the browser runs its port); every
        # other chain and mode, and the posture pull, run the general tick.
        self._scalar: Union[_ScalarPlanarTick, PoseTick] = \
            _ScalarPlanarTick(self) if chain.planar is not None and \
            mode is TargetMode.POSITION and not config.posture_gain else self._general_tick()
        self._solver_tick: Optional[PoseTick] = None
        self._projection_cache: dict = {}
        self._numeric: Optional[NumericWorkspace] = None
        self._detour_poses: Optional[FloatArray] = None

    @classmethod
    def from_files(cls, model: Optional[Union[str, os.PathLike]],
                   urdf: Union[str, os.PathLike], base_link: Optional[str] = None,
                   tip_link: Optional[str] = None,
                   config: SolverConfig = SolverConfig()) -> 'IKSolver':
        """Load the URDF and the model once and check that they belong together."""
        chain = KinematicChain.from_urdf(urdf, base_link, tip_link)
        network = OnnxIKNetwork(model) if model is not None and config.use_network else None
        if network is not None:
            network.card.check_chain(chain, f"model '{model}'")
        return cls(chain, network, config)

    def _general_tick(self) -> PoseTick:
        def project(target: tuple, joints: FloatArray) -> FloatArray:
            return self.project(np.array([target]), seeds=np.array([joints]))[0]

        return PoseTick(self.chain, self.safe_chain, self.config, self.network, self.step_m,
                        self.route_center, self.route_radius, project)

    def solve(self, target: Sequence[float], seed: Optional[Sequence[float]] = None
              ) -> SolveResult:
        """
        Return joints within the limits (less the margin) that reach ``target`` now.

        No velocity bound and no network: bounded Levenberg-Marquardt from ``seed`` (or
        the middle of the limits), then from fixed starting poses until one is exact
        (PoseTick.solve); an unreachable target gives its nearest reachable one's joints,
        status OUT_OF_REACH, and which part is out of reach.
        """
        general = self._scalar if isinstance(self._scalar, PoseTick) else None
        if general is None:
            if self._solver_tick is None:
                self._solver_tick = self._general_tick()
            general = self._solver_tick
        return general.solve(target, seed)

    def general_constants(self) -> Optional[dict]:
        """
        Return the general tick's constants as plain data (None: the planar fast path runs).

        The browser's port (web/static/pose_tick.js) runs on exactly these numbers; see
        :meth:`PoseTick.browser_constants`.
        """
        if not isinstance(self._scalar, PoseTick):
            return None
        starts = None
        numeric = isinstance(self.workspace, NumericWorkspace)
        if self.target_mode is TargetMode.POSITION and numeric:
            starts = self.workspace.starts
        data = self._scalar.browser_constants(starts)
        data['tracker'] = self._tracker_constants()
        if starts is not None:
            data['workspace'] = self.workspace.settings()
        return data

    def _tracker_constants(self) -> dict:
        return {'stall_ticks': Tracker(self).stall_ticks,
                'crawl_window_stalls': CRAWL_WINDOW_STALLS,
                'held_creep_step_share': HELD_CREEP_STEP_SHARE,
                'crawl_step_share': CRAWL_STEP_SHARE}

    def _search_constants(self) -> dict:
        """Return the detour search of a planar arm (:meth:`nearest_solution`) as plain data."""
        numeric = self.workspace if isinstance(self.workspace, NumericWorkspace) else \
            self._numeric_workspace()
        if self._solver_tick is None:
            self._solver_tick = self._general_tick()
        data = self._solver_tick.browser_constants(numeric.starts)
        data.update(workspace=numeric.settings(), n_joints=self.chain.n_joints,
                    target_dim=self.chain.target_dim)
        return data

    def planar_constants(self) -> Optional[dict]:
        """
        Return the constants of the planar fast path as plain data (None: not planar).

        The browser's port of the tick (web/static/tick.js) runs on exactly these numbers;
        infinite limits are given as None.
        """
        scalar = self._scalar
        if not isinstance(scalar, _ScalarPlanarTick) or not scalar.annulus:
            return None

        def finite(values: list) -> list:
            return [v if math.isfinite(v) else None for v in values]

        cfg = self.config
        return {
            'n_joints': scalar.n, 'joint_names': list(self.chain.joint_names),
            'base': [scalar.base_x, scalar.base_y], 'link_x': scalar.link_x,
            'link_y': scalar.link_y, 'yaws': scalar.yaws, 'signs': scalar.signs,
            'continuous': scalar.continuous, 'lo': finite(scalar.lo), 'hi': finite(scalar.hi),
            'hard_lo': finite(scalar.hard_lo), 'hard_hi': finite(scalar.hard_hi),
            'velocity': scalar.velocity, 'reach': float(self.chain.reach),
            'annulus': {'center': [scalar.center_x, scalar.center_y], 'r_min': scalar.r_min,
                        'r_max': scalar.r_max},
            'route': {'center': [scalar.route_x, scalar.route_y],
                      'radius': scalar.route_radius},
            'elbow': {'psi_offset': scalar.psi_offset, 'sign2': scalar.sign2}
            if scalar.has_elbow else None,
            'sin_hysteresis': scalar.sin_hysteresis, 'damping_floor': scalar.damping_floor,
            'disk_touch_tolerance': DISK_TOUCH_TOLERANCE_M,
            'fallback_iterations': FALLBACK_ITERATIONS, 'step_m': self.step_m,
            'joint_input': self.network.card.joint_input if self.network is not None
            else 'wrap_continuous_pm_pi',
            'solver': {'refine_iterations': cfg.refine_iterations,
                       'goal_tolerance_m': cfg.goal_tolerance_m,
                       'max_cartesian_speed': cfg.max_cartesian_speed,
                       'fallback_ratio': cfg.fallback_ratio,
                       'fallback_floor_m': cfg.fallback_floor_m, 'fallback': cfg.fallback},
            # The Tracker around the tick, and its detour search (the general tick's port
            # runs it: NumericWorkspace.nearest_solution on the same starts).
            'tracker': self._tracker_constants(), 'search': self._search_constants(),
        }

    def nearest_solution(self, goal: FloatArray, joints: FloatArray) -> Optional[FloatArray]:
        """Return the joints reaching ``goal`` (within the margin) nearest to ``joints``."""
        if self.target_mode is not TargetMode.POSITION:
            return self._scalar.nearest_solution(goal, joints)
        numeric = self.workspace if isinstance(self.workspace, NumericWorkspace) else \
            self._numeric_workspace()
        return numeric.nearest_solution(goal, joints)

    def network_solution(self, goal: FloatArray, joints: FloatArray) -> Optional[FloatArray]:
        """
        Return joints the network itself brings to ``goal``, nearest to ``joints`` (or None).

        No numerical IK: the network is rolled out (this solver's own ticks, one trained step
        each, velocity limits scaled alike) toward the goal from DETOUR_POSES fixed poses
        and from points a quarter and half of the way to them; of the reached ends, the
        answer is the one :func:`nearest_keeping_elbows` picks. Each rollout has
        DETOUR_ROLLOUT_STEPS ticks, and a pose model's as many more as a half turn takes at
        the tick's turn: the tool turns at most that much a tick, and a fixed pose's tool
        can face any way.
        """
        chain = self.chain
        if self._detour_poses is None:
            self._detour_poses = self.safe_chain.random_configurations(
                np.random.default_rng(DETOUR_POSE_SEED), DETOUR_POSES)
        move = self._detour_poses[None, :, :] - joints
        move = np.where(chain.continuous, wrap_to_pi(move), move)
        blends = np.asarray(DETOUR_BLENDS)[:, None, None]
        ends = (joints + blends * move).reshape(-1, chain.n_joints)
        dt = self.step_m / self.config.max_cartesian_speed
        if self.target_mode is TargetMode.POSE and self.network is not None:
            reached = self._pose_rollouts(ends, goal, dt)
        elif self.target_mode is not TargetMode.POSITION:
            # One arm at a time through the general tick (no batched tick for these modes).
            reached = np.zeros(len(ends), dtype=bool)
            rollout = self._general_tick()
            for i in range(len(ends)):
                for _ in range(DETOUR_ROLLOUT_STEPS):
                    result = rollout.tick(ends[i], goal, dt, 1.0)
                    if result.command is None:
                        break
                    ends[i] = result.command
                    if result.reached:
                        reached[i] = True
                        break
        else:
            reached = np.zeros(len(ends), dtype=bool)
            goals = np.repeat(np.asarray(goal, dtype=np.float64)[None, :], len(ends), axis=0)
            for _ in range(DETOUR_ROLLOUT_STEPS):
                live = np.flatnonzero(~reached)
                if live.size == 0:
                    break
                result = self.tick_batch(ends[live], goals[live], dt)
                ends[live] = result.command
                reached[live] = result.reached
        if not reached.any():
            return None
        return nearest_keeping_elbows(chain, ends[reached], joints)

    def _pose_rollouts(self, ends: FloatArray, goal: Sequence[float], dt: float,
                       steps: Optional[int] = None) -> FloatArray:
        """
        Roll the pose network out from every row of ``ends`` (in place); return which reached.

        The general tick's network-only form (no refinement, no fallback), for all rows at
        once: the waypoint (:func:`pose_waypoints`, at most a step and a turn of the tick),
        the network's step, the limits less the margin and the velocity limits over ``dt``;
        a row stops once its tool is within the goal tolerances. ``steps`` ticks at most
        (default: DETOUR_ROLLOUT_STEPS and a half turn's).
        """
        cfg = self.config
        aim = parse_target(self.chain, self.target_mode, goal)
        target = np.concatenate([aim.position, aim.rotation.reshape(9)])
        max_step = min(self.step_m, cfg.max_cartesian_speed * dt)
        max_turn = min(self.network.card.step_rad, cfg.max_angular_speed * dt)
        if steps is None:
            steps = DETOUR_ROLLOUT_STEPS + math.ceil(math.pi / max_turn)
        lo, hi = self.safe_chain.lower, self.safe_chain.upper
        reached = np.zeros(len(ends), dtype=bool)
        for tick in range(steps + 1):
            live = np.flatnonzero(~reached)
            if live.size == 0:
                break
            q = ends[live]
            goals = np.broadcast_to(target, (live.size, target.size))
            waypoint, distance, angle = pose_waypoints(
                self.chain.tool_frames(q), goals, max_step, max_turn, self.route_center,
                self.route_radius)
            reached[live] = (distance <= cfg.goal_tolerance_m) & \
                (angle <= cfg.goal_tolerance_rad)
            moving = ~reached[live]
            if tick == steps or not moving.any():
                break
            delta = self.network.step_batch(q[moving], waypoint[moving],
                                            np.ones(int(moving.sum())))
            moves, _, scaling = _bounded_moves(self.chain, q[moving], q[moving] + delta, lo, hi,
                                               dt)
            ends[live[moving]] = q[moving] + moves / np.maximum(scaling, 1.0)[:, None]
        return reached

    def _numeric_workspace(self) -> NumericWorkspace:
        if self._numeric is None:
            self._numeric = NumericWorkspace(self.safe_chain)
        return self._numeric

    # ---- branch --------------------------------------------------------------------------

    def branch_of(self, joints: ArrayLike, previous: Optional[ArrayLike] = None) -> FloatArray:
        """
        Return the elbow branch to keep: the sign of the elbow, or ``previous`` near stretch.

        Chains without an elbow (not a planar 2R) always report +1.
        """
        joints = np.asarray(joints, dtype=np.float64)
        if self._two_link is None:
            return np.ones(joints.shape[:-1])
        sin_psi = np.sin(self._two_link.elbow_angle(joints))
        decided = np.abs(sin_psi) >= math.sin(BRANCH_HYSTERESIS_RAD)
        prior = np.ones(joints.shape[:-1]) if previous is None else np.where(
            np.asarray(previous) < 0.0, -1.0, 1.0)
        return np.where(decided, np.where(sin_psi > 0.0, 1.0, -1.0), prior)

    # ---- goals -------------------------------------------------------------------------

    def project(self, target: ArrayLike, toward: Optional[ArrayLike] = None,
                seeds: Optional[ArrayLike] = None) -> FloatArray:
        """
        Return the nearest reachable point (with the limit margin) to each target.

        Without a closed form, each new target is solved once (``seeds``, the arms' current
        joints, make reachable targets quick) and remembered.
        """
        target = np.asarray(target, dtype=np.float64)
        if isinstance(self.workspace, AnnulusWorkspace):
            return self.workspace.project(target, toward)
        flat = target.reshape(-1, target.shape[-1])
        seeds = None if seeds is None else np.asarray(seeds, dtype=np.float64).reshape(
            len(flat), -1)
        out = np.empty_like(flat)
        for i, point in enumerate(flat):
            key = tuple(np.round(point, 12))
            if key not in self._projection_cache:
                if len(self._projection_cache) > 4096:
                    self._projection_cache.clear()
                self._projection_cache[key] = self.workspace.project(
                    point, seeds=None if seeds is None else seeds[i:i + 1])
            out[i] = self._projection_cache[key]
        return out.reshape(target.shape)

    def waypoint(self, tip: FloatArray, goal: FloatArray, max_step: FloatArray) -> FloatArray:
        """Return the point at most ``max_step`` from the tip on the way to the goal."""
        return route_waypoint(tip, goal, max_step, self.route_center, self.route_radius)

    def describe(self, joints: FloatArray, target: Sequence[float]) -> tuple:
        """
        Return the goal of ``target`` and how far the tool at ``joints`` is from both.

        (goal, goal error m, target error m, goal error rad, target error rad, projected)
        """
        if isinstance(self._scalar, PoseTick):
            return self._scalar.describe(joints, target)
        target = np.asarray(target, dtype=np.float64)
        goal = np.asarray(self.project(target[None, :], seeds=joints[None, :]))[0]
        tip = self.chain.fk(joints)
        return (tuple(goal.tolist()), float(np.linalg.norm(tip - goal)),
                float(np.linalg.norm(tip - target)), math.nan, math.nan,
                bool(np.linalg.norm(goal - target) > 1e-12))

    def tool_target(self, joints: Sequence[float]) -> tuple:
        """Return the target the tool at ``joints`` holds, in the solver's target mode."""
        tool = self.chain.frames(np.asarray(joints, dtype=np.float64))[-1]
        return format_target(self.chain, self.target_mode, tool[:3, 3], tool[:3, :3])

    def way_left(self, joints: Sequence[float], goal: Sequence[float]) -> float:
        """Return the length of the way from the tip at ``joints`` to ``goal`` (m)."""
        # The tracker asks every tick: in floats, as the tick itself.
        return self._scalar.way_left(joints, goal)

    # ---- the tick ------------------------------------------------------------------------

    def tick(self, joints: Sequence[float], target: Sequence[float], dt: float,
             branch: Optional[float] = None) -> TickResult:
        """Return the next command for one arm (in floats: :meth:`tick_batch`'s twin)."""
        return self._scalar.tick(joints, target, dt, branch)

    def tick_batch(self, joints: ArrayLike, target: ArrayLike, dt: float,
                   branch: Optional[ArrayLike] = None) -> BatchTickResult:
        """Return the next command for each of many arms (the reference implementation)."""
        if not (isinstance(dt, (int, float)) and math.isfinite(dt) and dt > 0.0):
            raise ValueError(f'tick duration must be a finite number > 0, got {dt!r}')
        if self.config.posture_gain:
            raise ValueError('the posture pull (posture_gain) runs in the one-arm tick '
                             '(IKSolver.tick), not in tick_batch')
        chain, cfg = self.chain, self.config
        joints = np.asarray(joints, dtype=np.float64)
        target = np.asarray(target, dtype=np.float64)
        if joints.ndim != 2 or joints.shape[1] != chain.n_joints:
            raise ValueError(f'joints must have shape [batch, {chain.n_joints}], got '
                             f'{joints.shape}')
        if target.shape != (joints.shape[0], chain.target_dim):
            raise ValueError(f'targets must have shape [{joints.shape[0]}, '
                             f'{chain.target_dim}], got {target.shape}')
        finite_state = np.all(np.isfinite(joints), axis=-1)
        valid_state = finite_state & chain.within_limits(
            np.where(np.isfinite(joints), joints, 0.0), STATE_LIMIT_TOLERANCE)
        q = np.where(valid_state[:, None], joints, 0.0)
        valid_target = np.all(np.isfinite(target), axis=-1)
        branch = self.branch_of(q) if branch is None else np.where(
            np.asarray(branch, dtype=np.float64) < 0.0, -1.0, 1.0)

        tip = chain.fk(q)
        safe_target = np.where(valid_target[:, None], target, tip)
        goal = self.project(safe_target, toward=tip, seeds=q)
        projected = valid_target & (np.linalg.norm(goal - safe_target, axis=-1) > 1e-12)
        max_step = min(self.step_m, cfg.max_cartesian_speed * dt)
        waypoint = self.waypoint(tip, goal, np.full(len(q), max_step))
        step_length = np.linalg.norm(waypoint - tip, axis=-1)

        if self.network is not None:
            solution = q + self.network.step_batch(q, waypoint, branch)
            network_error = np.linalg.norm(chain.fk(solution) - waypoint, axis=-1)
            fallback = ~np.isfinite(network_error)
            if cfg.fallback:
                fallback |= network_error > cfg.fallback_ratio * step_length + \
                    cfg.fallback_floor_m
            solution = np.where(fallback[:, None], q, solution)
        else:
            solution = q.copy()
            network_error = np.full(len(q), np.nan)
            fallback = np.zeros(len(q), dtype=bool)
        lo, hi = self.safe_chain.lower, self.safe_chain.upper
        numeric = FALLBACK_ITERATIONS if cfg.fallback else 0
        for k in range(max(cfg.refine_iterations, numeric if fallback.any() else 0)):
            active = (k < cfg.refine_iterations) | (fallback & (k < numeric))
            solution = np.where(active[:, None],
                                _lm_step(chain, solution, waypoint, lo, hi), solution)
        move, held, biggest = _bounded_moves(chain, q, solution, lo, hi, dt)
        slow = ~fallback & (biggest > 1.0)
        if self.network is not None and cfg.fallback and cfg.refine_iterations and \
                isinstance(self._scalar, PoseTick) and slow.any():
            # The general tick's velocity rule (PoseTick._refine): a velocity-limited network
            # step gives way to the damped step from q when that is scaled clearly less and
            # turns no elbow through its stretch.
            damped = q
            for _ in range(cfg.refine_iterations):
                damped = _lm_step(chain, damped, waypoint, lo, hi)
            damped_move, damped_held, damped_biggest = _bounded_moves(chain, q, damped, lo, hi,
                                                                      dt)
            elbows = list(chain.elbow_joints())
            keeps_elbows = np.all((q[:, elbows] * damped[:, elbows] > 0.0) |
                                  (q[:, elbows] == 0.0), axis=-1)
            swap = slow & keeps_elbows & (damped_biggest <= DAMPED_STEP_SCALING_SHARE * biggest)
            fallback = fallback | swap
            move = np.where(swap[:, None], damped_move, move)
            held = np.where(swap, damped_held, held)
            biggest = np.where(swap, damped_biggest, biggest)

        # Safety: wrapped increments, position limits less the margin, velocity limits.
        position_limited = valid_target & held
        allowance = chain.velocity_limits * dt
        scale = np.where(biggest > 1.0, 1.0 / np.where(biggest > 1.0, biggest, 1.0), 1.0)
        velocity_limited = valid_target & (biggest > 1.0)
        command = q + move * scale[:, None]
        # An invalid target holds the arm (moving it back inside the margin if needed).
        hold = q + np.clip(np.clip(q, lo, hi) - q, -allowance, allowance)
        command = np.where(valid_target[:, None], command, hold)
        command = np.where(valid_state[:, None], command, np.nan)

        reached_tip = chain.fk(np.where(valid_state[:, None], command, 0.0))
        goal_error = np.linalg.norm(reached_tip - goal, axis=-1)
        target_error = np.where(valid_target, np.linalg.norm(reached_tip - safe_target,
                                                             axis=-1), np.nan)
        status = np.select(
            [~valid_state, ~valid_target, projected, fallback, position_limited,
             goal_error <= cfg.goal_tolerance_m],
            [Status.INVALID_STATE, Status.INVALID_TARGET, Status.OUT_OF_REACH,
             Status.FALLBACK, Status.JOINT_LIMIT, Status.REACHED], Status.MOVING)
        next_branch = self.branch_of(np.where(valid_state[:, None], command, q), branch)
        return BatchTickResult(
            command=command, status=status.astype(np.int64), goal=goal,
            goal_error_m=np.where(valid_state, goal_error, np.nan),
            target_error_m=np.where(valid_state, target_error, np.nan),
            projected=projected, fallback=fallback, position_limited=position_limited,
            velocity_limited=velocity_limited, branch=next_branch,
            network_error_m=network_error,
            reached=valid_state & valid_target & (goal_error <= cfg.goal_tolerance_m))


class Tracker:
    """
    The state a stream of ticks toward targets needs: the elbow branch and a way out of traps.

    A redundant arm can stall against its joint limits where no local step helps (a
    "Z"-folded three-link arm asked to fold further, a spatial arm wound to its elbow-yaw
    limit). When the goal is reachable but the way left to it (IKSolver.way_left) has not
    shrunk for ``stall_ticks`` ticks, or a joint has been held at its limit for that long
    while the way left crept (neither halved nor fell by a hundredth of a step per tick; a
    quarter for the network alone), or it crawled for ``CRAWL_WINDOW_STALLS`` times that
    long, limits or not (fell by less than a tenth of a step per tick), the tracker finds
    a solution and moves there in joint space, within the limits and velocity limits
    (status RECONFIGURING), then resumes ordinary ticks. With the numerical fallback on,
    the solution is the exact one nearest the current joints over the whole joint space;
    without it (the network alone) it is the nearest one the network's own rollouts reach
    (IKSolver.network_solution): no numerical IK. A target whose search
    found nothing is not searched again.
    """

    def __init__(self, solver: 'IKSolver', stall_ticks: int = 25) -> None:
        self.solver = solver
        self.stall_ticks = stall_ticks
        # Progress below this is no progress; chain.reach is computed on every read.
        self._progress_floor = 1e-9 * solver.chain.reach
        self.branch: Optional[float] = None
        self._target: Optional[tuple] = None
        self._detour: Optional[FloatArray] = None
        self.reset()

    def reset(self) -> None:
        """Forget progress and any detour (a new target)."""
        self._best = math.inf
        self._since_best = 0
        self._held_ticks = 0
        self._held_from = math.inf
        self._window_ticks = 0
        self._window_from = math.inf
        self._searched = False
        self._detour = None

    def tick(self, joints: Sequence[float], target: Sequence[float], dt: float) -> TickResult:
        """Return the next command toward ``target``, detouring out of traps when needed."""
        target = tuple(float(v) for v in target)
        if target != self._target:
            self._target = target
            self.reset()
        if self._detour is not None:
            result = self._detour_tick(joints, target, dt)
        else:
            result = self.solver.tick(joints, target, dt, self.branch)
            self._watch(result, joints, target, dt)
        if result.command is not None:
            self.branch = result.branch
        return result

    def _watch(self, result: TickResult, joints: Sequence[float], target: tuple,
               dt: float) -> None:
        if result.command is None or result.reached or self._searched:
            self._since_best = 0
            return
        # Progress is measured along the way the waypoints take: around the shoulder, the
        # straight-line distance first grows.
        error = self.solver.way_left(result.command, result.goal)
        if result.position_limited:
            if self._held_ticks == 0:
                self._held_from = error
            self._held_ticks += 1
        else:
            self._held_ticks = 0
        # Held at a limit and creeping: over a window of stall_ticks held ticks the error
        # neither halved nor fell by a hundredth of a step per tick (a quarter without the
        # numerical fallback). Crawling: over a longer window, limits or not, by less than
        # a tenth (a refined spatial arm in a local minimum crept 0.08 mm per tick for 1000
        # ticks, never quite stalled).
        full_step = min(self.solver.step_m, self.solver.config.max_cartesian_speed * dt)
        held = False
        if self._held_ticks >= self.stall_ticks:
            share = HELD_CREEP_STEP_SHARE if self.solver.config.fallback else \
                NETWORK_HELD_CREEP_STEP_SHARE
            held = _crept(self._held_from, error, share * full_step * self._held_ticks)
            self._held_ticks = 0
        if self._window_ticks == 0:
            self._window_from = error
        self._window_ticks += 1
        if self._window_ticks > CRAWL_WINDOW_STALLS * self.stall_ticks:
            held |= _crept(self._window_from, error,
                           CRAWL_STEP_SHARE * full_step * self._window_ticks)
            self._window_ticks = 0
        if error < self._best - self._progress_floor:
            self._best = error
            self._since_best = 0
        else:
            self._since_best += 1
        if self._since_best >= self.stall_ticks or held:
            self._since_best = 0
            self._held_ticks = 0
            self._window_ticks = 0
            goal = np.asarray(result.goal, dtype=np.float64)
            q = np.asarray(joints, dtype=np.float64)
            self._searched = True
            self._detour = self.solver.nearest_solution(goal, q) if \
                self.solver.config.fallback else self.solver.network_solution(goal, q)

    def _detour_tick(self, joints: Sequence[float], target: tuple, dt: float) -> TickResult:
        solver = self.solver
        q = np.asarray(joints, dtype=np.float64)
        move = self._detour - q
        move = np.where(solver.chain.continuous, wrap_to_pi(move), move)
        allowance = solver.chain.velocity_limits * dt
        biggest = float(np.max(np.abs(move) / allowance))
        command = q + move / max(1.0, biggest)
        lo, hi = solver.safe_chain.lower, solver.safe_chain.upper
        command = np.where(solver.chain.continuous, command, np.clip(command, lo, hi))
        # Where the goal is and how far the detour leaves the tip from it, for the report.
        goal, goal_error, target_error, goal_angle, target_angle, projected = \
            solver.describe(command, target)
        status = Status.RECONFIGURING
        if biggest <= 1.0:
            self._detour = None
            self.reset()
            # Ended on the goal: report it as an ordinary tick there would.
            if goal_error <= solver.config.goal_tolerance_m and \
                    not goal_angle > solver.config.goal_tolerance_rad:
                status = Status.OUT_OF_REACH if projected else Status.REACHED
        return TickResult(
            command=tuple(command.tolist()), status=status, goal=goal,
            goal_error_m=goal_error, target_error_m=target_error, projected=projected,
            fallback=False, position_limited=False, velocity_limited=biggest > 1.0,
            branch=float(solver.branch_of(command, self.branch)), network_error_m=math.nan,
            reached=status != Status.RECONFIGURING, detour=True, goal_error_rad=goal_angle,
            target_error_rad=target_angle)


def _crept(start: float, error: float, allowance: float) -> bool:
    """Return whether the way left neither halved from ``start`` nor fell by ``allowance``."""
    return error > 0.5 * start and start - error < allowance


def _bounded_moves(chain: KinematicChain, q: FloatArray, solution: FloatArray,
                   lo: FloatArray, hi: FloatArray, dt: float) -> tuple:
    """
    Return the moves toward ``solution``, whether a limit held, and the velocity scaling.

    :func:`iknn_ros.ik.safety.bounded_moves` for a batch: wrapped increments of continuous
    joints, the others stopped at ``lo`` and ``hi``.
    """
    move = solution - q
    move = np.where(chain.continuous, wrap_to_pi(move), move)
    desired = q + move
    bounded = np.clip(desired, lo, hi)
    held = np.any(np.abs(bounded - desired) > 1e-12, axis=-1)
    move = bounded - q
    return move, held, np.max(np.abs(move) / (chain.velocity_limits * dt), axis=-1)


def _lm_step(chain: KinematicChain, joints: FloatArray, goal: FloatArray,
             lower: FloatArray, upper: FloatArray) -> FloatArray:
    """
    Return one damped Newton (Levenberg-Marquardt) step toward ``goal`` for each row.

    The damping is the squared tip error, so steps stay bounded near singularities and the
    iteration is Newton's (quadratic) as the error vanishes. A joint the step would carry
    past its limit stops at the limit and the other joints take up the rest of the error
    (one active-set pass): a redundant arm works around a limit instead of stalling on it.
    """
    err = goal - chain.fk(joints)
    jac = chain.jacobian(joints)
    damping = np.sum(err * err, axis=-1) + DAMPING_FLOOR_FRACTION * chain.reach ** 2

    def solve(jac_free: FloatArray, error: FloatArray) -> FloatArray:
        return damped_least_norm(jac_free, error, damping)

    return joints + stop_at_limits(joints, solve(jac, err), jac, err, lower, upper, solve)


class _ScalarTick:
    """
    What the float ticks of one arm share: the limits, the bounded step and the safety.

    Same algorithm and order of operations as :meth:`IKSolver.tick_batch`; written for
    speed (no numpy on tiny arrays). Subclasses give the kinematics in floats and
    ``_least_norm(cols, error, damping)``, the damped least-norm step for their targets.
    """

    def __init__(self, solver: IKSolver) -> None:
        chain = solver.chain
        self.solver = solver
        self.n = chain.n_joints
        self.continuous = [bool(v) for v in chain.continuous]
        self.hard_lo = [float(v) for v in chain.lower - STATE_LIMIT_TOLERANCE]
        self.hard_hi = [float(v) for v in chain.upper + STATE_LIMIT_TOLERANCE]
        self.lo = [float(v) for v in solver.safe_chain.lower]
        self.hi = [float(v) for v in solver.safe_chain.upper]
        self.velocity = [float(v) for v in chain.velocity_limits]
        self.limits = list(zip(self.lo, self.hi, self.velocity, self.continuous))
        self.route_radius = float(solver.route_radius)
        self.damping_floor = DAMPING_FLOOR_FRACTION * chain.reach ** 2
        cfg = solver.config
        self.refine_iterations = cfg.refine_iterations
        self.fallback_ratio = cfg.fallback_ratio
        self.fallback_floor = cfg.fallback_floor_m
        self.fallback_enabled = cfg.fallback
        self.goal_tolerance = cfg.goal_tolerance_m
        self.max_speed = cfg.max_cartesian_speed
        self.network = solver.network

    def _bounded_step(self, q: list, cols: list, error: tuple, damping: float) -> list:
        """Return the least-norm step; joints it would carry past a limit stop there."""
        step = self._least_norm(cols, error, damping)
        fixed = [None] * self.n
        any_fixed = False
        for i, (v, dv, low, high) in enumerate(zip(q, step, self.lo, self.hi)):
            if v + dv > high:
                fixed[i] = high - v
                any_fixed = True
            elif v + dv < low:
                fixed[i] = low - v
                any_fixed = True
        if any_fixed:
            rest = list(error)
            for col, f in zip(cols, fixed):
                if f is not None:
                    for k, jk in enumerate(col):
                        rest[k] -= jk * f
            zero = (0.0,) * len(error)
            free = self._least_norm([zero if f is not None else c
                                     for c, f in zip(cols, fixed)], tuple(rest), damping)
            step = [f if f is not None else dv for f, dv in zip(fixed, free)]
        return [v + dv for v, dv in zip(q, step)]

    def _network_and_refinement(self, q: list, aim: tuple, branch: float,
                                step_length: float) -> tuple:
        """
        Return the network's step toward ``aim`` refined, whether it fell back, its error.

        A network answer worse than the fallback limit is replaced by numerical steps from
        ``q`` (or kept as ``q`` with the fallback off). ``lm_step(q, *aim)`` refines.
        """
        fallback = False
        network_error = math.nan
        iterations = self.refine_iterations
        solution = q
        if self.network is not None:
            delta = self.network.step_one(q, aim + (branch,))
            solution = [v + dv for v, dv in zip(q, delta)]
            if iterations > 0:
                refined, network_error = self.lm_step(solution, *aim)
            else:
                network_error = math.dist(self.fk(solution), aim)
            limit = self.fallback_ratio * step_length + self.fallback_floor \
                if self.fallback_enabled else math.inf
            if not network_error <= limit:
                fallback = True
                solution = q
                if self.fallback_enabled:
                    iterations = max(iterations, FALLBACK_ITERATIONS)
            elif iterations > 0:
                solution = refined
                iterations -= 1
        for _ in range(iterations):
            solution = self.lm_step(solution, *aim)[0]
        return solution, fallback, network_error

    def _status(self, valid_target: bool, projected: bool, fallback: bool,
                position_limited: bool, goal_error: float) -> Status:
        if not valid_target:
            return Status.INVALID_TARGET
        if projected:
            return Status.OUT_OF_REACH
        if fallback:
            return Status.FALLBACK
        if position_limited:
            return Status.JOINT_LIMIT
        if goal_error <= self.goal_tolerance:
            return Status.REACHED
        return Status.MOVING

    def safety(self, q: list, solution: list, dt: float, valid_target: bool) -> tuple:
        lo, hi, velocity, continuous = self.lo, self.hi, self.velocity, self.continuous
        if not valid_target:
            # Hold, moving a joint back inside its margin no faster than allowed.
            command = []
            for v, low, high, vmax, cont in zip(q, lo, hi, velocity, continuous):
                move = 0.0 if cont else min(max(v, low), high) - v
                allowance = vmax * dt
                command.append(v + min(max(move, -allowance), allowance))
            return command, False, False
        return safe_command(q, solution, dt, self.limits)


class _ScalarPlanarTick(_ScalarTick):
    """
    The tick of :meth:`IKSolver.tick_batch` for one planar arm, in Python floats.

    The forward kinematics is shared between the network check and the first refinement.
    """

    def __init__(self, solver: IKSolver) -> None:
        super().__init__(solver)
        chain = solver.chain
        planar = chain.planar
        self.joint_range = range(self.n)
        self.base_x, self.base_y = (float(v) for v in planar.offsets[0])
        vectors = list(planar.offsets[1:]) + [planar.tip_offset]
        self.link_x = [float(v[0]) for v in vectors]
        self.link_y = [float(v[1]) for v in vectors]
        self.yaws = [float(v) for v in planar.yaw_offsets]
        self.signs = [float(v) for v in planar.axis_signs]
        ws = solver.workspace
        self.annulus = isinstance(ws, AnnulusWorkspace)
        self.center_x, self.center_y = (float(v) for v in ws.center) if self.annulus \
            else (0.0, 0.0)
        self.r_min = float(ws.r_min) if self.annulus else 0.0
        self.route_x, self.route_y = (float(v) for v in solver.route_center)
        self.r_max = float(ws.r_max) if self.annulus else 0.0
        two = solver._two_link
        self.has_elbow = two is not None
        self.psi_offset = two._psi_offset if two is not None else 0.0
        self.sign2 = two.sign2 if two is not None else 1.0
        self.sin_hysteresis = math.sin(BRANCH_HYSTERESIS_RAD)
        if self.n == 2:
            # The common arm gets unrolled kinematics (same formulas, no loops).
            self.fk = self._fk2
            self.lm_step = self._lm_step2

    # -- kinematics in floats --

    def _fk2(self, q: list) -> tuple:
        phi1 = self.yaws[0] + self.signs[0] * q[0]
        phi2 = phi1 + self.yaws[1] + self.signs[1] * q[1]
        c1, s1, c2, s2 = math.cos(phi1), math.sin(phi1), math.cos(phi2), math.sin(phi2)
        ax, bx = self.link_x
        ay, by = self.link_y
        return (self.base_x + c1 * ax - s1 * ay + c2 * bx - s2 * by,
                self.base_y + s1 * ax + c1 * ay + s2 * bx + c2 * by)

    def _lm_step2(self, q: list, gx: float, gy: float) -> tuple:
        sign1, sign2 = self.signs
        phi1 = self.yaws[0] + sign1 * q[0]
        phi2 = phi1 + self.yaws[1] + sign2 * q[1]
        c1, s1, c2, s2 = math.cos(phi1), math.sin(phi1), math.cos(phi2), math.sin(phi2)
        ax, bx = self.link_x
        ay, by = self.link_y
        # Tip relative to joint 2, then to joint 1; Jacobian columns sign_i * z x r_i.
        r2x, r2y = c2 * bx - s2 * by, s2 * bx + c2 * by
        r1x, r1y = r2x + c1 * ax - s1 * ay, r2y + s1 * ax + c1 * ay
        j1x, j1y, j2x, j2y = -sign1 * r1y, sign1 * r1x, -sign2 * r2y, sign2 * r2x
        ex = gx - self.base_x - r1x
        ey = gy - self.base_y - r1y
        error2 = ex * ex + ey * ey
        damping = error2 + self.damping_floor
        a = damping + j1x * j1x + j2x * j2x
        b = j1x * j1y + j2x * j2y
        d = damping + j1y * j1y + j2y * j2y
        det = a * d - b * b
        ux = (d * ex - b * ey) / det
        uy = (a * ey - b * ex) / det
        q0, q1 = q[0] + j1x * ux + j1y * uy, q[1] + j2x * ux + j2y * uy
        lo, hi = self.lo, self.hi
        if not (lo[0] <= q0 <= hi[0] and lo[1] <= q1 <= hi[1]):
            return self._bounded_step(q, [(j1x, j1y), (j2x, j2y)], (ex, ey), damping), \
                math.sqrt(error2)
        return [q0, q1], math.sqrt(error2)

    def fk(self, q: list) -> tuple:
        x, y = self.base_x, self.base_y
        phi = 0.0
        cos, sin = math.cos, math.sin
        for yaw, sign, lx, ly, angle in zip(self.yaws, self.signs, self.link_x, self.link_y, q):
            phi += yaw + sign * angle
            c, s = cos(phi), sin(phi)
            x += c * lx - s * ly
            y += s * lx + c * ly
        return x, y

    def lm_step(self, q: list, gx: float, gy: float) -> tuple:
        """Return one damped Newton step toward (gx, gy) and the tip error before it."""
        phi = 0.0
        cos, sin = math.cos, math.sin
        arms = []
        for yaw, sign, lx, ly, angle in zip(self.yaws, self.signs, self.link_x, self.link_y, q):
            phi += yaw + sign * angle
            c, s = cos(phi), sin(phi)
            arms.append((c * lx - s * ly, s * lx + c * ly, sign))
        # Jacobian columns: sign_i * z x (tip - joint_i), accumulated from the tip back.
        rx = ry = 0.0
        cols = []
        for ax, ay, sign in reversed(arms):
            rx += ax
            ry += ay
            cols.append((-sign * ry, sign * rx))
        cols.reverse()
        ex = gx - self.base_x - rx
        ey = gy - self.base_y - ry
        error2 = ex * ex + ey * ey
        return self._bounded_step(q, cols, (ex, ey), error2 + self.damping_floor), \
            math.sqrt(error2)

    @staticmethod
    def _least_norm(cols: list, error: tuple, damping: float) -> list:
        ex, ey = error
        a = d = damping
        b = 0.0
        for jx, jy in cols:
            a += jx * jx
            b += jx * jy
            d += jy * jy
        det = a * d - b * b
        ux = (d * ex - b * ey) / det
        uy = (a * ey - b * ex) / det
        return [jx * ux + jy * uy for jx, jy in cols]

    def branch_of(self, q: list, previous: float) -> float:
        if not self.has_elbow:
            return 1.0
        s = math.sin(self.sign2 * q[1] + self.psi_offset)
        if abs(s) >= self.sin_hysteresis:
            return 1.0 if s > 0.0 else -1.0
        return -1.0 if previous < 0.0 else 1.0

    # -- the tick --

    def tick(self, joints: Sequence[float], target: Sequence[float], dt: float,
             branch: Optional[float]) -> TickResult:
        if len(target) != 2:
            raise ValueError(f'expected a 2D target (x, y) for this planar arm, got '
                             f'{len(target)} values')
        q = checked_joints(joints, dt, self.hard_lo, self.hard_hi)
        if q is None:
            return _invalid_state_result(target)
        tx, ty = float(target[0]), float(target[1])
        valid_target = abs(tx) < math.inf and abs(ty) < math.inf
        br = self.branch_of(q, 1.0) if branch is None else (-1.0 if branch < 0.0 else 1.0)
        tip_x, tip_y = self.fk(q)
        if not valid_target:
            tx, ty = tip_x, tip_y
        gx, gy, projected = self.project(tx, ty, tip_x, tip_y)
        projected = valid_target and projected
        max_step = self.solver.step_m
        if self.max_speed * dt < max_step:
            max_step = self.max_speed * dt
        wx, wy = self.waypoint(tip_x, tip_y, gx, gy, max_step)

        solution, fallback, network_error = self._network_and_refinement(
            q, (wx, wy), br, math.hypot(wx - tip_x, wy - tip_y))
        command, position_limited, velocity_limited = self.safety(q, solution, dt,
                                                                  valid_target)
        cx, cy = self.fk(command)
        goal_error = math.hypot(cx - gx, cy - gy)
        status = self._status(valid_target, projected, fallback, position_limited, goal_error)
        # Positional, in TickResult's field order: keywords cost 0.6 us of a 20 us tick.
        return TickResult(
            tuple(command), status, (gx, gy), goal_error,
            math.hypot(cx - tx, cy - ty) if valid_target else math.nan, projected, fallback,
            position_limited, velocity_limited, self.branch_of(command, br), network_error,
            valid_target and goal_error <= self.goal_tolerance)

    def project(self, tx: float, ty: float, tip_x: float, tip_y: float) -> tuple:
        if not self.annulus:
            goal = self.solver.project(np.array([tx, ty]))
            gx, gy = float(goal[0]), float(goal[1])
            return gx, gy, math.hypot(gx - tx, gy - ty) > 1e-12
        ux, uy = tx - self.center_x, ty - self.center_y
        r = math.hypot(ux, uy)
        if self.r_min <= r <= self.r_max:
            return tx, ty, False
        if r > 0.0:
            dx, dy = ux / r, uy / r
        else:
            hx, hy = tip_x - self.center_x, tip_y - self.center_y
            h = math.hypot(hx, hy)
            dx, dy = (hx / h, hy / h) if h > 0.0 else (1.0, 0.0)
        radius = min(max(r, self.r_min), self.r_max)
        gx, gy = self.center_x + dx * radius, self.center_y + dy * radius
        return gx, gy, math.hypot(gx - tx, gy - ty) > 1e-12

    def waypoint(self, tip_x: float, tip_y: float, gx: float, gy: float,
                 max_step: float) -> tuple:
        dx, dy = gx - tip_x, gy - tip_y
        dist = math.hypot(dx, dy)
        if dist <= max_step:
            return gx, gy
        if self.route_radius > 0.0:
            ax, ay = tip_x - self.route_x, tip_y - self.route_y
            bx, by = gx - self.route_x, gy - self.route_y
            # |a + t (b - a)| >= |a| - |b - a|: far enough out, the path cannot enter.
            if math.hypot(ax, ay) - dist < self.route_radius and \
                    scalar_segment_enters_disk(ax, ay, bx, by, self.route_radius):
                px, py = scalar_polar_waypoint(ax, ay, bx, by, max_step)
                return px + self.route_x, py + self.route_y
        ratio = max_step / dist
        return tip_x + dx * ratio, tip_y + dy * ratio

    def way_left(self, q: Sequence[float], goal: Sequence[float]) -> float:
        """Return :func:`route_length` from the tip at ``q`` to ``goal``, in floats."""
        gx, gy = goal
        tip_x, tip_y = self.fk(q)
        if self.route_radius > 0.0:
            ax, ay = tip_x - self.route_x, tip_y - self.route_y
            bx, by = gx - self.route_x, gy - self.route_y
            if scalar_segment_enters_disk(ax, ay, bx, by, self.route_radius):
                ra, rb = math.hypot(ax, ay), math.hypot(bx, by)
                sweep = wrap_scalar(math.atan2(by, bx) - math.atan2(ay, ax))
                return math.hypot(rb - ra, 0.5 * (ra + rb) * sweep)
        return math.hypot(gx - tip_x, gy - tip_y)


def _invalid_state_result(target: Sequence[float]) -> TickResult:
    nan = math.nan
    return TickResult(command=None, status=Status.INVALID_STATE,
                      goal=tuple(float(v) for v in target), goal_error_m=nan,
                      target_error_m=nan, projected=False, fallback=False,
                      position_limited=False, velocity_limited=False, branch=1.0,
                      network_error_m=nan, reached=False)
