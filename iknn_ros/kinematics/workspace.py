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

"""Where a chain's tip can go: the exact annulus of planar arms, numerical projection else."""

from __future__ import annotations

import abc
import dataclasses
import math
from typing import Optional

from iknn_ros.kinematics.angles import wrap_to_pi
from iknn_ros.kinematics.chain import KinematicChain
from iknn_ros.kinematics.least_squares import damped_least_norm
from iknn_ros.kinematics.least_squares import leave_blocked_joints
from iknn_ros.kinematics.two_link import TwoLinkGeometry
import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]


class Workspace(abc.ABC):
    """The set of tip positions a chain reaches within its joint limits."""

    def contains(self, points: ArrayLike, tolerance: float = 1e-9) -> NDArray[np.bool_]:
        """Return whether each point ``(..., d)`` is reachable within ``tolerance``."""
        points = np.asarray(points, dtype=np.float64)
        gap = np.linalg.norm(self.project(points) - points, axis=-1)
        return gap <= tolerance

    @abc.abstractmethod
    def project(self, points: ArrayLike, toward: Optional[ArrayLike] = None) -> FloatArray:
        """
        Return the nearest reachable point to each point ``(..., d)``.

        ``toward`` (same shape) breaks ties where many reachable points are equally near
        (the centre of an annulus): the one nearest to it is chosen.
        """


@dataclasses.dataclass(frozen=True)
class AnnulusWorkspace(Workspace):
    """The reachable set of a planar 2R chain whose first joint turns freely."""

    center: FloatArray
    r_min: float
    r_max: float

    def contains(self, points: ArrayLike, tolerance: float = 1e-9) -> NDArray[np.bool_]:
        """Return whether each point is inside the annulus (within ``tolerance``)."""
        r = np.linalg.norm(np.asarray(points, dtype=np.float64) - self.center, axis=-1)
        return (r >= self.r_min - tolerance) & (r <= self.r_max + tolerance)

    def project(self, points: ArrayLike, toward: Optional[ArrayLike] = None) -> FloatArray:
        """Return each point moved radially onto the annulus (points inside are unchanged)."""
        u = np.asarray(points, dtype=np.float64) - self.center
        r = np.linalg.norm(u, axis=-1, keepdims=True)
        fallback = np.array([1.0, 0.0])
        if toward is not None:
            # At the exact centre, head for the side of the annulus nearest to ``toward``.
            t = np.asarray(toward, dtype=np.float64) - self.center
            t_norm = np.linalg.norm(t, axis=-1, keepdims=True)
            fallback = np.where(t_norm > 0.0, t / np.where(t_norm > 0.0, t_norm, 1.0), fallback)
        direction = np.where(r > 0.0, u / np.where(r > 0.0, r, 1.0), fallback)
        radius = np.clip(r, self.r_min, self.r_max)
        return self.center + direction * radius


# A numerically found tip this close to a target reaches it (rounding, not geometry).
EXACT_GAP_M = 1e-10
MAX_DAMPING = 1e6


