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

"""Beyond the planar 2R arm: the three-link planar arm and seed 2's spatial arm."""

from pathlib import Path
import subprocess
import sys
import warnings

from conftest import joint, links, SPATIAL, THREE, urdf_text
from iknn_ros.evaluation.evaluate import LoopSettings
from iknn_ros.evaluation.evaluate import run_chained
from iknn_ros.ik.model_card import shipped_model_for
from iknn_ros.ik.solver import IKSolver
from iknn_ros.ik.solver import OnnxIKNetwork
from iknn_ros.ik.solver import SolverConfig
from iknn_ros.ik.solver import Status
from iknn_ros.ik.solver import Tracker
from iknn_ros.kinematics import KinematicChain
import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent


def test_the_arms_are_what_the_seeds_describe(three, spatial):
    assert three.n_joints == 3 and three.target_dim == 2 and three.reach == pytest.approx(1.0)
    np.testing.assert_allclose(three.fk(np.zeros(3)), [1.0, 0.0], atol=1e-15)
    assert spatial.joint_names == ('shoulder_yaw', 'shoulder_pitch', 'elbow_yaw',
                                   'elbow_pitch')
    assert spatial.target_dim == 3 and spatial.planar is None
    # Seed 2: straight up at zero angles, links of 0.5 m from a shoulder 0.1 m up.
    np.testing.assert_allclose(spatial.fk(np.zeros(4)), [0.0, 0.0, 1.1], atol=1e-15)
    np.testing.assert_allclose(spatial.shoulder(), [0.0, 0.0, 0.1], atol=1e-15)
    # Shoulder pitch keeps the upper arm above the shoulder: the elbow never goes below it.
    q = spatial.random_configurations(np.random.default_rng(0), 5000)
    elbows = spatial.joint_positions(q)[:, 3]
    assert elbows[:, 2].min() >= 0.1 - 1e-12


@pytest.mark.parametrize('urdf', [THREE, SPATIAL])
def test_fk_matches_ikpy(urdf):
    ikpy_chain = pytest.importorskip('ikpy.chain')
    chain = KinematicChain.from_urdf(urdf)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        reference = ikpy_chain.Chain.from_urdf_file(str(urdf), base_elements=['base_link'])
    active = [i for i, link in enumerate(reference.links) if link.joint_type != 'fixed']
    q = chain.random_configurations(np.random.default_rng(1), 200)
    full = np.zeros((len(q), len(reference.links)))
    full[:, active] = q
    expected = np.array([reference.forward_kinematics(row)[:3, 3] for row in full])
    assert np.max(np.abs(chain.tip_position_3d(q) - expected)) <= 1e-12


def test_spatial_jacobian_matches_finite_differences(spatial):
    q = spatial.random_configurations(np.random.default_rng(2), 100)
    eps = 1e-6
    numeric = np.stack([(spatial.fk(q + eps * e) - spatial.fk(q - eps * e)) / (2 * eps)
                        for e in np.eye(4)], axis=-1)
    assert np.max(np.abs(spatial.jacobian(q) - numeric)) < 1e-8


def test_elbow_joints_are_found_from_the_jacobian(three, spatial, two_link_urdf_path):
    assert KinematicChain.from_urdf(two_link_urdf_path).elbow_joints() == (1,)
    assert spatial.elbow_joints() == (3,)
    assert three.elbow_joints() == ()


@pytest.mark.parametrize('urdf', [THREE, SPATIAL])
def test_the_shipped_model_is_found_for_each_arm(urdf):
    chain = KinematicChain.from_urdf(urdf)
    model = shipped_model_for(chain.fingerprint())
    assert model is not None and model.parent.name == f'{chain.robot_name}_default'
    OnnxIKNetwork(model).card.check_chain(chain)


def test_only_planar_arms_give_the_browser_tick_its_constants(three, spatial):
    # web/static/tick.js ports the planar float tick; the spatial arm is shown live only.
    assert IKSolver(spatial, None, SolverConfig(use_network=False)).planar_constants() is None
    constants = IKSolver(three, None, SolverConfig(use_network=False)).planar_constants()
    assert constants['n_joints'] == 3 and constants['annulus']['r_min'] == 0.0


def assert_float_tick_is_the_batched_tick(solver, joints, targets, tolerance):
    """Tick one arm at a time in floats and all at once in numpy; they must agree."""
    for dt, branch in ((0.001, None), (0.05, -1.0)):
        batch = solver.tick_batch(joints, targets, dt, None if branch is None else
                                  np.full(len(joints), branch))
        for i, (q, target) in enumerate(zip(joints, targets)):
            one = solver.tick(tuple(q), tuple(target), dt, branch)
            assert one.status == batch.status[i] and one.branch == batch.branch[i]
            assert one.fallback == batch.fallback[i] and one.projected == batch.projected[i]
            np.testing.assert_allclose(one.goal, batch.goal[i], rtol=0.0, atol=1e-12)
            np.testing.assert_allclose(one.command, batch.command[i], rtol=0.0,
                                       atol=tolerance)
            assert one.goal_error_m == pytest.approx(batch.goal_error_m[i], abs=tolerance)


