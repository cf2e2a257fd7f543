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

"""Pose models: samples, the network, its card, and the general tick driving with it."""

import json
import math
from pathlib import Path

from iknn_ros.ik.solver import IKSolver
from iknn_ros.ik.solver import SolverConfig
from iknn_ros.ik.solver import Status
from iknn_ros.ik.solver import Tracker
from iknn_ros.kinematics import KinematicChain
from iknn_ros.kinematics.chain_kernels import pose_residuals
from iknn_ros.kinematics.chain_kernels import rotation_log
from iknn_ros.kinematics.sampling import pose_step_samples
from iknn_ros.kinematics.sampling import step_sizes
from iknn_ros.kinematics.targets import pose_targets
from iknn_ros.training.config import ConfigError
from iknn_ros.training.config import load_config
import numpy as np
import pinocchio
import pytest

torch = pytest.importorskip('torch', reason='training needs torch==2.13.0 (make test installs '
                                            'it; a colcon-only install may not)')

from iknn_ros.ik.model_card import ModelCard  # noqa: E402, I100
from iknn_ros.ik.model_card import ModelCardError  # noqa: E402
from iknn_ros.ik.solver import OnnxIKNetwork  # noqa: E402
from iknn_ros.training.export import onnx_bytes  # noqa: E402
from iknn_ros.training.export import parity_error  # noqa: E402
from iknn_ros.training.train import train  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SEVEN = REPO / 'urdf' / 'seven_dof_arm.urdf'


@pytest.mark.parametrize('arm', ['spatial_arm', 'six_dof_arm', 'seven_dof_arm'])
def test_the_graphs_forward_kinematics_is_the_chains(arm):
    from iknn_ros.training.model import ChainForwardKinematics
    from iknn_ros.training.model import rotation_error
    chain = KinematicChain.from_urdf(REPO / 'urdf' / f'{arm}.urdf')
    fk = ChainForwardKinematics(chain).double()
    joints = chain.random_configurations(np.random.default_rng(3), 500)
    position, rotation = fk.pose(torch.from_numpy(joints))
    frames = chain.tool_frames(joints)
    # The graph's constants are float32: its offsets round at 1e-8 m.
    np.testing.assert_allclose(position.numpy(), frames[:, :3, 3], atol=1e-7)
    np.testing.assert_allclose(rotation.numpy(), frames[:, :3, :3], atol=1e-12)
    np.testing.assert_allclose(fk(torch.from_numpy(joints)).numpy(), frames[:, :3, 3],
                               atol=1e-7)
    # The turn feature is sin(angle) * axis of the rotation left, in base axes.
    goal = chain.tool_frames(joints[::-1].copy())[:, :3, :3]
    turn = rotation_error(torch.from_numpy(goal), rotation).numpy()
    vectors = np.array([rotation_log(g @ r.T) for g, r in zip(goal, frames[:, :3, :3])])
    angles = np.linalg.norm(vectors, axis=-1, keepdims=True)
    np.testing.assert_allclose(turn, np.sin(angles) * vectors / angles, atol=1e-9)


def test_the_exported_graph_does_not_grow_joint_by_joint():
    # The runtime pays per node: one product level per doubling of the joints.
    import onnx
    from iknn_ros.training.model import build_model
    sizes = {}
    for arm in ('six_dof_arm', 'seven_dof_arm'):
        chain = KinematicChain.from_urdf(REPO / 'urdf' / f'{arm}.urdf')
        config = load_config(f'{arm}_pose')
        model = build_model(chain, 'incremental', 0.01, [16], 'tanh', target_mode='pose',
                            step_rad=0.02)
        proto = onnx.load_from_string(onnx_bytes(model, chain, card_for(chain, config, model)))
        sizes[arm] = len(proto.graph.node)
    assert sizes['six_dof_arm'] == sizes['seven_dof_arm'], sizes


@pytest.fixture(scope='module')
def seven():
    return KinematicChain.from_urdf(SEVEN)


