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
    ros2 launch iknn_ros demo.launch.py arm:=seven_dof_arm   # full poses, no model yet
    ros2 launch iknn_ros demo.launch.py urdf:=/path/to/arm.urdf model:=/path/to/model.onnx

In RViz, "2D Goal Pose" or "Publish Point" on the grid sends the arm's tip there. The
arguments are checked before anything starts (iknn_ros.nodes.launch_plan): a URDF that does not
parse, a parameter file or model for another arm, or a missing package (rviz2,
robot_state_publisher: see use_rviz and use_rsp) stops the launch with a message naming the
argument, with nothing left running.
"""

from pathlib import Path

from ament_index_python.packages import get_package_share_directory
from iknn_ros.nodes.launch_plan import LaunchArgumentError
from iknn_ros.nodes.launch_plan import plan_demo
from launch import LaunchContext
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.actions import OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

PACKAGE = 'iknn_ros'


def _nodes(context: LaunchContext) -> list:
    """Return the checked nodes, or raise with the argument to change."""
    def argument(name: str) -> str:
        return LaunchConfiguration(name).perform(context)

    def switch(name: str) -> bool:
        value = argument(name).strip().lower()
        if value not in ('true', 'false', '1', '0'):  # what launch's IfCondition takes
            raise LaunchArgumentError(f'{name}:={argument(name)}: expected true or false')
        return value in ('true', '1')

    plan = plan_demo(Path(get_package_share_directory(PACKAGE)), arm=argument('arm'),
                     urdf=argument('urdf'), params_file=argument('params_file'),
                     model=argument('model'), output_mode=argument('output_mode'),
                     use_rsp=switch('use_rsp'), use_rviz=switch('use_rviz'),
                     rviz_config=argument('rviz_config'))
    return [Node(package=n.package, executable=n.executable, name=n.name, output='screen',
                 parameters=list(n.parameters), arguments=list(n.arguments)) for n in plan]


def generate_launch_description() -> LaunchDescription:
    """Return the demo: robot_state_publisher, sim_arm, ik_node and RViz."""
    return LaunchDescription([
        DeclareLaunchArgument('use_rviz', default_value='true',
                              description='start RViz with rviz_config (needs rviz2)'),
        DeclareLaunchArgument('use_rsp', default_value='true',
                              description='start robot_state_publisher for the TF tree '
                                          '(needs robot_state_publisher)'),
        DeclareLaunchArgument('model', default_value='',
                              description='ONNX model; empty: the shipped model trained for '
                                          'the URDF'),
        DeclareLaunchArgument('output_mode', default_value='joint_state',
                              description='joint_state, forward_position, joint_trajectory '
                                          '(comma-separated for several)'),
        DeclareLaunchArgument('arm', default_value='',
                              description='shipped arm: two_link_arm (when urdf is empty too), '
                                          'three_link_arm, spatial_arm, six_dof_arm or '
                                          'seven_dof_arm; picks the URDF and the parameters'),
        DeclareLaunchArgument('urdf', default_value='',
                              description='URDF of your arm; empty: the one of arm'),
        DeclareLaunchArgument('params_file', default_value='',
                              description='parameters of ik_node and sim_arm; empty: the '
                                          'ones of arm, or derived from urdf'),
        DeclareLaunchArgument('rviz_config', default_value='',
                              description='RViz configuration; empty: rviz/iknn.rviz'),
        OpaqueFunction(function=_nodes),
    ])
