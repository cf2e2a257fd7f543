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

"""The general tick: any serial chain, position and pose targets, the cold solve."""

import math
from pathlib import Path

from conftest import FIVE, SEVEN, SIX, SLIDE_AND_FOLLOWER
from iknn_ros.ik.model_card import shipped_model_for
from iknn_ros.ik.solver import IKSolver
from iknn_ros.ik.solver import OnnxIKNetwork
from iknn_ros.ik.solver import SolverConfig
from iknn_ros.ik.solver import Status
from iknn_ros.ik.solver import Tracker
from iknn_ros.kinematics import KinematicChain
from iknn_ros.kinematics.rigid_body import RigidBodyModel
from iknn_ros.kinematics.targets import format_target
from iknn_ros.kinematics.targets import matrix_to_quaternion
from iknn_ros.kinematics.targets import parse_target
from iknn_ros.kinematics.targets import TargetMode
import numpy as np
import pinocchio
import pytest

REPO = Path(__file__).resolve().parent.parent


def pose_solver(path, mode='pose', refine=3, **config):
    chain = KinematicChain.from_urdf(path)
    return chain, IKSolver(chain, None, SolverConfig(use_network=False, refine_iterations=refine,
                                                     target_mode=mode, **config))


def reachable_poses(chain, solver, count, seed):
    """Return joint vectors inside the margin and their tool poses as pose targets."""
    q = solver.safe_chain.random_configurations(np.random.default_rng(seed), count)
    body = RigidBodyModel(chain)
    return q, [format_target(chain, solver.target_mode, *body.placement(v)) for v in q]


def angle_between(r1, r2):
    return float(np.linalg.norm(pinocchio.log3(r1 @ r2.T)))


# ---- kinematics ------------------------------------------------------------------------


def test_a_position_model_refuses_pose_targets():
    chain = KinematicChain.from_urdf(REPO / 'urdf' / 'spatial_arm.urdf')
    network = OnnxIKNetwork(shipped_model_for(chain.fingerprint()))
    with pytest.raises(ValueError, match='six joints or more'):
        IKSolver(chain, network, SolverConfig(target_mode='pose'))


# ---- the tick --------------------------------------------------------------------------

def assert_safe(chain, solver, previous, command, dt):
    command = np.asarray(command)
    assert np.all(np.isfinite(command))
    assert np.all(command >= chain.lower - 1e-12) and np.all(command <= chain.upper + 1e-12)
    move = command - np.asarray(previous)
    move = np.where(chain.continuous, (move + math.pi) % (2 * math.pi) - math.pi, move)
    assert np.all(np.abs(move) <= chain.velocity_limits * dt * (1 + 1e-9))


@pytest.mark.parametrize('path', [SIX, SEVEN], ids=lambda p: p.stem)
def test_pose_targets_are_reached_exactly_within_the_limits(path):
    chain, solver = pose_solver(path)
    starts, _ = reachable_poses(chain, solver, 10, seed=1)
    _, targets = reachable_poses(chain, solver, 10, seed=2)
    dt = 0.01
    for start, target in zip(starts, targets):
        tracker = Tracker(solver)
        q = tuple(start)
        for _ in range(1500):
            result = tracker.tick(q, target, dt)
            assert_safe(chain, solver, q, result.command, dt)
            q = result.command
            if result.status is Status.REACHED and result.goal_error_m <= 1e-9 and \
                    result.goal_error_rad <= 1e-9:
                break
        assert result.status is Status.REACHED, (start, target, result)
        position, rotation = RigidBodyModel(chain).placement(np.array(q))
        aim = parse_target(chain, TargetMode.POSE, target)
        assert np.linalg.norm(position - aim.position) <= 1e-9
        assert angle_between(rotation, aim.rotation) <= 1e-9


def test_streaming_poses_are_exact_in_one_tick():
    chain, solver = pose_solver(SEVEN)
    start = 0.5 * (solver.safe_chain.lower + solver.safe_chain.upper)
    assert_stream_exact_in_one_tick(chain, solver, start, 7.0)