class NumericWorkspace(Workspace):
    """
    The reachable set of any chain, found by minimising tip distance within joint limits.

    Projected Levenberg-Marquardt from a grid of starts over the joint box: exact to the
    solver tolerance wherever one start lies in the basin of the nearest point, which the
    grid density makes the case for chains of up to four joints.
    """

    def __init__(self, chain: KinematicChain, starts_per_joint: Optional[int] = None,
                 coarse_iterations: int = 40, polish_iterations: int = 400,
                 polished: int = 8) -> None:
        self.chain = chain
        n = chain.n_joints
        k = starts_per_joint or max(3, int(round(1500 ** (1.0 / n))))
        lo = np.where(chain.continuous, -math.pi, chain.lower)
        hi = np.where(chain.continuous, math.pi, chain.upper)
        axes = [np.linspace(lo[i], hi[i], k + 2)[1:-1] for i in range(n)]
        self._starts = np.stack(np.meshgrid(*axes, indexing='ij'), axis=-1).reshape(-1, n)
        self._coarse_iterations = coarse_iterations
        self._polish_iterations = polish_iterations
        self._polished = polished

    @property
    def starts(self) -> FloatArray:
        """Return the grid of starting joint vectors (one row each)."""
        return self._starts

    def settings(self) -> dict:
        """Return the iteration counts of :meth:`solve` (the browser's port runs them too)."""
        return {'coarse_iterations': self._coarse_iterations,
                'polish_iterations': self._polish_iterations, 'polished': self._polished}

    def solve(self, target: ArrayLike,
              seeds: Optional[ArrayLike] = None) -> tuple[FloatArray, float]:
        """
        Return joint angles within limits whose tip is nearest ``target``, and that gap.

        ``seeds`` (joint vectors, e.g. the arm's current pose) are tried first: when one
        of them reaches the target exactly, the grid of starts is not needed.
        """
        target = np.asarray(target, dtype=np.float64)
        if seeds is not None:
            tried = _bounded_least_squares(self.chain, np.atleast_2d(seeds), target,
                                           self._polish_iterations // 4, EXACT_GAP_M)
            gaps = np.linalg.norm(self.chain.fk(tried) - target, axis=-1)
            best = int(np.argmin(gaps))
            if gaps[best] <= EXACT_GAP_M:
                return tried[best], float(gaps[best])
        q = self._starts if seeds is None else np.vstack([np.atleast_2d(seeds), self._starts])
        q = _bounded_least_squares(self.chain, q, target, self._coarse_iterations)
        # Near-flat distance functions (targets near an axis) converge slowly: polish only
        # the few best candidates for longer.
        gaps = np.linalg.norm(self.chain.fk(q) - target, axis=-1)
        best = q[np.argsort(gaps)[:self._polished]]
        best = _bounded_least_squares(self.chain, best, target, self._polish_iterations)
        gaps = np.linalg.norm(self.chain.fk(best) - target, axis=-1)
        winner = int(np.argmin(gaps))
        return best[winner], float(gaps[winner])

    def nearest_solution(self, target: ArrayLike, joints: ArrayLike) -> Optional[FloatArray]:
        """
        Return the solution reaching ``target`` nearest to ``joints`` (None: unreachable).

        All starts are solved; the nearest few to the target are polished, and of those
        that reach it the one with the least joint motion from ``joints`` wins (see
        :func:`nearest_keeping_elbows`). Gaps within EXACT_GAP_M count as equal; among
        them, ends that keep the bent elbows come first, then the least joint motion: which
        of many exact ends rounding puts first is no choice (a redundant arm's starts end
        all over its self-motion), and the browser's port makes the same one.
        """
        target = np.asarray(target, dtype=np.float64)
        joints = np.asarray(joints, dtype=np.float64)
        q = _bounded_least_squares(self.chain, np.vstack([joints, self._starts]), target,
                                   self._coarse_iterations)
        gaps = np.linalg.norm(self.chain.fk(q) - target, axis=-1)
        _, motion, flips = motion_and_flips(self.chain, q, joints)
        order = np.lexsort((motion, flips, np.maximum(gaps, EXACT_GAP_M)))
        close = q[order[:4 * self._polished]]
        close = _bounded_least_squares(self.chain, close, target, self._polish_iterations)
        gaps = np.linalg.norm(self.chain.fk(close) - target, axis=-1)
        reached = close[gaps <= EXACT_GAP_M]
        if len(reached) == 0:
            return None
        return nearest_keeping_elbows(self.chain, reached, joints)

    def project(self, points: ArrayLike, toward: Optional[ArrayLike] = None,
                seeds: Optional[ArrayLike] = None) -> FloatArray:
        """Return the nearest reachable point to each point, one minimisation each."""
        points = np.asarray(points, dtype=np.float64)
        flat = points.reshape(-1, points.shape[-1])
        seeds = None if seeds is None else np.asarray(seeds, dtype=np.float64).reshape(
            len(flat), -1)
        out = np.empty_like(flat)
        for i, point in enumerate(flat):
            q, gap = self.solve(point, None if seeds is None else seeds[i])
            # A target reached to rounding is its own projection, exactly.
            out[i] = point if gap <= EXACT_GAP_M else self.chain.fk(q)
        return out.reshape(points.shape)


def motion_and_flips(chain: KinematicChain, candidates: FloatArray, joints: FloatArray,
                     bent_rad: float = 0.05) -> tuple:
    """
    Return, per candidate, the move from ``joints``, its squared length, and elbow flips.

    Continuous joints move the short way round; a flip changes the sign of an elbow joint
    (KinematicChain.elbow_joints) bent more than ``bent_rad``.
    """
    move = candidates - joints
    move = np.where(chain.continuous, wrap_to_pi(move), move)
    elbows = list(chain.elbow_joints())
    bent = np.abs(joints[elbows]) > bent_rad
    flips = np.any(bent & (np.sign(candidates[:, elbows]) != np.sign(joints[elbows])), axis=-1)
    return move, np.sum(move * move, axis=-1), flips


def nearest_keeping_elbows(chain: KinematicChain, candidates: FloatArray, joints: FloatArray,
                           bent_rad: float = 0.05) -> FloatArray:
    """
    Return the candidate with the least joint motion from ``joints`` that flips no elbow.

    A bent elbow keeps its sign unless no candidate keeps them all (:func:`motion_and_flips`);
    the answer is ``joints`` plus the move.
    """
    move, motion, flips = motion_and_flips(chain, candidates, joints, bent_rad)
    pool = ~flips if np.any(~flips) else np.ones(len(candidates), dtype=bool)
    cost = np.where(pool, motion, np.inf)
    return joints + move[int(np.argmin(cost))]


def _bounded_least_squares(chain: KinematicChain, q: FloatArray, target: FloatArray,
                           iterations: int, enough_gap: float = 0.0) -> FloatArray:
    """Minimise tip distance within the limits; stop early once every row is within enough_gap."""
    lo, hi = chain.lower, chain.upper
    damping = np.full(q.shape[0], 1e-3)
    q = np.clip(q, lo, hi)
    err = target - chain.fk(q)
    cost = np.sum(err * err, axis=-1)
    for _ in range(iterations):
        if np.all(cost <= enough_gap * enough_gap):
            break
        jac = chain.jacobian(q)
        step = leave_blocked_joints(q, damped_least_norm(jac, err, damping), jac, err, lo, hi,
                                    lambda free, rest: damped_least_norm(free, rest, damping))
        trial = np.clip(q + step, lo, hi)
        trial_err = target - chain.fk(trial)
        trial_cost = np.sum(trial_err * trial_err, axis=-1)
        better = trial_cost < cost
        if not better.any() and np.all(damping >= MAX_DAMPING):
            # Every row failed at the largest damping: each further iteration would try
            # exactly this step again, so the answer is final.
            break
        q = np.where(better[:, None], trial, q)
        err = np.where(better[:, None], trial_err, err)
        cost = np.where(better, trial_cost, cost)
        damping = np.clip(np.where(better, damping * 0.3, damping * 10.0), 1e-12, MAX_DAMPING)
    return q


def workspace_of(chain: KinematicChain) -> Workspace:
    """
    Return the reachable set of a chain.

    A planar chain whose first joint turns freely is symmetric about that joint's axis, so
    it reaches an annulus around it: exactly for two joints (closed form), with radii found
    numerically for more. Any other chain gets the numerical projection.
    """
    if chain.planar is not None and chain.continuous[0]:
        center = chain.planar.offsets[0].copy()
        if chain.n_joints == 2:
            r_min, r_max = TwoLinkGeometry.of(chain).radius_range()
        else:
            r_min, r_max = _planar_radius_range(chain, center)
        return AnnulusWorkspace(center=center, r_min=r_min, r_max=r_max)
    return NumericWorkspace(chain)


def _planar_radius_range(chain: KinematicChain, center: FloatArray) -> tuple[float, float]:
    """Return the smallest and largest tip distance from a free first joint's axis."""
    numeric = NumericWorkspace(chain)
    _, inner_gap = numeric.solve(center)
    far = 10.0 * chain.reach + 1.0
    _, outer_gap = numeric.solve(center + np.array([far, 0.0]))
    r_min = 0.0 if inner_gap <= EXACT_GAP_M else inner_gap
    return r_min, far - outer_gap
