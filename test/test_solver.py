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

"""The solver tick on the shipped model: invariants, scenarios and refusals."""

import math

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from iknn_ros.ik.model_card import ModelMismatchError
from iknn_ros.ik.solver import IKSolver
from iknn_ros.ik.solver import ModelLoadError
from iknn_ros.ik.solver import OnnxIKNetwork
from iknn_ros.ik.solver import SolverConfig
from iknn_ros.ik.solver import Status
from iknn_ros.resources import default_model_path
import numpy as np
import onnx
from onnx import helper
from onnx import TensorProto
import pytest

REACH = 1.0
VMAX = 2.0
LIMIT = 2.8


@pytest.fixture(scope='module')
def network():
    return OnnxIKNetwork(default_model_path())


@pytest.fixture(scope='module')
def solver(chain, network):
    return IKSolver(chain, network, SolverConfig())


@pytest.fixture(scope='module')
def network_only(chain, network):
    return IKSolver(chain, network, SolverConfig(refine_iterations=0))


def run_to(solver, q, target, dt=0.01, ticks=2000, branch=None):
    """Tick until the goal is reached; return the last result and the joint path."""
    path = [tuple(q)]
    result = None
    for _ in range(ticks):
        result = solver.tick(q, target, dt, branch)
        q, branch = result.command, result.branch
        path.append(q)
        if result.reached:
            break
    return result, np.array(path)


def assert_safe_step(chain, before, after, dt):
    after = np.asarray(after)
    assert np.all(np.isfinite(after))
    assert chain.within_limits(after)
    assert np.all(np.abs(after - np.asarray(before)) <= chain.velocity_limits * dt + 1e-12)


# ---- invariants (property-based) ------------------------------------------------------

special = st.sampled_from([math.nan, math.inf, -math.inf, 0.0, 1e9, -1e9, 1.0, 0.17])
coordinate = st.one_of(st.floats(-2.0, 2.0), special)


@settings(max_examples=400, deadline=None)
@given(q1=st.floats(-50.0, 50.0), q2=st.floats(-LIMIT, LIMIT), x=coordinate, y=coordinate,
       dt=st.sampled_from([0.001, 0.002, 0.01, 0.033, 0.1]), refine=st.sampled_from([0, 1, 3]),
       branch=st.sampled_from([None, 1.0, -1.0]))
def test_every_tick_is_safe(chain, network, q1, q2, x, y, dt, refine, branch):
    solver = IKSolver(chain, network, SolverConfig(refine_iterations=refine))
    result = solver.tick((q1, q2), (x, y), dt, branch)
    assert result.command is not None
    assert_safe_step(chain, (q1, q2), result.command, dt)
    finite_target = math.isfinite(x) and math.isfinite(y)
    assert (result.status == Status.INVALID_TARGET) == (not finite_target)
    if finite_target:
        assert math.isfinite(result.goal_error_m) and math.isfinite(result.target_error_m)
        assert result.projected == (not solver.workspace.contains(np.array([x, y]), 1e-12))


@settings(max_examples=150, deadline=None)
@given(q1=st.floats(-math.pi, math.pi), q2=st.floats(-LIMIT + 0.06, LIMIT - 0.06),
       radius=st.floats(0.2, 0.99), angle=st.floats(-math.pi, math.pi))
def test_scalar_tick_equals_the_batched_reference(chain, solver, network_only, q1, q2,
                                                  radius, angle):
    target = (radius * math.cos(angle), radius * math.sin(angle))
    for s, tolerance in ((solver, 1e-6), (network_only, 1e-5)):
        one = s.tick((q1, q2), target, 0.01, None)
        batch = s.tick_batch(np.array([[q1, q2]]), np.array([target]), 0.01)
        assert one.status == batch.status[0]
        assert one.branch == batch.branch[0]
        assert np.max(np.abs(np.array(one.command) - batch.command[0])) <= tolerance


def test_batched_ticks_on_hostile_inputs_are_safe(chain, solver):
    rng = np.random.default_rng(11)
    n = 50_000
    q = chain.random_configurations(rng, n)
    q[:, 0] += rng.integers(-5, 6, n) * 2 * math.pi
    target = rng.uniform(-1.5, 1.5, (n, 2))
    target[::7] = np.nan
    target[1::7] = np.inf
    target[2::7] = 0.0
    target[3::7] *= 1e6
    result = solver.tick_batch(q, target, 0.005)
    assert not np.isnan(result.command).any()
    assert chain.within_limits(result.command).all()
    assert np.all(np.abs(result.command - q) <= VMAX * 0.005 + 1e-12)
    assert np.all(result.status[::7] == Status.INVALID_TARGET)
    assert np.all(result.status[2::7] == Status.OUT_OF_REACH)


