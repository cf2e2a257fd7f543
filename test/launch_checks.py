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
from geometry_msgs.msg import Pose
from geometry_msgs.msg import PoseStamped
from iknn_ros.kinematics import KinematicChain
from iknn_ros.kinematics.targets import matrix_to_quaternion
import numpy as np
import rclpy
from sensor_msgs.msg import JointState
from visualization_msgs.msg import InteractiveMarkerFeedback
from visualization_msgs.srv import GetInteractiveMarkers
import yaml

ARMS = ('two_link_arm', 'three_link_arm', 'spatial_arm', 'six_dof_arm', 'seven_dof_arm')


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
        chain, states = self.watch_the_arm(arm, namespace)
        np.testing.assert_allclose(states[0].position, arm_start(arm), atol=1e-3)
        # A goal the arm can reach: the tool pose at a joint vector inside the limits (the
        # arms in pose mode take the orientation too; the others say once they drop it).
        tool = chain.frames(reachable_joints(chain, 0.3))[-1]
        msg = PoseStamped()
        msg.header.frame_id = chain.base_link
        msg.pose = tool_pose(tool)
        goals = self.node.create_publisher(PoseStamped, '/goal_pose', 10)
        self.assertTrue(self.spin_until(lambda: goals.get_subscription_count() > 0, 30.0))
        goals.publish(msg)
        self.assertTrue(self.spin_until(lambda: self.at(chain, states, tool), 30.0),
                        f'{arm} did not reach {tool[:3, 3]}')

    def check_marker_drag(self, arm: str, namespace: str = '') -> None:
        """Drag the goal marker as RViz does (feedback on release); the arm goes there."""
        try:
            import interactive_markers  # noqa: F401 - the node's marker needs it too
        except ImportError:
            self.skipTest('interactive_markers is not installed: ik_node serves no marker')
        chain, states = self.watch_the_arm(arm, namespace)
        # What RViz's display does on connecting: ask the server for its markers.
        markers = self.node.create_client(GetInteractiveMarkers,
                                          f'{namespace}/goal_marker/get_interactive_markers')
        self.assertTrue(markers.wait_for_service(timeout_sec=30.0), 'no goal marker server')
        reply = markers.call_async(GetInteractiveMarkers.Request())
        self.assertTrue(self.spin_until(reply.done, 30.0))
        self.assertEqual([m.name for m in reply.result().markers], ['goal'])
        feedback = self.node.create_publisher(InteractiveMarkerFeedback,
                                              f'{namespace}/goal_marker/feedback', 10)
        self.assertTrue(self.spin_until(lambda: feedback.get_subscription_count() > 0, 30.0))
        # The server takes a new client's feedback a second after the last one it knew.
        self.spin_until(lambda: False, 1.1)
        tool = chain.frames(reachable_joints(chain, -0.2))[-1]
        msg = InteractiveMarkerFeedback(client_id='/launch_test_probe', marker_name='goal',
                                        event_type=InteractiveMarkerFeedback.MOUSE_UP)
        msg.header.frame_id = chain.base_link
        msg.pose = tool_pose(tool)
        feedback.publish(msg)
        self.assertTrue(self.spin_until(lambda: self.at(chain, states, tool), 30.0),
                        f'{arm} did not follow the marker to {tool[:3, 3]}')

    def watch_the_arm(self, arm: str, namespace: str) -> tuple:
        chain = KinematicChain.from_urdf(share() / 'urdf' / f'{arm}.urdf')
        states = []
        topic = f'{namespace}/joint_states'
        self.node.create_subscription(JointState, topic, states.append, 10)
        self.assertTrue(self.spin_until(lambda: states, 30.0), f'no joint states on {topic}')
        self.assertEqual(list(states[0].name), list(chain.joint_names))
        return chain, states

    @staticmethod
    def at(chain: KinematicChain, states: list, tool: np.ndarray) -> bool:
        """Return whether the arm's tip is at the tool frame's position (within 1e-6 m)."""
        positions = dict(zip(states[-1].name, states[-1].position))
        here = chain.frames(np.array([positions[n] for n in chain.joint_names]))[-1]
        return float(np.linalg.norm(here[:3, 3] - tool[:3, 3])) < 1e-6


def reachable_joints(chain: KinematicChain, offset: float) -> np.ndarray:
    """Return a joint vector inside the limits: mid-range plus ``offset``."""
    return np.array([0.5 * (lo + hi) if math.isfinite(lo) and math.isfinite(hi) else 0.4
                     for lo, hi in zip(chain.lower, chain.upper)]) + offset


def tool_pose(tool: np.ndarray) -> Pose:
    """Return a 4 x 4 tool frame as a geometry_msgs Pose."""
    pose = Pose()
    pose.position.x, pose.position.y, pose.position.z = (float(v) for v in tool[:3, 3])
    o = pose.orientation
    o.x, o.y, o.z, o.w = matrix_to_quaternion(tool[:3, :3])
    return pose
