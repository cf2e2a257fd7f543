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

"""IKController on its own (no ROS): targets, feedback, staleness and the command reference."""

import math
from pathlib import Path

from iknn_ros.ik.controller import IKController
from iknn_ros.ik.solver import IKSolver
from iknn_ros.ik.solver import SolverConfig
from iknn_ros.ik.solver import Status
from iknn_ros.kinematics import KinematicChain
from iknn_ros.kinematics.targets import matrix_to_quaternion
import numpy as np
import pytest

URDF_DIR = Path(__file__).resolve().parent.parent / 'urdf'
DT = 0.01


def controller(arm='two_link_arm', timeout=0.5, **config):
    chain = KinematicChain.from_urdf(URDF_DIR / f'{arm}.urdf')
    solver = IKSolver(chain, None, SolverConfig(use_network=False, **config))
    return IKController(solver, 'base_link', timeout, max_tracking_error_rad=0.15)


def test_targets_are_checked_and_kept_in_the_base_frame():
    c = controller()
    assert not c.set_target((0.5, 0.5, 0.0), 'world', 0.0).accepted
    assert 'base frame' in c.set_target((0.5, 0.5, 0.0), 'world', 0.0).reason
    assert not c.set_target((math.nan, 0.5, 0.0), 'base_link', 0.0).accepted
    assert not c.set_target((0.5,), 'base_link', 0.0).accepted
    assert c.target is None and c.counters['targets_refused'] == 4
    # A planar arm takes x and y: z is dropped. A leading slash names the same frame.
    assert c.set_target((0.5, 0.5, 0.3), '/base_link', 1.0).accepted
    assert c.target == (0.5, 0.5) and c.target_time == 1.0
    c.clear_target()
    assert c.target is None


def test_a_pose_target_needs_a_rotation():
    c = controller('six_dof_arm', target_mode='pose')
    assert not c.set_target((0.3, 0.2, 0.4, 0.0, 0.0, 0.0, 0.0), 'base_link', 0.0).accepted
    assert not c.set_target((0.3, 0.2, 0.4), 'base_link', 0.0).accepted
    assert c.set_target((0.3, 0.2, 0.4, 0.0, 0.0, 0.0, 1.0), 'base_link', 0.0).accepted
    assert len(c.target) == 7


def test_feedback_is_matched_by_name_and_refused_when_malformed():
    c = controller()
    assert c.update_feedback(['joint2', 'joint1', 'gripper'], [0.7, 0.1, 9.0], 0.0).accepted
    assert c.joints == (0.1, 0.7)
    for names, positions in ((['joint1'], [0.1]), (['joint1', 'joint2'], [0.1]),
                             (['joint1', 'joint2'], [0.1, math.inf])):
        assert not c.update_feedback(names, positions, 1.0).accepted
    assert c.joints == (0.1, 0.7) and c.feedback_time == 0.0
    assert c.counters['feedback_refused'] == 3


def test_no_command_without_fresh_feedback_and_a_target():
    c = controller(timeout=0.5)
    assert c.step(0.0, DT).command is None and 'no joint feedback' in c.last.reason
    c.update_feedback(['joint1', 'joint2'], [0.0, 1.0], 0.0)
    assert c.step(0.1, DT).command is None and 'waiting for a target' in c.last.reason
    c.set_target((0.4, 0.6), 'base_link', 0.1)
    step = c.step(0.2, DT)
    assert step.command is not None and step.target == (0.4, 0.6)
    assert step.result.status in (Status.MOVING, Status.REACHED)
    stale = c.step(0.8, DT)
    assert stale.command is None and 'old' in stale.reason and stale.target is None


def test_ticks_start_from_the_command_while_the_arm_follows_it():
    c = controller()
    c.update_feedback(['joint1', 'joint2'], [0.0, 1.0], 0.0)
    c.set_target((-0.3, 0.6), 'base_link', 0.0)
    first = c.step(0.01, DT).command
    # The arm lags a little: the next tick starts from the command, not the measurement.
    c.update_feedback(['joint1', 'joint2'], [0.5 * first[0], 0.5 * (first[1] + 1.0)], 0.02)
    assert c.start_state(0.02) == pytest.approx(first, abs=1e-15)
    # Pushed far away: the tick starts from where the arm is, and counts a resync.
    c.update_feedback(['joint1', 'joint2'], [first[0] + 0.5, first[1]], 0.03)
    assert c.start_state(0.03) == c.joints and c.counters['resyncs'] == 1


def test_commands_stay_inside_the_limits_and_velocity_limits():
    c = controller('seven_dof_arm', target_mode='pose', refine_iterations=3)
    chain = c.solver.chain
    q = np.array([0.0, 0.0, 0.0, -1.5, 0.0, 1.5, 0.0])
    c.update_feedback(chain.joint_names, q, 0.0)
    tool = chain.frames(q + 0.4)[-1]
    c.set_target(tuple(tool[:3, 3]) + matrix_to_quaternion(tool[:3, :3]), 'base_link', 0.0)
    now = 0.0
    for _ in range(400):
        now += DT
        step = c.step(now, DT)
        command = np.array(step.command)
        assert np.all(command >= chain.lower) and np.all(command <= chain.upper)
        assert np.all(np.abs(command - q) <= chain.velocity_limits * DT * (1 + 1e-9))
        q = command
        c.update_feedback(chain.joint_names, q, now)
        if step.result.status is Status.REACHED:
            break
    assert step.result.status is Status.REACHED
    np.testing.assert_allclose(chain.frames(q)[-1][:3, 3], tool[:3, 3], atol=1e-6)
