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
The goal as an RViz interactive marker: its controls, and a real node's marker dragged.

The marker offers the controls of the arm's target mode; a real ik_node's marker is dragged
by feedback messages as RViz sends them.

The server tests need ``interactive_markers`` (a ROS package with no PyPI wheel): they skip
where it cannot be imported, saying so; ``.github/workflows/ros.yml`` runs them with ROS.
"""

import math
from pathlib import Path
import sys
import time

from diagnostic_msgs.msg import DiagnosticArray
from iknn_ros.ik.solver import IKSolver
from iknn_ros.ik.solver import SolverConfig
from iknn_ros.kinematics import KinematicChain
from iknn_ros.kinematics.targets import modes_for
from iknn_ros.kinematics.targets import TargetMode
from iknn_ros.nodes.goal_marker import AXIS_ORIENTATIONS
from iknn_ros.nodes.goal_marker import goal_marker
from iknn_ros.nodes.goal_marker import MISSING_PACKAGE
from iknn_ros.nodes.goal_marker import target_pose
from iknn_ros.nodes.ik_node import IKNode
from iknn_ros.nodes.sim_arm import SimArm
import numpy as np
import pinocchio
import pytest
import rclpy
from rclpy.parameter import Parameter
from ros_harness import Harness
from sensor_msgs.msg import JointState
from visualization_msgs.msg import InteractiveMarkerFeedback
from visualization_msgs.msg import InteractiveMarkerUpdate
from visualization_msgs.srv import GetInteractiveMarkers

URDF_DIR = Path(__file__).resolve().parent.parent / 'urdf'
ARMS = ('two_link_arm', 'three_link_arm', 'spatial_arm', 'six_dof_arm', 'seven_dof_arm')
STARTS = {'two_link_arm': [0.0, 1.0], 'seven_dof_arm': [0.0, 0.0, 0.0, -1.5, 0.0, 1.5, 0.0]}
BASE_AXES = {'x': (1.0, 0.0, 0.0), 'y': (0.0, 1.0, 0.0), 'z': (0.0, 0.0, 1.0)}
NO_SERVER = 'interactive_markers is not installed (a ROS package with no PyPI wheel); ' \
            '.github/workflows/ros.yml runs these tests with ROS'


def chain_of(arm):
    return KinematicChain.from_urdf(URDF_DIR / f'{arm}.urdf')


def control_axis(control):
    """Return the base axis a control acts along: its orientation applied to x."""
    o = control.orientation
    rotation = pinocchio.Quaternion(o.w, o.x, o.y, o.z).toRotationMatrix()
    return tuple(np.round(rotation[:, 0], 12))


@pytest.mark.parametrize('arm', ARMS)
def test_the_marker_offers_only_what_the_target_mode_takes(arm):
    chain = chain_of(arm)
    for mode in modes_for(chain):
        target = IKSolver(chain, None, SolverConfig(use_network=False, target_mode=mode.value)
                          ).tool_target(np.zeros(chain.n_joints))
        marker = goal_marker(chain, mode, 'base_link', target, 'text')
        controls = {c.name: c for c in marker.controls}
        moves = {'x', 'y'} if chain.planar is not None else {'x', 'y', 'z'}
        turns = {TargetMode.PLANAR_POSE: {'z'}, TargetMode.POSE: {'x', 'y', 'z'},
                 TargetMode.TOOL_AXIS: {'x', 'y'}}.get(mode, set())
        assert set(controls) == {'drag'} | {f'move_{a}' for a in moves} | \
            {f'rotate_{a}' for a in turns}
        for name, control in controls.items():
            if name != 'drag':
                assert control_axis(control) == BASE_AXES[name[-1]], name
        # A planar arm's goal is dragged in its plane, a spatial one's anywhere.
        assert controls['drag'].interaction_mode == (
            controls['drag'].MOVE_PLANE if chain.planar is not None else
            controls['drag'].MOVE_3D)
        if chain.planar is not None:
            assert control_axis(controls['drag']) == BASE_AXES['z']


@pytest.mark.parametrize('arm', ARMS)
def test_the_marker_starts_at_the_tool_pose(arm):
    chain = chain_of(arm)
    q = np.array([0.5 * (lo + hi) if math.isfinite(lo) and math.isfinite(hi) else 0.3
                  for lo, hi in zip(chain.lower, chain.upper)]) + 0.2
    tool = chain.frames(q)[-1]
    for mode in modes_for(chain):
        solver = IKSolver(chain, None, SolverConfig(use_network=False, target_mode=mode.value))
        pose = target_pose(chain, mode, solver.tool_target(q))
        p, o = pose.position, pose.orientation
        np.testing.assert_allclose((p.x, p.y, p.z), tool[:3, 3], atol=1e-12)
        rotation = pinocchio.Quaternion(o.w, o.x, o.y, o.z).toRotationMatrix()
        if mode is TargetMode.POSE:
            np.testing.assert_allclose(rotation, tool[:3, :3], atol=1e-12)
        elif mode is TargetMode.TOOL_AXIS:
            # The marker's z axis is the tool's; its turn about it is not the target's.
            np.testing.assert_allclose(rotation[:, 2], tool[:3, 2], atol=1e-12)
        elif mode is TargetMode.PLANAR_POSE:
            # The tool's heading in the plane.
            np.testing.assert_allclose(rotation[:2, 0], tool[:2, 0] / np.linalg.norm(
                tool[:2, 0]), atol=1e-12)
        else:
            np.testing.assert_allclose(rotation, np.eye(3), atol=1e-12)


def test_control_orientations_are_unit_quaternions():
    for quaternion in AXIS_ORIENTATIONS.values():
        assert math.isclose(sum(v * v for v in quaternion), 1.0, abs_tol=1e-15)


@pytest.fixture()
def ros():
    rclpy.init()
    yield
    rclpy.try_shutdown()


def test_without_the_package_the_node_says_so_once_and_runs_on(ros, monkeypatch, capfd):
    monkeypatch.setitem(sys.modules, 'interactive_markers', None)  # import fails
    ik = IKNode()
    sim = SimArm()
    harness = Harness(ik, sim)
    try:
        diagnostics = harness.record(DiagnosticArray, '/diagnostics')
        assert harness.spin_until(lambda: len(diagnostics) > 3)
        assert ik._goal_marker is None
        published = ik.get_publisher_names_and_types_by_node('ik_node', '')
        assert not any(name.endswith('/update') for name, _ in published)
    finally:
        harness.close()
        ik.destroy_node()
        sim.destroy_node()
    assert capfd.readouterr().err.count(MISSING_PACKAGE) == 1


def test_the_parameter_turns_the_marker_off(ros):
    ik = IKNode(parameter_overrides=[Parameter('interactive_marker', value=False)])
    try:
        assert ik._goal_marker is None
        services = ik.get_service_names_and_types_by_node('ik_node', '')
        assert not any(name.endswith('get_interactive_markers') for name, _ in services)
    finally:
        ik.destroy_node()


# ---- the real server ---------------------------------------------------------------------

def arm_loop(arm, **params):
    pytest.importorskip('interactive_markers', reason=NO_SERVER)
    urdf = str(URDF_DIR / f'{arm}.urdf')
    overrides = [Parameter('urdf_path', value=urdf)]
    overrides += [Parameter(k, value=v) for k, v in params.items()]
    ik = IKNode(parameter_overrides=overrides)
    start = STARTS[arm]
    sim = SimArm(parameter_overrides=[
        Parameter('urdf_path', value=urdf),
        Parameter('initial_positions', Parameter.Type.DOUBLE_ARRAY, start)])
    return ik, sim, Harness(ik, sim)


class MarkerProbe:
    """What RViz's InteractiveMarkers display sees of the marker, and its drag feedback."""

    def __init__(self, harness, namespace='/goal_marker'):
        self.harness = harness
        self.ready_at = 0.0
        self.updates = harness.record(InteractiveMarkerUpdate, f'{namespace}/update', 100)
        self.feedback = harness.publisher(InteractiveMarkerFeedback, f'{namespace}/feedback')
        self.service = harness.probe.create_client(GetInteractiveMarkers,
                                                   f'{namespace}/get_interactive_markers')

    def wait_for_marker(self):
        """Wait for the marker's first update; return its pose."""
        assert self.harness.spin_until(lambda: self.pose() is not None, 10.0)
        self.ready_at = time.monotonic() + 1.05
        return self.pose()

    def initial(self):
        """Return the markers a display gets when it connects (the service RViz calls)."""
        assert self.service.wait_for_service(timeout_sec=10.0)
        future = self.service.call_async(GetInteractiveMarkers.Request())
        assert self.harness.spin_until(future.done)
        return future.result().markers

    def pose(self):
        """Return the marker's latest pose from the updates (full or pose-only)."""
        for update in reversed(self.updates):
            for item in list(update.poses) + list(update.markers):
                if item.name == 'goal':
                    return item.pose
        return None

    def description(self):
        for update in reversed(self.updates):
            for marker in update.markers:
                if marker.name == 'goal':
                    return marker.description
        return ''

    def drag(self, position, orientation=(0.0, 0.0, 0.0, 1.0), event=None):
        msg = InteractiveMarkerFeedback(
            client_id='/rviz/InteractiveMarkers', marker_name='goal',
            event_type=InteractiveMarkerFeedback.MOUSE_UP if event is None else event)
        msg.header.frame_id = 'base_link'
        msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = position
        o = msg.pose.orientation
        o.x, o.y, o.z, o.w = orientation
        assert self.harness.spin_until(lambda: self.feedback.get_subscription_count() > 0)
        # The server takes a new client's feedback once a second has passed since the last
        # (its guard against two displays dragging one marker): the marker's creation counts.
        self.harness.spin_until(lambda: False, max(0.0, self.ready_at - time.monotonic()))
        self.feedback.publish(msg)