def assert_stream_exact_in_one_tick(chain, solver, start, slowness):
    """Tick along a smooth joint path's tool targets; each must be reached in one tick."""
    body = RigidBodyModel(chain)
    # Within the speed limits of a 100 Hz tick (0.5 m/s, 1 rad/s): every point is a goal.
    t = np.linspace(0.0, 1.0, 1000)[:, None]
    path = start + 0.4 * np.sin(2 * math.pi * t * np.arange(1, chain.n_joints + 1) / slowness)
    q = tuple(path[0])
    for joints in path[1:]:
        target = format_target(chain, solver.target_mode, *body.placement(joints))
        result = solver.tick(q, target, 0.01)
        assert_safe(chain, solver, q, result.command, 0.01)
        assert result.status is Status.REACHED
        assert result.goal_error_m <= 1e-9 and result.goal_error_rad <= 1e-9
        q = result.command


@pytest.mark.parametrize('path', [SIX, SEVEN], ids=lambda p: p.stem)
def test_a_velocity_limited_network_step_gives_way_to_the_damped_step(path):
    # The network's redundancy can ask for more joint motion than the damped step to the same
    # waypoint; where the velocity limit scales the move down, the arm then crawls (on the
    # 6-joint arm one of these targets was still moving after 800 ticks). The tick takes the
    # damped step from the current joints when it is scaled less, and says FALLBACK.
    chain = KinematicChain.from_urdf(path)
    network = OnnxIKNetwork(shipped_model_for(chain.fingerprint()))
    # A fallback floor of 1 m: the network's answer is never rejected for its error, so every
    # fallback here is the velocity rule's. Three iterations either way.
    solver = IKSolver(chain, network, SolverConfig(target_mode='pose', refine_iterations=3,
                                                   fallback_floor_m=1.0))
    damped = IKSolver(chain, None, SolverConfig(target_mode='pose', refine_iterations=3,
                                                use_network=False))
    body = RigidBodyModel(chain)
    goals = solver.safe_chain.random_configurations(np.random.default_rng(3), 4)
    q = tuple(0.5 * (solver.safe_chain.lower + solver.safe_chain.upper))
    tracker, dt = Tracker(solver), 0.01
    taken = 0
    for goal in goals:
        target = format_target(chain, TargetMode.POSE, *body.placement(goal))
        for _ in range(800):
            result = tracker.tick(q, target, dt)
            assert_safe(chain, solver, q, result.command, dt)
            if result.fallback:
                assert result.status is Status.FALLBACK
                alone = damped.tick(q, target, dt).command
                assert np.max(np.abs(np.subtract(result.command, alone))) <= 1e-12
                taken += 1
            q = result.command
            if result.status is Status.REACHED and result.goal_error_m <= 1e-9 and \
                    result.goal_error_rad <= 1e-9:
                break
        assert result.status is Status.REACHED, (path.stem, target, result)
    assert taken >= 10, taken


def test_a_position_out_of_reach_says_so_and_goes_to_the_nearest_pose():
    chain, solver = pose_solver(SEVEN)
    _, (target,) = reachable_poses(chain, solver, 1, seed=5)
    far = (5.0, 0.0, 0.3) + target[3:]
    result = solver.tick(tuple(0.5 * (solver.safe_chain.lower + solver.safe_chain.upper)),
                         far, 0.01)
    assert result.status is Status.OUT_OF_REACH and result.unreachable == 'position'
    assert solver.solve(result.goal).reached
    assert result.target_error_m > 4.0


def test_an_orientation_out_of_reach_says_which_part():
    chain, solver = pose_solver(SEVEN)
    body = RigidBodyModel(chain)
    # Stretched straight up, the flange is at the top of the reach: there it can only
    # point up, so pointing it down is an orientation the position does not allow.
    stretched = np.clip(np.zeros(7), solver.safe_chain.lower, solver.safe_chain.upper)
    position, rotation = body.placement(stretched)
    flipped = rotation @ np.diag([1.0, -1.0, -1.0])
    target = tuple(position.tolist()) + matrix_to_quaternion(flipped)
    result = solver.tick(tuple(stretched), target, 0.01)
    assert result.status is Status.OUT_OF_REACH
    assert result.unreachable == 'orientation'
    solved = solver.solve(target)
    assert solved.status is Status.OUT_OF_REACH and solved.unreachable == 'orientation'


