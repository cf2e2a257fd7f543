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
The IK node alone, for a real arm under ros2_control.

    ros2 launch iknn_ros ik.launch.py output_mode:=forward_position
    ros2 launch iknn_ros ik.launch.py output_mode:=joint_trajectory urdf:=/path/to/arm.urdf

Feedback comes from joint_states (e.g. ros2_control's joint_state_broadcaster); commands go
to the controller named by output_mode (see config/ros2_controllers.yaml). The URDF, the
parameter file and the model are checked before the node starts (iknn_ros.nodes.launch_plan).
"""

from pathlib import Path

from ament_index_python.packages import get_package_share_directory
from iknn_ros.nodes.launch_plan import plan_ik
from launch import LaunchContext
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.actions import OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

PACKAGE = 'iknn_ros'


def _nodes(context: LaunchContext) -> list:
    """Return the checked IK node, or raise with the argument to change."""
    def argument(name: str) -> str:
        return LaunchConfiguration(name).perform(context)

    plan = plan_ik(Path(get_package_share_directory(PACKAGE)), urdf=argument('urdf'),
                   params_file=argument('params_file'), model=argument('model'),
                   output_mode=argument('output_mode'))
    return [Node(package=n.package, executable=n.executable, name=n.name, output='screen',
                 parameters=list(n.parameters), arguments=list(n.arguments)) for n in plan]


def generate_launch_description() -> LaunchDescription:
    """Return the IK node with its parameters."""
    return LaunchDescription([
        DeclareLaunchArgument('model', default_value='',
                              description='ONNX model; empty: the shipped model trained for '
                                          'the URDF'),
        DeclareLaunchArgument('output_mode', default_value='forward_position',
                              description='joint_state, forward_position, joint_trajectory '
                                          '(comma-separated for several)'),
        DeclareLaunchArgument('urdf', default_value='',
                              description='URDF of the arm; empty: the shipped two-link arm'),
        DeclareLaunchArgument('params_file', default_value='',
                              description='parameters of ik_node; empty: config/iknn.yaml'),
        OpaqueFunction(function=_nodes),
    ])
