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

"""The IK node and the simulated arm on real rclpy: behaviour, refusals, outputs, shutdown."""

import math
import os
from pathlib import Path
import signal
import subprocess
import sys
import time

from diagnostic_msgs.msg import DiagnosticArray
from diagnostic_msgs.msg import DiagnosticStatus
from geometry_msgs.msg import PointStamped
from geometry_msgs.msg import PoseStamped
from iknn_ros.kinematics import KinematicChain
from iknn_ros.kinematics.rigid_body import RigidBodyModel
from iknn_ros.kinematics.targets import matrix_to_quaternion
from iknn_ros.nodes.ik_node import IKNode
from iknn_ros.nodes.ik_node import transform_point
from iknn_ros.nodes.sim_arm import ServoModel
from iknn_ros.nodes.sim_arm import SimArm
from iknn_ros.resources import default_model_path
from iknn_ros.resources import default_urdf_path
import numpy as np
import pinocchio
import pytest
import rclpy
from rclpy.parameter import Parameter
from ros_harness import Harness
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray
from trajectory_msgs.msg import JointTrajectory
from visualization_msgs.msg import MarkerArray

CHAIN = KinematicChain.from_urdf(default_urdf_path())


@pytest.fixture()
def ros():
    rclpy.init()
    yield
    rclpy.try_shutdown()


def ik_node(**params):
    return IKNode(parameter_overrides=[Parameter(k, value=v) for k, v in params.items()])


def sim_arm(start=(0.0, 1.0), **params):
    overrides = [Parameter('initial_positions', Parameter.Type.DOUBLE_ARRAY, list(start))]
    overrides += [Parameter(k, value=v) for k, v in params.items()]
    return SimArm(parameter_overrides=overrides)


def pose(x, y, frame='base_link', z=0.0):
    msg = PoseStamped()
    msg.header.frame_id = frame
    msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = x, y, z
    msg.pose.orientation.w = 1.0
    return msg


def joint_state(names, positions):
    msg = JointState(name=list(names), position=[float(p) for p in positions])
    return msg


def tip(state_msg):
    positions = dict(zip(state_msg.name, state_msg.position))
    return CHAIN.fk(np.array([positions['joint1'], positions['joint2']]))


def last_diagnostic(messages):
    status = messages[-1].status[0]
    return status, {kv.key: kv.value for kv in status.values}


@pytest.fixture()
def loop(ros):
    """Yield the IK node driving the simulated arm, with a probe listening."""
    ik, sim = ik_node(), sim_arm()
    harness = Harness(ik, sim)
    yield harness, ik, sim
    harness.close()
    ik.destroy_node()
    sim.destroy_node()


def test_closed_loop_reaches_a_goal(loop):
    harness, ik, _ = loop
    states = harness.record(JointState, 'joint_states')
    diagnostics = harness.record(DiagnosticArray, '/diagnostics')
    goals = harness.publisher(PoseStamped, '/goal_pose')
    assert harness.spin_until(lambda: len(states) > 5)
    goals.publish(pose(-0.3, 0.6))
    goal = np.array([-0.3, 0.6])
    assert harness.spin_until(lambda: np.linalg.norm(tip(states[-1]) - goal) < 1e-4, 15.0)
    assert harness.spin_until(
        lambda: diagnostics and last_diagnostic(diagnostics)[1].get('status') == 'REACHED')
    status, values = last_diagnostic(diagnostics)
    assert status.level == DiagnosticStatus.OK and values['target_reachable'] == 'true'
    assert float(values['goal_error_m']) <= 1e-4
    # Holding: the arm stays put once there.
    harness.spin(0.5)
    assert np.linalg.norm(tip(states[-1]) - goal) < 1e-4


def test_a_clicked_point_and_preemption(loop):
    harness, ik, _ = loop
    states = harness.record(JointState, 'joint_states')
    clicks = harness.publisher(PointStamped, '/clicked_point')
    goals = harness.publisher(PoseStamped, 'target_pose')
    assert harness.spin_until(lambda: len(states) > 5)
    goals.publish(pose(0.9, -0.3))
    harness.spin(0.3)
    click = PointStamped()
    click.header.frame_id = 'base_link'
    click.point.x, click.point.y = 0.2, 0.5
    clicks.publish(click)
    goal = np.array([0.2, 0.5])
    assert harness.spin_until(lambda: np.linalg.norm(tip(states[-1]) - goal) < 1e-4, 15.0)
    assert ik.controller.target == (0.2, 0.5)