def test_bad_input_holds_or_refuses():
    chain, solver = pose_solver(SEVEN)
    q = tuple(0.5 * (solver.safe_chain.lower + solver.safe_chain.upper))
    for target in [(math.nan,) * 7, (0.3, 0.0, 0.5, 0.0, 0.0, 0.0, 0.0),
                   (0.3, math.inf, 0.5, 0.0, 0.0, 0.0, 1.0)]:
        result = solver.tick(q, target, 0.01)
        assert result.status is Status.INVALID_TARGET
        np.testing.assert_allclose(result.command, q, atol=0)
    assert solver.tick((math.nan,) * 7, (0.3, 0, 0.5, 0, 0, 0, 1), 0.01).command is None
    with pytest.raises(ValueError, match='7 values'):
        solver.tick(q, (0.3, 0.0, 0.5), 0.01)


def test_hostile_pose_ticks_never_leave_the_limits():
    chain, solver = pose_solver(SEVEN, refine=1)
    rng = np.random.default_rng(11)
    q = tuple(0.5 * (solver.safe_chain.lower + solver.safe_chain.upper))
    for _ in range(300):
        target = tuple(rng.normal(0.0, 2.0, 7) * rng.choice([0.1, 1.0, 10.0]))
        dt = float(rng.choice([1e-4, 0.01, 0.5]))
        result = solver.tick(q, target, dt)
        assert_safe(chain, solver, q, result.command, dt)
        q = result.command


def test_planar_pose_reaches_x_y_and_yaw():
    chain, solver = pose_solver(REPO / 'urdf' / 'three_link_arm.urdf', mode='planar_pose')
    _, targets = reachable_poses(chain, solver, 5, seed=4)
    tracker = Tracker(solver)
    q = tuple(np.where(chain.continuous, 0.0, solver.safe_chain.lower))
    for target in targets:
        for _ in range(2000):
            result = tracker.tick(q, target, 0.01)
            q = result.command
            if result.reached:
                break
        assert result.reached and result.goal_error_rad <= 1e-4, (target, result)


def test_a_slide_and_a_follower_are_tracked():
    chain, solver = pose_solver(SLIDE_AND_FOLLOWER, mode='position', refine=1)
    _, targets = reachable_poses(chain, solver, 5, seed=6)
    q = (0.0, 0.2, 0.0)
    for target in targets:
        tracker = Tracker(solver)
        for _ in range(2000):
            result = tracker.tick(q, target, 0.01)
            assert_safe(chain, solver, q, result.command, 0.01)
            q = result.command
            if result.reached:
                break
        assert result.reached, (target, result)


# ---- the cold solve --------------------------------------------------------------------

@pytest.mark.parametrize('path', [SIX, SEVEN], ids=lambda p: p.stem)
def test_cold_solves_are_exact_and_inside_the_limits(path):
    chain, solver = pose_solver(path)
    _, targets = reachable_poses(chain, solver, 100, seed=9)
    body = RigidBodyModel(chain)
    for target in targets:
        result = solver.solve(target)
        assert result.reached, (target, result)
        q = np.array(result.joints)
        assert np.all(q >= solver.safe_chain.lower - 1e-12)
        assert np.all(q <= solver.safe_chain.upper + 1e-12)
        position, rotation = body.placement(q)
        aim = parse_target(chain, TargetMode.POSE, target)
        assert np.linalg.norm(position - aim.position) <= 1e-9
        assert angle_between(rotation, aim.rotation) <= 1e-9


