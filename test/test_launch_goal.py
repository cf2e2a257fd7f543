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
launch_testing: demo.launch.py in a namespace, every shipped arm, reaches a goal.

The demo is included under ``PushRosNamespace('arm1')`` with ``use_rviz:=false``, as a
multi-arm set-up would include it: sim_arm must start where the arm's parameter file says
(so the file applied in the namespace), a goal on /goal_pose must be reached, a drag of
the goal marker (its feedback, as RViz publishes it) must move the arm there, and every
process must end with exit code 0 when launch_testing stops them.

Runs under ``colcon test`` with ROS 2 installed (.github/workflows/ros.yml, Humble and
Jazzy); skipped where launch_testing cannot be imported, as on the project's own CI machine.
"""

import unittest

import pytest

launch_testing = pytest.importorskip(
    'launch_testing', reason='launch_testing is not installed (no ROS 2 launch stack); '
    '.github/workflows/ros.yml runs this test with colcon test on Humble and Jazzy')

from launch import LaunchDescription  # noqa: E402, I100
from launch.actions import GroupAction  # noqa: E402
from launch.actions import IncludeLaunchDescription  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402
from launch_checks import ARMS  # noqa: E402
from launch_checks import GoalCase  # noqa: E402
from launch_checks import installed  # noqa: E402
from launch_checks import share  # noqa: E402
from launch_ros.actions import PushRosNamespace  # noqa: E402
import launch_testing.actions  # noqa: E402
import launch_testing.asserts  # noqa: E402

NAMESPACE = 'arm1'
# robot_state_publisher only publishes TF here; where it is not installed (a launch stack
# built from source) the demo runs without it rather than not at all.
USE_RSP = 'true' if installed('robot_state_publisher') else 'false'


@pytest.mark.launch_test
@launch_testing.parametrize('arm', ARMS)
def generate_test_description(arm):
    demo = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(str(share() / 'launch' / 'demo.launch.py')),
        launch_arguments={'arm': arm, 'use_rviz': 'false', 'use_rsp': USE_RSP}.items())
    return LaunchDescription([GroupAction([PushRosNamespace(NAMESPACE), demo]),
                              launch_testing.actions.ReadyToTest()]), {'arm_name': arm}


class TestTheNamespacedDemo(GoalCase):

    def test_starts_as_its_file_says_and_reaches_a_goal(self, arm_name):
        self.check_start_and_goal(arm_name, f'/{NAMESPACE}')

    # unittest runs a case's tests in name order: this one after the start is checked.
    def test_then_a_drag_of_the_goal_marker_moves_the_arm(self, arm_name):
        self.check_marker_drag(arm_name, f'/{NAMESPACE}')


@launch_testing.post_shutdown_test()
class TestEveryProcessExitsCleanly(unittest.TestCase):

    def test_exit_codes(self, proc_info):
        launch_testing.asserts.assertExitCodes(proc_info)