@pytest.mark.parametrize('refine', [0, 1, 3])
def test_the_spatial_float_tick_is_the_batched_tick(spatial, refine):
    network = OnnxIKNetwork(shipped_model_for(spatial.fingerprint()))
    solver = IKSolver(spatial, network, SolverConfig(refine_iterations=refine))
    rng = np.random.default_rng(7)
    joints = spatial.random_configurations(rng, 60)
    # Near, far, out of reach, inside the hole about the shoulder, and not finite.
    targets = spatial.fk(spatial.random_configurations(rng, 60)) * \
        rng.uniform(0.2, 1.5, (60, 1))
    targets[::10] = np.nan
    # The network runs in float32, on one row or on many (other kernels round otherwise),
    # and refinement leaves the redundant direction as the network chose it.
    assert_float_tick_is_the_batched_tick(solver, joints, targets, 1e-6)
    statuses = {int(s) for s in solver.tick_batch(joints, targets, 0.05).status}
    assert {Status.MOVING, Status.OUT_OF_REACH, Status.INVALID_TARGET} <= statuses


def test_the_batched_tick_takes_the_velocity_rule_as_the_float_tick_does(spatial):
    network = OnnxIKNetwork(shipped_model_for(spatial.fingerprint()))
    # A fallback floor of 1 m: no network answer is rejected for its error, so every
    # fallback is a velocity-limited network step given up for the damped one.
    solver = IKSolver(spatial, network, SolverConfig(fallback_floor_m=1.0))
    rng = np.random.default_rng(7)
    joints = spatial.random_configurations(rng, 60)
    targets = spatial.fk(spatial.random_configurations(rng, 60)) * \
        rng.uniform(0.2, 1.5, (60, 1))
    assert solver.tick_batch(joints, targets, 0.05).fallback.sum() >= 2
    assert_float_tick_is_the_batched_tick(solver, joints, targets, 1e-6)


def test_the_float_tick_turns_frames_like_the_urdf():
    # Tilted joint origins and oblique axes: the general rotation, not the x/y/z shortcut.
    limit = '<limit lower="-2.0" upper="2.0" effort="1" velocity="3.0"/>'
    text = urdf_text(
        joint('a', 'revolute', 'base', 'l1', '0 0 0.1', '0 0 0.3', '0 0 1', limit)
        + joint('b', 'revolute', 'l1', 'l2', '0.05 0 0.2', '0.4 -0.2 0.1', '0.3 0.5 0.8',
                limit)
        + joint('c', 'revolute', 'l2', 'l3', '0 0.1 0.3', '0 0.5 0', '0 -1 0', limit)
        + joint('d', 'fixed', 'l3', 'tool', '0.1 0.2 0.25', '0.3 0 0'),
        links('base', 'l1', 'l2', 'l3', 'tool'))
    chain = KinematicChain.from_urdf(text)
    assert chain.planar is None
    solver = IKSolver(chain, None, SolverConfig(use_network=False, refine_iterations=2))
    rng = np.random.default_rng(8)
    joints = chain.random_configurations(rng, 80)
    targets = chain.fk(chain.random_configurations(rng, 80))
    assert_float_tick_is_the_batched_tick(solver, joints, targets, 1e-9)


@pytest.mark.parametrize('start, target', [
    ((34.528, 0.097, 0.028), (0.988, 0.109)), ((-9.841, 0.608, 0.572), (0.453, 0.129)),
    ((165.778, 0.955, 1.098), (0.604, 0.207)), ((165.372, 1.068, 0.826), (0.542, 0.004))])
def test_the_network_alone_takes_the_three_link_arm_past_its_base(three, start, target):
    network = OnnxIKNetwork(shipped_model_for(three.fingerprint()))
    settings = LoopSettings(tolerance_m=1e-3 * three.reach, tick_budget=1000)
    solver = IKSolver(three, network, SolverConfig(
        refine_iterations=0, fallback=False, goal_tolerance_m=settings.tolerance_m,
        max_cartesian_speed=network.card.step_m / settings.dt))
    # Chained targets of the evaluation whose straight path passes the base within 4 cm:
    # it curled the arm against both limits, where the network alone stalled.
    run = run_chained(solver, np.array([target]), start, settings)
    assert run['summary']['n_reached'] == 1
    assert run['summary']['limit_violations'] == run['summary']['velocity_violations'] == 0