# ---- accuracy and scenarios -----------------------------------------------------------

def test_refined_tick_is_exact_on_reachable_targets(chain, network):
    solver = IKSolver(chain, network, SolverConfig(goal_tolerance_m=1e-9 * REACH))
    rng = np.random.default_rng(3)
    q = chain.with_limit_margin(0.05).random_configurations(rng, 300)
    goals = chain.fk(chain.with_limit_margin(0.05).random_configurations(rng, 300))
    errors = []
    for q0, goal in zip(q, goals):
        result, _ = run_to(solver, tuple(q0), tuple(goal), dt=0.01)
        assert result.status == Status.REACHED
        errors.append(result.goal_error_m)
    assert max(errors) <= 1e-9 * REACH


def test_network_alone_reaches_chained_targets(chain, network_only):
    rng = np.random.default_rng(4)
    goals = chain.fk(chain.with_limit_margin(0.05).random_configurations(rng, 60))
    q, branch = (0.0, 1.0), None
    for goal in goals:
        result, _ = run_to(network_only, q, tuple(goal), dt=0.01, branch=branch)
        assert result.reached and result.goal_error_m <= network_only.config.goal_tolerance_m
        q, branch = result.command, result.branch


def test_tracks_a_circle_exactly_without_flipping_the_elbow(chain, solver):
    q, branch = (0.0, 1.2), None
    dt = 0.01
    elbows = set()
    errors = []
    center, radius = np.array([0.45, 0.2]), 0.25
    for k in range(2000):
        angle = 2 * math.pi * k / 600.0
        target = tuple(center + radius * np.array([math.cos(angle), math.sin(angle)]))
        result = solver.tick(q, target, dt, branch)
        assert_safe_step(chain, q, result.command, dt)
        q, branch = result.command, result.branch
        elbows.add(branch)
        if k > 200:
            errors.append(result.target_error_m)
    assert elbows == {1.0}
    # 0.25 m radius once every 6 s is 0.26 m/s, within the Cartesian speed, and the circle
    # stays inside the annulus: one network step and one refinement per tick track it.
    assert max(errors) < 1e-8


def test_a_line_through_the_inner_hole_follows_its_projection(chain, solver):
    result, _ = run_to(solver, (0.0, 1.0), (0.6, 0.02))
    q, branch = result.command, result.branch
    r_min = solver.workspace.r_min
    seen = set()
    for x in np.linspace(0.6, -0.6, 241):
        target = (float(x), 0.02)
        for _ in range(40):
            result = solver.tick(q, target, 0.01, branch)
            q, branch = result.command, result.branch
            if result.reached:
                break
        assert result.reached
        inside_hole = math.hypot(*target) < r_min
        assert result.projected == inside_hole
        seen.add(result.status)
        tip = chain.fk(np.array(q))
        assert np.linalg.norm(tip) >= r_min - 1e-9
    assert Status.OUT_OF_REACH in seen and Status.REACHED in seen


def test_crossing_the_joint1_seam_takes_the_short_way(chain, solver):
    q = (math.pi - 0.05, 1.0)
    goal = tuple(chain.fk(np.array([-math.pi + 0.05, 1.0])))
    result, path = run_to(solver, q, goal, dt=0.01)
    assert result.status == Status.REACHED
    # Continuous joint1 turns 0.1 rad through the seam, not 2 pi - 0.1 the long way round.
    assert abs(path[-1][0] - path[0][0] - 0.1) < 1e-6
    assert np.max(np.abs(np.diff(path, axis=0))) <= VMAX * 0.01 + 1e-12


def test_the_seed_simulations_chained_clicks(chain, solver):
    # Clicks as a user makes them in seed 1's page (reach 10 units), scaled to metres,
    # including clicks in the inner hole and beyond the reach, chained from its start pose.
    clicks = np.array([[7, 3], [-4, 6], [-8, -2], [0.5, 0.5], [2, -9], [9.5, 0], [-3, -3],
                       [12, 5], [0, 0], [-9.9, 1], [1, 8], [6, -6]]) * 0.1
    solver = IKSolver(chain, solver.network, SolverConfig(goal_tolerance_m=1e-9 * REACH))
    q, branch = (2.0, 2.0), None
    for click in clicks:
        result, path = run_to(solver, q, tuple(click), dt=0.01)
        assert result.reached, click
        reachable = solver.workspace.contains(click, 0.0)
        assert result.status == (Status.REACHED if reachable else Status.OUT_OF_REACH)
        elbow_path = np.sign(np.sin(path[:, 1]))
        assert np.all(elbow_path[np.abs(np.sin(path[:, 1])) > 0.05] == np.sign(branch or 1))
        q, branch = result.command, result.branch


