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

from iknn_ros.kinematics import KinematicChain
from iknn_ros.kinematics import TwoLinkGeometry
from iknn_ros.kinematics import wrap_to_pi
import numpy as np
from numpy.typing import NDArray

# Near the stretched arm either elbow is consistent with the state: train both, so the
# solver may hold its elbow choice (hysteresis) while the arm passes through stretch.
EITHER_BRANCH_BAND_RAD = 0.05


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


def step_samples(chain: KinematicChain, rng: np.random.Generator, count: int, step_m: float,
                 small_step_share: float = 0.0, min_step_fraction: float = 1e-4) -> Samples:
    """
    Return ``count`` reachable one-step problems with their elbow-consistent answers.

    Current angles are uniform within the limits; the target is the tip plus a step of at
    most ``step_m``; the label is the closed-form solution on the current elbow branch
    (targets that branch cannot reach within the limits are drawn again).
    """
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


def reachable_targets(chain: KinematicChain, rng: np.random.Generator,
                      count: int) -> NDArray[np.float64]:
    """Return tip positions of joint vectors drawn uniformly within the chain's limits."""
    return chain.fk(chain.random_configurations(rng, count))