def test_a_cold_solve_of_the_unreachable_ends():
    chain, solver = pose_solver(SEVEN)
    result = solver.solve((3.0, 3.0, 3.0, 0.0, 0.0, 0.0, 1.0))
    assert result.status is Status.OUT_OF_REACH and result.unreachable == 'position'
    # The seed and 64 starting poses, given up when stuck, then each again to its end.
    assert result.starts == 2 * 65


def test_a_cold_solve_that_only_a_thorough_pass_finds_is_found():
    # A pose of 16,000 random ones whose quick pass gives up every start (they slide along
    # limits too slowly); the second pass, every start to its end, reaches it.
    chain, solver = pose_solver(SEVEN)
    safe = solver.safe_chain
    joints = safe.random_configurations(np.random.default_rng(77), 3000)[1597]
    target = format_target(chain, TargetMode.POSE, *RigidBodyModel(chain).placement(joints))
    result = solver.solve(target, 0.5 * (safe.lower + safe.upper))
    assert result.reached and result.starts > 65
    assert result.position_error_m <= 1e-9 and result.orientation_error_rad <= 1e-9
    with pytest.raises(ValueError, match='not finite'):
        solver.solve((math.nan,) * 7)
    with pytest.raises(ValueError, match='seed must be 7'):
        solver.solve((0.3, 0.0, 0.5, 0.0, 0.0, 0.0, 1.0), seed=(0.0,))


def test_planar_position_solvers_solve_too():
    chain = KinematicChain.from_urdf(REPO / 'urdf' / 'two_link_arm.urdf')
    solver = IKSolver(chain, None, SolverConfig(use_network=False))
    result = solver.solve((0.5, 0.4))
    assert result.reached
    np.testing.assert_allclose(chain.fk(np.array(result.joints)), (0.5, 0.4), atol=1e-9)


def test_a_stream_beyond_reach_is_followed_without_a_search_per_tick(monkeypatch):
    # A teleop pushing past the workspace: each new target is out of reach and next to the
    # last. The first one is searched (a cold solve from fixed starts); the rest follow the
    # nearest pose locally. Before, every tick searched (128 ms a tick on this machine).
    chain, solver = pose_solver(SEVEN)
    general = solver._scalar
    searches = []
    real_solve = general.solve
    monkeypatch.setattr(general, 'solve', lambda *a, **k: searches.append(1) or
                        real_solve(*a, **k))
    body = RigidBodyModel(chain)
    q = tuple(0.5 * (solver.safe_chain.lower + solver.safe_chain.upper))
    rotation = body.placement(np.array(q))[1]
    previous_goal = None
    for k in range(40):
        target = format_target(chain, TargetMode.POSE, np.array([1.2 + 0.002 * k, 0.1, 0.4]),
                               rotation)
        result = solver.tick(q, target, 0.01)
        assert result.status is Status.OUT_OF_REACH and result.unreachable == 'position'
        assert_safe(chain, solver, q, result.command, 0.01)
        # The goal is a reachable pose, and the nearest: no start of a full search beats it.
        goal = parse_target(chain, TargetMode.POSE, result.goal)
        if previous_goal is not None:
            assert np.linalg.norm(goal.position - previous_goal.position) < 0.01
        previous_goal = goal
        q = result.command
    assert len(searches) == 1
    full = real_solve(target, seed=np.array(q))
    gap = lambda p: np.linalg.norm(p - np.array(target[:3]))  # noqa: E731
    assert gap(goal.position) <= gap(body.placement(np.array(full.joints))[0]) + 1e-6


# ---- a position and a tool axis (5 joints) -------------------------------------------------

def axis_error(chain, q, target):
    """Return the position error and the angle between the tool's z axis and the target's."""
    frame = chain.frames(np.asarray(q))[-1]
    axis = np.asarray(target[3:6]) / np.linalg.norm(target[3:6])
    return (float(np.linalg.norm(frame[:3, 3] - np.asarray(target[:3]))),
            math.acos(min(1.0, float(frame[:3, 2] @ axis))))