def test_unreachable_targets_end_on_their_projection(chain, network):
    solver = IKSolver(chain, network, SolverConfig(goal_tolerance_m=1e-6 * REACH))
    for target, radius in (((1.5, 0.4), 1.0), ((0.01, -0.02), solver.workspace.r_min),
                           ((0.0, 0.0), solver.workspace.r_min)):
        result, _ = run_to(solver, (0.4, 1.3), target, dt=0.01)
        assert result.status == Status.OUT_OF_REACH and result.projected
        assert result.goal_error_m <= 1e-6 * REACH
        radius_reached = math.hypot(*chain.fk(np.array(result.command)))
        assert radius_reached == pytest.approx(radius, abs=1e-6)


def test_stretched_and_folded_arm_stay_stable(chain, solver):
    for q, target in (((0.0, 0.0), (0.9, 0.05)), ((0.0, 0.0), (1.3, 0.0)),
                      ((0.0, LIMIT - 0.05), (0.0, 0.0)), ((1.0, -LIMIT), (0.1, 0.1))):
        result, path = run_to(solver, q, target, dt=0.002, ticks=3000)
        assert result.reached
        assert np.all(np.abs(np.diff(path, axis=0)) <= VMAX * 0.002 + 1e-12)


def test_branch_is_kept_through_the_stretched_arm(chain, solver):
    # Out to full stretch and back in: the elbow comes back on the side it started.
    q, branch = (0.3, -0.8), None
    for target in ((1.2, 0.5), (0.3, 0.3)):
        result, _ = run_to(solver, q, target, dt=0.01)
        q, branch = result.command, result.branch
    assert q[1] < -0.05 and branch == -1.0


def test_velocity_scaling_keeps_the_direction(chain, network):
    # A fast Cartesian speed makes the 5 cm waypoint need more joint motion than 2 rad/s
    # allows in 10 ms; over 200 ms the same waypoint is within the limits.
    fast = IKSolver(chain, network, SolverConfig(max_cartesian_speed=5.0))
    q = (0.0, 1.0)
    limited = fast.tick(q, (-0.3, 0.9), 0.01, None)
    free = fast.tick(q, (-0.3, 0.9), 0.2, None)
    assert limited.velocity_limited and not free.velocity_limited
    move = np.array(limited.command) - np.array(q)
    full = np.array(free.command) - np.array(q)
    assert np.max(np.abs(move)) == pytest.approx(VMAX * 0.01)
    cosine = move @ full / np.linalg.norm(move) / np.linalg.norm(full)
    assert cosine > 1.0 - 1e-9


# ---- bad input --------------------------------------------------------------------------

def test_state_outside_the_urdf_limits_gets_no_command(solver):
    for q in ((0.0, 2.9), (math.nan, 0.0), (0.0, -math.inf)):
        result = solver.tick(q, (0.5, 0.5), 0.01, None)
        assert result.status == Status.INVALID_STATE and result.command is None


def test_invalid_target_holds_and_moves_back_inside_the_margin(chain, solver):
    result = solver.tick((1.0, LIMIT - 0.001), (math.nan, 0.3), 0.01, None)
    assert result.status == Status.INVALID_TARGET
    assert result.command[0] == 1.0
    # Back toward the margin, but no faster than the velocity limit allows.
    assert result.command[1] == pytest.approx(LIMIT - 0.001 - VMAX * 0.01)


def test_bad_arguments_raise(solver):
    with pytest.raises(ValueError, match='tick duration'):
        solver.tick((0.0, 1.0), (0.5, 0.5), 0.0, None)
    with pytest.raises(ValueError, match='expected 2 joint positions'):
        solver.tick((0.0, 1.0, 2.0), (0.5, 0.5), 0.01, None)
    with pytest.raises(ValueError, match='2D target'):
        solver.tick((0.0, 1.0), (0.5, 0.5, 0.1), 0.01, None)
    with pytest.raises(ValueError, match='refine_iterations'):
        SolverConfig(refine_iterations=-1).validate()


def test_missing_and_corrupt_model_files(tmp_path):
    with pytest.raises(ModelLoadError, match='does not exist'):
        OnnxIKNetwork(tmp_path / 'missing.onnx')
    corrupt = tmp_path / 'corrupt.onnx'
    corrupt.write_bytes(b'\x08\x07garbage' * 50)
    with pytest.raises(ModelLoadError, match='not a loadable ONNX model'):
        OnnxIKNetwork(corrupt)
    truncated = tmp_path / 'truncated.onnx'
    truncated.write_bytes(default_model_path().read_bytes()[:2000])
    with pytest.raises(ModelLoadError):
        OnnxIKNetwork(truncated)


