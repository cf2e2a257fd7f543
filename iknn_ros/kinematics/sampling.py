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
Samples of (current joint angles, target) with their exact answers, numpy only.

Shared by training (its data) and evaluation (its independent held-out sets), so that what
a model is trained on and what it is measured on are drawn by the same, visible rules:
current angles uniform within the joint limits, task-space steps toward targets drawn
continuously, and labels from the closed-form solution on the current elbow branch.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Optional

from iknn_ros.kinematics.angles import wrap_to_pi
from iknn_ros.kinematics.chain import KinematicChain
from iknn_ros.kinematics.chain_kernels import pose_residuals
from iknn_ros.kinematics.least_squares import damped_least_norm
from iknn_ros.kinematics.least_squares import least_norm
from iknn_ros.kinematics.least_squares import stop_at_limits
from iknn_ros.kinematics.targets import POSE_TARGET_WIDTH
from iknn_ros.kinematics.targets import pose_targets
from iknn_ros.kinematics.two_link import TwoLinkGeometry
import numpy as np
from numpy.typing import NDArray

# Near the stretched arm either elbow is consistent with the state: train both, so the
# solver may hold its elbow choice (hysteresis) while the arm passes through stretch.
EITHER_BRANCH_BAND_RAD = 0.05
# Least-motion samples: damping of the increment near singularities (a share of the reach)
# and the largest joint step, so every sample is a step the network is trained for.
SAMPLE_DAMPING_FRACTION = 0.02
MAX_SAMPLE_JOINT_STEP_RAD = 0.5


@dataclasses.dataclass(frozen=True)
class Samples:
    """Network inputs and labels, one row per sample (float64)."""

    joints: NDArray[np.float64]
    target: NDArray[np.float64]
    branch: NDArray[np.float64]
    delta: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.joints.shape[0])

    def subset(self, index: NDArray) -> 'Samples':
        """Return the rows selected by ``index``."""
        return Samples(self.joints[index], self.target[index], self.branch[index],
                       self.delta[index])

    @classmethod
    def concatenate(cls, parts: list) -> 'Samples':
        """Return the rows of several sample sets, in order."""
        return cls(*(np.concatenate([getattr(p, f.name) for p in parts])
                     for f in dataclasses.fields(cls)))


def branch_of(chain: KinematicChain, joints: NDArray[np.float64],
              rng: np.random.Generator) -> NDArray[np.float64]:
    """Return the elbow branch (+1/-1) of joint vectors; random near the stretched arm."""
    geometry = TwoLinkGeometry.of(chain)
    psi = geometry.elbow_angle(joints)
    branch = np.where(np.sin(psi) >= 0.0, 1.0, -1.0)
    either = np.abs(np.sin(psi)) < math.sin(EITHER_BRANCH_BAND_RAD)
    return np.where(either, rng.choice([-1.0, 1.0], size=branch.shape), branch)


def step_offsets(rng: np.random.Generator, count: int, dim: int, step_m: float,
                 small_step_share: float = 0.0,
                 min_step_fraction: float = 1e-4) -> NDArray[np.float64]:
    """
    Return task-space steps: uniform in the ball of radius ``step_m``.

    A ``small_step_share`` of them is log-uniform in length down to
    ``min_step_fraction * step_m`` instead.
    """
    direction = rng.normal(size=(count, dim))
    direction /= np.linalg.norm(direction, axis=-1, keepdims=True)
    uniform_in_ball = step_m * rng.uniform(size=count) ** (1.0 / dim)
    log_small = step_m * np.exp(rng.uniform(math.log(min_step_fraction), 0.0, size=count))
    radius = np.where(rng.uniform(size=count) < small_step_share, log_small, uniform_in_ball)
    return direction * radius[:, None]


def has_closed_form(chain: KinematicChain) -> bool:
    """Return whether exact labels exist (the planar 2R closed form)."""
    return chain.planar is not None and chain.n_joints == 2


def step_samples(chain: KinematicChain, rng: np.random.Generator, count: int, step_m: float,
                 small_step_share: float = 0.0, min_step_fraction: float = 1e-4,
                 comfort_gain: float = 0.0, active_set: bool = True) -> Samples:
    """
    Return ``count`` reachable one-step problems with their answers.

    Current angles are uniform within the limits and the target is the tip plus a step of
    at most ``step_m``. For a planar 2R chain the label is the closed-form solution on the
    current elbow branch (exact); for other chains see :func:`least_motion_step_samples`.
    """
    if not has_closed_form(chain):
        return least_motion_step_samples(chain, rng, count, step_m, small_step_share,
                                         min_step_fraction, comfort_gain, active_set)
    geometry = TwoLinkGeometry.of(chain)
    parts = []
    have = 0
    while have < count:
        batch = int((count - have) * 1.3) + 1000
        joints = chain.random_configurations(rng, batch)
        branch = branch_of(chain, joints, rng)
        target = chain.fk(joints) + step_offsets(rng, batch, chain.target_dim, step_m,
                                                 small_step_share, min_step_fraction)
        solution, ok = geometry.ik(target, branch)
        delta = solution - joints
        delta = np.where(chain.continuous, wrap_to_pi(delta), delta)
        keep = np.flatnonzero(ok)[:count - have]
        parts.append(Samples(joints[keep], target[keep], branch[keep], delta[keep]))
        have += keep.size
    return Samples.concatenate(parts)