@pytest.fixture(scope='module')
def quick_pose(seven):
    # The shipped preset's design, small: seconds, not the hour it trains for; the turn
    # weighed as much as the position, so that both visibly train in 400 steps.
    config = load_config('seven_dof_arm_pose', ['data.samples=20000', 'model.hidden=[64, 64]',
                                                'optim.steps=400',
                                                'optim.orientation_loss_weight=1.0']).quick()
    return config, train(seven, config, show_progress=False, log=lambda _: None)


@pytest.fixture(scope='module')
def pose_network(seven, quick_pose):
    config, result = quick_pose
    return OnnxIKNetwork(onnx_bytes(result.model, seven, card_for(seven, config, result.model)))


def card_for(chain, config, model):
    return ModelCard.for_chain(chain, architecture='incremental', step_m=config.data.step_m,
                               branch_rule='none', input_encoding=model.input_encoding(),
                               training_config=config.to_dict(), producer={},
                               target_mode='pose', step_rad=config.data.step_rad)


# ---- samples ---------------------------------------------------------------------------

def test_pose_samples_are_exact_least_motion_steps_within_the_limits(seven):
    samples = pose_step_samples(seven, np.random.default_rng(0), 3000, 0.02, 0.04,
                                small_step_share=0.5, comfort_gain=0.05)
    assert len(samples) == 3000 and samples.target.shape == (3000, 12)
    residual = pose_residuals(seven.tool_frames(samples.joints + samples.delta),
                              samples.target)
    assert np.abs(residual).max() <= 1e-9
    moved = samples.joints + samples.delta
    assert np.all(moved >= seven.lower - 1e-12) and np.all(moved <= seven.upper + 1e-12)
    distance, turn = step_sizes(seven, samples.joints, samples.target)
    within = (distance <= 0.02 * (1 + 1e-9)) & (turn <= 0.04 * (1 + 1e-9))
    assert within.mean() >= 0.9, within.mean()
    # Both parts vary: some steps are pure turns, some pure moves, most both.
    assert turn.max() > 0.03 and distance.max() > 0.015
    # The rotation part of a target is a rotation.
    rotations = samples.target[:, 3:].reshape(-1, 3, 3)
    assert np.abs(rotations @ np.swapaxes(rotations, -1, -2) - np.eye(3)).max() <= 1e-12


def test_pose_models_refuse_what_they_cannot_be():
    with pytest.raises(ConfigError, match="model.target_mode must be 'position' or 'pose'"):
        load_config('seven_dof_arm_pose', ['model.target_mode=tool_axis'])