def test_unreachable_goal_ends_at_its_projection(loop):
    harness, ik, _ = loop
    states = harness.record(JointState, 'joint_states')
    diagnostics = harness.record(DiagnosticArray, '/diagnostics')
    markers = harness.record(MarkerArray, 'iknn/markers')
    goals = harness.publisher(PoseStamped, '/goal_pose')
    assert harness.spin_until(lambda: len(states) > 5)
    goals.publish(pose(1.6, 1.2))
    projection = np.array([0.8, 0.6])
    assert harness.spin_until(lambda: np.linalg.norm(tip(states[-1]) - projection) < 1e-4,
                              15.0)
    # Diagnostics go out at 10 Hz: on a loaded machine the first one after the arm settles
    # may still be from a tick before it did.
    assert harness.spin_until(lambda: diagnostics and
                              last_diagnostic(diagnostics)[1].get('status') == 'OUT_OF_REACH'
                              and float(last_diagnostic(diagnostics)[1]['goal_error_m'])
                              <= 1e-4)
    status, values = last_diagnostic(diagnostics)
    assert status.level == DiagnosticStatus.WARN and values['target_reachable'] == 'false'
    assert 'out of reach' in status.message
    goal = [float(v) for v in values['goal'].split(',')]
    np.testing.assert_allclose(goal, projection, atol=1e-9)
    # The marker array shows the target and, apart, its projection.
    assert harness.spin_until(lambda: any(
        m.id == 1 and m.action == m.ADD for a in markers for m in a.markers))


def test_stale_feedback_stops_the_commands(ros):
    ik = ik_node(feedback_timeout=0.2)
    harness = Harness(ik)
    commands = harness.record(JointState, 'joint_commands')
    diagnostics = harness.record(DiagnosticArray, '/diagnostics')
    feedback = harness.publisher(JointState, 'joint_states')
    harness.publisher(PoseStamped, 'target_pose').publish(pose(0.5, 0.5))
    harness.spin(0.3)
    assert not commands, 'no command may be sent before any feedback'
    assert 'no joint feedback' in last_diagnostic(diagnostics)[0].message
    for _ in range(30):
        feedback.publish(joint_state(['joint1', 'joint2'], [0.0, 1.0]))
        harness.spin(0.01)
    assert commands, 'fresh feedback and a target give commands'
    harness.spin(0.3)
    count = len(commands)
    harness.spin(0.5)
    assert len(commands) == count, 'stale feedback must stop the commands'
    status, values = last_diagnostic(diagnostics)
    assert status.level == DiagnosticStatus.WARN
    assert 'old (timeout 0.200 s): not commanding' in status.message
    harness.close()
    ik.destroy_node()


def test_bad_inputs_are_refused_and_the_node_keeps_running(ros):
    ik = ik_node()
    harness = Harness(ik)
    commands = harness.record(JointState, 'joint_commands')
    feedback = harness.publisher(JointState, 'joint_states')
    targets = harness.publisher(PoseStamped, 'target_pose')
    harness.spin(0.2)
    targets.publish(pose(0.5, 0.5, frame='world'))
    targets.publish(pose(float('nan'), 0.5))
    targets.publish(pose(0.5, float('inf')))
    feedback.publish(joint_state(['shoulder', 'elbow'], [0.0, 1.0]))
    feedback.publish(joint_state(['joint1', 'joint2'], [0.0]))
    feedback.publish(joint_state(['joint1', 'joint2'], [float('nan'), 1.0]))
    harness.spin(0.3)
    assert ik.controller.target is None and ik.controller.joints is None
    assert ik.controller.counters['targets_refused'] == 3
    assert ik.controller.counters['feedback_refused'] == 3
    assert not commands
    # Valid input afterwards works: extra joints and any order are fine.
    targets.publish(pose(0.5, 0.5))
    for _ in range(20):
        feedback.publish(joint_state(['gripper', 'joint2', 'joint1'], [0.3, 1.0, 0.0]))
        harness.spin(0.01)
    assert harness.spin_until(lambda: len(commands) > 3)
    assert ik.controller.joints == (0.0, 1.0)
    harness.close()
    ik.destroy_node()


