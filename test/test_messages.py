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

"""The IK node's messages for people, built from a controller alone (no node, no rclpy)."""

from pathlib import Path

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticStatus
from iknn_ros.ik.controller import IKController
from iknn_ros.ik.solver import IKSolver
from iknn_ros.ik.solver import SolverConfig
from iknn_ros.kinematics import KinematicChain
from iknn_ros.nodes.messages import diagnostic_status
from iknn_ros.nodes.messages import target_markers
from visualization_msgs.msg import Marker

URDF_DIR = Path(__file__).resolve().parent.parent / 'urdf'


def controller(arm='two_link_arm', **config):
    chain = KinematicChain.from_urdf(URDF_DIR / f'{arm}.urdf')
    solver = IKSolver(chain, None, SolverConfig(use_network=False, **config))
    return IKController(solver, 'base_link', 0.5)


def values_of(status):
    return {kv.key: kv.value for kv in status.values}


def test_the_diagnostics_say_what_the_controller_does():
    c = controller()
    idle = diagnostic_status(c, 0.0, [], ['joint_state'], 'none')
    # No model is a mode, said at WARN in every view.
    assert idle.level == DiagnosticStatus.WARN and 'no model' in idle.message
    assert values_of(idle)['feedback_age_s'] == 'never'
    c.update_feedback(['joint1', 'joint2'], [0.0, 1.0], 0.0)
    c.set_target((3.0, 0.0), 'base_link', 0.0)
    c.step(0.01, 0.01)
    status = diagnostic_status(c, 0.02, [20e-6, 30e-6], ['joint_state', 'forward_position'],
                               'none')
    values = values_of(status)
    assert values['status'] == 'OUT_OF_REACH' and values['target_reachable'] == 'false'
    assert values['target_mode'] == 'position' and values['out_of_reach'] == 'position'
    assert values['output_mode'] == 'joint_state,forward_position'
    assert values['tick_latency_us_last'] == '30.0' and values['targets_accepted'] == '1'
    assert float(values['feedback_age_s']) == 0.02
    assert status.hardware_id == 'two_link_arm' and status.name == 'iknn_ros: ik_node'


def test_the_markers_show_the_target_its_projection_and_the_rings():
    c = controller()
    stamp = Time(sec=3)
    empty = target_markers(c, None, stamp).markers
    assert empty[0].action == Marker.DELETE and empty[1].action == Marker.DELETE
    assert [m.type for m in empty[2:]] == [Marker.LINE_STRIP] * 2  # the annulus
    c.update_feedback(['joint1', 'joint2'], [0.0, 1.0], 0.0)
    c.set_target((3.0, 0.0), 'base_link', 0.0)
    goal = c.step(0.01, 0.01).result.goal
    target, projected = target_markers(c, goal, stamp).markers[:2]
    assert target.action == projected.action == Marker.ADD
    assert (target.pose.position.x, projected.pose.position.x) == (3.0, goal[0])
    assert target.header.frame_id == 'base_link' and target.header.stamp.sec == 3
    # A spatial arm's target keeps its height and has no annulus.
    spatial = controller('spatial_arm')
    spatial.set_target((0.2, 0.1, 0.3), 'base_link', 0.0)
    markers = target_markers(spatial, (0.2, 0.1, 0.3), stamp).markers
    assert len(markers) == 2 and markers[0].pose.position.z == 0.3
    assert markers[1].action == Marker.DELETE  # reachable: no projection shown
