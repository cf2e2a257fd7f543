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


"""Training samples: reachable least-motion steps, and labels out of joint-limit traps."""

from conftest import SPATIAL, THREE
from iknn_ros.kinematics import KinematicChain
from iknn_ros.kinematics.sampling import _solve_exactly
from iknn_ros.kinematics.sampling import least_motion_labels
from iknn_ros.kinematics.sampling import MAX_SAMPLE_JOINT_STEP_RAD
from iknn_ros.kinematics.sampling import step_samples
import numpy as np
import pytest


@pytest.mark.parametrize('urdf', [THREE, SPATIAL])
def test_least_motion_samples_are_reachable_steps(urdf):
    chain = KinematicChain.from_urdf(urdf)
    samples = step_samples(chain, np.random.default_rng(5), 5000, 0.05)
    moved = samples.joints + samples.delta
    np.testing.assert_allclose(chain.fk(moved), samples.target, atol=1e-12)
    assert chain.within_limits(moved).all()
    steps = np.linalg.norm(samples.target - chain.fk(samples.joints), axis=-1)
    # Within the trained step but for the curvature of joint steps of up to 0.5 rad.
    assert np.percentile(steps, 99) < 0.07 and steps.max() < 0.3
    assert np.max(np.abs(samples.delta)) <= 2 * MAX_SAMPLE_JOINT_STEP_RAD + 1e-12
    # Some land beyond the trained step: the evaluation leaves those out (test_evaluate).
    assert np.sum(steps > 0.05) > 20


def test_a_three_link_arm_against_its_limits_gets_a_label_out(three):
    safe = three.with_limit_margin(0.05)
    # Against joint2's upper limit, asked for a 2 cm step the clipped Gauss-Newton iteration
    # cannot solve (its least-norm step pushes into the limit); then an ordinary problem.
    joints = np.array([[0.4, 2.75, 2.33], [0.4, 1.0, 0.5]])
    targets = np.array([[0.1985, -0.1317], safe.fk(np.array([0.42, 1.01, 0.48]))])
    comfort = 2.0 * np.linalg.norm(targets - safe.fk(joints), axis=-1) / 0.05
    clipped, solved = _solve_exactly(safe, joints, targets, comfort, active_set=False)
    assert solved.tolist() == [False, True]
    labels = least_motion_labels(safe, joints, targets, 0.05, 2.0)
    assert len(labels) == 2
    moved = labels.joints + labels.delta
    np.testing.assert_allclose(safe.fk(moved), targets, atol=1e-9)
    assert safe.within_limits(moved, 1e-12).all()
    # The problem clipping solves keeps exactly the label it had.
    np.testing.assert_allclose(moved[1], clipped[1], rtol=0.0, atol=1e-15)