def position_of(pose):
    return np.array([pose.position.x, pose.position.y, pose.position.z])


def joints_of(states, chain):
    positions = dict(zip(states[-1].name, states[-1].position))
    return np.array([positions[n] for n in chain.joint_names])


def close(ik, sim, harness):
    harness.close()
    ik.destroy_node()
    sim.destroy_node()


def test_a_drag_moves_the_arm_and_an_unreachable_goal_snaps_to_its_projection(ros):
    ik, sim, harness = arm_loop('two_link_arm')
    chain = chain_of('two_link_arm')
    try:
        probe = MarkerProbe(harness)
        states = harness.record(JointState, 'joint_states')
        # The marker appears at the tool, with the plane's controls only.
        probe.wait_for_marker()
        np.testing.assert_allclose(position_of(probe.pose())[:2], chain.fk(STARTS[
            'two_link_arm']), atol=1e-9)
        (initial,) = probe.initial()
        assert {c.name for c in initial.controls} == {'drag', 'move_x', 'move_y'}
        assert initial.header.frame_id == 'base_link'

        probe.drag((-0.3, 0.6, 0.0))
        goal = np.array([-0.3, 0.6])
        assert harness.spin_until(
            lambda: np.linalg.norm(chain.fk(joints_of(states, chain)) - goal) < 1e-6, 15.0)
        assert harness.spin_until(lambda: 'reached' in probe.description(), 5.0)
        np.testing.assert_allclose(position_of(probe.pose())[:2], goal, atol=1e-12)

        # Beyond reach: the arm goes to the nearest reachable point and the marker with it.
        probe.drag((3.0, 0.0, 0.0))
        assert harness.spin_until(lambda: 'out of reach' in probe.description(), 10.0)
        reach = ik.controller.solver.workspace.r_max
        assert harness.spin_until(
            lambda: np.linalg.norm(position_of(probe.pose())[:2] - (reach, 0.0)) < 1e-6, 5.0)
        assert harness.spin_until(lambda: np.linalg.norm(
            chain.fk(joints_of(states, chain)) - (reach, 0.0)) < 1e-4, 15.0)
    finally:
        close(ik, sim, harness)


