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
The IK node's messages for people, built from the controller alone (no rclpy).

/diagnostics (one DiagnosticStatus: status, errors, counters, latencies) and the RViz markers
of the target, its projection and the workspace. The node publishes them; tests build them
from a controller without a node.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticStatus
from diagnostic_msgs.msg import KeyValue
from geometry_msgs.msg import Point
from iknn_ros.ik.controller import IKController
from iknn_ros.ik.solver import Status
from iknn_ros.kinematics import AnnulusWorkspace
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import Marker
from visualization_msgs.msg import MarkerArray


def diagnostic_status(controller: IKController, now: float, latencies: Sequence[float],
                      output_modes: Sequence[str], model_source: str) -> DiagnosticStatus:
    """
    Return what the IK node is doing, as one DiagnosticStatus.

    ``now`` is the node's clock (s); ``latencies`` the recent ticks' compute times (s).
    """
    step = controller.last
    age = controller.feedback_age(now)
    level, message = DiagnosticStatus.OK, 'idle: waiting for joint feedback and a target'
    values = {}
    if step is not None:
        message = step.reason
        if step.result is None:
            stale = age is None or age > controller.feedback_timeout_s
            level = DiagnosticStatus.WARN if stale else DiagnosticStatus.OK
        else:
            r = step.result
            level = {Status.REACHED: DiagnosticStatus.OK, Status.MOVING: DiagnosticStatus.OK,
                     Status.RECONFIGURING: DiagnosticStatus.WARN,
                     Status.JOINT_LIMIT: DiagnosticStatus.WARN,
                     Status.FALLBACK: DiagnosticStatus.WARN,
                     Status.OUT_OF_REACH: DiagnosticStatus.WARN,
                     Status.INVALID_TARGET: DiagnosticStatus.ERROR,
                     Status.INVALID_STATE: DiagnosticStatus.ERROR}[r.status]
            values.update({
                'status': r.status.name,
                'tip_error_m': f'{r.target_error_m:.3e}',
                'goal_error_m': f'{r.goal_error_m:.3e}',
                'target_reachable': str(not r.projected).lower(),
                'target_mode': controller.solver.target_mode.value,
                'goal': ', '.join(f'{v:.6f}' for v in r.goal),
                'elbow_branch': f'{r.branch:+.0f}',
                'velocity_limited': str(r.velocity_limited).lower(),
            })
            if not math.isnan(r.goal_error_rad):
                values['tip_error_rad'] = f'{r.target_error_rad:.3e}'
                values['goal_error_rad'] = f'{r.goal_error_rad:.3e}'
            if r.projected:
                # A position target has only a position to be out of reach.
                values['out_of_reach'] = r.unreachable or 'position'
    if controller.target is not None:
        values['target'] = ', '.join(f'{v:.6f}' for v in controller.target)
    values['feedback_age_s'] = 'never' if age is None else f'{age:.4f}'
    tracking = controller.tracking_error()
    if tracking is not None:
        values['tracking_error_rad'] = f'{tracking:.4f}'
    if latencies:
        ordered = sorted(latencies)
        values['tick_latency_us_last'] = f'{latencies[-1] * 1e6:.1f}'
        values['tick_latency_us_p99'] = f'{ordered[int(0.99 * (len(ordered) - 1))] * 1e6:.1f}'
    values.update({k: str(v) for k, v in controller.counters.items()})
    values['output_mode'] = ','.join(output_modes)
    values['model'] = model_source
    if controller.solver.network is None:
        # A user bringing up a new arm before training should see it in every view.
        level = max(level, DiagnosticStatus.WARN)
        message += ' (no model: damped least squares alone)'
    chain = controller.solver.chain
    return DiagnosticStatus(level=level, name='iknn_ros: ik_node', message=message,
                            hardware_id=chain.robot_name,
                            values=[KeyValue(key=k, value=v) for k, v in values.items()])


def target_markers(controller: IKController, goal: Optional[tuple], stamp: Time) -> MarkerArray:
    """Return the target, the goal it was projected to, and the reachable annulus."""
    chain = controller.solver.chain
    height = chain.planar.height if chain.planar is not None else 0.0

    def marker(ident: int, kind: int, rgba: tuple, scale: float) -> Marker:
        m = Marker(ns='iknn', id=ident, type=kind, action=Marker.ADD)
        m.header.frame_id = controller.base_frame
        m.header.stamp = stamp
        m.pose.orientation.w = 1.0
        m.scale.x = m.scale.y = m.scale.z = scale
        m.color = ColorRGBA(r=rgba[0], g=rgba[1], b=rgba[2], a=rgba[3])
        return m

    # Targets and goals carry a position first: x, y (planar) or x, y, z.
    position_length = 2 if chain.planar is not None else 3

    def point(values: tuple) -> Point:
        z = values[2] if position_length > 2 and len(values) > 2 else height
        return Point(x=float(values[0]), y=float(values[1]), z=float(z))

    out = []
    target = marker(0, Marker.SPHERE, (0.1, 0.8, 0.2, 0.9), 0.04)
    if controller.target is None:
        target.action = Marker.DELETE
    else:
        target.pose.position = point(controller.target)
    out.append(target)
    projected = marker(1, Marker.SPHERE, (1.0, 0.55, 0.0, 0.9), 0.035)
    if goal is None or controller.target is None or \
            math.dist(goal[:position_length], controller.target[:position_length]) < 1e-9:
        projected.action = Marker.DELETE
    else:
        projected.pose.position = point(goal)
    out.append(projected)
    workspace = controller.solver.workspace
    if isinstance(workspace, AnnulusWorkspace):
        for ident, radius in ((2, workspace.r_min), (3, workspace.r_max)):
            ring = marker(ident, Marker.LINE_STRIP, (0.6, 0.6, 0.6, 0.8), 0.004)
            ring.points = [point((workspace.center[0] + radius * math.cos(a),
                                  workspace.center[1] + radius * math.sin(a)))
                           for a in (2 * math.pi * k / 120 for k in range(121))]
            out.append(ring)
    return MarkerArray(markers=out)
