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
(so the file applied in the namespace), a goal on /goal_pose must be reached, and every
process must end with exit code 0 when launch_testing stops them.

Runs under ``colcon test`` with ROS 2 installed (.github/workflows/ros.yml, Humble and
Jazzy); skipped where launch_testing cannot be imported, as on the project's own CI machine.
"""

import math
from pathlib import Path
import time
import unittest

import pytest

launch_testing = pytest.importorskip(
    'launch_testing', reason='launch_testing is not installed (no ROS 2 launch stack); '
    '.github/workflows/ros.yml runs this test with colcon test on Humble and Jazzy')

from ament_index_python.packages import get_package_share_directory  # noqa: E402, I100
from geometry_msgs.msg import PoseStamped  # noqa: E402
from iknn_ros.kinematics import KinematicChain  # noqa: E402
from launch import LaunchDescription  # noqa: E402
from launch.actions import GroupAction  # noqa: E402
from launch.actions import IncludeLaunchDescription  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402
from launch_ros.actions import PushRosNamespace  # noqa: E402
import launch_testing.actions  # noqa: E402
import launch_testing.asserts  # noqa: E402
import numpy as np  # noqa: E402
import rclpy  # noqa: E402
from sensor_msgs.msg import JointState  # noqa: E402
import yaml  # noqa: E402

ARMS = ('two_link_arm', 'three_link_arm', 'spatial_arm')
NAMESPACE = 'arm1'


def share() -> Path:
    return Path(get_package_share_directory('iknn_ros'))


@pytest.mark.launch_test
@launch_testing.parametrize('arm', ARMS)
def generate_test_description(arm):
    demo = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(str(share() / 'launch' / 'demo.launch.py')),
        launch_arguments={'arm': arm, 'use_rviz': 'false'}.items())
    return LaunchDescription([GroupAction([PushRosNamespace(NAMESPACE), demo]),
                              launch_testing.actions.ReadyToTest()]), {'arm_name': arm}


class TestTheNamespacedDemo(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        rclpy.init()
        cls.node = rclpy.create_node('launch_test_probe')

    @classmethod
    def tearDownClass(cls):
        cls.node.destroy_node()
        rclpy.shutdown()

    def spin_until(self, condition, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end and not condition():
            rclpy.spin_once(self.node, timeout_sec=0.05)
        return condition()

    def test_starts_as_its_file_says_and_reaches_a_goal(self, arm_name):
        chain = KinematicChain.from_urdf(share() / 'urdf' / f'{arm_name}.urdf')
        params = yaml.safe_load((share() / 'config' / (
            'iknn.yaml' if arm_name == 'two_link_arm' else f'{arm_name}.yaml')).read_text())
        start = params['/**/sim_arm']['ros__parameters']['initial_positions']
        states = []
        self.node.create_subscription(JointState, f'/{NAMESPACE}/joint_states',
                                      states.append, 10)
        self.assertTrue(self.spin_until(lambda: states, 30.0), 'no joint states in /arm1')
        first = states[0]
        self.assertEqual(list(first.name), list(chain.joint_names))
        np.testing.assert_allclose(first.position, start, atol=1e-3)
        # A goal the arm can reach: the tip at a pose inside the limits.
        q = np.array([0.5 * (lo + hi) if math.isfinite(lo + hi) else 0.4
                      for lo, hi in zip(chain.lower, chain.upper)]) + 0.3
        goal = chain.fk(q)
        msg = PoseStamped()
        msg.header.frame_id = chain.base_link
        msg.pose.position.x, msg.pose.position.y = float(goal[0]), float(goal[1])
        msg.pose.position.z = float(goal[2]) if len(goal) > 2 else 0.0
        msg.pose.orientation.w = 1.0
        goals = self.node.create_publisher(PoseStamped, '/goal_pose', 10)

        def reached():
            if not states:
                return False
            positions = dict(zip(states[-1].name, states[-1].position))
            tip = chain.fk(np.array([positions[n] for n in chain.joint_names]))
            return float(np.linalg.norm(tip - goal)) < 1e-3

        self.assertTrue(self.spin_until(lambda: goals.get_subscription_count() > 0, 30.0))
        goals.publish(msg)
        self.assertTrue(self.spin_until(reached, 30.0), f'{arm_name} did not reach {goal}')


@launch_testing.post_shutdown_test()
class TestEveryProcessExitsCleanly(unittest.TestCase):

    def test_exit_codes(self, proc_info):
        launch_testing.asserts.assertExitCodes(proc_info)
