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
``ros2 launch`` as a user runs it in a terminal: Ctrl-C, refusals, the IK launch file.

Each test runs the real ``ros2 launch`` command in a session of its own and signals its
whole process group, as a terminal's Ctrl-C does (each node then gets SIGINT from the
terminal and again from launch). Runs where ROS 2 is installed and iknn_ros is built and
sourced (.github/workflows/ros.yml); skipped elsewhere, saying so.
"""

import os
import shutil
import signal
import subprocess
import time

import pytest

pytest.importorskip('launch_ros', reason='launch_ros is not installed (no ROS 2 launch '
                    'stack); .github/workflows/ros.yml runs these tests with colcon test')
if shutil.which('ros2') is None:
    pytest.skip('no ros2 command on PATH (ROS 2 not sourced)', allow_module_level=True)

from ament_index_python.packages import get_package_prefix  # noqa: E402, I100
from launch_checks import installed  # noqa: E402
from launch_checks import share  # noqa: E402

SHARE = share()
# robot_state_publisher only publishes TF here; where it is not installed (a launch stack
# built from source) the demo runs without it, one process fewer.
RSP = installed('robot_state_publisher')
DEMO = ('demo.launch.py', 'use_rviz:=false', f'use_rsp:={str(RSP).lower()}')


def launch(*arguments: str, env=None) -> subprocess.Popen:
    return subprocess.Popen(['ros2', 'launch', 'iknn_ros', *arguments],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, env=env or os.environ.copy())


def read_until(process: subprocess.Popen, word: str, timeout: float) -> str:
    output, end = '', time.monotonic() + timeout
    while time.monotonic() < end and word not in output:
        line = process.stdout.readline()
        if not line:
            break
        output += line
    return output


def nodes_on_the_graph() -> set:
    done = subprocess.run(['ros2', 'node', 'list', '--no-daemon'], capture_output=True,
                          text=True, timeout=60)
    return {line.strip() for line in done.stdout.splitlines() if line.strip()}


@pytest.mark.parametrize('arguments, started', [
    (DEMO, 2 + RSP),
    ((*DEMO, 'arm:=spatial_arm'), 2 + RSP),
    (('ik.launch.py',), 1),
])
def test_ctrl_c_ends_every_process_with_exit_0(arguments, started):
    process = launch(*arguments)
    output = read_until(process, 'ready:', 60.0)  # the IK node's start-up line
    assert 'ready:' in output, output
    time.sleep(1.0)
    os.killpg(process.pid, signal.SIGINT)
    time.sleep(0.02)
    os.killpg(process.pid, signal.SIGINT)
    rest, _ = process.communicate(timeout=60)
    output += rest
    assert process.returncode == 0, output
    assert 'Traceback' not in output, output
    assert 'process has died' not in output, output
    assert output.count('process has finished cleanly') == started, output


def test_a_parameter_file_for_another_arm_refuses_the_launch_at_once():
    process = launch(*DEMO, f"urdf:={SHARE / 'urdf' / 'spatial_arm.urdf'}",
                     f"params_file:={SHARE / 'config' / 'iknn.yaml'}")
    output, _ = process.communicate(timeout=60)
    assert process.returncode != 0, output
    assert 'params_file' in output and '4 joints' in output, output
    assert 'process started' not in output, output
    assert not {'/sim_arm', '/ik_node'} & nodes_on_the_graph()


@pytest.mark.skipif(not RSP, reason='robot_state_publisher is not installed, so it '
                    'cannot be hidden from the launch (test_launch_plan.py covers the check)')
def test_a_missing_package_is_named_with_its_switch_and_nothing_starts():
    # Only iknn_ros's own prefix on the ament path: robot_state_publisher is "missing".
    env = {**os.environ, 'AMENT_PREFIX_PATH': get_package_prefix('iknn_ros')}
    process = launch('demo.launch.py', 'use_rviz:=false', env=env)
    output, _ = process.communicate(timeout=60)
    assert process.returncode != 0, output
    assert "'robot_state_publisher' not found" in output and 'use_rsp:=false' in output, output
    assert 'process started' not in output, output
    assert not {'/sim_arm', '/ik_node'} & nodes_on_the_graph()