def test_every_output_mode_publishes_the_right_message(ros):
    ik = ik_node(output_mode='joint_state,forward_position,joint_trajectory',
                 control_rate_hz=50.0)
    harness = Harness(ik)
    states = harness.record(JointState, 'joint_commands')
    arrays = harness.record(Float64MultiArray, '/forward_position_controller/commands')
    trajectories = harness.record(JointTrajectory,
                                  '/joint_trajectory_controller/joint_trajectory')
    feedback = harness.publisher(JointState, 'joint_states')
    harness.publisher(PoseStamped, 'target_pose').publish(pose(0.3, 0.7))
    for _ in range(40):
        feedback.publish(joint_state(['joint2', 'joint1'], [1.0, 0.1]))
        harness.spin(0.01)
    assert harness.spin_until(lambda: states and arrays and trajectories)
    s, a, t = states[-1], arrays[-1], trajectories[-1]
    assert list(s.name) == ['joint1', 'joint2'] and len(s.position) == 2
    assert s.header.stamp.sec > 0 or s.header.stamp.nanosec > 0
    assert len(a.data) == 2
    assert list(t.joint_names) == ['joint1', 'joint2'] and len(t.points) == 1
    assert len(t.points[0].positions) == 2
    assert t.points[0].time_from_start.sec == 0
    assert t.points[0].time_from_start.nanosec == 20_000_000
    # The three carry the same command, in joint order.
    assert harness.spin_until(lambda: list(states[-1].position) == list(arrays[-1].data)
                              == list(trajectories[-1].points[0].positions))
    harness.close()
    ik.destroy_node()


def test_parameter_changes_are_validated(ros):
    ik = ik_node()
    harness = Harness(ik)
    results = ik.set_parameters([Parameter('control_rate_hz', value=0.5)])
    assert not results[0].successful
    results = ik.set_parameters([Parameter('output_mode', value='joint_state,teleport')])
    assert not results[0].successful and 'output_mode must be' in results[0].reason
    results = ik.set_parameters([Parameter('model_path', value='/no/such/model.onnx')])
    assert not results[0].successful and 'does not exist' in results[0].reason
    results = ik.set_parameters([Parameter('trigger', value='sometimes')])
    assert not results[0].successful
    before = ik.controller.solver
    results = ik.set_parameters([Parameter('refine_iterations', value=3),
                                 Parameter('control_rate_hz', value=200.0),
                                 Parameter('output_mode', value='forward_position')])
    assert all(r.successful for r in results)
    assert ik.controller.solver is not before
    assert ik.controller.solver.config.refine_iterations == 3
    assert ik.get_parameter('control_rate_hz').value == 200.0
    assert list(ik._command_publishers) == ['forward_position']
    results = ik.set_parameters([Parameter('target_topic', value='elsewhere')])
    assert not results[0].successful
    # Validation applies nothing: a change rclpy does not go on to set is never applied.
    solver = ik.controller.solver
    assert ik._on_set_parameters([Parameter('refine_iterations', value=5)]).successful
    assert ik.controller.solver is solver
    assert all(r.successful for r in ik.set_parameters([Parameter('feedback_timeout',
                                                                  value=0.25)]))
    assert ik.controller.solver is solver and ik.controller.feedback_timeout_s == 0.25
    assert ik.get_parameter('refine_iterations').value == 3
    harness.close()
    ik.destroy_node()


def test_the_posture_pull_is_a_parameter_checked_against_the_chain(ros):
    ik = ik_node()
    try:
        assert ik.has_parameter('rest_posture')
        config = ik.controller.solver.config
        assert config.posture_gain == 0.0 and config.rest_posture == ()
        results = ik.set_parameters([Parameter('rest_posture', value=[0.1])])
        assert not results[0].successful and 'rest_posture has 1 values' in results[0].reason
        results = ik.set_parameters([Parameter('posture_gain', value=5.0),
                                     Parameter('rest_posture', value=[0.1, 0.2])])
        assert all(r.successful for r in results)
        config = ik.controller.solver.config
        assert config.posture_gain == 5.0 and config.rest_posture == (0.1, 0.2)
    finally:
        ik.destroy_node()


