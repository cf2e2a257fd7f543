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
A simulated arm: a stand-in for position-controlled servos, so the loop runs without hardware.

It takes commands the way the IK node sends them (sensor_msgs/JointState on
``joint_commands``, a ros2_control forward position controller's Float64MultiArray, a joint
trajectory controller's JointTrajectory), moves each joint toward its command with a
first-order lag, never faster than the URDF velocity limit nor past the URDF position
limits, and publishes stamped ``joint_states`` at a fixed rate.

    ros2 run iknn_ros sim_arm --ros-args -p initial_positions:="[0.0, 1.0]"
    ros2 run iknn_ros sim_arm --ros-args -p urdf_path:=my_arm.urdf   # starts at zeros
"""

from __future__ import annotations

import dataclasses
import math
import sys
from typing import Optional, Sequence

from iknn_ros.kinematics import KinematicChain
from iknn_ros.kinematics import UrdfError
from iknn_ros.nodes.node_main import spin_node
from iknn_ros.resources import default_urdf_path
from rcl_interfaces.msg import FloatingPointRange
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from rclpy.parameter import Parameter
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray
from trajectory_msgs.msg import JointTrajectory

THROTTLE_S = 2.0


@dataclasses.dataclass
class ServoModel:
    """First-order servos with position and velocity limits (plain Python, no ROS)."""

    lower: Sequence[float]
    upper: Sequence[float]
    velocity_limits: Sequence[float]
    time_constant_s: float
    positions: list
    command: Optional[list] = None

    def __post_init__(self) -> None:
        self.positions = [min(max(float(q), lo), hi) for q, lo, hi in
                          zip(self.positions, self.lower, self.upper)]
        self.velocities = [0.0] * len(self.positions)

    def advance(self, dt: float) -> None:
        """Move every joint toward its command for ``dt`` seconds."""
        if self.command is None:
            self.velocities = [0.0] * len(self.positions)
            return
        for i, (q, goal) in enumerate(zip(self.positions, self.command)):
            goal = min(max(goal, self.lower[i]), self.upper[i])
            # Exact first-order response over dt, then the velocity limit.
            alpha = 1.0 if self.time_constant_s <= 0.0 else \
                1.0 - math.exp(-dt / self.time_constant_s)
            step = (goal - q) * alpha
            limit = self.velocity_limits[i] * dt
            step = min(max(step, -limit), limit)
            self.positions[i] = min(max(q + step, self.lower[i]), self.upper[i])
            self.velocities[i] = step / dt


class SimArm(Node):
    """Publishes the simulated joint states and listens to all command interfaces."""

    def __init__(self, **kwargs) -> None:
        super().__init__('sim_arm', **kwargs)
        describe = ParameterDescriptor
        self.declare_parameter('robot_description', '',
                               describe(description='URDF text; empty: read urdf_path'))
        self.declare_parameter('urdf_path', '',
                               describe(description='URDF file; empty: the shipped arm'))
        self.declare_parameter('base_link', '', describe(description='chain base link'))
        self.declare_parameter('tip_link', '', describe(description='chain tip link'))
        self.declare_parameter('rate_hz', 100.0, describe(
            description='joint_states per second',
            floating_point_range=[FloatingPointRange(from_value=1.0, to_value=2000.0)]))
        self.declare_parameter('time_constant', 0.02, describe(
            description='first-order lag of each servo (s); 0: reach the command at once '
                        'within the velocity limit',
            floating_point_range=[FloatingPointRange(from_value=0.0, to_value=5.0)]))
        # Declared with a type only: a double array has no empty default in rclpy, and
        # get_parameter on an unset parameter raises, so the declared value is read instead.
        initial = self.declare_parameter(
            'initial_positions', Parameter.Type.DOUBLE_ARRAY, describe(
                description='start pose in joint order (rad); unset: all zeros, clipped to '
                            'the joint limits')).value
        for name, default in (('joint_states_topic', 'joint_states'),
                              ('joint_command_topic', 'joint_commands'),
                              ('forward_position_topic', 'forward_position_controller/commands'),
                              ('joint_trajectory_topic',
                               'joint_trajectory_controller/joint_trajectory')):
            self.declare_parameter(name, default, describe(description=f'{name}',
                                                           read_only=True))
        p = {name: self.get_parameter(name).value for name in
             ('robot_description', 'urdf_path', 'base_link', 'tip_link', 'rate_hz',
              'time_constant')}
        urdf = p['robot_description'] or p['urdf_path'] or str(default_urdf_path())
        chain = KinematicChain.from_urdf(urdf, p['base_link'] or None, p['tip_link'] or None)
        self.joint_names = list(chain.joint_names)
        start = [0.0] * chain.n_joints if initial is None else list(initial)
        if len(start) != chain.n_joints:
            raise ValueError(f'initial_positions has {len(start)} values; the chain of '
                             f'{chain.robot_name} has {chain.n_joints} joints '
                             f'{self.joint_names} (set it for this arm, or leave it unset)')
        self.model = ServoModel(lower=chain.lower.tolist(), upper=chain.upper.tolist(),
                                velocity_limits=chain.velocity_limits.tolist(),
                                time_constant_s=p['time_constant'], positions=start)
        self.period = 1.0 / p['rate_hz']
        self.publisher = self.create_publisher(
            JointState, self.get_parameter('joint_states_topic').value, 10)
        self.subscriptions_ = [
            self.create_subscription(JointState, self.get_parameter('joint_command_topic').value,
                                     self._on_joint_command, 10),
            self.create_subscription(Float64MultiArray,
                                     self.get_parameter('forward_position_topic').value,
                                     self._on_forward_command, 10),
            self.create_subscription(JointTrajectory,
                                     self.get_parameter('joint_trajectory_topic').value,
                                     self._on_trajectory, 10),
        ]
        self.timer = self.create_timer(self.period, self._on_timer)
        self.get_logger().info(f'simulating {self.joint_names} from {self.model.positions} at '
                               f"{p['rate_hz']:g} Hz, lag {p['time_constant']:g} s")

    def _accept(self, positions: Sequence[float], source: str) -> None:
        values = [float(v) for v in positions]
        if not all(math.isfinite(v) for v in values):
            self.get_logger().warning(f'{source} command ignored: non-finite {values}',
                                      throttle_duration_sec=THROTTLE_S)
            return
        self.model.command = values

    def _by_name(self, names: Sequence[str], positions: Sequence[float],
                 source: str) -> Optional[list]:
        if len(names) != len(positions):
            self.get_logger().warning(f'{source} command ignored: {len(names)} names but '
                                      f'{len(positions)} positions',
                                      throttle_duration_sec=THROTTLE_S)
            return None
        index = {n: i for i, n in enumerate(names)}
        missing = [n for n in self.joint_names if n not in index]
        if missing:
            self.get_logger().warning(f'{source} command ignored: no {missing}',
                                      throttle_duration_sec=THROTTLE_S)
            return None
        return [positions[index[n]] for n in self.joint_names]

    def _on_joint_command(self, msg: JointState) -> None:
        positions = self._by_name(msg.name, msg.position, 'JointState')
        if positions is not None:
            self._accept(positions, 'JointState')

    def _on_forward_command(self, msg: Float64MultiArray) -> None:
        # As the forward position controller does: a message of the wrong length is ignored.
        if len(msg.data) != len(self.joint_names):
            self.get_logger().warning(
                f'Float64MultiArray command ignored: {len(msg.data)} values for '
                f'{len(self.joint_names)} joints', throttle_duration_sec=THROTTLE_S)
            return
        self._accept(msg.data, 'Float64MultiArray')

    def _on_trajectory(self, msg: JointTrajectory) -> None:
        if not msg.points:
            return
        positions = self._by_name(msg.joint_names, msg.points[-1].positions, 'JointTrajectory')
        if positions is not None:
            self._accept(positions, 'JointTrajectory')

    def _on_timer(self) -> None:
        self.model.advance(self.period)
        msg = JointState(name=self.joint_names, position=list(self.model.positions),
                         velocity=list(self.model.velocities))
        msg.header.stamp = self.get_clock().now().to_msg()
        self.publisher.publish(msg)


def main(args=None) -> int:
    """Run the node until Ctrl-C or shutdown."""
    return spin_node('sim_arm', SimArm, (UrdfError, ValueError), args)


if __name__ == '__main__':
    sys.exit(main())
