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
Training samples: (current angles, target, branch) -> joint increment that reaches it.

``continuous`` (ours) draws current angles uniformly within the joint limits and task-space
steps uniformly in a disk of radius ``step_m`` (half of them log-uniformly small, so the
last millimetres of an approach are learned too). Its label is the closed-form solution on
the current elbow branch, so the network must use the target: nothing but the target
tells it where to go. ``seed1_grid`` is seed 1's data as its report describes it.
"""

from __future__ import annotations

import dataclasses
import math

from iknn_ros.kinematics import KinematicChain
from iknn_ros.kinematics import TwoLinkGeometry
from iknn_ros.kinematics import wrap_to_pi
from iknn_ros.training.config import DataConfig
import numpy as np
from numpy.typing import NDArray

# Near the stretched arm either elbow is consistent with the state: train both, so the
# solver may hold its elbow choice (hysteresis) while the arm passes through stretch.
_EITHER_BRANCH_BAND_RAD = 0.05


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


def branch_of(chain: KinematicChain, joints: NDArray[np.float64],
              rng: np.random.Generator) -> NDArray[np.float64]:
    """Return the elbow branch (+1/-1) of joint vectors; random near the stretched arm."""
    geometry = TwoLinkGeometry.of(chain)
    psi = geometry.elbow_angle(joints)
    branch = np.where(np.sin(psi) >= 0.0, 1.0, -1.0)
    either = np.abs(np.sin(psi)) < math.sin(_EITHER_BRANCH_BAND_RAD)
    return np.where(either, rng.choice([-1.0, 1.0], size=branch.shape), branch)


def step_offsets(rng: np.random.Generator, count: int, dim: int, config: DataConfig
                 ) -> NDArray[np.float64]:
    """Return task-space steps: uniform in the ball of radius step_m, plus small ones."""
    direction = rng.normal(size=(count, dim))
    direction /= np.linalg.norm(direction, axis=-1, keepdims=True)
    uniform_in_ball = config.step_m * rng.uniform(size=count) ** (1.0 / dim)
    log_small = config.step_m * np.exp(rng.uniform(math.log(config.min_step_fraction), 0.0,
                                                   size=count))
    radius = np.where(rng.uniform(size=count) < config.small_step_share, log_small,
                      uniform_in_ball)
    return direction * radius[:, None]


def continuous_samples(chain: KinematicChain, config: DataConfig, rng: np.random.Generator,
                       count: int) -> Samples:
    """Return ``count`` samples of the continuous design (see the module docstring)."""
    geometry = TwoLinkGeometry.of(chain)
    parts = []
    have = 0
    while have < count:
        batch = int((count - have) * 1.3) + 1000
        joints = chain.random_configurations(rng, batch)
        branch = branch_of(chain, joints, rng)
        target = chain.fk(joints) + step_offsets(rng, batch, chain.target_dim, config)
        solution, ok = geometry.ik(target, branch)
        delta = solution - joints
        delta = np.where(chain.continuous, wrap_to_pi(delta), delta)
        keep = np.flatnonzero(ok)[:count - have]
        parts.append(Samples(joints[keep], target[keep], branch[keep], delta[keep]))
        have += keep.size
    return Samples(*(np.concatenate([getattr(p, f.name) for p in parts])
                     for f in dataclasses.fields(Samples)))


def seed1_grid_samples(chain: KinematicChain, config: DataConfig,
                       rng: np.random.Generator) -> Samples:
    """
    Return seed 1's data set on this chain.

    For every grid point ``q_next`` in ``{0, grid_step, ..., grid_max}`` per joint, draw
    ``perturbations`` current angles ``q_next + U(-p, p)``; the target is ``FK(q_next)``.
    Angles are used raw, as the seed did (no wrapping, no limits).
    """
    axis = np.arange(0.0, config.grid_max_rad + 1e-9, config.grid_step_rad)
    grid = np.stack(np.meshgrid(*([axis] * chain.n_joints), indexing='ij'),
                    axis=-1).reshape(-1, chain.n_joints)
    next_joints = np.repeat(grid, config.perturbations, axis=0)
    joints = next_joints + rng.uniform(-config.perturbation_rad, config.perturbation_rad,
                                       size=next_joints.shape)
    return Samples(joints=joints, target=chain.fk(next_joints),
                   branch=np.ones(len(joints)), delta=next_joints - joints)


def make_samples(chain: KinematicChain, config: DataConfig,
                 rng: np.random.Generator) -> Samples:
    """Return the training samples the configuration asks for."""
    if config.sampler == 'seed1_grid':
        return seed1_grid_samples(chain, config, rng)
    return continuous_samples(chain, config, rng, config.samples)