def test_a_trapped_three_link_arm_detours_out(three):
    network = OnnxIKNetwork(shipped_model_for(three.fingerprint()))
    solver = IKSolver(three, network, SolverConfig(goal_tolerance_m=1e-9))
    tracker = Tracker(solver, stall_ticks=20)
    # Folded in a "Z" against both limits, asked to reach next to the base: no local step
    # gets there (the arm must fold the other way).
    q = (0.3, -2.75, 2.75)
    target = tuple(three.fk(np.array([0.3, 1.9, 2.0])))
    results = []
    for _ in range(3000):
        result = tracker.tick(q, target, 0.01)
        assert np.all(np.abs(np.subtract(result.command, q)) <= 2.0 * 0.01 + 1e-12)
        assert three.with_limit_margin(0.05).within_limits(np.array(result.command), 1e-12)
        results.append(result)
        q = result.command
        if result.reached:
            break
    assert result.reached and any(r.status == Status.RECONFIGURING for r in results)
    # Every tick of the detour says so, the last (on the goal, REACHED) too.
    assert all(r.detour == (r.status == Status.RECONFIGURING) for r in results[:-1])
    assert result.detour and result.status == Status.REACHED


@pytest.mark.parametrize('start, target', [
    ((-0.91, -0.961, -1.176, 1.704), (0.595, 0.766, 0.063)),
    ((8.031, 0.157, -1.655, 1.868), (-0.636, 0.022, 0.328)),
    ((11.959, 1.339, -1.415, 0.485), (-0.044, 0.289, 0.364))])
def test_the_network_alone_leaves_spatial_traps(spatial, start, target, monkeypatch):
    network = OnnxIKNetwork(shipped_model_for(spatial.fingerprint()))
    settings = LoopSettings(tolerance_m=1e-3 * spatial.reach, tick_budget=1000)
    solver = IKSolver(spatial, network, SolverConfig(
        refine_iterations=0, fallback=False, goal_tolerance_m=settings.tolerance_m,
        max_cartesian_speed=network.card.step_m / settings.dt))
    # Chained targets of the evaluation: ordinary ticks alone creep along the shoulder's
    # limit (the first) or stall against the elbow yaw's (the others) for 1000 ticks.
    q = start
    for _ in range(settings.tick_budget):
        result = solver.tick(q, target, settings.dt)
        q = result.command
    assert not result.reached and result.status == Status.JOINT_LIMIT

    def no_numerical_ik(*args):
        raise AssertionError('the network-only tracker must not solve IK numerically')

    monkeypatch.setattr(solver, 'nearest_solution', no_numerical_ik)
    run = run_chained(solver, np.array([target]), start, settings)
    summary = run['summary']
    assert summary['n_reached'] == 1 and summary['n_reached_without_detour'] == 0
    assert summary['reconfiguring_ticks'] > 0
    assert summary['limit_violations'] == summary['velocity_violations'] == 0
    assert summary['elbow_flips'] == 0
    solution = solver.network_solution(np.array(target), np.array(start))
    assert np.linalg.norm(spatial.fk(solution) - target) <= settings.tolerance_m
    assert solver.safe_chain.within_limits(solution, 1e-12)


# A chained target of a held-out draw, on which the refined ticks crept 0.08 mm per tick,
# never at a limit and never quite stalled, and were 0.65 m short after 1000 ticks. Each
# network step asked for more joint motion than the velocity limit allows, and more than the
# damped step to the same waypoint.
CRAWL_START = (12.7896, 1.389, -0.4552, 2.2771)
CRAWL_TARGET = (-0.27884096, 0.24263935, 0.12982449)


def crawl_run(spatial, **config):
    network = OnnxIKNetwork(shipped_model_for(spatial.fingerprint()))
    solver = IKSolver(spatial, network, SolverConfig(
        goal_tolerance_m=1e-9 * spatial.reach, max_cartesian_speed=network.card.step_m / 0.01,
        **config))
    tracker = Tracker(solver)
    q, results = CRAWL_START, []
    for _ in range(1000):
        result = tracker.tick(q, CRAWL_TARGET, 0.01)
        assert np.all(np.abs(np.subtract(result.command, q)) <= 2.0 * 0.01 + 1e-12)
        assert solver.safe_chain.within_limits(np.array(result.command), 1e-12)
        results.append(result)
        q = result.command
        if result.reached:
            break
    assert result.reached and result.goal_error_m <= 1e-9 * spatial.reach
    return tracker, results


