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

Feedback comes from /joint_states (e.g. ros2_control's joint_state_broadcaster); commands
go to the controller named by output_mode (see config/ros2_controllers.yaml).
"""

from pathlib import Path

from ament_index_python.packages import get_package_share_directory
from launch import LaunchContext
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.actions import OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

PACKAGE = 'iknn_ros'


def _nodes(context: LaunchContext) -> list:
    """Return the IK node, with the URDF named by the 'urdf' argument read as text."""
    robot_description = Path(LaunchConfiguration('urdf').perform(context)).read_text()
    return [
        Node(package=PACKAGE, executable='ik_node', name='ik_node', output='screen',
             parameters=[LaunchConfiguration('params_file'), {
                 'robot_description': robot_description,
                 'model_path': ParameterValue(LaunchConfiguration('model'), value_type=str),
                 'output_mode': ParameterValue(LaunchConfiguration('output_mode'),
                                               value_type=str)}]),
    ]


def generate_launch_description() -> LaunchDescription:
    """Return the IK node with its parameters."""
    share = Path(get_package_share_directory(PACKAGE))
    return LaunchDescription([
        DeclareLaunchArgument('model', default_value='',
                              description='ONNX model; empty: the shipped model trained for '
                                          'the URDF'),
        DeclareLaunchArgument('output_mode', default_value='forward_position',
                              description='joint_state, forward_position, joint_trajectory '
                                          '(comma-separated for several)'),
        DeclareLaunchArgument('urdf', default_value=str(share / 'urdf' / 'two_link_arm.urdf'),
                              description='URDF of the arm (must match the model)'),
        DeclareLaunchArgument('params_file',
                              default_value=str(share / 'config' / 'iknn.yaml'),
                              description='parameters of ik_node'),
        OpaqueFunction(function=_nodes),
    ])