def test_tool_axis_targets_are_solved_cold_and_tracked_by_a_five_joint_arm():
    chain, solver = pose_solver(FIVE, mode='tool_axis')
    _, targets = reachable_poses(chain, solver, 100, seed=11)
    assert len(targets[0]) == 6
    for target in targets:
        result = solver.solve(target)
        assert result.reached, (target, result)
        position_error, angle = axis_error(chain, result.joints, target)
        assert position_error <= 1e-9 and angle <= 1e-7  # acos of a dot product near 1
        assert np.all(np.asarray(result.joints) >= solver.safe_chain.lower - 1e-12)
        assert np.all(np.asarray(result.joints) <= solver.safe_chain.upper + 1e-12)
    # Tracked through ticks from somewhere else, within the speed limits.
    starts, _ = reachable_poses(chain, solver, 5, seed=12)
    for start, target in zip(starts, targets):
        tracker, q = Tracker(solver), tuple(start)
        for _ in range(1500):
            result = tracker.tick(q, target, 0.01)
            assert_safe(chain, solver, q, result.command, 0.01)
            q = result.command
            if result.status is Status.REACHED and result.goal_error_m <= 1e-9 and \
                    result.goal_error_rad <= 1e-9:
                break
        assert result.status is Status.REACHED, (start, target, result)
        assert axis_error(chain, q, target)[0] <= 1e-9


def test_a_tool_axis_stream_is_exact_in_one_tick_and_ignores_the_turn_about_it():
    chain, solver = pose_solver(FIVE, mode='tool_axis')
    # A working pose (the middle of a UR's limits is its stretched, singular one).
    assert_stream_exact_in_one_tick(chain, solver, np.array([0.3, -1.4, 1.5, -1.2, -1.4]), 10.0)
    # The 6-joint arm in tool-axis mode keeps its last joint where it is: a turn about the
    # axis sets nothing, so the least-norm step does not move it.
    six, six_solver = pose_solver(SIX, mode='tool_axis')
    q0 = np.array([0.3, -1.4, 1.5, -1.2, -1.4, 0.5])
    frame = six.frames(q0 + np.array([0.002, -0.002, 0.002, 0.002, -0.002, 0.0]))[-1]
    target = tuple(frame[:3, 3]) + tuple(frame[:3, 2])
    result = six_solver.tick(tuple(q0), target, 0.01)
    assert result.status is Status.REACHED
    turned = np.array(result.command) - q0
    assert np.max(np.abs(turned[:5])) > 1e-3 and abs(turned[5]) < 1e-9


def test_a_zero_or_unreachable_tool_axis_is_refused_or_projected():
    chain, solver = pose_solver(FIVE, mode='tool_axis')
    q = tuple(0.5 * (solver.safe_chain.lower + solver.safe_chain.upper))
    held = solver.tick(q, (0.3, 0.2, 0.3, 0.0, 0.0, 0.0), 0.01)
    assert held.status is Status.INVALID_TARGET
    far = solver.tick(q, (3.0, 0.0, 0.3, 0.0, 0.0, -1.0), 0.01)
    assert far.status is Status.OUT_OF_REACH and far.unreachable == 'position'
    assert solver.solve(far.goal).reached


# ---- the posture pull --------------------------------------------------------------------

def ten_laps(chain, solver, start, hold=300):
    """Hold the path's start, run ten laps of a closed tool circle, hold again; the joints."""
    body = RigidBodyModel(chain)
    centre = body.placement(start)[0]
    here = format_target(chain, solver.target_mode, *body.placement(start))
    angles = np.linspace(0.0, 2.0 * math.pi, 101)[1:]
    lap = [(centre[0] + 0.08 * (math.cos(a) - 1.0), centre[1] + 0.08 * math.sin(a),
            centre[2]) + tuple(here[3:]) for a in angles]
    tracker, q = Tracker(solver), tuple(start)
    for _ in range(hold):
        q = tracker.tick(q, here, 0.01).command
    before = np.array(q)
    for _ in range(10):
        for target in lap:
            for _ in range(50):
                result = tracker.tick(q, target, 0.01)
                assert_safe(chain, solver, q, result.command, 0.01)
                q = result.command
                if result.reached:
                    break
            assert result.reached, result
    for _ in range(hold):
        q = tracker.tick(q, here, 0.01).command
    return before, np.array(q)


