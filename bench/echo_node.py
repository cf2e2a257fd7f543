#!/usr/bin/env python3
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

"""The latency baseline: an rclpy node that republishes each joint state, doing nothing else."""

import sys

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import JointState


def main() -> int:
    """Echo joint_states to joint_commands until interrupted."""
    rclpy.init(args=sys.argv)
    executor = SingleThreadedExecutor()
    node = rclpy.create_node('echo_baseline')
    publisher = node.create_publisher(JointState, 'joint_commands', 10)

    def echo(msg: JointState) -> None:
        out = JointState(name=list(msg.name), position=list(msg.position))
        out.header.stamp = node.get_clock().now().to_msg()
        publisher.publish(out)

    node.create_subscription(JointState, 'joint_states', echo, qos_profile_sensor_data)
    executor.add_node(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
