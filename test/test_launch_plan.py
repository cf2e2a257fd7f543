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
The launch files' plan: what starts, and the refusals that come before anything starts.

The package lookups go through the real ament index (ament_index_python) over a prefix
made in tmp_path, laid out as colcon installs packages: a marker in
share/ament_index/resource_index/packages and executables in lib/<package>/.
"""

from pathlib import Path

from iknn_ros.kinematics import KinematicChain
from iknn_ros.nodes.ik_node import PARAMETERS as IK_PARAMETERS
from iknn_ros.nodes.launch_plan import LaunchArgumentError
from iknn_ros.nodes.launch_plan import plan_demo
from iknn_ros.nodes.launch_plan import plan_ik
import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
ALL_PACKAGES = {'iknn_ros': ('ik_node', 'sim_arm'),
                'robot_state_publisher': ('robot_state_publisher',), 'rviz2': ('rviz2',)}


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """Return a function that installs packages into an ament prefix on AMENT_PREFIX_PATH."""
    prefix = tmp_path / 'install'
    monkeypatch.setenv('AMENT_PREFIX_PATH', str(prefix))

    def install(*packages: str) -> Path:
        (prefix / 'share').mkdir(parents=True, exist_ok=True)
        for package in packages:
            if package == 'iknn_ros':  # its share folder: the source tree, as in a build
                (prefix / 'share' / package).symlink_to(REPO)
            marker = prefix / 'share' / 'ament_index' / 'resource_index' / 'packages' / package
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text('')
            for executable in ALL_PACKAGES[package]:
                path = prefix / 'lib' / package / executable
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text('#!/bin/sh\n')
                path.chmod(0o755)
        return prefix
    return install


def names(plan):
    return [(n.package, n.executable) for n in plan]


def sim_parameters(plan) -> dict:
    """Return sim_arm's parameters as rcl would merge them: files first, then dicts."""
    merged = {}
    for item in next(n for n in plan if n.executable == 'sim_arm').parameters:
        if isinstance(item, dict):
            merged.update(item)
        else:
            data = yaml.safe_load(Path(item).read_text())
            merged.update(data['/**/sim_arm']['ros__parameters'])
    return merged


def test_the_default_demo_starts_all_four_with_the_two_link_arm(installed):
    installed(*ALL_PACKAGES)
    plan = plan_demo(REPO)
    assert names(plan) == [('robot_state_publisher', 'robot_state_publisher'),
                           ('iknn_ros', 'sim_arm'), ('iknn_ros', 'ik_node'), ('rviz2', 'rviz2')]
    assert sim_parameters(plan)['initial_positions'] == [0.0, 1.0]
    assert plan[-1].arguments == ('-d', str(REPO / 'rviz' / 'iknn.rviz'))
    # Every parameter handed to ik_node is one it declares.
    declared = {p[0] for p in IK_PARAMETERS}
    ik = next(n for n in plan if n.executable == 'ik_node')
    assert set(ik.parameters[1]) <= declared
    assert Path(ik.parameters[0]).is_file()


@pytest.mark.parametrize('arm, joints', [('three_link_arm', 3), ('spatial_arm', 4),
                                         ('six_dof_arm', 6), ('seven_dof_arm', 7)])
def test_a_shipped_urdf_given_alone_brings_its_own_parameters(installed, arm, joints):
    # Before: urdf:=spatial_arm.urdf alone took the two-link arm's parameters, and sim_arm
    # died on a 2-value initial_positions while the launch ran on without an arm.
    installed(*ALL_PACKAGES)
    plan = plan_demo(REPO, urdf=str(REPO / 'urdf' / f'{arm}.urdf'), use_rviz=False)
    assert ('rviz2', 'rviz2') not in names(plan)
    start = sim_parameters(plan)['initial_positions']
    assert len(start) == joints
    expected = yaml.safe_load((REPO / 'config' / f'{arm}.yaml').read_text())
    assert start == expected['/**/sim_arm']['ros__parameters']['initial_positions']


def test_a_urdf_of_ones_own_starts_the_sim_at_zero_within_the_limits(installed, tmp_path):
    installed(*ALL_PACKAGES)
    text = (REPO / 'urdf' / 'three_link_arm.urdf').read_text()
    # The shipped arm with its last joint kept off zero (narrower limits, so the shipped
    # model still fits): no shipped parameter file describes this chain.
    urdf = tmp_path / 'mine.urdf'
    urdf.write_text(text.replace('name="three_link_arm"', 'name="mine"').replace(
        '<limit lower="-2.8" upper="2.8" effort="5.0"',
        '<limit lower="0.3" upper="2.8" effort="5.0"'))
    mine = KinematicChain.from_urdf(urdf)
    assert mine.fingerprint() != KinematicChain.from_urdf(text).fingerprint()
    plan = plan_demo(REPO, urdf=str(urdf), use_rviz=False, model=str(
        REPO / 'models' / 'three_link_arm_default' / 'model.onnx'))
    start = sim_parameters(plan)['initial_positions']
    assert start == [0.0, 0.0, 0.3]