def test_without_post_set_callbacks_the_next_tick_applies_a_change(ros):
    # Humble's rclpy has no post-set callbacks: the change waits for the next tick, which
    # applies it once the node holds the new value.
    ik = ik_node()
    try:
        ik.remove_post_set_parameters_callback(ik._on_parameters_set)
        ik._post_set = False
        solver = ik.controller.solver
        assert ik.set_parameters([Parameter('refine_iterations', value=4)])[0].successful
        assert ik.controller.solver is solver
        ik._tick(ik.get_clock().now())
        assert ik.controller.solver.config.refine_iterations == 4
    finally:
        ik.destroy_node()


def test_a_model_for_another_arm_stops_the_start(tmp_path):
    other = tmp_path / 'longer.urdf'
    other.write_text(default_urdf_path().read_text().replace(
        '<origin xyz="0.5 0 0" rpy="0 0 0"/>\n  </joint>',
        '<origin xyz="0.6 0 0" rpy="0 0 0"/>\n  </joint>'))
    model = default_model_path()
    done = subprocess.run([sys.executable, '-m', 'iknn_ros.nodes.ik_node', '--ros-args', '-p',
                           f'urdf_path:={other}', '-p', f'model_path:={model}'],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert 'cannot start' in done.stderr and 'tip offset' in done.stderr
    assert 'Traceback' not in done.stderr
    # Without a model, the node looks for a shipped one trained for this URDF: none is.
    done = subprocess.run([sys.executable, '-m', 'iknn_ros.nodes.ik_node', '--ros-args', '-p',
                           f'urdf_path:={other}'], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1 and 'no shipped position model is trained for' in done.stderr


@pytest.mark.parametrize('signum', [signal.SIGINT, signal.SIGTERM])
def test_a_signal_shuts_the_node_down_cleanly(signum):
    process = subprocess.Popen([sys.executable, '-m', 'iknn_ros.nodes.ik_node'],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, 'RCUTILS_LOGGING_BUFFERED_STREAM': '0'})
    deadline = time.monotonic() + 30
    output = ''
    while time.monotonic() < deadline and 'ready' not in output:
        line = process.stderr.readline()
        if not line:
            break
        output += line
    assert 'ready' in output
    process.send_signal(signum)
    try:
        out, err = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        pytest.fail(f'ik_node still running 20 s after signal {signum}:\n{out}\n{err}')
    assert process.returncode == 0, err
    assert 'Traceback' not in err + out


def test_sim_arm_follows_commands_within_its_limits(ros):
    sim = sim_arm(start=(0.0, 2.7), time_constant=0.05, rate_hz=100.0)
    harness = Harness(sim)
    states = harness.record(JointState, 'joint_states')
    commands = harness.publisher(Float64MultiArray, '/forward_position_controller/commands')
    assert harness.spin_until(lambda: len(states) > 3)
    commands.publish(Float64MultiArray(data=[1.0, 3.5]))
    commands.publish(Float64MultiArray(data=[9.0]))  # wrong length: ignored
    harness.spin(1.0)
    positions = np.array([s.position for s in states])
    steps = np.abs(np.diff(positions, axis=0))
    assert np.all(steps <= 2.0 * 0.01 + 1e-9)
    assert positions[:, 1].max() <= 2.8 + 1e-12
    assert positions[-1][0] == pytest.approx(1.0, abs=1e-3)
    assert all(s.header.stamp.sec > 0 for s in states)
    assert list(states[-1].name) == ['joint1', 'joint2']
    harness.close()
    sim.destroy_node()


def test_servo_model_lags_and_respects_limits():
    servo = ServoModel(lower=[-math.inf, -2.8], upper=[math.inf, 2.8],
                       velocity_limits=[2.0, 2.0], time_constant_s=0.1,
                       positions=[0.0, 0.0], command=[0.01, 5.0])
    servo.advance(0.01)
    assert servo.positions[0] == pytest.approx(0.01 * (1 - math.exp(-0.1)))
    assert servo.positions[1] == pytest.approx(0.02)
    for _ in range(500):
        servo.advance(0.01)
    assert servo.positions == pytest.approx([0.01, 2.8])


def test_transform_point_rotates_then_translates():
    quarter_turn_z = (0.0, 0.0, math.sin(math.pi / 4), math.cos(math.pi / 4))
    moved = transform_point((1.0, 2.0, 3.0), quarter_turn_z, (1.0, 0.0, 0.0))
    np.testing.assert_allclose(moved, (1.0, 3.0, 3.0), atol=1e-15)


def test_a_1khz_target_stream_logs_a_few_lines_and_counts_every_target(ros):
    # Before: one INFO line per accepted target (1,000 lines a second at 1 kHz) and one
    # WARN line per refused one.
    process = subprocess.Popen(
        [sys.executable, '-c', 'import sys; from iknn_ros.nodes.node_main import ik_node; '
         'sys.exit(ik_node())'], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, 'RCUTILS_LOGGING_BUFFERED_STREAM': '0'})
    harness = None
    try:
        line = ''
        deadline = time.monotonic() + 30
        while 'ready' not in line and time.monotonic() < deadline:
            line = process.stderr.readline()
        assert 'ready' in line
        harness = Harness()
        diagnostics = harness.record(DiagnosticArray, '/diagnostics')
        goals = harness.publisher(PoseStamped, '/goal_pose', 1000)
        assert harness.spin_until(lambda: goals.get_subscription_count() > 0, 10.0)
        # A fixed count paced at 1 kHz: on a loaded machine the stream runs longer, not thinner.
        sent_good = sent_bad = 0
        start = time.monotonic()
        while sent_good + sent_bad < 3000:
            k = sent_good + sent_bad
            if k % 4 == 3:
                goals.publish(pose(math.nan, 0.3))
                sent_bad += 1
            else:
                goals.publish(pose(0.6 * math.cos(k * 1e-3), 0.6 * math.sin(k * 1e-3)))
                sent_good += 1
            harness.executor.spin_once(timeout_sec=0.0)
            time.sleep(max(0.0, start + (k + 1) * 1e-3 - time.monotonic()))
        streamed_s = time.monotonic() - start

        def counted():
            if not diagnostics:
                return None
            values = {kv.key: kv.value for kv in diagnostics[-1].status[0].values}
            return int(values['targets_accepted']), int(values['targets_refused'])
        harness.spin(1.0)  # the last diagnostics after the stream
        # Every target the node received is counted. A reliable KEEP_LAST(10) queue may
        # still drop some of a 1 kHz burst, the more the busier the machine (7 % with both
        # cores loaded): most arrive, none is counted twice, and the good and the bad are
        # counted alike (one bad in four sent).
        accepted, refused = counted()
        assert accepted <= sent_good and refused <= sent_bad, (accepted, refused)
        assert accepted + refused >= 0.5 * (sent_good + sent_bad), (accepted, refused)
        assert 2.5 <= accepted / refused <= 3.5, (accepted, refused)
    finally:
        if harness is not None:
            harness.close()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    assert process.returncode == 0
    accepted_lines = [t for t in err.splitlines() if 'new target' in t]
    refused_lines = [t for t in err.splitlines() if 'non-finite' in t or 'refused' in t]
    # The first at once, then at most one line per 2 s for each, over the stream and the
    # second after it.
    most = 2 + int((streamed_s + 1.0) / 2.0)
    assert 1 <= len(accepted_lines) <= most, (streamed_s, accepted_lines)
    assert 1 <= len(refused_lines) <= most, (streamed_s, refused_lines)
    assert any(' in the last ' in t for t in accepted_lines), accepted_lines


