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
The iknn_ros demo: a simulated arm driven by the IK node, shown in RViz.

    ros2 launch iknn_ros demo.launch.py
    ros2 launch iknn_ros demo.launch.py use_rviz:=false output_mode:=forward_position
    ros2 launch iknn_ros demo.launch.py arm:=spatial_arm

In RViz, "2D Goal Pose" or "Publish Point" on the grid sends the arm's tip there.
"""

from pathlib import Path

from ament_index_python.packages import get_package_share_directory
from launch import LaunchContext
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.actions import OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

PACKAGE = 'iknn_ros'


def _nodes(context: LaunchContext) -> list:
    """Return the nodes; 'arm' picks the shipped URDF and parameters unless given."""
    share = Path(get_package_share_directory(PACKAGE))
    arm = LaunchConfiguration('arm').perform(context)
    urdf = LaunchConfiguration('urdf').perform(context) or str(share / 'urdf' / f'{arm}.urdf')
    params_file = LaunchConfiguration('params_file').perform(context) or str(
        share / 'config' / ('iknn.yaml' if arm == 'two_link_arm' else f'{arm}.yaml'))
    robot_description = Path(urdf).read_text()
    return [
        Node(package='robot_state_publisher', executable='robot_state_publisher',
             parameters=[{'robot_description': robot_description}], output='screen'),
        Node(package=PACKAGE, executable='sim_arm', name='sim_arm', output='screen',
             parameters=[params_file, {'robot_description': robot_description}]),
        Node(package=PACKAGE, executable='ik_node', name='ik_node', output='screen',
             parameters=[params_file, {
                 'robot_description': robot_description,
                 'model_path': ParameterValue(LaunchConfiguration('model'), value_type=str),
                 'output_mode': ParameterValue(LaunchConfiguration('output_mode'),
                                               value_type=str)}]),
        Node(package='rviz2', executable='rviz2', name='rviz2', output='screen',
             arguments=['-d', LaunchConfiguration('rviz_config')],
             condition=IfCondition(LaunchConfiguration('use_rviz'))),
    ]


def generate_launch_description() -> LaunchDescription:
    """Return the demo: robot_state_publisher, sim_arm, ik_node and RViz."""
    share = Path(get_package_share_directory(PACKAGE))
    return LaunchDescription([
        DeclareLaunchArgument('use_rviz', default_value='true',
                              description='start RViz with rviz/iknn.rviz'),
        DeclareLaunchArgument('model', default_value='',
                              description='ONNX model; empty: the shipped model trained for '
                                          'the URDF'),
        DeclareLaunchArgument('output_mode', default_value='joint_state',
                              description='joint_state, forward_position, joint_trajectory '
                                          '(comma-separated for several)'),
        DeclareLaunchArgument('arm', default_value='two_link_arm',
                              description='shipped arm: two_link_arm, three_link_arm or '
                                          'spatial_arm (picks the URDF, parameters, model)'),
        DeclareLaunchArgument('urdf', default_value='',
                              description='URDF of the arm; empty: the one of arm'),
        DeclareLaunchArgument('params_file', default_value='',
                              description='parameters of ik_node and sim_arm; empty: the '
                                          'ones of arm'),
        DeclareLaunchArgument('rviz_config', default_value=str(share / 'rviz' / 'iknn.rviz'),
                              description='RViz configuration'),
        OpaqueFunction(function=_nodes),
    ])