def test_a_refined_spatial_arm_crawling_in_a_local_minimum_detours_out(spatial):
    # Without the numerical fallback (and so without the velocity rule) the crawl is there.
    tracker, results = crawl_run(spatial, fallback=False)
    assert any(r.status == Status.RECONFIGURING for r in results)
    # Searched only after a long crawl, not at once.
    assert sum(r.status == Status.MOVING for r in results) >= 4 * tracker.stall_ticks


def test_the_velocity_rule_takes_the_damped_step_where_the_network_crawls(spatial):
    # With the fallback on, the ticks whose network step the velocity limit slowed more than
    # the damped step's take the damped step (FALLBACK): no crawl, no detour. (Damped least
    # squares alone reaches this target in 118 ticks.)
    _, results = crawl_run(spatial)
    assert not any(r.status == Status.RECONFIGURING for r in results)
    assert sum(r.status == Status.FALLBACK for r in results) >= 10
    assert len(results) <= 150, len(results)


@pytest.mark.parametrize('urdf', [THREE, SPATIAL])
def test_refined_chained_targets_on_the_new_arms(urdf):
    chain = KinematicChain.from_urdf(urdf)
    network = OnnxIKNetwork(shipped_model_for(chain.fingerprint()))
    targets = chain.fk(chain.with_limit_margin(0.05).random_configurations(
        np.random.default_rng(7), 25))
    settings = LoopSettings(tolerance_m=1e-9 * chain.reach, tick_budget=1500)
    solver = IKSolver(chain, network, SolverConfig(goal_tolerance_m=settings.tolerance_m,
                                                   max_cartesian_speed=5.0))
    start = (0.0, 1.0, 0.5) if chain.n_joints == 3 else (0.0, 0.5, 0.0, 1.0)
    run = run_chained(solver, targets, start, settings)
    summary = run['summary']
    assert summary['n_reached'] == 25
    assert summary['velocity_violations'] == summary['limit_violations'] == 0
    assert summary['nan_outputs'] == 0


def test_seed2_comparison_runs(tmp_path):
    if not (REPO.parent / 'shared' / 'anchors' / 'seed2_deeparm').is_dir():
        pytest.skip('seed 2 anchors (../shared/anchors/seed2_deeparm) are absent here')
    import json
    done = subprocess.run([sys.executable, str(REPO / 'bench' / 'compare_seed2.py'), '--quick',
                           '--out', str(tmp_path)], capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr
    results = json.loads((tmp_path / 'seed2_quick.json').read_text())
    seed2 = results['seed2']['by_radius']
    ours = results['ours_refined']['by_radius_to_projection']
    for band in seed2:
        assert ours[band]['max'] <= 1e-9 < seed2[band]['max']
    assert results['ours_refined']['out_of_reach_direction_error_deg']['max'] < 0.5
    assert results['ours_refined']['velocity_violations'] == 0


def test_ik_node_and_sim_arm_drive_the_spatial_arm():
    import rclpy
    from geometry_msgs.msg import PoseStamped
    from iknn_ros.nodes.ik_node import IKNode
    from iknn_ros.nodes.sim_arm import SimArm
    from rclpy.parameter import Parameter
    from ros_harness import Harness
    from sensor_msgs.msg import JointState

    urdf = SPATIAL.read_text()
    rclpy.init()
    try:
        ik = IKNode(parameter_overrides=[Parameter('robot_description', value=urdf)])
        sim = SimArm(parameter_overrides=[
            Parameter('robot_description', value=urdf),
            Parameter('initial_positions', Parameter.Type.DOUBLE_ARRAY, [0.0, 0.5, 0.0, 1.0])])
        harness = Harness(ik, sim)
        states = harness.record(JointState, 'joint_states')
        assert harness.spin_until(lambda: len(states) > 5)
        assert ik.controller.solver.network.card.chain_fingerprint == \
            KinematicChain.from_urdf(SPATIAL).fingerprint()
        goal = PoseStamped()
        goal.header.frame_id = 'base_link'
        goal.pose.position.x, goal.pose.position.y, goal.pose.position.z = 0.3, -0.4, 0.5
        harness.publisher(PoseStamped, 'target_pose').publish(goal)
        chain = KinematicChain.from_urdf(SPATIAL)

        def tip():
            positions = dict(zip(states[-1].name, states[-1].position))
            return chain.fk(np.array([positions[n] for n in chain.joint_names]))

        assert harness.spin_until(lambda: np.linalg.norm(tip() - [0.3, -0.4, 0.5]) < 1e-4,
                                  20.0)
        assert ik.controller.status == Status.REACHED
        harness.close()
        ik.destroy_node()
        sim.destroy_node()
    finally:
        rclpy.try_shutdown()
