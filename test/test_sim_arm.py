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

"""The simulated arm as a user starts it: bare, with a URDF only, in a namespace."""

from pathlib import Path
import shutil
import subprocess
import sys

from iknn_ros.nodes.ik_node import IKNode
from iknn_ros.nodes.sim_arm import SimArm
import pytest
import rclpy
from ros_harness import Harness
from sensor_msgs.msg import JointState

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture()
def ros():
    rclpy.init()
    yield
    rclpy.try_shutdown()


def first_state(harness: Harness, topic: str) -> JointState:
    states = harness.record(JointState, topic)
    assert harness.spin_until(lambda: states, timeout=10.0), f'nothing on {topic}'
    return states[0]


def test_a_bare_sim_arm_publishes_the_shipped_arm_at_zero(ros):
    # Before: ParameterUninitializedException on initial_positions, no joint states at all.
    arm = SimArm()
    harness = Harness(arm)
    try:
        state = first_state(harness, 'joint_states')
        assert list(state.name) == ['joint1', 'joint2']
        assert list(state.position) == [0.0, 0.0]
    finally:
        harness.close()
        arm.destroy_node()


def test_a_urdf_alone_starts_at_zero_clipped_to_the_limits(ros, tmp_path):
    text = (REPO / 'urdf' / 'three_link_arm.urdf').read_text().replace(
        '<limit lower="-2.8" upper="2.8" effort="5.0"', '<limit lower="0.3" upper="2.8" '
        'effort="5.0"')
    urdf = tmp_path / 'arm.urdf'
    urdf.write_text(text)
    arm = SimArm(cli_args=['--ros-args', '-p', f'urdf_path:={urdf}'])
    harness = Harness(arm)
    try:
        state = first_state(harness, 'joint_states')
        assert list(state.position) == [0.0, 0.0, 0.3]
    finally:
        harness.close()
        arm.destroy_node()


@pytest.mark.parametrize('arm_name, start', [('spatial_arm', [0.0, 0.5, 0.0, 1.0]),
                                             ('three_link_arm', [0.0, 1.0, 0.5])])
def test_a_namespaced_sim_arm_reads_the_shipped_parameter_file(ros, arm_name, start):
    # Before: files keyed 'sim_arm:' matched only /sim_arm, so under /arm1 they were ignored.
    arm = SimArm(namespace='arm1', cli_args=[
        '--ros-args', '--params-file', str(REPO / 'config' / f'{arm_name}.yaml'),
        '-p', f"urdf_path:={REPO / 'urdf' / f'{arm_name}.urdf'}"])
    harness = Harness(arm)
    try:
        assert arm.get_fully_qualified_name() == '/arm1/sim_arm'
        state = first_state(harness, '/arm1/joint_states')
        assert list(state.position) == pytest.approx(start)
    finally:
        harness.close()
        arm.destroy_node()


def test_a_namespaced_ik_node_reads_its_parameter_file(ros, tmp_path):
    params = tmp_path / 'iknn.yaml'
    shutil.copy(REPO / 'config' / 'iknn.yaml', params)
    params.write_text(params.read_text().replace('control_rate_hz: 100.0',
                                                 'control_rate_hz: 37.0'))
    node = IKNode(namespace='arm2', cli_args=['--ros-args', '--params-file', str(params)])
    try:
        assert node.get_fully_qualified_name() == '/arm2/ik_node'
        assert node.get_parameter('control_rate_hz').value == 37.0
        # Controller topics are relative, so they follow the namespace as ros2_control's do.
        topics = {p.topic_name for p in node.publishers}
        assert '/arm2/joint_commands' in topics
    finally:
        node.destroy_node()


def test_wrong_initial_positions_are_one_clear_line_not_a_traceback():
    done = subprocess.run(
        [sys.executable, '-c', 'import sys; from iknn_ros.nodes.node_main import sim_arm; '
         'sys.exit(sim_arm())', '--ros-args', '-p',
         f"urdf_path:={REPO / 'urdf' / 'spatial_arm.urdf'}", '-p',
         'initial_positions:=[0.0, 1.0]'], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert 'sim_arm: cannot start: initial_positions has 2 values' in done.stderr
    assert '4 joints' in done.stderr and 'Traceback' not in done.stderr
    # A parameter of the wrong type is rclpy's error, reported the same way.
    done = subprocess.run(
        [sys.executable, '-c', 'import sys; from iknn_ros.nodes.node_main import sim_arm; '
         'sys.exit(sim_arm())', '--ros-args', '-p', 'rate_hz:=fast'],
        capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert 'sim_arm: cannot start' in done.stderr and 'Traceback' not in done.stderr
