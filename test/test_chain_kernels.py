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

"""The compiled kinematics and loops against Pinocchio and the numpy least squares."""

import json
import math
import shutil
import subprocess

from conftest import REPO_ROOT, SEVEN, SIX, SLIDE_AND_FOLLOWER, URDFS
from iknn_ros.kinematics import chain_kernels
from iknn_ros.kinematics import KinematicChain
from iknn_ros.kinematics.chain_kernels import axis_turn
from iknn_ros.kinematics.chain_kernels import ChainKernels
from iknn_ros.kinematics.chain_kernels import exp3
from iknn_ros.kinematics.chain_kernels import kernel_aim
from iknn_ros.kinematics.chain_kernels import kernel_task
from iknn_ros.kinematics.chain_kernels import log3
from iknn_ros.kinematics.chain_kernels import rotation_exp
from iknn_ros.kinematics.chain_kernels import rotation_log
from iknn_ros.kinematics.least_squares import damped_least_norm
from iknn_ros.kinematics.least_squares import leave_blocked_joints
from iknn_ros.kinematics.least_squares import stop_at_limits
from iknn_ros.kinematics.rigid_body import RigidBodyModel
from iknn_ros.kinematics.targets import Aim
from iknn_ros.kinematics.targets import TargetMode
import numpy as np
import pinocchio
import pytest

WEIGHT = 0.2


@pytest.mark.parametrize('source', URDFS + [SLIDE_AND_FOLLOWER], ids=lambda s: getattr(
    s, 'stem', 'slide_and_follower'))
def test_compiled_kinematics_are_pinocchios(source):
    chain = KinematicChain.from_urdf(source)
    kernels, body = ChainKernels(chain), RigidBodyModel(chain)
    for q in chain.random_configurations(np.random.default_rng(5), 50):
        position, rotation, jac = kernels.placement_and_jacobian(q)
        expected = body.placement_and_jacobian(q)
        np.testing.assert_allclose(position, expected[0], rtol=0, atol=1e-14)
        np.testing.assert_allclose(rotation, expected[1], rtol=0, atol=1e-14)
        np.testing.assert_allclose(jac, expected[2], rtol=0, atol=1e-14)
        only = kernels.placement(q)
        np.testing.assert_array_equal(only[0], position)
        np.testing.assert_array_equal(only[1], rotation)


def random_rotation(rng):
    axis = rng.normal(size=3)
    return pinocchio.exp3(axis / np.linalg.norm(axis) * rng.uniform(0.0, math.pi))


@pytest.mark.parametrize('angle', [0.0, 1e-12, 1e-7, 0.3, 2.0, math.pi - 0.02,
                                   math.pi - 1e-3, math.pi - 1e-8, math.pi])
def test_rotation_log_is_pinocchios_near_zero_and_pi(angle):
    rng = np.random.default_rng(int(angle * 1e3))
    for _ in range(20):
        axis = rng.normal(size=3)
        rotation = pinocchio.exp3(axis / np.linalg.norm(axis) * angle)
        turn = np.empty(3)
        chain_kernels._log3(rotation, turn)
        assert np.linalg.norm(turn) == pytest.approx(angle, abs=1e-14)
        # At pi the sign is either; the rotation it gives back is the one (to 6e-12 just
        # outside the branch near pi, as Pinocchio's: the formula's rounding).
        np.testing.assert_allclose(pinocchio.exp3(turn), rotation, rtol=0, atol=1e-11)
        if angle < math.pi - 1e-3:
            np.testing.assert_allclose(turn, pinocchio.log3(rotation), rtol=0,
                                       atol=1e-11 if angle > 3.0 else 1e-14)


def test_the_batched_rotations_are_pinocchios_and_undo_each_other():
    rng = np.random.default_rng(3)
    axis = np.array([0.36, -0.48, 0.8])
    vectors = np.concatenate([rng.normal(size=(200, 3)) * 1.1, [
        axis * math.pi, axis * (math.pi - 1e-9), axis * 3.0, axis * 1e-7, axis * 1e-9,
        np.zeros(3)]])
    rotations = np.array([pinocchio.exp3(v) for v in vectors])
    np.testing.assert_allclose(rotation_exp(vectors), rotations, rtol=0, atol=1e-14)
    np.testing.assert_allclose(rotation_exp(vectors.reshape(2, -1, 3)),
                               rotations.reshape(2, -1, 3, 3), rtol=0, atol=1e-14)
    np.testing.assert_allclose(rotation_log(rotations), [log3(r) for r in rotations],
                               rtol=0, atol=0)
    np.testing.assert_allclose(rotation_log(rotations), [pinocchio.log3(r) for r in rotations],
                               rtol=0, atol=1e-8)
    within_pi = vectors[np.linalg.norm(vectors, axis=-1) < 3.1]
    np.testing.assert_allclose(rotation_log(rotation_exp(within_pi)), within_pi, rtol=0,
                               atol=1e-12)
    np.testing.assert_array_equal(exp3(vectors[7]), rotation_exp(vectors[7]))