@pytest.mark.parametrize('arm, start', [('two_link_arm', [0.0, 1.0]),
                                        ('seven_dof_arm', [0.0, 0.0, 0.0, -1.5, 0.0, 1.5, 0.0])])
def test_no_model_yet_is_a_mode_that_says_so(ros, arm, start):
    # A new arm comes up before it has a model: the same tick on damped least squares.
    urdf = str(Path(__file__).resolve().parent.parent / 'urdf' / f'{arm}.urdf')
    chain = KinematicChain.from_urdf(urdf)
    ik = ik_node(urdf_path=urdf, model_path='none')
    sim = sim_arm(start, urdf_path=urdf)
    harness = Harness(ik, sim)
    try:
        states = harness.record(JointState, 'joint_states')
        diagnostics = harness.record(DiagnosticArray, '/diagnostics')
        goals = harness.publisher(PoseStamped, '/goal_pose')
        assert harness.spin_until(lambda: len(states) > 5)
        q = np.array(start) + 0.4
        assert chain.within_limits(q)
        goal = chain.fk(q)
        goals.publish(pose(*goal[:2], z=float(goal[2]) if len(goal) > 2 else 0.0))

        def tip_error():
            positions = dict(zip(states[-1].name, states[-1].position))
            return np.linalg.norm(chain.fk(np.array([positions[n] for n in chain.joint_names]))
                                  - goal)
        assert harness.spin_until(lambda: tip_error() < 1e-4, 20.0), tip_error()
        assert harness.spin_until(
            lambda: diagnostics and last_diagnostic(diagnostics)[1].get('status') == 'REACHED')
        status, values = last_diagnostic(diagnostics)
        assert status.level == DiagnosticStatus.WARN
        assert 'no model' in status.message and values['model'].startswith('none')
    finally:
        harness.close()
        ik.destroy_node()
        sim.destroy_node()