def test_the_posture_pull_brings_a_redundant_arm_back_to_the_same_joints():
    start = np.array([0.4, -0.4, 0.4, -2.0, 0.4, 1.4, 0.4])
    exact = {'goal_tolerance_m': 1e-9, 'goal_tolerance_rad': 1e-9}
    chain, plain = pose_solver(SEVEN, refine=1, **exact)
    before, after = ten_laps(chain, plain, start)
    # The least-norm step alone drifts along the self-motion ...
    assert np.max(np.abs(after - before)) > 1e-2
    _, pulled = pose_solver(SEVEN, refine=1, posture_gain=10.0, **exact)
    before, after = ten_laps(chain, pulled, start)
    # ... the pull brings the joints back, and keeps them nearer the middle of the limits.
    assert np.max(np.abs(after - before)) < 1e-9
    middle = 0.5 * (chain.lower + chain.upper)
    assert np.linalg.norm(before - middle) < np.linalg.norm(start - middle)


def test_the_posture_pull_moves_the_joints_not_the_tool():
    chain, solver = pose_solver(SEVEN, refine=1, posture_gain=10.0,
                                rest_posture=(0.0, 0.3, 0.0, -1.8, 0.0, 2.0, 0.8))
    start = np.array([0.4, -0.4, 0.4, -2.0, 0.4, 1.4, 0.4])
    target = format_target(chain, solver.target_mode, *RigidBodyModel(chain).placement(start))
    q, rest = tuple(start), np.array(solver.config.rest_posture)
    for _ in range(100):
        result = solver.tick(q, target, 0.01)
        assert_safe(chain, solver, q, result.command, 0.01)
        assert result.status is Status.REACHED
        assert result.goal_error_m <= 1e-9 and result.goal_error_rad <= 1e-9
        assert np.linalg.norm(np.array(result.command) - rest) < np.linalg.norm(
            np.array(q) - rest)
        q = result.command
    # Off by default, and nothing to pull on an arm without redundancy.
    _, plain = pose_solver(SEVEN, refine=1)
    assert plain.tick(tuple(start), target, 0.01).command == pytest.approx(tuple(start),
                                                                           abs=1e-12)
    six, six_solver = pose_solver(SIX, refine=1, posture_gain=10.0)
    q6 = np.array([0.3, -1.4, 1.5, -1.2, -1.4, 0.5])
    six_target = format_target(six, six_solver.target_mode, *RigidBodyModel(six).placement(q6))
    assert six_solver.tick(tuple(q6), six_target, 0.01).command == pytest.approx(
        tuple(q6), abs=1e-12)


def test_the_posture_pull_runs_planar_arms_on_the_general_tick_and_checks_its_posture():
    three = REPO / 'urdf' / 'three_link_arm.urdf'
    chain, solver = pose_solver(three, mode='position', refine=1, posture_gain=10.0,
                                rest_posture=(0.0, 0.5, 0.5))
    start = (0.3, 1.2, -1.0)
    target = tuple(chain.fk(np.array(start))[:2])
    q = start
    for _ in range(200):
        result = solver.tick(q, target, 0.01)
        q = result.command
    assert result.status is Status.REACHED and result.goal_error_m <= 1e-9
    rest = np.array(solver.config.rest_posture)
    assert np.linalg.norm(np.array(q) - rest) < np.linalg.norm(np.array(start) - rest) - 0.5
    with pytest.raises(ValueError, match='rest_posture has 2 values'):
        pose_solver(three, mode='position', posture_gain=1.0, rest_posture=(0.0, 1.0))
    with pytest.raises(ValueError, match='posture_gain'):
        pose_solver(three, mode='position', posture_gain=-1.0)
