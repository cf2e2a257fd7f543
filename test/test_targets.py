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


"""Targets: quaternions, and the target modes each chain can hold."""

from conftest import FIVE, REPO_ROOT as REPO, SEVEN
from iknn_ros.kinematics import KinematicChain
from iknn_ros.kinematics.targets import check_mode
from iknn_ros.kinematics.targets import matrix_to_quaternion
from iknn_ros.kinematics.targets import quaternion_to_matrix
from iknn_ros.kinematics.targets import TargetMode
import numpy as np
import pytest


def test_quaternions_round_trip_and_normalise():
    rng = np.random.default_rng(0)
    for quaternion in rng.normal(size=(200, 4)):
        rotation = quaternion_to_matrix(*quaternion)
        np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-12)
        back = np.array(matrix_to_quaternion(rotation))
        expected = quaternion / np.linalg.norm(quaternion) * np.sign(quaternion[3])
        np.testing.assert_allclose(back, expected, atol=1e-12)


def test_each_chain_takes_the_modes_it_can_hold():
    assert check_mode(KinematicChain.from_urdf(SEVEN), 'pose') is TargetMode.POSE
    three = KinematicChain.from_urdf(REPO / 'urdf' / 'three_link_arm.urdf')
    assert check_mode(three, 'planar_pose') is TargetMode.PLANAR_POSE
    with pytest.raises(ValueError, match='six joints or more'):
        check_mode(KinematicChain.from_urdf(REPO / 'urdf' / 'spatial_arm.urdf'), 'pose')
    with pytest.raises(ValueError, match='three joints or more'):
        check_mode(KinematicChain.from_urdf(REPO / 'urdf' / 'two_link_arm.urdf'),
                   'planar_pose')
    with pytest.raises(ValueError, match="one of \\['position', 'pose', 'planar_pose', "
                                         "'tool_axis'\\]"):
        check_mode(three, 'orientation')
    five = KinematicChain.from_urdf(FIVE)
    assert five.n_joints == 5
    assert check_mode(five, 'tool_axis') is TargetMode.TOOL_AXIS
    with pytest.raises(ValueError, match='six joints or more'):
        check_mode(five, 'pose')
    with pytest.raises(ValueError, match='five joints or more'):
        check_mode(KinematicChain.from_urdf(REPO / 'urdf' / 'spatial_arm.urdf'), 'tool_axis')