def test_a_pose_goal_sets_position_and_orientation(ros):
    # RViz's goal and MoveIt-style targets are full poses: in pose mode both parts count.
    urdf = str(Path(__file__).resolve().parent.parent / 'urdf' / 'seven_dof_arm.urdf')
    chain = KinematicChain.from_urdf(urdf)
    body = RigidBodyModel(chain)
    start = [0.0, 0.0, 0.0, -1.5, 0.0, 1.5, 0.0]
    ik = ik_node(urdf_path=urdf, model_path='none', target_mode='pose', refine_iterations=3)
    sim = sim_arm(start, urdf_path=urdf)
    harness = Harness(ik, sim)
    try:
        states = harness.record(JointState, 'joint_states')
        diagnostics = harness.record(DiagnosticArray, '/diagnostics')
        goals = harness.publisher(PoseStamped, '/goal_pose')
        points = harness.publisher(PointStamped, '/clicked_point')
        assert harness.spin_until(lambda: len(states) > 5)
        position, rotation = body.placement(np.array(start) + 0.3)
        msg = pose(*position[:2], z=float(position[2]))
        o = msg.pose.orientation
        o.x, o.y, o.z, o.w = matrix_to_quaternion(rotation)
        goals.publish(msg)

        def errors():
            positions = dict(zip(states[-1].name, states[-1].position))
            p, r = body.placement(np.array([positions[n] for n in chain.joint_names]))
            return np.linalg.norm(p - position), np.linalg.norm(pinocchio.log3(rotation @ r.T))
        assert harness.spin_until(lambda: max(errors()) < 1e-4, 30.0), errors()
        assert harness.spin_until(
            lambda: diagnostics and last_diagnostic(diagnostics)[1].get('status') == 'REACHED')
        _, values = last_diagnostic(diagnostics)
        assert values['target_mode'] == 'pose' and float(values['goal_error_rad']) < 1e-4
        # A point has no orientation: refused with a reason, and the arm stays.
        refused = int(values['targets_refused'])
        point = PointStamped()
        point.header.frame_id = 'base_link'
        points.publish(point)
        assert harness.spin_until(lambda: int(last_diagnostic(diagnostics)[1][
            'targets_refused']) == refused + 1)
        assert max(errors()) < 1e-4
    finally:
        harness.close()
        ik.destroy_node()
        sim.destroy_node()