def least_motion_step_samples(chain: KinematicChain, rng: np.random.Generator, count: int,
                              step_m: float, small_step_share: float = 0.0,
                              min_step_fraction: float = 1e-4,
                              comfort_gain: float = 0.0, active_set: bool = True) -> Samples:
    """
    Return one-step problems for any chain, redundant ones included, with exact labels.

    A task-space step ``d`` is drawn as for the 2R chain and the target placed where a
    damped least-norm joint step (at most MAX_SAMPLE_JOINT_STEP_RAD, within the limits)
    puts the tip, so every target is reachable. The joint step is first-order: where the
    chain curves, about 2 % of targets land beyond ``step_m`` (up to 2.5 times; the
    evaluation leaves them out). The label is
    then solved exactly (Gauss-Newton to the target): the least joint motion, first drawn
    ``comfort_gain * |d| / step_m`` toward mid-range in the null space (so a redundant arm
    moves away from its limits while it moves, and not at all once there).
    """
    parts = []
    have = 0
    while have < count:
        # In chunks: the spatial chain's frames for millions of samples would take GBs.
        batch = int(min(count - have, 250_000) * 1.05) + 1000
        joints = chain.random_configurations(rng, batch)
        offsets = step_offsets(rng, batch, chain.target_dim, step_m, small_step_share,
                               min_step_fraction)
        target = chain.fk(_limited(chain, joints + _damped_step(chain, joints, offsets)))
        labelled = least_motion_labels(chain, joints, target, step_m, comfort_gain,
                                       active_set)
        parts.append(labelled.subset(np.arange(min(len(labelled), count - have))))
        have += len(parts[-1])
    return Samples.concatenate(parts)


def pose_step_samples(chain: KinematicChain, rng: np.random.Generator, count: int,
                      step_m: float, step_rad: float, small_step_share: float = 0.0,
                      min_step_fraction: float = 1e-4, comfort_gain: float = 0.0,
                      active_set: bool = True) -> Samples:
    """
    Return one-step pose problems (targets as :data:`POSE_TARGET_ENCODING`) with exact labels.

    As :func:`least_motion_step_samples`, in six dimensions: a position step of at most
    ``step_m`` and a turn of at most ``step_rad`` (each as the position steps are drawn),
    the target where a damped least-norm joint step puts the tool, the label the exact
    least joint motion to that pose (with the comfort drift of a redundant arm).
    """
    parts = []
    have = 0
    weight = step_m / step_rad
    while have < count:
        batch = int(min(count - have, 250_000) * 1.05) + 1000
        joints = chain.random_configurations(rng, batch)
        offsets = np.concatenate([
            step_offsets(rng, batch, 3, step_m, small_step_share, min_step_fraction),
            weight * step_offsets(rng, batch, 3, step_rad, small_step_share,
                                  min_step_fraction)], axis=-1)
        row_weight = np.array([1.0, 1.0, 1.0, weight, weight, weight])
        moved = _limited(chain, joints + _damped_step(
            chain, joints, offsets, chain.pose_jacobian(joints) * row_weight[:, None]))
        target = pose_targets(chain.tool_frames(moved))
        labelled = least_motion_labels(chain, joints, target, step_m, comfort_gain,
                                       active_set, step_rad)
        parts.append(labelled.subset(np.arange(min(len(labelled), count - have))))
        have += len(parts[-1])
    return Samples.concatenate(parts)


def step_sizes(chain: KinematicChain, joints: NDArray[np.float64],
               target: NDArray[np.float64]) -> tuple:
    """Return each problem's position step (m) and, for pose targets, its turn (rad)."""
    if target.shape[-1] == POSE_TARGET_WIDTH:
        residual = pose_residuals(chain.tool_frames(joints), target)
        return (np.linalg.norm(residual[..., :3], axis=-1),
                np.linalg.norm(residual[..., 3:], axis=-1))
    return np.linalg.norm(target - chain.fk(joints), axis=-1), None


