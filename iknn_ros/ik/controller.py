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
The IK control loop's state, free of ROS: targets in, joint feedback in, commands out.

The node feeds it what arrives on its topics (with the node clock's time) and publishes what
it returns. The rules a real arm needs live here, where they are tested without ROS:

- Targets must be finite and in the base frame (another frame is refused, unless the node
  transformed it first); a new target replaces the old one.
- Feedback is matched by joint name (other joints are ignored, order does not matter); a
  message without every chain joint, with names and positions of different lengths, or with
  a non-finite position is ignored and reported.
- No feedback yet, or feedback older than the timeout: no command, and the reason says why.
  The loop never commands from a guessed state.
- Each tick starts from the previous command while the arm follows it (every joint
  within ``max_tracking_error`` of it), so a servo that lags its command still moves at the
  commanded speed and sensor noise never feeds into the commands; consecutive commands then
  differ by at most the velocity limit times the period. When the arm falls behind by more
  (it is blocked, or was pushed), the tick starts from the measured position instead.
- Once the goal is reached the command is the reached position: the arm holds it (and
  returns to it if pushed away) until a new target arrives.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Optional, Sequence

from iknn_ros.ik.solver import IKSolver
from iknn_ros.ik.solver import Status
from iknn_ros.ik.solver import TickResult
from iknn_ros.ik.solver import Tracker
from iknn_ros.kinematics.angles import wrap_scalar
from iknn_ros.kinematics.targets import MIN_QUATERNION_NORM
from iknn_ros.kinematics.targets import target_length
from iknn_ros.kinematics.targets import TargetMode
from iknn_ros.log_throttle import LogThrottle


@dataclasses.dataclass(frozen=True)
class Decision:
    """Whether an input was accepted, and why not."""

    accepted: bool
    reason: str = ''


ACCEPTED = Decision(True)


class LogSummary:
    """
    One log line for a stream of like events: the first at once, then one per period.

    A teleoperation stream sends targets at 100 Hz to 1 kHz; a line per target would bury
    every other line (and cost the loop). The line after a quiet spell says the event
    itself; inside a stream, one line per ``period_s`` gives the count since the last line
    and the latest event. The exact counts are in the node's diagnostics.
    """

    def __init__(self, period_s: float) -> None:
        self._throttle = LogThrottle(period_s)

    def record(self, now: float, text: str) -> Optional[str]:
        """Count one event at ``now`` (s); return the line to log now, or None."""
        out = self._throttle.event(now)
        if out is None:
            return None
        return text if out.held_back == 0 else \
            f'{text} ({out.held_back + 1} in the last {out.since_s:.1f} s)'


@dataclasses.dataclass(frozen=True)
class Step:
    """One control period: the command to publish (or None) and what happened."""

    command: Optional[tuple]
    result: Optional[TickResult]
    reason: str
    # The target this period's tick aimed for (None: no tick ran).
    target: Optional[tuple] = None


class IKController:
    """Holds the target, the latest feedback and the elbow branch between ticks."""

    def __init__(self, solver: IKSolver, base_frame: str, feedback_timeout_s: float,
                 max_tracking_error_rad: float = 0.15) -> None:
        self.solver = solver
        self.base_frame = base_frame
        self.feedback_timeout_s = feedback_timeout_s
        self.max_tracking_error_rad = max_tracking_error_rad
        self.continuous = tuple(bool(c) for c in solver.chain.continuous)
        self.command: Optional[tuple] = None
        self.command_time: Optional[float] = None
        self.joint_names = solver.chain.joint_names
        self.target: Optional[tuple] = None
        self.target_time: Optional[float] = None
        self.joints: Optional[tuple] = None
        self.feedback_time: Optional[float] = None
        self.tracker = Tracker(solver)
        self.last: Optional[Step] = None
        self.counters = {'targets_accepted': 0, 'targets_refused': 0, 'feedback_refused': 0,
                         'ticks': 0, 'commands': 0, 'fallback_ticks': 0, 'resyncs': 0}

    # ---- inputs ------------------------------------------------------------------------

    def set_target(self, target: Sequence[float], frame_id: str, now: float) -> Decision:
        """
        Accept a target in ``frame_id``, or say why not.

        A position target is (x, y, z) (z is dropped for planar arms); a pose target
        (x, y, z, qx, qy, qz, qw); a planar pose (x, y, yaw) (iknn_ros.kinematics.targets).
        """
        frame = frame_id.lstrip('/')
        if frame and frame != self.base_frame:
            return self._refuse_target(
                f"target in frame '{frame_id}' refused: targets must be in the base frame "
                f"'{self.base_frame}' (no transform available)")
        values = tuple(float(v) for v in target)
        if not all(math.isfinite(v) for v in values):
            return self._refuse_target(f'target {values} refused: not finite')
        mode = self.solver.target_mode
        if mode is TargetMode.POSE and \
                math.sqrt(sum(v * v for v in values[3:7])) < MIN_QUATERNION_NORM:
            return self._refuse_target(f'target {values} refused: its quaternion is zero, not '
                                       'a rotation')
        if mode is TargetMode.TOOL_AXIS and \
                math.sqrt(sum(v * v for v in values[3:6])) < MIN_QUATERNION_NORM:
            return self._refuse_target(f'target {values} refused: its tool axis is zero, not '
                                       'a direction')
        length = target_length(self.solver.chain, mode)
        if len(values) < length:
            return self._refuse_target(f'target {values} refused: a {mode.value} target has '
                                       f'{length} values')
        self.target = values[:length]
        self.target_time = now
        self.counters['targets_accepted'] += 1
        return ACCEPTED

    def _refuse_target(self, reason: str) -> Decision:
        self.counters['targets_refused'] += 1
        return Decision(False, reason)

    def update_feedback(self, names: Sequence[str], positions: Sequence[float],
                        now: float) -> Decision:
        """Take the chain's joints from a JointState-like message, or say why not."""
        if len(names) != len(positions):
            return self._refuse_feedback(
                f'joint state ignored: {len(names)} names but {len(positions)} positions')
        index = {name: i for i, name in enumerate(names)}
        missing = [n for n in self.joint_names if n not in index]
        if missing:
            return self._refuse_feedback(
                f'joint state ignored: it lacks joint(s) {missing} of the chain '
                f'{list(self.joint_names)}')
        values = tuple(float(positions[index[n]]) for n in self.joint_names)
        if not all(math.isfinite(v) for v in values):
            return self._refuse_feedback(f'joint state ignored: non-finite positions {values}')
        self.joints = values
        self.feedback_time = now
        if self.tracker.branch is None:
            self.tracker.branch = float(self.solver.branch_of(values))
        return ACCEPTED

    def _refuse_feedback(self, reason: str) -> Decision:
        self.counters['feedback_refused'] += 1
        return Decision(False, reason)

    def clear_target(self) -> None:
        """Forget the target: no more commands until a new one arrives."""
        self.target = None
        self.target_time = None

    # ---- the loop ----------------------------------------------------------------------

    def feedback_age(self, now: float) -> Optional[float]:
        """Return the age of the latest accepted feedback in seconds (None: never)."""
        return None if self.feedback_time is None else now - self.feedback_time

    def step(self, now: float, dt: float) -> Step:
        """Return this period's command, or None with the reason there is none."""
        self.counters['ticks'] += 1
        age = self.feedback_age(now)
        if age is None:
            step = Step(None, None, 'no joint feedback received yet: not commanding')
        elif age > self.feedback_timeout_s:
            step = Step(None, None, f'joint feedback is {age:.3f} s old (timeout '
                                    f'{self.feedback_timeout_s:.3f} s): not commanding')
        elif self.target is None:
            step = Step(None, None, 'waiting for a target')
        else:
            start = self.start_state(now)
            result = self.tracker.tick(start, self.target, dt)
            if result.command is None:
                self.command = None
                step = Step(None, result, result.message, self.target)
            else:
                self.command, self.command_time = result.command, now
                self.counters['commands'] += 1
                self.counters['fallback_ticks'] += int(result.fallback)
                step = Step(result.command, result, result.message, self.target)
        self.last = step
        return step

    def tracking_error(self) -> Optional[float]:
        """Return the largest |previous command - measured position| (None: no command)."""
        if self.command is None or self.joints is None:
            return None
        return max(abs(self._gap(c, m, cont)) for c, m, cont in
                   zip(self.command, self.joints, self.continuous))

    @staticmethod
    def _gap(command: float, measured: float, continuous: bool) -> float:
        # A continuous joint may be reported wrapped while commands run on: compare angles.
        return wrap_scalar(command - measured) if continuous else command - measured

    def start_state(self, now: float) -> tuple:
        """Return where this tick starts: the previous command if the arm follows it."""
        error = self.tracking_error()
        fresh = self.command_time is not None and \
            now - self.command_time <= self.feedback_timeout_s
        if error is not None and fresh and error <= self.max_tracking_error_rad:
            # In the measured position's representation, for continuous joints.
            return tuple(m + self._gap(c, m, cont) for c, m, cont in
                         zip(self.command, self.joints, self.continuous))
        if error is not None and fresh:
            self.counters['resyncs'] += 1
        return self.joints

    @property
    def status(self) -> Optional[Status]:
        """Return the status of the last tick that ran the solver."""
        return None if self.last is None or self.last.result is None else \
            self.last.result.status