def test_the_command_line_refuses_a_pose_model_for_a_chain_that_cannot_hold_poses(tmp_path):
    import subprocess
    import sys
    done = subprocess.run([sys.executable, '-m', 'iknn_ros.training', '--preset',
                           'spatial_arm', '--target-mode', 'pose', '--out',
                           str(tmp_path / 'x')],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert 'a full pose needs a spatial chain of six joints or more' in done.stderr


# ---- closed-loop (DAgger) rounds for poses -------------------------------------------------

def test_the_pose_rollout_turns_by_the_trained_step_and_labels_poses_exactly(seven, quick_pose):
    from iknn_ros.training.closed_loop import closed_loop_samples
    from iknn_ros.training.closed_loop import RolloutSettings
    from iknn_ros.training.closed_loop import visited_states
    config, result = quick_pose
    d = config.data
    safe = seven.with_limit_margin(config.robot.limit_margin_rad)
    settings = RolloutSettings(arms=40, targets_per_arm=2, ticks_per_target=40,
                               step_m=d.step_m, tolerance_m=1e-3, step_rad=d.step_rad,
                               tolerance_rad=math.radians(0.5))
    joints, waypoints, share = visited_states(result.model, safe, settings,
                                              np.random.default_rng(5))
    assert len(joints) > 40 and waypoints.shape == (len(joints), 12)
    assert 0.0 <= share <= 1.0 and safe.within_limits(joints).all()
    # Every waypoint is a pose at most one trained step and one trained turn from the tool,
    # and at least one of the two is a full step (the goals are far): the same share of
    # the way for both.
    distance, turn = step_sizes(seven, joints, waypoints)
    assert distance.max() <= d.step_m * (1 + 1e-9) and turn.max() <= d.step_rad * (1 + 1e-9)
    full = np.maximum(distance / d.step_m, turn / d.step_rad)
    assert np.median(full) > 1.0 - 1e-9
    rotations = waypoints[:, 3:].reshape(-1, 3, 3)
    assert np.abs(rotations @ np.swapaxes(rotations, -1, -2) - np.eye(3)).max() <= 1e-12
    labelled, _, visited = closed_loop_samples(result.model, safe, settings, d.comfort_gain,
                                               300, np.random.default_rng(5))
    assert 0 < len(labelled) <= 300 and visited == len(joints)
    residual = pose_residuals(seven.tool_frames(labelled.joints + labelled.delta),
                              labelled.target)
    assert np.abs(residual).max() <= 1e-9
    assert safe.within_limits(labelled.joints + labelled.delta).all()


def test_a_pose_model_trains_a_closed_loop_round(seven):
    # 20 steps: the count at which torch's one-cycle schedule, as first set, divided by zero.
    config = load_config('seven_dof_arm_pose', [
        'data.samples=5000', 'model.hidden=[32]', 'optim.steps=50', 'data.closed_loop_rounds=1',
        'data.closed_loop_arms=30', 'data.closed_loop_targets=1', 'data.closed_loop_ticks=20',
        'data.closed_loop_samples=200', 'optim.closed_loop_steps=20'])
    result = train(seven, config, show_progress=False, log=lambda _: None)
    (round_,) = result.closed_loop_rounds
    assert 0 < round_['rows_added'] <= 200
    assert result.train_rows == round(5000 * (1 - config.data.validation_share)) + \
        round_['rows_added']


# ---- the network -----------------------------------------------------------------------

def test_pose_training_learns_both_parts(quick_pose):
    _, result = quick_pose
    first, last = result.history[0], result.history[-1]
    assert first['validation_tip_error_mean_m'] / last['validation_tip_error_mean_m'] > 1.3
    assert first['validation_orientation_error_mean_rad'] / \
        last['validation_orientation_error_mean_rad'] > 1.3


def test_the_orientation_weight_trades_turn_accuracy_for_position_accuracy(seven):
    # The same quick run three ways: the turn's term weighs less, the position's error falls
    # and the turn's grows; the norm form trains too.
    def final(*overrides):
        config = load_config('seven_dof_arm_pose', [
            'data.samples=20000', 'model.hidden=[64, 64]', 'optim.steps=300',
            'data.closed_loop_rounds=0', *overrides]).quick()
        last = train(seven, config, show_progress=False, log=lambda _: None).history[-1]
        return (last['validation_tip_error_mean_m'],
                last['validation_orientation_error_mean_rad'])

    even = final('optim.fk_loss=squared', 'optim.orientation_loss_weight=1.0')
    light = final('optim.fk_loss=squared', 'optim.orientation_loss_weight=0.05')
    assert light[0] < 0.9 * even[0] and light[1] > 1.1 * even[1], (even, light)
    norm = final('optim.fk_loss=norm', 'optim.orientation_loss_weight=1.0')
    assert norm[0] < 0.5 * 0.01 and norm[1] < 0.5 * 0.02, norm


def test_a_pose_network_is_still_at_its_target_and_follows_the_orientation(seven, quick_pose):
    _, result = quick_pose
    q = seven.random_configurations(np.random.default_rng(1), 16)
    frames = seven.tool_frames(q)
    here = pose_targets(frames)
    turned = frames.copy()
    turned[:, :3, :3] = np.array([pinocchio.exp3(np.array([0.0, 0.0, 0.03]))] * 16) @ \
        frames[:, :3, :3]
    with torch.no_grad():
        still = result.model(torch.tensor(q, dtype=torch.float32),
                             torch.tensor(here, dtype=torch.float32), torch.ones(16, 1))
        turn = result.model(torch.tensor(q, dtype=torch.float32),
                            torch.tensor(pose_targets(turned), dtype=torch.float32),
                            torch.ones(16, 1))
    # Zero at the target, up to float32 rounding of the pose.
    assert float(still.abs().max()) <= 1e-4
    # A turn alone (same position) moves the joints.
    assert float(turn.abs().max(dim=-1).values.min()) >= 1e-3


def test_a_pose_model_exports_with_its_card(seven, quick_pose, pose_network):
    config, result = quick_pose
    card = card_for(seven, config, result.model)
    data = onnx_bytes(result.model, seven, card)
    assert parity_error(result.model, seven, data) <= 1e-5
    assert pose_network.card.target_mode == 'pose' and pose_network.card.target_dim == 12
    assert pose_network.card.step_rad == config.data.step_rad
    assert pose_network.card.orientation_encoding == 'position_then_rotation_matrix_row_major'
    shapes = {i.name: i.shape for i in pose_network.session.get_inputs()}
    assert shapes['target'][1] == 12
    metadata = card.to_metadata()
    metadata['iknn_ros.orientation_encoding'] = '"quaternion_xyzw"'
    with pytest.raises(ModelCardError, match='a pose model needs orientation_encoding'):
        ModelCard.from_metadata(metadata)


# ---- the tick with a pose network ------------------------------------------------------

def test_the_solver_takes_a_pose_model_for_pose_targets_only(seven, pose_network):
    with pytest.raises(ValueError, match='the model takes pose targets; target_mode '
                                         "'position' needs a position model"):
        IKSolver(seven, pose_network, SolverConfig(target_mode='position'))
    IKSolver(seven, pose_network, SolverConfig(target_mode='pose'))


def test_refined_ticks_with_a_pose_network_reach_poses_exactly_and_safely(seven, pose_network):
    solver = IKSolver(seven, pose_network, SolverConfig(target_mode='pose'))
    rng = np.random.default_rng(4)
    goals = solver.safe_chain.random_configurations(rng, 4)
    q = tuple(0.5 * (solver.safe_chain.lower + solver.safe_chain.upper))
    tracker = Tracker(solver)
    dt = 0.01
    for goal in goals:
        target = solver.tool_target(goal)
        for _ in range(2000):
            result = tracker.tick(q, target, dt)
            command = np.asarray(result.command)
            assert np.all(command >= seven.lower) and np.all(command <= seven.upper)
            assert np.all(np.abs(command - q) <= seven.velocity_limits * dt * (1 + 1e-9))
            q = result.command
            if result.reached and result.goal_error_m <= 1e-9 and \
                    result.goal_error_rad <= 1e-9:
                break
        # REACHED, or FALLBACK where this small network's step was replaced.
        assert result.reached and result.status in (Status.REACHED, Status.FALLBACK), result
        frame = seven.tool_frames(np.array(q))
        aim = pose_targets(seven.tool_frames(goal))
        assert np.abs(pose_residuals(frame, aim)).max() <= 1e-9
    # The network was asked on every ordinary tick.
    assert math.isfinite(result.network_error_m) or result.detour


def test_training_for_your_own_arm_picks_a_preset_from_the_chain(tmp_path):
    import subprocess
    import sys
    out = tmp_path / 'mine'
    done = subprocess.run([sys.executable, '-m', 'iknn_ros.training', '--urdf',
                           str(REPO / 'urdf' / 'six_dof_arm.urdf'), '--target-mode', 'pose',
                           '--quick', '--no-eval', '--set', 'data.samples=5000', '--set',
                           'model.hidden=[16]', '--set', 'optim.steps=60', '--device', 'cpu',
                           '--progress', 'lines', '--out', str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    config = load_config(out / 'config.yaml')
    chain = KinematicChain.from_urdf(REPO / 'urdf' / 'six_dof_arm.urdf')
    # The tip the URDF implies, a step of 1 % of the reach, no comfort drift (no null space).
    assert config.robot.tip_link is None and config.robot.base_link is None
    assert config.data.step_m == round(0.01 * chain.reach, 4) and config.data.step_rad == 0.02
    assert config.data.comfort_gain == 0.0 and config.model.target_mode == 'pose'
    assert config.data.closed_loop_rounds == 1 and config.model.activation == 'silu'
    assert config.optim.fk_loss == 'norm' and config.optim.orientation_loss_weight == 0.2
    assert 'left' in done.stdout and '(cpu)' in done.stdout
    network = OnnxIKNetwork(out / 'model.onnx')
    assert network.card.target_mode == 'pose'
    assert network.card.chain_fingerprint == chain.fingerprint()
    # Without the held-out report, the training record is kept for --evaluate-only.
    record = json.loads((out / 'metrics.json').read_text())['training']
    assert record['seconds'] > 0 and record['peak_memory_mb'] > 0
    # The run's resumable state is gone once the model is out.
    assert not (out / 'training_state.pt').exists()


# ---- the shipped pose models -----------------------------------------------------------

@pytest.mark.parametrize('arm', ['six_dof_arm', 'seven_dof_arm'])
def test_the_shipped_pose_model_is_found_by_fingerprint_and_target_mode(arm):
    from iknn_ros.ik.model_card import model_for
    from iknn_ros.ik.model_card import shipped_model_for
    chain = KinematicChain.from_urdf(REPO / 'urdf' / f'{arm}.urdf')
    model = model_for(chain, 'pose')
    assert model.parent.name == f'{arm}_pose'
    assert shipped_model_for(chain.fingerprint(), arm, 'position') is None
    with pytest.raises(ValueError, match='no shipped position model'):
        model_for(chain, 'position')
    metrics = json.loads((model.parent / 'metrics.json').read_text())
    for key in ('tip_error_m', 'orientation_error_rad'):
        assert {'mean', 'p95', 'max'} <= set(metrics['single_step'][key])
    # The node's parameter file for the arm uses it.
    import yaml
    params = yaml.safe_load((REPO / 'config' / f'{arm}.yaml').read_text())
    node = params['/**/ik_node']['ros__parameters']
    assert node['model_path'] == '' and node['target_mode'] == 'pose'


@pytest.mark.parametrize('arm', ['six_dof_arm', 'seven_dof_arm'])
def test_the_shipped_pose_model_leaves_less_for_newton_on_a_stream(arm):
    from iknn_ros.ik.model_card import model_for
    chain = KinematicChain.from_urdf(REPO / 'urdf' / f'{arm}.urdf')
    network = OnnxIKNetwork(model_for(chain, 'pose'))

    def stream(use_network, refine):
        solver = IKSolver(chain, network if use_network else None, SolverConfig(
            target_mode='pose', refine_iterations=refine, use_network=use_network))
        start = 0.5 * (solver.safe_chain.lower + solver.safe_chain.upper) + 0.3
        # Slow enough for one tick per point at the default speeds (0.5 m/s, 1 rad/s).
        t = (np.arange(200) / 8000.0)[:, None]
        path = start + 0.3 * np.sin(2 * math.pi * t * np.arange(1, chain.n_joints + 1))
        q, errors = tuple(path[0]), []
        for joints in path[1:]:
            result = solver.tick(q, solver.tool_target(joints), 0.01)
            assert not result.fallback
            q = result.command
            errors.append(max(result.goal_error_m, result.goal_error_rad))
        return np.array(errors)

    # The network's step and two Newton iterations: every point exact in one tick.
    assert np.all(stream(True, 2) <= 1e-9)
    # After one iteration, the network's start leaves Newton less than a standing start.
    assert np.median(stream(True, 1)) < 0.5 * np.median(stream(False, 1))


# ---- the network-only tracker's way out of a trap --------------------------------------

def network_only_solver(chain, network, dt=0.01):
    """Return the evaluations' network-only solver: no refinement, no numerical fallback."""
    return IKSolver(chain, network, SolverConfig(
        target_mode='pose', refine_iterations=0, fallback=False,
        goal_tolerance_m=1e-3 * chain.reach, goal_tolerance_rad=math.radians(0.5),
        max_cartesian_speed=network.card.step_m / dt))


def test_the_batched_pose_rollouts_are_the_general_ticks_network_only_ticks(seven):
    from iknn_ros.ik.model_card import model_for
    network = OnnxIKNetwork(model_for(seven, 'pose'))
    solver = network_only_solver(seven, network)
    rng = np.random.default_rng(11)
    joints = solver.safe_chain.random_configurations(rng, 6)
    goal = solver.tool_target(solver.safe_chain.random_configurations(rng, 1)[0])
    single, dt, turns = solver._general_tick(), 0.01, []
    for _ in range(40):
        batched = joints.copy()
        solver._pose_rollouts(batched, goal, dt, steps=1)
        for i in range(len(joints)):
            result = single.tick(joints[i], goal, dt, 1.0)
            assert not result.reached and result.status is not Status.FALLBACK
            turns.append(result.goal_error_rad)
            # One network call for six arms rounds in float32 as six calls do.
            np.testing.assert_allclose(batched[i], result.command, rtol=0, atol=1e-6)
            joints[i] = result.command
        assert solver.safe_chain.within_limits(batched, 1e-12).all()
    # The goal stays far (over half a radian to turn): no arm reached it in these ticks.
    assert min(turns) > 0.5
    # Rolled out to the end, each arm reaches the goal or is still on its way.
    reached = solver._pose_rollouts(joints, goal, dt)
    assert reached.any()


# A chained held-out pose (seed 5) that the network alone stalled on against the limits of
# joints 2, 5, 6 and 7 for 1000 ticks: its search's rollouts had 80 ticks, a turn of 0.8 rad
# at the tick's 0.01 rad, and no fixed pose's tool faced the goal so nearly. They now turn
# as far as a half turn needs, all at once.
SEVEN_TRAP_START = (0.7488, 1.4516, 0.6482, -2.222, 2.8473, 1.2895, -1.2697)
SEVEN_TRAP_TARGET = (0.636437, 0.111391, -0.082661, 0.534627, -0.323777, 0.681712, 0.380278)


def test_the_network_alone_leaves_a_seven_joint_pose_trap(seven, monkeypatch):
    from iknn_ros.evaluation.evaluate import LoopSettings
    from iknn_ros.evaluation.evaluate import run_chained
    from iknn_ros.ik.model_card import model_for
    network = OnnxIKNetwork(model_for(seven, 'pose'))
    solver = network_only_solver(seven, network)
    q = SEVEN_TRAP_START
    for _ in range(300):
        result = solver.tick(q, SEVEN_TRAP_TARGET, 0.01)
        q = result.command
    assert not result.reached and result.status == Status.JOINT_LIMIT

    def no_numerical_ik(*args):
        raise AssertionError('the network-only tracker must not solve IK numerically')

    monkeypatch.setattr(solver, 'nearest_solution', no_numerical_ik)
    settings = LoopSettings(tolerance_m=solver.config.goal_tolerance_m, tick_budget=1000,
                            tolerance_rad=solver.config.goal_tolerance_rad)
    run = run_chained(solver, np.array([SEVEN_TRAP_TARGET]), SEVEN_TRAP_START, settings)
    summary = run['summary']
    assert summary['n_reached'] == 1 and summary['n_reached_without_detour'] == 0
    assert summary['limit_violations'] == summary['velocity_violations'] == 0
    solution = solver.network_solution(np.array(SEVEN_TRAP_TARGET), np.array(SEVEN_TRAP_START))
    position_error, angle = solver._general_tick().errors(solution, parse(seven,
                                                                          SEVEN_TRAP_TARGET))
    assert position_error <= solver.config.goal_tolerance_m
    assert angle <= solver.config.goal_tolerance_rad
    assert solver.safe_chain.within_limits(solution, 1e-12)


def parse(chain, target):
    from iknn_ros.kinematics.targets import parse_target
    from iknn_ros.kinematics.targets import TargetMode
    return parse_target(chain, TargetMode.POSE, target)