def least_motion_labels(chain: KinematicChain, joints: NDArray[np.float64],
                        target: NDArray[np.float64], step_m: float,
                        comfort_gain: float = 0.0, active_set: bool = True,
                        step_rad: float = math.inf) -> Samples:
    """
    Return the exact least-motion answers to the given one-step problems (the solvable ones).

    Targets are positions, or poses (:data:`POSE_TARGET_ENCODING`). The comfort drift
    toward mid-range is ``comfort_gain * |target - tip| / step_m`` (for poses, the larger
    of that and the turn over ``step_rad``), so it is proportional to the distance
    travelled; problems whose exact answer moves a joint more than
    ``2 * MAX_SAMPLE_JOINT_STEP_RAD`` or cannot reach the target are left out.
    With ``active_set``, problems the clipped iteration cannot solve are solved again with
    the active set, so the labels of every problem the clipped one solves stay as they were.
    """
    distance, turn = step_sizes(chain, joints, target)
    scale = comfort_gain * distance / step_m
    if turn is not None:
        scale = np.maximum(scale, comfort_gain * turn / step_rad)
    moved, reached = _solve_exactly(chain, joints, target, scale, active_set=False)
    retry = np.flatnonzero(~reached)
    if active_set and retry.size:
        moved[retry], reached[retry] = _solve_exactly(
            chain, joints[retry], target[retry], scale[retry], active_set=True)
    keep = np.flatnonzero(reached)
    return Samples(joints[keep], target[keep], np.ones(keep.size), moved[keep] - joints[keep])


def _limited(chain: KinematicChain, joints: NDArray[np.float64]) -> NDArray[np.float64]:
    lo = np.where(chain.continuous, -np.inf, chain.lower)
    hi = np.where(chain.continuous, np.inf, chain.upper)
    return np.clip(joints, lo, hi)


def _damped_step(chain: KinematicChain, joints: NDArray[np.float64],
                 offsets: NDArray[np.float64],
                 jac: Optional[NDArray[np.float64]] = None) -> NDArray[np.float64]:
    """Return J^T (J J^T + l^2 I)^-1 d, scaled to at most MAX_SAMPLE_JOINT_STEP_RAD."""
    jac = chain.jacobian(joints) if jac is None else jac
    delta = damped_least_norm(jac, offsets, (SAMPLE_DAMPING_FRACTION * chain.reach) ** 2)
    biggest = np.max(np.abs(delta), axis=-1, keepdims=True)
    return delta * np.minimum(1.0, MAX_SAMPLE_JOINT_STEP_RAD / np.maximum(biggest, 1e-300))


def _residual_and_jacobian(chain: KinematicChain, joints: NDArray[np.float64],
                           target: NDArray[np.float64]) -> tuple:
    """Return the error toward the targets and its Jacobian (positions or poses)."""
    if target.shape[-1] == POSE_TARGET_WIDTH:
        return pose_residuals(chain.tool_frames(joints), target), chain.pose_jacobian(joints)
    return target - chain.fk(joints), chain.jacobian(joints)


def _solve_exactly(chain: KinematicChain, joints: NDArray[np.float64],
                   target: NDArray[np.float64], comfort: NDArray[np.float64],
                   active_set: bool, iterations: int = 8) -> tuple:
    """
    Return least-norm Gauss-Newton solutions from ``joints`` and which reached the target.

    With ``active_set`` a joint an iteration would carry past its limit stops there and the
    other joints take up the rest of the error (as the solver's refinement does); without
    it the step is clipped. Clipping alone leaves a redundant arm folded against a limit
    with no label at all (the least-norm step pushes into the limit, the clip undoes it, the
    problem is dropped), so the network never learned to leave that pose.
    """
    limited = ~chain.continuous
    lower, upper = np.where(limited, chain.lower, 0.0), np.where(limited, chain.upper, 0.0)
    lo = np.where(limited, chain.lower, -np.inf)
    hi = np.where(limited, chain.upper, np.inf)
    middle = (lower + upper) / 2.0
    half = np.where(limited, (upper - lower) / 2.0, 1.0)
    x = joints.copy()
    for k in range(iterations):
        error, jac = _residual_and_jacobian(chain, x, target)
        pinv = np.linalg.pinv(jac)
        step = (pinv @ error[..., None])[..., 0]
        if k == 0:
            gradient = np.where(limited, 2.0 * (x - middle) / half ** 2, 0.0)
            null = np.eye(chain.n_joints) - pinv @ jac
            step -= comfort[:, None] * (null @ gradient[..., None])[..., 0]
        if active_set:
            step = stop_at_limits(x, step, jac, error, lo, hi, least_norm)
        x = _limited(chain, x + step)
    error, _ = _residual_and_jacobian(chain, x, target)
    gap = np.linalg.norm(error[..., :3], axis=-1)
    if error.shape[-1] == 6:
        gap = np.maximum(gap, chain.reach * np.linalg.norm(error[..., 3:], axis=-1))
    move = np.max(np.abs(x - joints), axis=-1)
    return x, (gap <= 1e-9 * chain.reach) & (move <= 2.0 * MAX_SAMPLE_JOINT_STEP_RAD)


def reachable_targets(chain: KinematicChain, rng: np.random.Generator,
                      count: int) -> NDArray[np.float64]:
    """Return tip positions of joint vectors drawn uniformly within the chain's limits."""
    return chain.fk(chain.random_configurations(rng, count))
