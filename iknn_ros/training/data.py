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
Training samples: the continuous design (ours) and seed 1's grid.

``continuous`` draws current angles uniformly within the joint limits and task-space steps
in a disk of radius ``step_m`` (half of them log-uniformly small, so the last millimetres
of an approach are learned too); its label is the closed-form solution on the current
elbow branch, so nothing but the target tells the network where to go (see
:mod:`iknn_ros.kinematics.sampling`). ``seed1_grid`` is seed 1's data as its report describes it.
"""

from __future__ import annotations

from iknn_ros.kinematics import KinematicChain
from iknn_ros.kinematics.sampling import pose_step_samples
from iknn_ros.kinematics.sampling import Samples
from iknn_ros.kinematics.sampling import step_samples
from iknn_ros.training.config import DataConfig
import numpy as np


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
                 rng: np.random.Generator, target_mode: str = 'position') -> Samples:
    """Return the training samples the configuration asks for."""
    if config.sampler == 'seed1_grid':
        return seed1_grid_samples(chain, config, rng)
    if target_mode == 'pose':
        return pose_step_samples(chain, rng, config.samples, config.step_m, config.step_rad,
                                 config.small_step_share, config.min_step_fraction,
                                 config.comfort_gain, config.active_set_labels)
    return step_samples(chain, rng, config.samples, config.step_m, config.small_step_share,
                        config.min_step_fraction, config.comfort_gain,
                        config.active_set_labels)
