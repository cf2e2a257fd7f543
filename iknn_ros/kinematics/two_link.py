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

"""The planar 2R chain in closed form: the oracle the tests and the exact annulus use."""

from __future__ import annotations

import dataclasses
import math

from iknn_ros.kinematics.angles import TWO_PI
from iknn_ros.kinematics.angles import wrap_to_pi
from iknn_ros.kinematics.chain import KinematicChain
import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]


@dataclasses.dataclass(frozen=True)
class TwoLinkGeometry:
    """
    A planar chain of two joints reduced to two link vectors.

    ``tip = base + R(phi1) @ (link1 + R(theta2) @ link2)`` with
    ``phi1 = yaw1 + sign1 * q1`` and ``theta2 = yaw2 + sign2 * q2``. The elbow angle
    ``psi = theta2 + angle(link2) - angle(link1)`` is the angle between the two link
    vectors: 0 stretched, pi folded; the elbow branch is the sign of ``sin(psi)``.
    """

    base: FloatArray
    link1: FloatArray
    link2: FloatArray
    yaw1: float
    yaw2: float
    sign1: float
    sign2: float
    lower: FloatArray
    upper: FloatArray

    @classmethod
    def of(cls, chain: KinematicChain) -> 'TwoLinkGeometry':
        """Return the geometry of a planar two-joint chain, or raise ValueError."""
        planar = chain.planar
        if planar is None or chain.n_joints != 2:
            raise ValueError(f'the closed-form 2R solution needs a planar chain of two joints; '
                             f'{chain!r} is not one')
        return cls(base=planar.offsets[0].copy(), link1=planar.offsets[1].copy(),
                   link2=planar.tip_offset.copy(), yaw1=float(planar.yaw_offsets[0]),
                   yaw2=float(planar.yaw_offsets[1]), sign1=float(planar.axis_signs[0]),
                   sign2=float(planar.axis_signs[1]), lower=chain.lower, upper=chain.upper)

    @property
    def lengths(self) -> tuple[float, float]:
        """Return the two link lengths."""
        return float(np.hypot(*self.link1)), float(np.hypot(*self.link2))

    @property
    def _psi_offset(self) -> float:
        return (self.yaw2 + math.atan2(self.link2[1], self.link2[0])
                - math.atan2(self.link1[1], self.link1[0]))

    def elbow_angle(self, q: ArrayLike) -> FloatArray:
        """Return the elbow angle psi wrapped to [-pi, pi), shape ``(...)``."""
        q = np.asarray(q, dtype=np.float64)
        return wrap_to_pi(self.sign2 * q[..., 1] + self._psi_offset)

    def elbow(self, q: ArrayLike) -> FloatArray:
        """Return the elbow branch of joint vectors: +1, -1, or 0 when stretched or folded."""
        return np.sign(np.sin(self.elbow_angle(q)))

    def radius_range(self) -> tuple[float, float]:
        """Return the smallest and largest tip distance from joint1's axis within limits."""
        l1, l2 = self.lengths
        lo, hi = self.lower[1], self.upper[1]
        if not (math.isfinite(lo) and math.isfinite(hi)) or hi - lo >= TWO_PI:
            return abs(l1 - l2), l1 + l2
        psi_lo, psi_hi = sorted((self.sign2 * lo + self._psi_offset,
                                 self.sign2 * hi + self._psi_offset))

        def nearest_in_range(angle: float) -> float:
            # The value of psi in [psi_lo, psi_hi] whose cosine is closest to cos(angle).
            best, best_gap = psi_lo, math.inf
            for candidate in (psi_lo, psi_hi):
                gap = abs(wrap_to_pi(candidate - angle))
                if gap < best_gap:
                    best, best_gap = candidate, gap
            k = math.ceil((psi_lo - angle) / TWO_PI)
            if angle + k * TWO_PI <= psi_hi:
                return angle
            return best

        def radius(psi: float) -> float:
            return math.sqrt(max(l1 * l1 + l2 * l2 + 2.0 * l1 * l2 * math.cos(psi), 0.0))

        return radius(nearest_in_range(math.pi)), radius(nearest_in_range(0.0))

    def ik(self, targets: ArrayLike, elbow: ArrayLike) -> tuple[FloatArray, NDArray[np.bool_]]:
        """
        Solve the closed form for tip targets ``(..., 2)`` on the given elbow branch.

        Returns joint vectors ``(..., 2)`` and a mask of solutions that exist and lie
        within the joint limits. Continuous angles come back in [-pi, pi); limited ones are
        moved by whole turns into their limits when that is possible.
        """
        targets = np.asarray(targets, dtype=np.float64)
        branch = np.where(np.asarray(elbow, dtype=np.float64) < 0.0, -1.0, 1.0)
        l1, l2 = self.lengths
        u = targets - self.base
        r2 = np.sum(u * u, axis=-1)
        cos_psi = (r2 - l1 * l1 - l2 * l2) / (2.0 * l1 * l2)
        exists = np.abs(cos_psi) <= 1.0 + 1e-12
        psi = branch * np.arccos(np.clip(cos_psi, -1.0, 1.0))
        q2 = (psi - self._psi_offset) / self.sign2
        theta2 = self.sign2 * q2 + self.yaw2
        c2, s2 = np.cos(theta2), np.sin(theta2)
        elbow_x = self.link1[0] + c2 * self.link2[0] - s2 * self.link2[1]
        elbow_y = self.link1[1] + s2 * self.link2[0] + c2 * self.link2[1]
        phi1 = np.arctan2(u[..., 1], u[..., 0]) - np.arctan2(elbow_y, elbow_x)
        q1 = (phi1 - self.yaw1) / self.sign1
        q = np.stack([q1, q2], axis=-1)
        q, inside = _into_limits(q, self.lower, self.upper)
        return q, exists & inside


def _into_limits(q: FloatArray, lower: FloatArray,
                 upper: FloatArray) -> tuple[FloatArray, NDArray[np.bool_]]:
    """Shift angles by whole turns into their limits where possible; wrap unlimited ones."""
    out = wrap_to_pi(q)
    finite = np.isfinite(lower) & np.isfinite(upper)
    # The representative just above the lower limit, then check it is below the upper.
    base = np.where(finite, lower, 0.0)
    shifted = base + np.mod(out - base, TWO_PI)
    shifted = np.where(np.isclose(shifted - TWO_PI, base, atol=1e-12), base, shifted)
    out = np.where(finite, shifted, out)
    inside = np.all(~finite | (out <= upper + 1e-12), axis=-1)
    return out, inside
