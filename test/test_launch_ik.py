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
launch_testing: ik.launch.py for each shipped arm, with sim_arm started as a robot would be.

The IK node comes from ik.launch.py (``urdf:=`` the arm, ``output_mode:=joint_state``);
sim_arm is started beside it with the arm's shipped parameter file, standing in for the
servos. A goal on /goal_pose must be reached and every process must exit with code 0.

Runs under ``colcon test`` with ROS 2 installed (.github/workflows/ros.yml); skipped where
launch_testing cannot be imported.
"""

import unittest

import pytest

launch_testing = pytest.importorskip(
    'launch_testing', reason='launch_testing is not installed (no ROS 2 launch stack); '
    '.github/workflows/ros.yml runs this test with colcon test on Humble and Jazzy')

from launch import LaunchDescription  # noqa: E402, I100
from launch.actions import IncludeLaunchDescription  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402
from launch_checks import ARMS  # noqa: E402
from launch_checks import GoalCase  # noqa: E402
from launch_checks import share  # noqa: E402
from launch_ros.actions import Node  # noqa: E402
import launch_testing.actions  # noqa: E402
import launch_testing.asserts  # noqa: E402


@pytest.mark.launch_test
@launch_testing.parametrize('arm', ARMS)
def generate_test_description(arm):
    urdf = share() / 'urdf' / f'{arm}.urdf'
    params = share() / 'config' / ('iknn.yaml' if arm == 'two_link_arm' else f'{arm}.yaml')
    ik = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(str(share() / 'launch' / 'ik.launch.py')),
        launch_arguments={'urdf': str(urdf), 'params_file': str(params),
                          'output_mode': 'joint_state'}.items())
    servos = Node(package='iknn_ros', executable='sim_arm', name='sim_arm', output='screen',
                  parameters=[str(params), {'urdf_path': str(urdf)}])
    return LaunchDescription([servos, ik, launch_testing.actions.ReadyToTest()]), {
        'arm_name': arm}


class TestTheIKLaunch(GoalCase):

    def test_drives_the_simulated_arm_to_a_goal(self, arm_name):
        self.check_start_and_goal(arm_name)


@launch_testing.post_shutdown_test()
class TestEveryProcessExitsCleanly(unittest.TestCase):

    def test_exit_codes(self, proc_info):
        launch_testing.asserts.assertExitCodes(proc_info)
