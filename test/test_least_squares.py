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

"""The one damped least squares: its steps against their definitions, at and off the limits."""

from iknn_ros.kinematics.least_squares import damped_least_norm
from iknn_ros.kinematics.least_squares import least_norm
from iknn_ros.kinematics.least_squares import leave_blocked_joints
from iknn_ros.kinematics.least_squares import stop_at_limits
import numpy as np

RNG = np.random.default_rng(5)


def test_the_damped_step_is_levenbergs_and_tends_to_the_pseudo_inverse():
    jac, error = RNG.normal(size=(50, 3, 7)), RNG.normal(size=(50, 3))
    damping = RNG.uniform(1e-3, 1.0, 50)
    lm = np.linalg.solve(np.swapaxes(jac, -1, -2) @ jac + damping[:, None, None] * np.eye(7),
                         (np.swapaxes(jac, -1, -2) @ error[..., None]))[..., 0]
    np.testing.assert_allclose(damped_least_norm(jac, error, damping), lm, atol=1e-12)
    np.testing.assert_allclose(damped_least_norm(jac, error, 1e-14), least_norm(jac, error),
                               atol=1e-9)
    # One problem: the same call without the batch axis, one damping for it.
    np.testing.assert_allclose(damped_least_norm(jac[0], error[0], damping[0]), lm[0],
                               atol=1e-12)


def test_a_joint_that_would_pass_its_limit_stops_there_and_the_others_take_the_rest():
    jac, error = RNG.normal(size=(200, 3, 7)), RNG.normal(size=(200, 3))
    joints = RNG.uniform(-1.0, 1.0, (200, 7))
    lower, upper = np.full(7, -1.2), np.full(7, 1.2)
    free_step = least_norm(jac, error)
    step = stop_at_limits(joints, free_step, jac, error, lower, upper, least_norm)
    passing = (joints + free_step > upper) | (joints + free_step < lower)
    assert passing.any() and (~passing).any()
    moved = joints + step
    np.testing.assert_allclose(moved[passing], np.where(
        joints + free_step > upper, upper, lower)[passing], atol=1e-15)
    np.testing.assert_array_equal(step[~passing.any(axis=1)], free_step[~passing.any(axis=1)])
    # Four free joints of seven still span three rows: the error is taken up exactly.
    solvable = passing.sum(axis=1) <= 4
    np.testing.assert_allclose((jac @ step[..., None])[..., 0][solvable], error[solvable],
                               atol=1e-9)


def test_a_joint_at_a_limit_the_step_pushes_into_leaves_the_problem():
    jac, error = RNG.normal(size=(100, 3, 7)), RNG.normal(size=(100, 3))
    lower, upper = np.full(7, -1.0), np.full(7, 1.0)
    joints = RNG.uniform(-0.9, 0.9, (100, 7))
    joints[:, 2] = upper[2]
    free_step = least_norm(jac, error)
    step = leave_blocked_joints(joints, free_step, jac, error, lower, upper, least_norm)
    pushed = free_step[:, 2] > 0.0
    assert pushed.any() and (~pushed).any()
    assert np.all(step[pushed, 2] == 0.0)
    np.testing.assert_allclose((jac @ step[..., None])[..., 0][pushed], error[pushed],
                               atol=1e-9)
    np.testing.assert_array_equal(step[~pushed], free_step[~pushed])