def test_a_drag_streams_goals_throttled_and_sends_the_release_exactly(ros):
    ik, sim, harness = arm_loop('two_link_arm')
    try:
        probe = MarkerProbe(harness)
        probe.wait_for_marker()
        before = ik.controller.counters['targets_accepted']
        probe.drag((0.5, 0.5, 0.0), event=InteractiveMarkerFeedback.MOUSE_DOWN)
        # 50 pose updates within about 0.25 s: at most one goal per 50 ms goes out.
        for k in range(50):
            probe.drag((0.5, 0.5 + 0.002 * k, 0.0), event=InteractiveMarkerFeedback.POSE_UPDATE)
            harness.spin(0.005)
        sent = ik.controller.counters['targets_accepted'] - before
        assert 2 <= sent <= 10, sent
        # While the drag lasts the marker is left to the hand: no pose updates come back.
        shown = len(probe.updates)
        harness.spin(0.3)
        assert len(probe.updates) == shown
        probe.drag((0.4, 0.55, 0.0))
        assert harness.spin_until(lambda: ik.controller.target == (0.4, 0.55), 5.0)
    finally:
        close(ik, sim, harness)


def test_a_pose_goal_is_dragged_and_turned_on_the_seven_joint_arm(ros):
    ik, sim, harness = arm_loop('seven_dof_arm', model_path='none', target_mode='pose',
                                refine_iterations=3)
    chain = chain_of('seven_dof_arm')
    try:
        probe = MarkerProbe(harness)
        states = harness.record(JointState, 'joint_states')
        probe.wait_for_marker()
        (initial,) = probe.initial()
        assert {c.name for c in initial.controls} == {
            'drag', 'move_x', 'move_y', 'move_z', 'rotate_x', 'rotate_y', 'rotate_z'}
        tool = chain.frames(np.array(STARTS['seven_dof_arm']))[-1]
        np.testing.assert_allclose(position_of(initial.pose), tool[:3, 3], atol=1e-9)

        goal = chain.frames(np.array(STARTS['seven_dof_arm']) + 0.3)[-1]
        quaternion = pinocchio.Quaternion(goal[:3, :3])
        probe.drag(tuple(goal[:3, 3]), (quaternion.x, quaternion.y, quaternion.z,
                                        quaternion.w))

        def errors():
            here = chain.frames(joints_of(states, chain))[-1]
            return (np.linalg.norm(here[:3, 3] - goal[:3, 3]),
                    np.linalg.norm(pinocchio.log3(goal[:3, :3] @ here[:3, :3].T)))
        assert harness.spin_until(lambda: max(errors()) < 1e-6, 30.0), errors()
        assert harness.spin_until(lambda: 'reached' in probe.description(), 5.0)
    finally:
        close(ik, sim, harness)
