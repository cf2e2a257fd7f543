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

"""The ``solve`` command: one target, joints printed, exit status by outcome."""

import json
from pathlib import Path

from iknn_ros.ik import solve
from iknn_ros.kinematics import KinematicChain
from iknn_ros.kinematics.rigid_body import RigidBodyModel
from iknn_ros.kinematics.targets import quaternion_to_matrix
import numpy as np
import pinocchio
import pytest

REPO = Path(__file__).resolve().parent.parent
SEVEN = REPO / 'urdf' / 'seven_dof_arm.urdf'


def run(capsys, *argv):
    code = solve.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_a_pose_is_solved_and_the_joints_reach_it(capsys):
    target = (0.4, 0.1, 0.5, 0.0, 1.0, 0.0, 0.0)
    code, out, _ = run(capsys, '--urdf', str(SEVEN), '--target', ','.join(map(str, target)),
                       '--json')
    assert code == solve.EXIT_REACHED
    report = json.loads(out)
    chain = KinematicChain.from_urdf(SEVEN)
    q = np.array([report['joints'][name] for name in chain.joint_names])
    assert np.all(q >= chain.lower) and np.all(q <= chain.upper)
    position, rotation = RigidBodyModel(chain).placement(q)
    assert np.linalg.norm(position - target[:3]) <= 1e-9
    assert np.linalg.norm(pinocchio.log3(quaternion_to_matrix(*target[3:]) @ rotation.T)) <= 1e-9


def test_six_numbers_are_a_position_and_a_tool_axis(capsys):
    # The tool pointing straight down at a point in front of the arm.
    target = (0.4, 0.1, 0.3, 0.0, 0.0, -1.0)
    code, out, _ = run(capsys, '--urdf', str(SEVEN), '--target', ','.join(map(str, target)),
                       '--json')
    assert code == solve.EXIT_REACHED
    report = json.loads(out)
    chain = KinematicChain.from_urdf(SEVEN)
    tool = chain.frames(np.array([report['joints'][name] for name in chain.joint_names]))[-1]
    assert np.linalg.norm(tool[:3, 3] - target[:3]) <= 1e-9
    assert np.linalg.norm(tool[:3, 2] - target[3:]) <= 1e-9


def test_the_text_report_names_every_joint(capsys):
    code, out, _ = run(capsys, '--target', '0.5,0.4')
    assert code == solve.EXIT_REACHED
    assert out.startswith('reached in ') and 'joint1' in out and 'joint2' in out


def test_out_of_reach_says_which_part_and_exits_3(capsys):
    code, out, _ = run(capsys, '--urdf', str(SEVEN), '--target', '3,0,0,0,0,0,1')
    assert code == solve.EXIT_OUT_OF_REACH
    assert 'out of reach (position out of reach)' in out


@pytest.mark.parametrize('argv, message', [
    (['--target', '1,2,3,4'], 'has 2 or 3 numbers, got 4'),
    (['--target', '1,nan'], 'must be finite'),
    (['--target', 'a,b'], 'numbers separated by commas'),
    (['--urdf', str(REPO / 'urdf' / 'spatial_arm.urdf'), '--target', '0,0,1,0,0,0,1'],
     'six joints or more'),
    (['--urdf', 'missing.urdf', '--target', '1,2'], 'does not exist'),
    (['--urdf', str(SEVEN), '--target', '0.4,0,0.5', '--seed', '0,0'], 'seed must be 7'),
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == solve.EXIT_BAD_INPUT and out == ''
    assert err.startswith('error: ') and message in err and err.count('\n') == 1