def test_a_parameter_file_for_another_arm_is_refused_naming_it(installed):
    installed(*ALL_PACKAGES)
    with pytest.raises(LaunchArgumentError, match=r'params_file.*2 joint positions.*4 joints'):
        plan_demo(REPO, urdf=str(REPO / 'urdf' / 'spatial_arm.urdf'),
                  params_file=str(REPO / 'config' / 'iknn.yaml'))
    with pytest.raises(LaunchArgumentError, match=r'arm: .*3 joint positions.*4 joints'):
        plan_demo(REPO, arm='three_link_arm', urdf=str(REPO / 'urdf' / 'spatial_arm.urdf'))


def test_a_model_for_another_arm_is_refused_before_anything_starts(installed):
    installed(*ALL_PACKAGES)
    other = REPO / 'models' / 'two_link_arm_default' / 'model.onnx'
    with pytest.raises(LaunchArgumentError, match='trained for a different arm'):
        plan_demo(REPO, arm='spatial_arm', model=str(other))
    with pytest.raises(LaunchArgumentError, match='model'):
        plan_ik(REPO, model='/no/such/model.onnx')


def test_a_bad_urdf_or_arm_is_refused_naming_the_argument(installed, tmp_path):
    installed(*ALL_PACKAGES)
    with pytest.raises(LaunchArgumentError, match=r'urdf:=/no/such\.urdf: cannot read'):
        plan_demo(REPO, urdf='/no/such.urdf')
    broken = tmp_path / 'broken.urdf'
    broken.write_text('<robot name="x"><link name="a"/>')
    with pytest.raises(LaunchArgumentError, match='urdf:=.*broken.urdf'):
        plan_ik(REPO, urdf=str(broken))
    with pytest.raises(LaunchArgumentError, match='arm:=ur5: not a shipped arm'):
        plan_demo(REPO, arm='ur5')


def test_a_missing_rviz2_is_named_with_the_argument_that_turns_it_off(installed):
    installed('iknn_ros', 'robot_state_publisher')
    with pytest.raises(LaunchArgumentError, match=r"'rviz2' not found.*use_rviz:=false"):
        plan_demo(REPO)
    assert names(plan_demo(REPO, use_rviz=False))[-1] == ('iknn_ros', 'ik_node')


def test_a_missing_robot_state_publisher_is_named_with_use_rsp(installed):
    installed('iknn_ros')
    with pytest.raises(LaunchArgumentError,
                       match=r"'robot_state_publisher' not found.*use_rsp:=false"):
        plan_demo(REPO, use_rviz=False)
    assert names(plan_demo(REPO, use_rviz=False, use_rsp=False)) == [
        ('iknn_ros', 'sim_arm'), ('iknn_ros', 'ik_node')]


def test_an_uninstalled_iknn_ros_says_to_source_the_workspace(installed):
    installed()
    with pytest.raises(LaunchArgumentError, match=r"'iknn_ros' not found.*source"):
        plan_ik(REPO)


def test_the_ik_launch_plans_one_node_with_the_generic_parameters(installed):
    installed('iknn_ros')
    plan = plan_ik(REPO, urdf=str(REPO / 'urdf' / 'spatial_arm.urdf'),
                   output_mode='joint_trajectory')
    assert names(plan) == [('iknn_ros', 'ik_node')]
    file, overrides = plan[0].parameters
    assert file == str(REPO / 'config' / 'iknn.yaml')
    assert overrides['output_mode'] == 'joint_trajectory'
    assert KinematicChain.from_urdf(overrides['robot_description']).n_joints == 4


def test_an_arm_without_a_model_for_its_targets_needs_model_none(installed):
    installed('iknn_ros')
    urdf = str(REPO / 'urdf' / 'seven_dof_arm.urdf')
    # The generic parameters ask for position targets: this arm's model takes poses.
    with pytest.raises(LaunchArgumentError,
                       match=r'no shipped position model.*model_path none'):
        plan_ik(REPO, urdf=urdf)
    plan = plan_ik(REPO, urdf=urdf, model='none')
    assert plan[0].parameters[1]['model_path'] == 'none'
    # Its own parameter file asks for poses (its shipped pose model), and the launch leaves
    # the file's model_path as it is.
    plan = plan_ik(REPO, urdf=urdf, params_file=str(REPO / 'config' / 'seven_dof_arm.yaml'))
    assert 'model_path' not in plan[0].parameters[1]
    # Given alone, the shipped URDF brings its own file (a start inside the limits).
    demo = plan_demo(REPO, urdf=urdf, model='none', use_rviz=False, use_rsp=False)
    assert sim_parameters(demo)['initial_positions'] == [0.0, -0.3, 0.0, -2.0, 0.0, 1.7,
                                                         0.785]


@pytest.mark.parametrize('arm', ['six_dof_arm', 'seven_dof_arm'])
def test_the_real_size_arms_launch_on_their_own_files_with_their_pose_models(installed, arm):
    installed(*ALL_PACKAGES)
    plan = plan_demo(REPO, arm=arm)
    ik = next(n for n in plan if n.executable == 'ik_node')
    file, overrides = ik.parameters
    assert file == str(REPO / 'config' / f'{arm}.yaml') and 'model_path' not in overrides
    section = yaml.safe_load(Path(file).read_text())['/**/ik_node']['ros__parameters']
    # The shipped model of the file's target mode: found, so the plan stands.
    assert section['model_path'] == '' and section['target_mode'] == 'pose'
