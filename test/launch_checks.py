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

"""What the launch tests share: the installed package, and a goal sent and reached."""

import math
from pathlib import Path
import time
import unittest

from ament_index_python.packages import get_package_prefix
from ament_index_python.packages import get_package_share_directory
from ament_index_python.packages import PackageNotFoundError
from geometry_msgs.msg import PoseStamped
from iknn_ros.kinematics import KinematicChain
import numpy as np
import rclpy
from sensor_msgs.msg import JointState
import yaml

ARMS = ('two_link_arm', 'three_link_arm', 'spatial_arm')


def installed(package: str) -> bool:
    """Return whether the ament index knows the package."""
    try:
        get_package_prefix(package)
    except PackageNotFoundError:
        return False
    return True


def share() -> Path:
    """Return iknn_ros's installed share folder."""
    return Path(get_package_share_directory('iknn_ros'))


def arm_start(arm: str) -> list:
    """Return where the arm's shipped parameter file starts sim_arm."""
    params = yaml.safe_load((share() / 'config' / (
        'iknn.yaml' if arm == 'two_link_arm' else f'{arm}.yaml')).read_text())
    return params['/**/sim_arm']['ros__parameters']['initial_positions']


class GoalCase(unittest.TestCase):
    """A probe node that checks where an arm starts and that it reaches a goal."""

    @classmethod
    def setUpClass(cls):
        rclpy.init()
        cls.node = rclpy.create_node('launch_test_probe')

    @classmethod
    def tearDownClass(cls):
        cls.node.destroy_node()
        rclpy.shutdown()

    def spin_until(self, condition, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end and not condition():
            rclpy.spin_once(self.node, timeout_sec=0.05)
        return condition()

    def check_start_and_goal(self, arm: str, namespace: str = '') -> None:
        chain = KinematicChain.from_urdf(share() / 'urdf' / f'{arm}.urdf')
        states = []
        topic = f'{namespace}/joint_states'
        self.node.create_subscription(JointState, topic, states.append, 10)
        self.assertTrue(self.spin_until(lambda: states, 30.0), f'no joint states on {topic}')
        self.assertEqual(list(states[0].name), list(chain.joint_names))
        np.testing.assert_allclose(states[0].position, arm_start(arm), atol=1e-3)
        # A goal the arm can reach: the tip at a joint vector inside the limits.
        q = np.array([0.5 * (lo + hi) if math.isfinite(lo) and math.isfinite(hi) else 0.4
                      for lo, hi in zip(chain.lower, chain.upper)]) + 0.3
        goal = chain.fk(q)
        msg = PoseStamped()
        msg.header.frame_id = chain.base_link
        msg.pose.position.x, msg.pose.position.y = float(goal[0]), float(goal[1])
        msg.pose.position.z = float(goal[2]) if len(goal) > 2 else 0.0
        msg.pose.orientation.w = 1.0
        goals = self.node.create_publisher(PoseStamped, '/goal_pose', 10)

        def reached():
            positions = dict(zip(states[-1].name, states[-1].position))
            tip = chain.fk(np.array([positions[n] for n in chain.joint_names]))
            return float(np.linalg.norm(tip - goal)) < 1e-6

        self.assertTrue(self.spin_until(lambda: goals.get_subscription_count() > 0, 30.0))
        goals.publish(msg)
        self.assertTrue(self.spin_until(reached, 30.0), f'{arm} did not reach {goal}')