def test_axis_turn_turns_one_axis_onto_the_other():
    rng = np.random.default_rng(8)
    for current, goal in list(rng.normal(size=(50, 2, 3))) + [
            (np.array([0.0, 0.0, 1.0]), np.array([0.0, 0.0, -1.0])),
            (np.array([0.0, 0.6, 0.8]), np.array([0.0, 0.6, 0.8]))]:
        current, goal = current / np.linalg.norm(current), goal / np.linalg.norm(goal)
        turn = axis_turn(current, goal)
        np.testing.assert_allclose(exp3(turn) @ current, goal, rtol=0, atol=1e-12)
        assert np.linalg.norm(turn) == pytest.approx(
            math.acos(np.clip(current @ goal, -1.0, 1.0)), abs=1e-7)


@pytest.mark.skipif(shutil.which('node') is None, reason='needs node (as the web view does)')
def test_the_browsers_rotations_are_the_kernels():
    # web/static/pose_tick.js's log3 and exp3, run in node (V8, as the page), on rotations
    # from none to a half turn: the same formulas, so the same numbers to rounding.
    rng = np.random.default_rng(11)
    angles = [0.0, 1e-12, 1e-7, 0.3, 2.0, math.pi - 0.02, math.pi - 0.0101, math.pi - 0.0099,
              math.pi - 1e-3, math.pi - 1e-8, math.pi]
    vectors = np.array([a * v / np.linalg.norm(v) for a in angles
                        for v in rng.normal(size=(12, 3))])
    rotations = rotation_exp(vectors)
    module = REPO_ROOT / 'web' / 'static' / 'pose_tick.js'
    script = '\n'.join([
        f'import {{log3, exp3}} from {json.dumps(module.as_uri())};',
        "import {readFileSync} from 'node:fs';",
        "const input = JSON.parse(readFileSync(0, 'utf8'));",
        'console.log(JSON.stringify({logs: input.rotations.map(log3),',
        '                            exps: input.vectors.map(exp3)}));'])
    done = subprocess.run(['node', '--input-type=module', '-e', script], capture_output=True,
                          text=True, timeout=60,
                          input=json.dumps({'rotations': rotations.tolist(),
                                            'vectors': vectors.tolist()}))
    assert done.returncode == 0, done.stderr
    page = json.loads(done.stdout)
    np.testing.assert_allclose(page['exps'], rotations, rtol=0, atol=1e-15)
    np.testing.assert_allclose(page['logs'], rotation_log(rotations), rtol=0, atol=1e-13)


def reference_residual(mode, aim, position, rotation):
    if mode is TargetMode.POSITION:
        return aim[0] - position
    return np.concatenate((aim[0] - position, WEIGHT * pinocchio.log3(aim[1] @ rotation.T)))


def reference_jacobian(mode, jac6):
    if mode is TargetMode.POSITION:
        return jac6[:3]
    return jac6 * np.array([1.0, 1.0, 1.0, WEIGHT, WEIGHT, WEIGHT])[:, None]


def pressing_cases(chain, lower, upper, rng, count):
    """Yield joints at their limits and targets that pull them past."""
    body = RigidBodyModel(chain)
    for q in np.clip(chain.random_configurations(rng, count), lower, upper):
        k = rng.integers(chain.n_joints)
        q[k] = lower[k] if rng.random() < 0.5 else upper[k]
        beyond = q.copy()
        beyond[k] += (0.3 if q[k] == upper[k] else -0.3)
        beyond += rng.normal(0.0, 0.1, chain.n_joints)
        position, rotation = body.placement(beyond)
        yield q, kernel_aim(Aim(position, rotation, math.nan))