def test_a_zero_quaternion_is_refused_in_pose_mode(ros):
    urdf = str(Path(__file__).resolve().parent.parent / 'urdf' / 'six_dof_arm.urdf')
    ik = ik_node(urdf_path=urdf, model_path='none', target_mode='pose')
    try:
        msg = pose(0.3, 0.2, z=0.4)
        msg.pose.orientation.w = 0.0
        ik._on_pose(msg)
        assert ik.controller.target is None
        assert ik.controller.counters['targets_refused'] == 1
    finally:
        ik.destroy_node()


def test_a_tool_axis_goal_takes_the_direction_of_the_pose_z_axis(ros):
    urdf = str(Path(__file__).resolve().parent.parent / 'urdf' / 'six_dof_arm.urdf')
    ik = ik_node(urdf_path=urdf, model_path='none', target_mode='tool_axis')
    try:
        msg = pose(0.3, 0.2, z=0.4)
        # A quarter turn about x: the tool's z axis points along -y.
        msg.pose.orientation.x, msg.pose.orientation.w = math.sqrt(0.5), math.sqrt(0.5)
        ik._on_pose(msg)
        assert ik.controller.target == pytest.approx((0.3, 0.2, 0.4, 0.0, -1.0, 0.0),
                                                     abs=1e-12)
    finally:
        ik.destroy_node()


def test_a_planar_pose_goal_sets_x_y_and_yaw(ros):
    urdf = str(Path(__file__).resolve().parent.parent / 'urdf' / 'three_link_arm.urdf')
    ik = ik_node(urdf_path=urdf, model_path='none', target_mode='planar_pose')
    try:
        msg = pose(0.4, 0.3)
        yaw = 0.7
        msg.pose.orientation.z, msg.pose.orientation.w = math.sin(yaw / 2), math.cos(yaw / 2)
        ik._on_pose(msg)
        assert ik.controller.target == pytest.approx((0.4, 0.3, yaw), abs=1e-12)
    finally:
        ik.destroy_node()


def test_a_target_mode_the_arm_cannot_hold_is_refused_at_start(ros):
    with pytest.raises(Exception, match='six joints or more'):
        ik_node(target_mode='pose')


def test_feedback_ticks_never_outrun_the_velocity_limit_in_wall_clock_time(ros):
    # A servo loop with jitter: feedback every 1.85 ms at a 500 Hz control rate. Before, a
    # tick 1.85 ms after the last still stepped a full 2 ms of velocity (8 % too fast), and
    # feedback sooner than 1.8 ms was dropped without a tick.
    # A fast tip speed, so the joint velocity limits are what bounds the steps.
    ik = ik_node(trigger='feedback', control_rate_hz=500.0, max_cartesian_speed=10.0)
    try:
        ik._on_pose(pose(-0.6, -0.5))
        v = CHAIN.velocity_limits
        q, last_q, last_t = [0.0, 1.0], None, None
        ticks = worst = 0
        for k in range(600):
            before = ik._last_tick
            ik._on_joint_state(joint_state(CHAIN.joint_names, q))
            if ik._last_tick == before:
                continue
            ticks += 1
            command = np.array(ik._joint_state_command.position)
            if last_q is not None:
                allowed = v * (ik._last_tick - last_t)
                worst = max(worst, float(np.max(np.abs(command - last_q) / allowed)))
            last_q, last_t, q = command, ik._last_tick, list(command)
            time.sleep(max(0.0, ik._last_tick + 1.85e-3 - time.perf_counter()))
        assert ticks >= 590
        assert worst <= 1.0 + 1e-6, worst
        assert worst > 0.9  # the arm moved at its limits: the bound was tested
    finally:
        ik.destroy_node()


def test_a_target_orientation_is_reported_once_not_dropped_silently(ros, capfd):
    ik = ik_node()
    try:
        turned = pose(0.5, 0.5)
        turned.pose.orientation.z, turned.pose.orientation.w = math.sin(0.4), math.cos(0.4)
        for _ in range(3):
            ik._on_pose(pose(0.5, 0.5))  # identity: nothing to say
        for _ in range(5):
            ik._on_pose(turned)
        assert ik.controller.target == (0.5, 0.5)
    finally:
        ik.destroy_node()
    err = capfd.readouterr().err
    assert err.count('orientation') == 1, err
    assert "ignored: target_mode is 'position' (this arm takes ['position']" in err