def handmade_model(path, network, output_expression):
    """Write an ONNX model with the shipped card whose output is ``output_expression``."""
    nodes = [helper.make_node('ReduceSum', ['target'], ['t_sum'], keepdims=1),
             helper.make_node('ReduceSum', ['branch'], ['b_sum'], keepdims=1),
             helper.make_node('Add', ['t_sum', 'b_sum'], ['tb']),
             helper.make_node('Mul', ['tb', 'zero'], ['tb0']),
             helper.make_node('Mul', ['joint_positions', 'zero'], ['q0']),
             helper.make_node('Add', ['q0', 'tb0'], ['base'])]
    nodes += output_expression
    graph = helper.make_graph(
        nodes, 'handmade',
        [helper.make_tensor_value_info('joint_positions', TensorProto.FLOAT, ['batch', 2]),
         helper.make_tensor_value_info('target', TensorProto.FLOAT, ['batch', 2]),
         helper.make_tensor_value_info('branch', TensorProto.FLOAT, ['batch', 1])],
        [helper.make_tensor_value_info('joint_delta', TensorProto.FLOAT, ['batch', 2])],
        [helper.make_tensor('zero', TensorProto.FLOAT, [], [0.0]),
         helper.make_tensor('big', TensorProto.FLOAT, [], [1.5])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 18)])
    for key, value in network.card.to_metadata().items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, path)
    return path


def test_a_poor_network_falls_back_and_still_converges(tmp_path, chain, network):
    wild = handmade_model(tmp_path / 'wild.onnx', network,
                          [helper.make_node('Add', ['base', 'big'], ['joint_delta'])])
    solver = IKSolver(chain, OnnxIKNetwork(wild), SolverConfig(refine_iterations=1))
    result = solver.tick((0.0, 1.0), (0.5, 0.5), 0.01, None)
    assert result.status == Status.FALLBACK and result.fallback
    result, path = run_to(solver, (0.0, 1.0), (0.3, 0.6), dt=0.01)
    assert result.reached
    assert np.all(np.abs(np.diff(path, axis=0)) <= VMAX * 0.01 + 1e-12)


def test_a_nan_network_never_reaches_the_command(tmp_path, chain, network):
    nan_model = handmade_model(tmp_path / 'nan.onnx', network,
                               [helper.make_node('Div', ['base', 'zero'], ['joint_delta'])])
    for refine in (0, 2):
        solver = IKSolver(chain, OnnxIKNetwork(nan_model),
                          SolverConfig(refine_iterations=refine))
        result = solver.tick((0.0, 1.0), (0.5, 0.5), 0.01, None)
        assert result.status == Status.FALLBACK
        assert np.all(np.isfinite(result.command))


def test_model_for_another_arm_is_refused(tmp_path, two_link_urdf_path):
    text = two_link_urdf_path.read_text().replace(
        '<origin xyz="0.5 0 0" rpy="0 0 0"/>\n  </joint>',
        '<origin xyz="0.45 0 0" rpy="0 0 0"/>\n  </joint>')
    other = tmp_path / 'other.urdf'
    other.write_text(text)
    with pytest.raises(ModelMismatchError, match='tip offset: model'):
        IKSolver.from_files(default_model_path(), other)


def test_onnx_without_a_card_is_refused(tmp_path, network):
    bare = handmade_model(tmp_path / 'bare.onnx', network,
                          [helper.make_node('Identity', ['base'], ['joint_delta'])])
    model = onnx.load(bare)
    del model.metadata_props[:]
    onnx.save(model, bare)
    with pytest.raises(ModelLoadError, match='no iknn_ros model card'):
        OnnxIKNetwork(bare)


def test_network_increments_are_small_and_wrapped_inputs_agree(chain, network):
    # The network sees continuous joints wrapped: q1 and q1 + 2 pi k give the same step.
    q = np.array([[0.4, 1.1]])
    target = chain.fk(q) + np.array([[0.02, -0.01]])
    base = network.step_batch(q, target, np.ones(1))
    for k in (-3, 2):
        turned = q + [2 * math.pi * k, 0.0]
        np.testing.assert_allclose(network.step_batch(turned, target, np.ones(1)), base,
                                   atol=1e-5)
        np.testing.assert_allclose(network.step_one(turned[0].tolist(), (*target[0], 1.0)),
                                   base[0], atol=1e-5)
