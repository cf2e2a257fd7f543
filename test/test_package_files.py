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
What can be checked here of files that run only under ROS 2: launch, RViz, parameters.

launch, launch_ros and rviz2 do not install on these machines, so the launch files are
checked as source (syntax, the packages, executables, arguments, parameters and files they
name) and the package is really installed to see that everything lands in share/iknn_ros.
"""

import ast
from pathlib import Path
import re
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

from iknn_ros.nodes.ik_node import PARAMETERS as IK_PARAMETERS
import pytest
from rclpy.parameter import Parameter
import yaml

REPO = Path(__file__).resolve().parent.parent
SIM_PARAMETERS = {'robot_description', 'urdf_path', 'base_link', 'tip_link', 'rate_hz',
                  'time_constant', 'initial_positions', 'joint_states_topic',
                  'joint_command_topic', 'forward_position_topic', 'joint_trajectory_topic'}


def console_scripts():
    tree = ast.parse((REPO / 'setup.py').read_text())
    scripts = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            match = re.fullmatch(r'(\w+) = (iknn_ros[\w.]*):(\w+)', node.value)
            if match:
                scripts.add(match.group(1))
                module = REPO / (match.group(2).replace('.', '/') + '.py')
                assert module.is_file(), f'{node.value}: {module} is missing'
    return scripts


def string(node):
    return node.value if isinstance(node, ast.Constant) else None


def launch_arguments(tree):
    return {string(n.args[0]) for n in ast.walk(tree) if isinstance(n, ast.Call)
            and getattr(n.func, 'id', '') == 'DeclareLaunchArgument'}


@pytest.mark.parametrize('name, plan, arguments', [
    ('demo.launch.py', 'plan_demo', {'use_rviz', 'use_rsp', 'model', 'output_mode', 'arm',
                                     'urdf', 'params_file', 'rviz_config'}),
    ('ik.launch.py', 'plan_ik', {'model', 'output_mode', 'urdf', 'params_file'}),
])
def test_launch_files_declare_what_their_plan_takes(name, plan, arguments):
    # What each launch file starts is decided and checked by iknn_ros.nodes.launch_plan (tested in
    # test_launch_plan.py); the file itself declares the arguments and hands them over.
    import inspect
    from iknn_ros.nodes import launch_plan
    tree = ast.parse((REPO / 'launch' / name).read_text())
    assert any(isinstance(n, ast.FunctionDef) and n.name == 'generate_launch_description'
               for n in tree.body)
    assert launch_arguments(tree) == arguments
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)
             and getattr(n.func, 'id', '') == plan]
    assert len(calls) == 1
    taken = set(inspect.signature(getattr(launch_plan, plan)).parameters)
    taken -= {'share', 'prefix_of'}
    assert {k.arg for k in calls[0].keywords} == taken
    assert taken <= arguments


def test_rviz_config_shows_the_arm_markers_and_goal_tools():
    config = yaml.safe_load((REPO / 'rviz' / 'iknn.rviz').read_text())
    manager = config['Visualization Manager']
    assert manager['Global Options']['Fixed Frame'] == 'base_link'
    displays = {d['Class']: d for d in manager['Displays']}
    robot = displays['rviz_default_plugins/RobotModel']
    assert robot['Description Source'] == 'Topic'
    assert robot['Description Topic']['Value'] == '/robot_description'
    assert robot['Description Topic']['Durability Policy'] == 'Transient Local'
    assert 'rviz_default_plugins/TF' in displays
    markers_topic = {p[0]: p[1] for p in IK_PARAMETERS}['markers_topic']
    assert displays['rviz_default_plugins/MarkerArray']['Topic']['Value'] == '/' + markers_topic
    marker_namespace = {p[0]: p[1] for p in IK_PARAMETERS}['interactive_marker_namespace']
    goal_marker = displays['rviz_default_plugins/InteractiveMarkers']
    assert goal_marker['Interactive Markers Namespace'] == '/' + marker_namespace
    assert goal_marker['Enabled'] and goal_marker['Show Descriptions']
    tools = {t['Class']: t for t in manager['Tools']}
    assert tools['rviz_default_plugins/Interact']
    assert tools['rviz_default_plugins/SetGoal']['Topic']['Value'] == '/goal_pose'
    assert tools['rviz_default_plugins/PublishPoint']['Topic']['Value'] == '/clicked_point'


@pytest.mark.parametrize('name, urdf', [('iknn.yaml', 'two_link_arm.urdf'),
                                        ('three_link_arm.yaml', 'three_link_arm.urdf'),
                                        ('spatial_arm.yaml', 'spatial_arm.urdf'),
                                        ('six_dof_arm.yaml', 'six_dof_arm.urdf'),
                                        ('seven_dof_arm.yaml', 'seven_dof_arm.urdf')])
def test_parameter_files_match_the_declared_parameters(name, urdf):
    from iknn_ros.kinematics import KinematicChain
    config = yaml.safe_load((REPO / 'config' / name).read_text())
    # Keyed for any namespace: a node pushed into /arm1 still reads its section.
    assert set(config) == {'/**/ik_node', '/**/sim_arm'}
    ik = config['/**/ik_node']['ros__parameters']
    declared = {p[0]: p[1] for p in IK_PARAMETERS}
    # A parameter declared with a type only (a double array, unset by default) may be
    # left out; every other one is written down.
    typed_only = {key for key, value in declared.items() if isinstance(value, Parameter.Type)}
    assert typed_only == {'rest_posture'}
    assert set(declared) - typed_only <= set(ik) <= set(declared)
    for key, value in ik.items():
        if key in typed_only:
            assert isinstance(value, list), (key, value)
        else:
            assert type(value) is type(declared[key]), (key, value)
    sim = config['/**/sim_arm']['ros__parameters']
    assert set(sim) <= SIM_PARAMETERS
    chain = KinematicChain.from_urdf(REPO / 'urdf' / urdf)
    assert len(sim['initial_positions']) == chain.n_joints
    assert chain.with_limit_margin(0.05).within_limits(sim['initial_positions'])


def test_controllers_config_lists_the_urdf_joints():
    config = yaml.safe_load((REPO / 'config' / 'ros2_controllers.yaml').read_text())
    for controller in ('forward_position_controller', 'joint_trajectory_controller'):
        assert config[f'/**/{controller}']['ros__parameters']['joints'] == ['joint1', 'joint2']


def test_package_xml_is_format_3_with_the_runtime_dependencies():
    root = ElementTree.parse(REPO / 'package.xml').getroot()
    assert root.get('format') == '3' and root.findtext('name') == 'iknn_ros'
    depends = {e.text for e in root.findall('exec_depend')}
    for needed in ('rclpy', 'sensor_msgs', 'geometry_msgs', 'std_msgs', 'trajectory_msgs',
                   'visualization_msgs', 'diagnostic_msgs', 'launch', 'launch_ros',
                   'robot_state_publisher', 'rviz2', 'python3-numpy', 'urdfdom_py',
                   'python3-numba', 'interactive_markers'):
        assert needed in depends, needed
    # Pinocchio is the tests' kinematics reference, not a runtime dependency.
    assert 'pinocchio' not in depends
    assert {e.text for e in root.findall('test_depend')} >= {
        'ament_copyright', 'ament_flake8', 'ament_pep257', 'python3-pytest', 'pinocchio'}
    assert root.find('export/build_type').text == 'ament_python'


def test_installing_puts_every_shared_file_in_place(tmp_path):
    # --ignore-installed: without it pip uninstalls the venv's own (editable) iknn_ros first.
    done = subprocess.run([sys.executable, '-m', 'pip', 'install', '--no-deps', '--no-cache-dir',
                           '--ignore-installed',
                           '--quiet', '--prefix', str(tmp_path), str(REPO)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    share = tmp_path / 'share' / 'iknn_ros'
    for relative in ('package.xml', 'launch/demo.launch.py', 'launch/ik.launch.py',
                     'rviz/iknn.rviz', 'config/iknn.yaml', 'config/ros2_controllers.yaml',
                     'config/spatial_arm.yaml', 'config/training/default.yaml',
                     'urdf/two_link_arm.urdf', 'urdf/spatial_arm.urdf',
                     'models/two_link_arm_default/model.onnx',
                     'models/two_link_arm_default/metrics.json',
                     'models/spatial_arm_default/model.onnx', 'web/static/index.html',
                     'web/static/tick.js', 'web/vendor/onnxruntime-web/dist/ort.wasm.min.mjs'):
        assert (share / relative).is_file(), relative
    assert (tmp_path / 'share' / 'ament_index' / 'resource_index' / 'packages' /
            'iknn_ros').is_file()
    scripts = {p.name for p in (tmp_path / 'bin').iterdir()}
    assert console_scripts() <= scripts