@pytest.mark.parametrize('source', [SEVEN, SIX])
@pytest.mark.parametrize('mode', [TargetMode.POSE, TargetMode.POSITION])
def test_a_refinement_step_is_the_numpy_step_at_the_limits(source, mode):
    # One step of the tick: damped least squares with the damping of the residual,
    # a joint carried past its limit stopped there and the others taking up the rest.
    chain = KinematicChain.from_urdf(source)
    kernels, body = ChainKernels(chain), RigidBodyModel(chain)
    lower, upper, floor = chain.lower + 0.01, chain.upper - 0.01, 1e-6
    task = kernel_task(mode, 3, WEIGHT)
    stopped = 0
    for q, aim in pressing_cases(chain, lower, upper, np.random.default_rng(2), 200):
        position, rotation, jac6 = body.placement_and_jacobian(q)
        residual = reference_residual(mode, aim, position, rotation)
        jac = reference_jacobian(mode, jac6)
        damping = float(residual @ residual) + floor
        step = damped_least_norm(jac, residual, damping)
        expected = q + stop_at_limits(q, step, jac, residual, lower, upper,
                                      lambda j, r: damped_least_norm(j, r, damping))
        got, first, position_error, angle, exact = kernels.refine(
            task, aim, q, lower, upper, floor, 1, -1.0)
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
        assert not exact
        assert position_error == pytest.approx(np.linalg.norm(residual[:3]), abs=1e-14)
        if mode is TargetMode.POSE:
            assert first == pytest.approx(np.linalg.norm(residual[:3])
                                          + np.linalg.norm(residual[3:]), abs=1e-14)
        else:
            assert math.isnan(angle)
        over, under = q + step > upper, q + step < lower
        # Joints the step would carry past a limit stop at it (one pass: the others may
        # still pass theirs; the command's safety clamps those).
        np.testing.assert_allclose(got[over], upper[over], rtol=0, atol=1e-15)
        np.testing.assert_allclose(got[under], lower[under], rtol=0, atol=1e-15)
        stopped += bool(np.any(over | under))
    # Most steps would have carried a joint past its limit: the case the kernel must keep.
    assert stopped >= 100, stopped


def test_a_minimisation_step_leaves_blocked_joints_out():
    chain = KinematicChain.from_urdf(SEVEN)
    kernels, body = ChainKernels(chain), RigidBodyModel(chain)
    lower, upper = chain.lower + 0.01, chain.upper - 0.01
    task = kernel_task(TargetMode.POSE, 3, WEIGHT)
    damping = 1e-3
    blocked = 0
    for q, aim in pressing_cases(chain, lower, upper, np.random.default_rng(3), 200):
        position, rotation, jac6 = body.placement_and_jacobian(q)
        residual = reference_residual(TargetMode.POSE, aim, position, rotation)
        jac = reference_jacobian(TargetMode.POSE, jac6)
        solve = lambda j, r: damped_least_norm(j, r, damping)  # noqa: E731
        free = damped_least_norm(jac, residual, damping)
        step = leave_blocked_joints(q, free, jac, residual, lower, upper, solve)
        trial = np.clip(q + step, lower, upper)
        t_position, t_rotation = body.placement(trial)
        t_residual = reference_residual(TargetMode.POSE, aim, t_position, t_rotation)
        expected = trial if t_residual @ t_residual < residual @ residual else q
        got, position_error, angle, used = kernels.minimise(
            task, aim, q, lower, upper, 1, -1.0, math.inf, 0, (0.25, 0.1, damping, 0.0, 1e6))
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
        assert used == 1
        blocked += bool(np.any(step != free))
    assert blocked >= 50, blocked


@pytest.mark.parametrize('source', [SEVEN, SIX])
def test_minimisation_reaches_random_poses_exactly_within_the_limits(source):
    chain = KinematicChain.from_urdf(source)
    kernels, body = ChainKernels(chain), RigidBodyModel(chain)
    lower, upper = chain.lower + 0.01, chain.upper - 0.01
    task = kernel_task(TargetMode.POSE, 3, WEIGHT)
    middle = 0.5 * (lower + upper)
    reached = 0
    goals = chain.with_limit_margin(0.01).random_configurations(np.random.default_rng(4), 100)
    for goal in goals:
        aim = kernel_aim(Aim(*body.placement(goal), math.nan))
        q, position_error, angle, used = kernels.minimise(
            task, aim, middle, lower, upper, 100, 1e-12, 1.0, 5, (0.25, 0.1, 1e-3, 1e-10, 1e6))
        assert np.all(q >= lower) and np.all(q <= upper)
        # The errors it reports are those of its answer.
        p, r = body.placement(q)
        assert position_error == pytest.approx(np.linalg.norm(aim[0] - p), abs=1e-15)
        assert angle == pytest.approx(np.linalg.norm(pinocchio.log3(aim[1] @ r.T)), abs=1e-12)
        reached += position_error <= 1e-12 and angle <= 1e-12
    # From one start, without the solve's other starts: most, not all.
    assert reached >= 60, reached
