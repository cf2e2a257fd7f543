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
The IK node: targets and joint feedback in, safe joint commands out, at a fixed rate.

Subscribes ``target_pose`` and ``/goal_pose`` (geometry_msgs/PoseStamped), ``/clicked_point``
(geometry_msgs/PointStamped) and ``joint_states`` (sensor_msgs/JointState, sensor-data QoS).
Publishes, by ``output_mode``, sensor_msgs/JointState on ``joint_commands``,
std_msgs/Float64MultiArray on ``/forward_position_controller/commands`` and
trajectory_msgs/JointTrajectory on ``/joint_trajectory_controller/joint_trajectory``; plus
``/diagnostics`` and ``iknn/markers`` for RViz, and serves the goal as an interactive
marker (``goal_marker/update``, ``goal_marker/feedback``) when ``interactive_markers`` is
installed. All mathematics is in
:mod:`iknn_ros.ik.solver` and :mod:`iknn_ros.ik.controller`; this module is the ROS glue.

    ros2 run iknn_ros ik_node --ros-args --params-file config/iknn.yaml
"""

from __future__ import annotations

import collections
import dataclasses
import math
from pathlib import Path
import sys
import time
from typing import Optional

from builtin_interfaces.msg import Duration
from diagnostic_msgs.msg import DiagnosticArray
from diagnostic_msgs.msg import DiagnosticStatus
from geometry_msgs.msg import PointStamped
from geometry_msgs.msg import Pose
from geometry_msgs.msg import PoseStamped
from iknn_ros.ik.controller import IKController
from iknn_ros.ik.controller import LogSummary
from iknn_ros.ik.model_card import model_for
from iknn_ros.ik.model_card import ModelMismatchError
from iknn_ros.ik.solver import IKSolver
from iknn_ros.ik.solver import ModelLoadError
from iknn_ros.ik.solver import OnnxIKNetwork
from iknn_ros.ik.solver import SolverConfig
from iknn_ros.ik.solver import Status
from iknn_ros.kinematics import KinematicChain
from iknn_ros.kinematics import UrdfError
from iknn_ros.kinematics.targets import check_mode
from iknn_ros.kinematics.targets import modes_for
from iknn_ros.kinematics.targets import TargetMode
from iknn_ros.nodes.goal_marker import GoalMarker
from iknn_ros.nodes.goal_marker import marker_description
from iknn_ros.nodes.goal_marker import MISSING_PACKAGE
from iknn_ros.nodes.goal_marker import pose_parts
from iknn_ros.nodes.messages import diagnostic_status
from iknn_ros.nodes.messages import target_markers
from iknn_ros.nodes.node_main import EXECUTORS
from iknn_ros.nodes.node_main import spin_node
from iknn_ros.resources import default_urdf_path
from iknn_ros.resources import is_no_model
from rcl_interfaces.msg import FloatingPointRange
from rcl_interfaces.msg import IntegerRange
from rcl_interfaces.msg import ParameterDescriptor
from rcl_interfaces.msg import SetParametersResult
from rclpy.exceptions import ParameterUninitializedException
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy
from rclpy.qos import qos_profile_sensor_data
from rclpy.qos import QoSProfile
from rclpy.time import Time
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray
from std_msgs.msg import Header
from trajectory_msgs.msg import JointTrajectory
from trajectory_msgs.msg import JointTrajectoryPoint
from visualization_msgs.msg import MarkerArray

OUTPUT_MODES = ('joint_state', 'forward_position', 'joint_trajectory')
# Parameters that change the solver: a new value is tried on a new solver first.
SOLVER_PARAMETERS = ('model_path', 'robot_description', 'urdf_path', 'base_link', 'tip_link',
                     'refine_iterations', 'joint_limit_margin', 'goal_tolerance',
                     'max_cartesian_speed', 'keep_out_fraction', 'target_mode',
                     'goal_tolerance_rad', 'max_angular_speed', 'orientation_weight',
                     'posture_gain', 'rest_posture')
DIAGNOSTIC_PERIOD_S = 0.1
# trigger: feedback ticks no sooner than this share of the control period after the last.
FEEDBACK_TICK_MIN_FRACTION = 0.5
THROTTLE_S = 2.0


class ConfigurationError(RuntimeError):
    """Parameters that do not describe a usable solver."""


def parse_output_modes(text: str) -> tuple:
    """Return the output modes named in a comma-separated string, or raise ValueError."""
    modes = tuple(dict.fromkeys(m.strip() for m in text.split(',') if m.strip()))
    unknown = [m for m in modes if m not in OUTPUT_MODES]
    if not modes or unknown:
        raise ValueError(f'output_mode must be one or more of {list(OUTPUT_MODES)} '
                         f'(comma-separated), got {text!r}')
    return modes


def compose_quaternions(a: tuple, b: tuple) -> tuple:
    """Return the rotation ``a`` then-applied-to ``b`` (``a * b``), quaternions x, y, z, w."""
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    return (aw * bx + ax * bw + ay * bz - az * by, aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw, aw * bw - ax * bx - ay * by - az * bz)


def yaw_of_quaternion(x: float, y: float, z: float, w: float) -> float:
    """Return the heading of the rotated x axis in the xy plane."""
    return math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


def transform_point(translation: tuple, rotation: tuple, point: tuple) -> tuple:
    """Return ``point`` moved by a transform (quaternion x, y, z, w then translation)."""
    x, y, z, w = rotation
    px, py, pz = point
    # v' = v + 2 w (u x v) + 2 u x (u x v), u = (x, y, z)
    cx, cy, cz = y * pz - z * py, z * px - x * pz, x * py - y * px
    ccx, ccy, ccz = y * cz - z * cy, z * cx - x * cz, x * cy - y * cx
    return (px + 2 * (w * cx + ccx) + translation[0], py + 2 * (w * cy + ccy) + translation[1],
            pz + 2 * (w * cz + ccz) + translation[2])


def _descriptor(description: str, *, floating: Optional[tuple] = None,
                integer: Optional[tuple] = None, read_only: bool = False) -> ParameterDescriptor:
    descriptor = ParameterDescriptor(description=description, read_only=read_only)
    if floating is not None:
        descriptor.floating_point_range = [FloatingPointRange(
            from_value=float(floating[0]), to_value=float(floating[1]), step=0.0)]
    if integer is not None:
        descriptor.integer_range = [IntegerRange(from_value=integer[0], to_value=integer[1],
                                                 step=1)]
    return descriptor


PARAMETERS = (
    ('model_path', '', _descriptor('ONNX model; empty: the shipped model trained for the URDF; '
                                   "'none': no network, damped least squares alone")),
    ('robot_description', '', _descriptor('URDF text (as robot_state_publisher takes it); '
                                          'empty: read urdf_path')),
    ('urdf_path', '', _descriptor('URDF file when robot_description is empty; empty: the '
                                  'shipped two-link arm')),
    ('base_link', '', _descriptor("chain base link; empty: the URDF's root link")),
    ('tip_link', '', _descriptor("chain tip link; empty: the URDF's only leaf link")),
    ('control_rate_hz', 100.0, _descriptor('commands per second', floating=(1.0, 2000.0))),
    ('trigger', 'timer', _descriptor("'timer': tick at the control rate; 'feedback': tick "
                                     'when joint feedback arrives (at most at the control '
                                     'rate), for the lowest latency')),
    ('executor', 'events', _descriptor(
        "rclpy executor: 'events' (rclpy's EventsExecutor, Jazzy and later; on an rclpy "
        "without it, single_threaded) or 'single_threaded'", read_only=True)),
    ('refine_iterations', 1, _descriptor('damped Newton iterations after the network step '
                                         '(0: the network alone)', integer=(0, 20))),
    ('joint_limit_margin', 0.05, _descriptor('commands keep this far from the URDF limits '
                                             '(rad)', floating=(0.0, 0.5))),
    ('target_mode', 'position', _descriptor(
        "what a target sets: 'position' (the tool's position; orientations are ignored, "
        "said once), 'pose' (position and orientation; 6+ joints), 'tool_axis' (position "
        "and the direction of the tool's z axis; 5+ joints) or 'planar_pose' (x, y and yaw; "
        'planar arms of 3+ joints)')),
    ('goal_tolerance', 1e-4, _descriptor('tip distance to the goal that counts as reached (m)',
                                         floating=(1e-12, 0.1))),
    ('goal_tolerance_rad', 1e-4, _descriptor(
        'tool orientation error that counts as reached (rad)', floating=(1e-12, 0.5))),
    ('max_angular_speed', 1.0, _descriptor('turn rate of the tool toward the goal (rad/s)',
                                           floating=(1e-3, 20.0))),
    ('orientation_weight', 0.5, _descriptor(
        'metres one radian of orientation error weighs against position error (nearest '
        'reachable pose, least squares)', floating=(1e-3, 10.0))),
    ('posture_gain', 0.0, _descriptor(
        "a redundant arm's self-motion pulls its joints toward rest_posture at this rate "
        '(1/s), without moving the tool: the same joints each time round a closed path; '
        '0: off', floating=(0.0, 100.0))),
    # Typed, without a value: an empty list would be declared as a bool array.
    ('rest_posture', Parameter.Type.DOUBLE_ARRAY, _descriptor(
        'the posture posture_gain pulls toward, one value per joint (rad or m); unset: the '
        'middle of each limited joint range')),
    ('max_cartesian_speed', 0.5, _descriptor('speed of the tip toward the goal (m/s)',
                                             floating=(1e-3, 10.0))),
    ('keep_out_fraction', 0.25, _descriptor(
        "a redundant arm's tip path goes around the shoulder at this share of its reach (or "
        "the workspace's hole, if larger); 0: straight", floating=(0.0, 0.9))),
    ('feedback_timeout', 0.5, _descriptor('no commands when the last joint feedback is older '
                                          'than this (s)', floating=(1e-3, 10.0))),
    ('max_tracking_error', 0.15, _descriptor(
        'ticks start from the previous command while every joint is within this of it; '
        'beyond, from the measured position (rad)', floating=(1e-4, 3.2))),
    ('output_mode', 'joint_state', _descriptor(
        'comma-separated: joint_state (JointState on joint_commands), forward_position '
        '(ros2_control forward position controller), joint_trajectory (joint trajectory '
        'controller)')),
    ('base_frame', '', _descriptor("frame targets must be in; empty: the chain's base link",
                                   read_only=True)),
    ('target_topic', 'target_pose', _descriptor('PoseStamped targets', read_only=True)),
    ('goal_pose_topic', '/goal_pose', _descriptor("RViz's 2D Goal Pose tool", read_only=True)),
    ('clicked_point_topic', '/clicked_point', _descriptor("RViz's Publish Point tool",
                                                          read_only=True)),
    ('joint_states_topic', 'joint_states', _descriptor('joint feedback', read_only=True)),
    ('joint_command_topic', 'joint_commands', _descriptor('JointState commands',
                                                          read_only=True)),
    ('forward_position_topic', 'forward_position_controller/commands',
     _descriptor('Float64MultiArray commands in joint order', read_only=True)),
    ('joint_trajectory_topic', 'joint_trajectory_controller/joint_trajectory',
     _descriptor('JointTrajectory commands, one point one tick ahead', read_only=True)),
    ('markers_topic', 'iknn/markers', _descriptor('RViz markers: target, goal, workspace',
                                                  read_only=True)),
    ('interactive_marker', True, _descriptor(
        "serve the goal as an interactive marker for RViz's InteractiveMarkers display (needs "
        'interactive_markers; without it the node says so once and runs on)', read_only=True)),
    ('interactive_marker_namespace', 'goal_marker', _descriptor(
        "the marker server's namespace (topics <namespace>/update and /feedback)",
        read_only=True)),
)


@dataclasses.dataclass
class PendingChange:
    """A validated parameter change, waiting to be applied once rclpy has set it."""

    values: dict
    controller: Optional[IKController]
    modes: Optional[tuple]
    model_source: str


class IKNode(Node):
    """ROS glue around :class:`iknn_ros.ik.controller.IKController`."""

    def __init__(self, **kwargs) -> None:
        super().__init__('ik_node', **kwargs)
        for name, default, descriptor in PARAMETERS:
            self.declare_parameter(name, default, descriptor)
        values = self._parameter_values()
        self._modes = parse_output_modes(values['output_mode'])
        if values['executor'] not in EXECUTORS:
            raise ConfigurationError(f'executor must be one of {list(EXECUTORS)}, got '
                                     f"{values['executor']!r}")
        # Read on every message, so kept as attributes (get_parameter costs microseconds).
        self._trigger_on_feedback = values['trigger'] == 'feedback'
        self._period = 1.0 / values['control_rate_hz']
        self.controller, self._model_source = self._build_controller(values)
        self._latencies = collections.deque(maxlen=1000)
        self._last_tick = -math.inf
        self._last_status = None
        self._last_marker_key = None
        self._tf_buffer = self._make_tf_buffer()
        self._said_orientation_ignored = False
        self._accepted_log = LogSummary(THROTTLE_S)
        self._refused_log = LogSummary(THROTTLE_S)

        self._command_publishers: dict = {}
        self._make_command_publishers()
        self._make_command_messages()
        self.diagnostics_publisher = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.markers_publisher = self.create_publisher(MarkerArray, values['markers_topic'],
                                                       latched)
        self.subscriptions_ = [
            self.create_subscription(PoseStamped, values['target_topic'], self._on_pose, 10),
            self.create_subscription(PoseStamped, values['goal_pose_topic'], self._on_pose, 10),
            self.create_subscription(PointStamped, values['clicked_point_topic'],
                                     self._on_point, 10),
            self.create_subscription(JointState, values['joint_states_topic'],
                                     self._on_joint_state, qos_profile_sensor_data),
        ]
        self.timer = None
        if values['trigger'] != 'feedback':
            self.timer = self._make_timer(values['control_rate_hz'])
        self.diagnostics_timer = self.create_timer(DIAGNOSTIC_PERIOD_S, self._on_people_timer)
        self._pending_changes: list = []
        self.add_on_set_parameters_callback(self._on_set_parameters)
        # Jazzy applies a change once it is set; Humble has no post-set callback, so the
        # next tick applies it (IKNode._apply_pending_changes checks that it was set).
        self._post_set = hasattr(self, 'add_post_set_parameters_callback')
        if self._post_set:
            self.add_post_set_parameters_callback(self._on_parameters_set)
        self._goal_marker = self._make_goal_marker(values) \
            if values['interactive_marker'] else None
        self._publish_markers(force=True)
        chain = self.controller.solver.chain
        self.get_logger().info(
            f'ready: {chain.robot_name} {list(chain.joint_names)} from {chain.base_link} to '
            f'{chain.tip_link}, model {self._model_source}, {values["control_rate_hz"]:g} Hz, '
            f'outputs {list(self._modes)}')

    # ---- construction ------------------------------------------------------------------

    def _parameter_values(self) -> dict:
        """Return every parameter's value; None for one declared with a type only."""
        values = {}
        for name, _, _ in PARAMETERS:
            try:
                values[name] = self.get_parameter(name).value
            except ParameterUninitializedException:
                values[name] = None
        return values

    def _build_controller(self, values: dict) -> tuple[IKController, str]:
        """Return the controller the values describe and the model's name (no side effects)."""
        try:
            if values['robot_description']:
                urdf = values['robot_description']
            else:
                urdf = values['urdf_path'] or str(default_urdf_path())
            chain = KinematicChain.from_urdf(urdf, values['base_link'] or None,
                                             values['tip_link'] or None)
            # A mode the arm cannot hold is the error to report, not a missing model for it.
            check_mode(chain, str(values['target_mode']))
            if is_no_model(values['model_path']):
                network, source = None, 'none (damped least squares, no network)'
            else:
                model = str(values['model_path'] or model_for(chain, values['target_mode']))
                network, source = OnnxIKNetwork(model), Path(model).name
                network.card.check_chain(chain, f"model '{model}'")
            config = SolverConfig(refine_iterations=int(values['refine_iterations']),
                                  use_network=network is not None,
                                  limit_margin_rad=float(values['joint_limit_margin']),
                                  goal_tolerance_m=float(values['goal_tolerance']),
                                  max_cartesian_speed=float(values['max_cartesian_speed']),
                                  keep_out_fraction=float(values['keep_out_fraction']),
                                  target_mode=str(values['target_mode']),
                                  goal_tolerance_rad=float(values['goal_tolerance_rad']),
                                  max_angular_speed=float(values['max_angular_speed']),
                                  orientation_weight_m_per_rad=float(
                                      values['orientation_weight']),
                                  posture_gain=float(values['posture_gain']),
                                  rest_posture=tuple(float(v) for v in
                                                     values['rest_posture'] or ()))
            solver = IKSolver(chain, network, config)
        except (UrdfError, ModelLoadError, ModelMismatchError, ValueError, OSError) as err:
            raise ConfigurationError(str(err)) from err
        base_frame = self.get_parameter('base_frame').value or chain.base_link
        return IKController(solver, base_frame, float(values['feedback_timeout']),
                            float(values['max_tracking_error'])), source

    def _make_command_messages(self) -> None:
        # Filled in place on every tick: building messages is a large part of a tick.
        names = list(self.controller.joint_names)
        self._joint_state_command = JointState(name=names, position=[0.0] * len(names))
        self._array_command = Float64MultiArray(data=[0.0] * len(names))
        self._trajectory_point = JointTrajectoryPoint(positions=[0.0] * len(names))
        self._trajectory_command = JointTrajectory(joint_names=names,
                                                   points=[self._trajectory_point])

    def _make_command_publishers(self) -> None:
        names = {'joint_state': ('joint_command_topic', JointState),
                 'forward_position': ('forward_position_topic', Float64MultiArray),
                 'joint_trajectory': ('joint_trajectory_topic', JointTrajectory)}
        for mode in list(self._command_publishers):
            if mode not in self._modes:
                self.destroy_publisher(self._command_publishers.pop(mode))
        for mode in self._modes:
            if mode not in self._command_publishers:
                parameter, kind = names[mode]
                self._command_publishers[mode] = self.create_publisher(
                    kind, self.get_parameter(parameter).value, 10)

    def _make_goal_marker(self, values: dict) -> Optional[GoalMarker]:
        solver = self.controller.solver
        marker = GoalMarker.create(self, values['interactive_marker_namespace'], solver.chain,
                                   solver.target_mode, self.controller.base_frame,
                                   self._on_marker_goal)
        if marker is None:
            self.get_logger().warning(MISSING_PACKAGE)
        return marker

    def destroy_node(self) -> None:
        """Erase the goal marker (while the context lasts), then destroy the node."""
        if self._goal_marker is not None:
            self._goal_marker.shutdown()
            self._goal_marker = None
        super().destroy_node()

    def _make_timer(self, rate: float):
        return self.create_timer(1.0 / rate, self._on_timer)

    def _make_tf_buffer(self):
        # tf2 is optional: without it, targets in other frames are refused.
        try:
            import tf2_ros
        except ImportError:
            return None
        buffer = tf2_ros.Buffer()
        self._tf_listener = tf2_ros.TransformListener(buffer, self)
        return buffer

    # ---- inputs ------------------------------------------------------------------------

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_pose(self, msg: PoseStamped) -> None:
        p, o = msg.pose.position, msg.pose.orientation
        mode = self.controller.solver.target_mode
        if mode is TargetMode.POSITION and not self._said_orientation_ignored and \
                (o.x, o.y, o.z) != (0.0, 0.0, 0.0) and abs(o.w) != 1.0:
            # Say once that it is dropped, and how to use it, rather than drop it silently.
            self._said_orientation_ignored = True
            modes = [m.value for m in modes_for(self.controller.solver.chain)]
            self.get_logger().warning(
                f'target orientation ({o.x:.3g}, {o.y:.3g}, {o.z:.3g}, {o.w:.3g}) ignored: '
                f"target_mode is 'position' (this arm takes {modes}; said once)")
        self._accept_target((p.x, p.y, p.z), msg.header, (o.x, o.y, o.z, o.w))

    def _on_marker_goal(self, pose: Pose, header: Header) -> None:
        position, orientation = pose_parts(pose)
        mode = self.controller.solver.target_mode
        self._accept_target(position, header,
                            None if mode is TargetMode.POSITION else orientation)

    def _on_point(self, msg: PointStamped) -> None:
        self._accept_target((msg.point.x, msg.point.y, msg.point.z), msg.header)

    def _accept_target(self, position: tuple, header,
                       orientation: Optional[tuple] = None) -> None:
        frame = header.frame_id.lstrip('/')
        controller = self.controller
        mode = controller.solver.target_mode
        if mode is not TargetMode.POSITION and orientation is None:
            controller.counters['targets_refused'] += 1
            self._log_refused(f"a point target has no orientation: target_mode '{mode.value}' "
                              'takes PoseStamped targets')
            return
        if frame and frame != controller.base_frame and self._tf_buffer is not None:
            try:
                t = self._tf_buffer.lookup_transform(controller.base_frame, frame, Time())
            except Exception as err:  # noqa: B902 - tf2 raises several lookup errors
                controller.counters['targets_refused'] += 1
                self._log_refused(f"target in frame '{frame}' refused: no transform to "
                                  f"'{controller.base_frame}': {err}")
                return
            tr, rot = t.transform.translation, t.transform.rotation
            turn = (rot.x, rot.y, rot.z, rot.w)
            position = transform_point((tr.x, tr.y, tr.z), turn, position)
            if orientation is not None:
                orientation = compose_quaternions(turn, orientation)
            frame = controller.base_frame
        if mode is TargetMode.POSE:
            target = tuple(position) + tuple(orientation)
        elif mode is TargetMode.TOOL_AXIS:
            # The direction the orientation turns the tool's z axis to.
            target = tuple(position) + transform_point((0.0, 0.0, 0.0), orientation,
                                                       (0.0, 0.0, 1.0))
        elif mode is TargetMode.PLANAR_POSE:
            target = (position[0], position[1], yaw_of_quaternion(*orientation))
        else:
            target = tuple(position)
        now = self._now()
        decision = controller.set_target(target, frame, now)
        if decision.accepted:
            line = self._accepted_log.record(
                now, f'new target {tuple(round(v, 4) for v in controller.target)}')
            if line is not None:
                self.get_logger().info(line)
            # Markers follow on the diagnostics timer: a 1 kHz target stream would publish
            # a MarkerArray per target.
        else:
            self._log_refused(decision.reason, now)

    def _log_refused(self, reason: str, now: Optional[float] = None) -> None:
        line = self._refused_log.record(self._now() if now is None else now, reason)
        if line is not None:
            self.get_logger().warning(line)

    def _on_joint_state(self, msg: JointState) -> None:
        now = self.get_clock().now()
        decision = self.controller.update_feedback(msg.name, msg.position,
                                                   now.nanoseconds * 1e-9)
        if not decision.accepted:
            self.get_logger().warning(decision.reason, throttle_duration_sec=THROTTLE_S)
            return
        if self._trigger_on_feedback:
            # Feedback arrives with jitter: a tick may come early, and its step is then
            # bounded by the time that really passed, so the commands never outrun the
            # velocity limits in wall-clock time. (A fixed gate at 0.9 periods dropped a
            # third of the feedback of a 500 Hz servo loop.)
            elapsed = time.perf_counter() - self._last_tick
            if elapsed >= FEEDBACK_TICK_MIN_FRACTION * self._period:
                self._tick(now, min(self._period, elapsed))

    def _on_timer(self) -> None:
        self._tick(self.get_clock().now())

    # ---- the loop ----------------------------------------------------------------------

    def _tick(self, now, dt: Optional[float] = None) -> None:
        if self._pending_changes and not self._post_set:
            self._apply_pending_changes()
        self._last_tick = started = time.perf_counter()
        dt = self._period if dt is None else dt
        step = self.controller.step(now.nanoseconds * 1e-9, dt)
        self._latencies.append(time.perf_counter() - started)
        if step.command is not None:
            self._publish_command(step.command, dt, now.to_msg())
        status = step.result.status if step.result is not None else None
        if status != self._last_status:
            self._last_status = status
            if step.result is not None and status in (Status.OUT_OF_REACH, Status.FALLBACK,
                                                      Status.INVALID_STATE):
                self.get_logger().warning(step.reason, throttle_duration_sec=THROTTLE_S)
            self._publish_diagnostics()
            self._publish_markers()

    def _publish_command(self, command: tuple, dt: float, stamp) -> None:
        positions = [float(v) for v in command]
        for mode, publisher in self._command_publishers.items():
            if mode == 'joint_state':
                msg = self._joint_state_command
                msg.header.stamp = stamp
                msg.position = positions
            elif mode == 'forward_position':
                msg = self._array_command
                msg.data = positions
            else:
                msg = self._trajectory_command
                msg.header.stamp = stamp
                seconds = int(dt)
                self._trajectory_point.positions = positions
                self._trajectory_point.time_from_start = Duration(
                    sec=seconds, nanosec=int(round((dt - seconds) * 1e9)))
                msg.points = [self._trajectory_point]
            publisher.publish(msg)

    # ---- outputs for people --------------------------------------------------------------

    def diagnostic_status(self) -> DiagnosticStatus:
        """Return what the node is doing, as one DiagnosticStatus."""
        return diagnostic_status(self.controller, self._now(), self._latencies, self._modes,
                                 self._model_source)

    def _on_people_timer(self) -> None:
        self._publish_diagnostics()
        self._publish_markers()
        self._show_goal_marker()

    def _show_goal_marker(self) -> None:
        """Keep the goal marker where the goal is: the tool, the target, or its projection."""
        marker, controller = self._goal_marker, self.controller
        if marker is None:
            return
        step = controller.last
        if controller.target is None:
            if controller.joints is not None:
                marker.show(controller.solver.tool_target(controller.joints),
                            marker_description(None))
            return
        result = step.result if step is not None and step.target == controller.target \
            else None
        if result is None:
            # No tick for this target yet: the marker stays where it was dropped.
            marker.show(controller.target, marker_description('waiting'))
        else:
            marker.show(result.goal, marker_description(result.status.name, result.unreachable))

    def _publish_diagnostics(self) -> None:
        msg = DiagnosticArray(status=[self.diagnostic_status()])
        msg.header.stamp = self.get_clock().now().to_msg()
        self.diagnostics_publisher.publish(msg)

    def _publish_markers(self, force: bool = False) -> None:
        controller = self.controller
        step = controller.last
        goal = step.result.goal if step is not None and step.result is not None else None
        key = (controller.target, goal)
        if not force and key == self._last_marker_key:
            return
        self._last_marker_key = key
        self.markers_publisher.publish(self.markers(goal))

    def markers(self, goal: Optional[tuple]) -> MarkerArray:
        """Return the target, the goal it was projected to, and the reachable annulus."""
        return target_markers(self.controller, goal, self.get_clock().now().to_msg())

    # ---- parameters ----------------------------------------------------------------------

    def _on_set_parameters(self, parameters: list) -> SetParametersResult:
        """
        Validate a change and keep what it would build; nothing is applied here.

        rclpy may still refuse the change after this callback (another callback, an atomic
        set), so it takes effect in :meth:`_on_parameters_set` (post-set, Jazzy), or on the
        next tick once the node's parameters hold the new values (Humble has no post-set).
        """
        proposed = {p.name: p.value for p in parameters}
        try:
            modes = parse_output_modes(proposed['output_mode']) \
                if 'output_mode' in proposed else None
            if proposed.get('trigger', 'timer') not in ('timer', 'feedback'):
                raise ValueError(f"trigger must be 'timer' or 'feedback', got "
                                 f"{proposed['trigger']!r}")
            for name in ('control_rate_hz', 'feedback_timeout', 'goal_tolerance',
                         'max_cartesian_speed', 'max_tracking_error'):
                if name in proposed and not (isinstance(proposed[name], float)
                                             and math.isfinite(proposed[name])
                                             and proposed[name] > 0.0):
                    raise ValueError(f'{name} must be a positive number, got {proposed[name]!r}')
            controller = None
            if any(name in proposed for name in SOLVER_PARAMETERS):
                values = self._parameter_values()
                values.update(proposed)
                controller, source = self._build_controller(values)
        except (ValueError, ConfigurationError) as err:
            return SetParametersResult(successful=False, reason=str(err))
        self._pending_changes.append(PendingChange(proposed, controller, modes,
                                                   source if controller is not None else ''))
        return SetParametersResult(successful=True)

    def _on_parameters_set(self, parameters: list) -> None:
        """Apply the validated change these parameters belong to (post-set)."""
        self._apply_pending_changes()

    def _apply_pending_changes(self) -> None:
        """Apply every validated change whose values the node now holds; drop the others."""
        while self._pending_changes:
            change = self._pending_changes.pop(0)
            if all(self.get_parameter(name).value == value
                   for name, value in change.values.items()):
                self._apply_change(change)

    def _apply_change(self, change: 'PendingChange') -> None:
        proposed = change.values
        if change.controller is not None:
            controller, old = change.controller, self.controller
            if old.solver.target_mode is controller.solver.target_mode:
                controller.target, controller.target_time = old.target, old.target_time
            controller.joints, controller.feedback_time = old.joints, old.feedback_time
            controller.tracker.branch = old.tracker.branch
            controller.command, controller.command_time = old.command, old.command_time
            self.controller = controller
            self._model_source = change.model_source or self._model_source
            if self._goal_marker is not None:
                self._goal_marker.retarget(controller.solver.chain, controller.solver.target_mode,
                                           controller.base_frame)
            self._make_command_messages()
            self._publish_markers(force=True)
        else:
            if 'feedback_timeout' in proposed:
                self.controller.feedback_timeout_s = proposed['feedback_timeout']
            if 'max_tracking_error' in proposed:
                self.controller.max_tracking_error_rad = proposed['max_tracking_error']
        if 'trigger' in proposed:
            self._trigger_on_feedback = proposed['trigger'] == 'feedback'
        if 'control_rate_hz' in proposed:
            self._period = 1.0 / proposed['control_rate_hz']
        if 'control_rate_hz' in proposed or 'trigger' in proposed:
            # Feedback-triggered ticks need no timer; a timer-triggered loop needs one.
            if self.timer is not None:
                self.destroy_timer(self.timer)
                self.timer = None
            if self.get_parameter('trigger').value != 'feedback':
                self.timer = self._make_timer(self.get_parameter('control_rate_hz').value)
        if change.modes is not None and change.modes != self._modes:
            self._modes = change.modes
            self._make_command_publishers()


def main(args=None) -> int:
    """Run the node until Ctrl-C or shutdown."""
    return spin_node('ik_node', IKNode, (ConfigurationError,), args)


if __name__ == '__main__':
    sys.exit(main())
