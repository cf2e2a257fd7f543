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
The goal as an RViz interactive marker: arrows and rings for what the arm's target takes.

RViz users move a goal in 3D with an interactive marker (``interactive_markers``' server,
RViz's InteractiveMarkers display), as MoveIt's MotionPlanning display does. The marker
offers only the degrees of freedom the target mode takes: x and y in the plane for a planar
arm (and a ring for yaw in ``planar_pose``), x, y and z for a spatial arm's position, and
three rings more for a full ``pose``. The functions here build the messages and read the
feedback (no rclpy); :class:`GoalMarker` is the glue to the server.
"""

from __future__ import annotations

import math
import time
from typing import Callable, Optional

from geometry_msgs.msg import Pose
from iknn_ros.kinematics import KinematicChain
from iknn_ros.kinematics.chain_kernels import axis_turn
from iknn_ros.kinematics.chain_kernels import exp3
from iknn_ros.kinematics.targets import matrix_to_quaternion
from iknn_ros.kinematics.targets import TargetMode
import numpy as np
from std_msgs.msg import Header
from visualization_msgs.msg import InteractiveMarker
from visualization_msgs.msg import InteractiveMarkerControl
from visualization_msgs.msg import InteractiveMarkerFeedback
from visualization_msgs.msg import Marker

MARKER_NAME = 'goal'
# While a drag lasts, goals go out at most this often; the release always sends one.
DRAG_PERIOD_S = 0.05
# A shown pose closer than this to the new one is not sent again (m, quaternion units).
POSE_CHANGE = 1e-9
MISSING_PACKAGE = ('interactive_markers is not installed: no goal marker in RViz (install '
                   'ros-$ROS_DISTRO-interactive-markers; interactive_marker:=false turns '
                   'this off)')

_HALF = math.sqrt(0.5)
# A control acts along (or about) the x axis of its orientation: these turn x onto each
# base axis (RViz draws the arrows and rings of a control about that axis).
AXIS_ORIENTATIONS = {'x': (_HALF, 0.0, 0.0, _HALF), 'y': (0.0, 0.0, _HALF, _HALF),
                     'z': (0.0, -_HALF, 0.0, _HALF)}
AXIS_COLOURS = {'x': (0.9, 0.15, 0.15), 'y': (0.15, 0.8, 0.15), 'z': (0.2, 0.35, 0.95)}


def goal_axes(chain: KinematicChain, mode: TargetMode) -> tuple[tuple, tuple]:
    """Return the base axes the goal moves along and the axes it turns about."""
    if chain.planar is not None:
        return ('x', 'y'), (('z',) if mode is TargetMode.PLANAR_POSE else ())
    if mode is TargetMode.TOOL_AXIS:
        # Rings that tilt the tool's z axis; a turn about it sets nothing.
        return ('x', 'y', 'z'), ('x', 'y')
    return ('x', 'y', 'z'), (('x', 'y', 'z') if mode is TargetMode.POSE else ())


def target_pose(chain: KinematicChain, mode: TargetMode, target: tuple) -> Pose:
    """Return the marker pose of a target tuple (its position, and orientation if it has one)."""
    pose = Pose()
    pose.position.x, pose.position.y = float(target[0]), float(target[1])
    pose.position.z = float(chain.planar.height if chain.planar is not None else target[2])
    o = pose.orientation
    if mode is TargetMode.POSE:
        o.x, o.y, o.z, o.w = (float(v) for v in target[3:7])
    elif mode is TargetMode.TOOL_AXIS:
        o.x, o.y, o.z, o.w = matrix_to_quaternion(exp3(axis_turn(
            np.array([0.0, 0.0, 1.0]), np.asarray(target[3:6], dtype=np.float64)
            / math.sqrt(sum(v * v for v in target[3:6])))))
    elif mode is TargetMode.PLANAR_POSE:
        o.z, o.w = math.sin(0.5 * target[2]), math.cos(0.5 * target[2])
    else:
        o.w = 1.0
    return pose


def pose_parts(pose: Pose) -> tuple[tuple, tuple]:
    """Return a pose's position and orientation (x, y, z, w) as tuples."""
    p, o = pose.position, pose.orientation
    return (p.x, p.y, p.z), (o.x, o.y, o.z, o.w)


def _control(name: str, axis: str, mode: int) -> InteractiveMarkerControl:
    x, y, z, w = AXIS_ORIENTATIONS[axis]
    control = InteractiveMarkerControl(name=name, interaction_mode=mode)
    control.orientation.x, control.orientation.y = x, y
    control.orientation.z, control.orientation.w = z, w
    return control


def _arrow(axis: str, length: float) -> Marker:
    arrow = Marker(type=Marker.ARROW)
    x, y, z, w = AXIS_ORIENTATIONS[axis]
    arrow.pose.orientation.x, arrow.pose.orientation.y = x, y
    arrow.pose.orientation.z, arrow.pose.orientation.w = z, w
    arrow.scale.x, arrow.scale.y, arrow.scale.z = length, 0.08 * length, 0.08 * length
    arrow.color.r, arrow.color.g, arrow.color.b = AXIS_COLOURS[axis]
    arrow.color.a = 1.0
    return arrow


def goal_marker(chain: KinematicChain, mode: TargetMode, frame_id: str, target: tuple,
                description: str) -> InteractiveMarker:
    """
    Return the interactive marker for a goal at ``target`` (a target tuple in ``mode``).

    A sphere in the middle drags the goal freely (in the plane, for planar arms); arrows move
    it along one of its axes and rings turn it about one, where the target has an
    orientation. The axes turn with the goal, as MoveIt's end-effector marker does (a
    position goal keeps the base axes). Its size follows the arm's reach.
    """
    moves, turns = goal_axes(chain, mode)
    scale = min(max(0.3 * chain.reach, 0.1), 0.6)
    marker = InteractiveMarker(name=MARKER_NAME, description=description, scale=scale,
                               header=Header(frame_id=frame_id),
                               pose=target_pose(chain, mode, target))
    # The sphere, and in pose modes the goal's own axes, so that its orientation shows.
    handle = _control('drag', 'z', InteractiveMarkerControl.MOVE_PLANE
                      if chain.planar is not None else InteractiveMarkerControl.MOVE_3D)
    handle.always_visible = True
    sphere = Marker(type=Marker.SPHERE)
    sphere.scale.x = sphere.scale.y = sphere.scale.z = 0.2 * scale
    sphere.color.r, sphere.color.g, sphere.color.b, sphere.color.a = 0.1, 0.8, 0.2, 0.9
    handle.markers.append(sphere)
    shown = {TargetMode.POSE: ('x', 'y', 'z'), TargetMode.TOOL_AXIS: ('z',),
             TargetMode.PLANAR_POSE: ('x',)}.get(mode, ())
    for axis in shown:
        handle.markers.append(_arrow(axis, 0.5 * scale))
    marker.controls.append(handle)
    for axis in moves:
        marker.controls.append(_control(f'move_{axis}', axis,
                                        InteractiveMarkerControl.MOVE_AXIS))
    for axis in turns:
        marker.controls.append(_control(f'rotate_{axis}', axis,
                                        InteractiveMarkerControl.ROTATE_AXIS))
    return marker


def marker_description(status_name: Optional[str], unreachable: str = '') -> str:
    """Return the text under the marker: what the arm does about this goal."""
    if status_name is None:
        return 'iknn goal: drag me'
    text = f"iknn goal: {status_name.lower().replace('_', ' ')}"
    if unreachable:
        text += f' ({unreachable}); shown at the nearest reachable'
    return text


def poses_differ(a: Pose, b: Pose) -> bool:
    """Return whether two poses differ by more than :data:`POSE_CHANGE` in any number."""
    pa, oa = pose_parts(a)
    pb, ob = pose_parts(b)
    return any(abs(u - v) > POSE_CHANGE for u, v in zip(pa + oa, pb + ob))


class GoalMarker:
    """
    The goal marker on an InteractiveMarkerServer, and the goals dragged on it.

    ``send(pose, header)`` receives each goal: at most every :data:`DRAG_PERIOD_S` while a
    drag lasts, and always on release. :meth:`show` moves the marker to where the goal is
    (the target, or its projection when out of reach); it waits while a drag lasts, so it
    never fights the user's hand.
    """

    def __init__(self, server, chain: KinematicChain, mode: TargetMode, frame_id: str,
                 send: Callable[[Pose, Header], None],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.server = server
        self.chain, self.mode, self.frame_id = chain, mode, frame_id
        self._send = send
        self._clock = clock
        self.dragging = False
        self._last_sent = -math.inf
        self._held: Optional[InteractiveMarkerFeedback] = None
        self._shown: Optional[InteractiveMarker] = None

    @classmethod
    def create(cls, node, namespace: str, chain: KinematicChain, mode: TargetMode,
               frame_id: str, send: Callable[[Pose, Header], None]) -> Optional['GoalMarker']:
        """Return a marker on a new server in ``namespace``, or None without the package."""
        try:
            from interactive_markers import InteractiveMarkerServer
        except ImportError:
            return None
        return cls(InteractiveMarkerServer(node, namespace), chain, mode, frame_id, send)

    def retarget(self, chain: KinematicChain, mode: TargetMode, frame_id: str) -> None:
        """Serve a new chain or target mode: the next :meth:`show` sends the whole marker."""
        self.chain, self.mode, self.frame_id = chain, mode, frame_id
        self._shown = None

    def show(self, target: tuple, description: str) -> None:
        """Put the marker at ``target`` with ``description`` (no-op while a drag lasts)."""
        self.flush()
        if self.dragging:
            return
        marker = goal_marker(self.chain, self.mode, self.frame_id, target, description)
        if self._shown is None or self._shown.description != description:
            self.server.insert(marker, feedback_callback=self.on_feedback)
        elif poses_differ(self._shown.pose, marker.pose):
            self.server.setPose(MARKER_NAME, marker.pose)
        else:
            return
        self._shown = marker
        self.server.applyChanges()

    def on_feedback(self, feedback: InteractiveMarkerFeedback) -> None:
        """Send the dragged goal: throttled while dragging, exactly on release."""
        if feedback.event_type == InteractiveMarkerFeedback.MOUSE_DOWN:
            self.dragging = True
        elif feedback.event_type == InteractiveMarkerFeedback.POSE_UPDATE:
            self.dragging = True
            self._held = feedback
            self.flush()
        elif feedback.event_type == InteractiveMarkerFeedback.MOUSE_UP:
            self.dragging = False
            self._held = None
            self._deliver(feedback)

    def flush(self) -> None:
        """Send a goal held back by the drag throttle once its period is over."""
        if self._held is not None and self._clock() - self._last_sent >= DRAG_PERIOD_S:
            held, self._held = self._held, None
            self._deliver(held)

    def _deliver(self, feedback: InteractiveMarkerFeedback) -> None:
        self._last_sent = self._clock()
        if self._shown is not None:
            # The server has moved its copy already; ours follows, so a later show() of
            # the same goal sends nothing.
            self._shown.pose = feedback.pose
        self._send(feedback.pose, feedback.header)

    def shutdown(self) -> None:
        """Erase the marker and release the server's topics and service."""
        self.server.shutdown()
