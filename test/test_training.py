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

"""The training module: configuration, data, learning, export, checkpoints, command line."""

import json
import math
from pathlib import Path
import re
import subprocess
import sys

from iknn_ros.kinematics import KinematicChain
from iknn_ros.kinematics import TwoLinkGeometry
from iknn_ros.kinematics.sampling import step_samples
from iknn_ros.training.config import ConfigError
from iknn_ros.training.config import load_config
from iknn_ros.training.data import seed1_grid_samples
import numpy as np
import pytest

torch = pytest.importorskip('torch', reason='training needs torch==2.13.0 (make test installs '
                                            'it; a colcon-only install may not)')

from iknn_ros.ik.model_card import ModelCard  # noqa: E402, I100
from iknn_ros.ik.solver import OnnxIKNetwork  # noqa: E402
from iknn_ros.training.export import atomic_write_bytes  # noqa: E402
from iknn_ros.training.export import onnx_bytes  # noqa: E402
from iknn_ros.training.export import parity_error  # noqa: E402
from iknn_ros.training.train import load_checkpoint  # noqa: E402
from iknn_ros.training.train import save_checkpoint  # noqa: E402
from iknn_ros.training.train import train  # noqa: E402
import onnx  # noqa: E402
import onnxruntime  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope='module')
def quick(chain):
    config = load_config('default').quick()
    return config, train(chain, config, show_progress=False, log=lambda _: None)


def card_for(chain, config, model):
    return ModelCard.for_chain(chain, architecture=config.model.architecture,
                               step_m=config.data.step_m, branch_rule='elbow_sign',
                               input_encoding=model.input_encoding(),
                               training_config=config.to_dict(), producer={})


# ---- configuration ---------------------------------------------------------------------

def test_presets_load_and_differ():
    default, seed1 = load_config('default'), load_config('seed1')
    assert default.model.architecture == 'incremental' and default.data.sampler == 'continuous'
    assert seed1.model.hidden == [128, 64, 32, 16, 8] and seed1.model.activation == 'sigmoid'
    assert seed1.optim.optimizer == 'sgd' and seed1.optim.learning_rates == [0.01, 0.001,
                                                                             0.0001]
    assert seed1.optim.epochs == 200 and seed1.data.grid_step_rad == 0.4


@pytest.mark.parametrize('preset', sorted(p.stem for p in (REPO / 'config' / 'training').glob(
    '*.yaml')))
def test_each_preset_is_the_saved_configuration_of_its_shipped_model(preset):
    # `--preset NAME` writes models/<robot>_<name>: it must rebuild the model shipped there.
    config = load_config(preset)
    robot = KinematicChain.from_urdf(REPO / config.robot.urdf).robot_name
    shipped = REPO / 'models' / f'{robot}_{config.name}' / 'config.yaml'
    assert load_config(shipped).to_dict() == config.to_dict()


@pytest.mark.parametrize('overrides, message', [
    (['optim.stepz=5'], r"unknown key\(s\) \['optim.stepz'\]"),
    (['colour=red'], r"unknown key\(s\) \['colour'\]"),
    (['optim.steps=-3'], 'exactly one of optim.steps and optim.epochs'),
    (['data.step_m=0'], 'data.step_m must be > 0'),
    (['model.hidden=[64, 0]'], 'positive widths'),
    (['model.activation=gelu'], 'model.activation must be'),
    (['data.sampler=grid'], "data.sampler must be 'continuous' or 'seed1_grid'"),
    (['optim.learning_rate=fast'], 'optim.learning_rate must be float'),
    (['evaluation.seed=7'], 'must differ from the training seed'),
    (['optim'], 'is not key=value'),
    (['optim.fk_loss=cubed'], "optim.fk_loss must be 'squared' or 'norm'"),
    (['optim.orientation_loss_weight=-1'], 'loss weights must be >= 0'),
])
def test_invalid_configuration_is_refused(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config('default', overrides)


def test_unknown_preset_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="unknown preset 'fancy'; presets: "):
        load_config('fancy')
    bad = tmp_path / 'bad.yaml'
    bad.write_text('optim: [1, 2\n')
    with pytest.raises(ConfigError, match='not valid YAML'):
        load_config(bad)


# ---- data ---------------------------------------------------------------------------------

def test_continuous_samples_are_exact_and_elbow_consistent(chain):
    samples = step_samples(chain, np.random.default_rng(0), 20_000, 0.05, 0.5)
    reached = chain.fk(samples.joints + samples.delta)
    assert np.max(np.abs(reached - samples.target)) < 1e-12
    steps = np.linalg.norm(samples.target - chain.fk(samples.joints), axis=-1)
    assert steps.max() <= 0.05 + 1e-12 and steps.min() < 1e-4
    geometry = TwoLinkGeometry.of(chain)
    decided = np.abs(np.sin(geometry.elbow_angle(samples.joints))) > 0.05
    assert np.all(geometry.elbow(samples.joints)[decided] == samples.branch[decided])
    after = samples.joints + samples.delta
    assert np.all(geometry.elbow(after)[decided] * samples.branch[decided] >= 0)
    # Current angles cover the whole joint1 circle: no seam in the data.
    assert samples.joints[:, 0].min() < -3.1 and samples.joints[:, 0].max() > 3.1


def test_seed1_grid_is_the_seeds_data(chain):
    config = load_config('seed1').data
    samples = seed1_grid_samples(chain, config, np.random.default_rng(0))
    assert len(samples) == 16 * 16 * 20 == 5120
    next_angles = samples.joints + samples.delta
    assert set(np.round(np.unique(next_angles), 9)) == set(np.round(np.arange(16) * 0.4, 9))
    assert np.max(np.abs(samples.delta)) <= 0.1
    np.testing.assert_allclose(samples.target, chain.fk(next_angles), atol=1e-15)


# ---- learning -------------------------------------------------------------------------------

def test_quick_training_learns(quick):
    _, result = quick
    first = result.history[0]['validation_tip_error_mean_m']
    last = result.history[-1]['validation_tip_error_mean_m']
    assert first / last > 4.0, (first, last)


def test_the_network_uses_its_target(chain, quick):
    _, result = quick
    model = result.model
    q = torch.tensor([[0.7, -1.2]] * 8)
    tip = chain.fk(q.numpy().astype(float))
    angles = np.linspace(0, 2 * math.pi, 8, endpoint=False)
    steps = 0.03 * np.stack([np.cos(angles), np.sin(angles)], axis=-1)
    with torch.no_grad():
        delta = model(q, torch.tensor(tip + steps, dtype=torch.float32),
                      -torch.ones(8, 1)).numpy()
    moved = chain.fk(q.numpy().astype(float) + delta) - tip
    cosine = np.sum(moved * steps, axis=-1) / np.linalg.norm(moved, axis=-1) / 0.03
    assert np.all(cosine > 0.95), cosine
    assert np.linalg.matrix_rank(delta, tol=1e-4) == 2


def test_training_is_deterministic(chain, quick):
    config, result = quick
    again = train(chain, config, show_progress=False, log=lambda _: None)
    for key, value in result.model.state_dict().items():
        assert torch.equal(value, again.model.state_dict()[key]), key


def test_an_interrupted_run_resumes_to_the_same_network(chain, quick, tmp_path):
    config, result = quick
    state = tmp_path / 'training_state.pt'

    def interrupt_at_400(line):
        if 'step 400/' in line:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(chain, config, show_progress=False, log=interrupt_at_400, state_path=state,
              checkpoint_every=200)
    lines = []
    resumed = train(chain, config, show_progress=False, log=lines.append, state_path=state,
                    checkpoint_every=200, resume=True)
    assert any('resuming after 200 of the steps' in line for line in lines)
    assert any(re.search(r'; \d+:\d\d left$', line) for line in lines), lines
    for key, value in result.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
    assert [h['step'] for h in resumed.history] == [h['step'] for h in result.history]
    other = load_config('default', ['optim.learning_rate=0.001']).quick()
    with pytest.raises(ValueError, match='another configuration'):
        train(chain, other, show_progress=False, log=lambda _: None, state_path=state,
              resume=True)


# ---- export ---------------------------------------------------------------------------------

def test_onnx_export_matches_torch_and_carries_its_card(chain, quick, tmp_path):
    config, result = quick
    card = card_for(chain, config, result.model)
    data = onnx_bytes(result.model, chain, card)
    assert parity_error(result.model, chain, data) <= 1e-5
    model = onnx.load_from_string(data)
    assert [i.name for i in model.graph.input] == ['joint_positions', 'target', 'branch']
    assert [o.name for o in model.graph.output] == ['joint_delta']
    assert model.opset_import[0].version >= 17
    assert all(not init.external_data for init in model.graph.initializer)
    path = tmp_path / 'm.onnx'
    path.write_bytes(data)
    network = OnnxIKNetwork(path)
    assert network.card.chain_fingerprint == chain.fingerprint()
    assert network.card.step_m == config.data.step_m
    session = onnxruntime.InferenceSession(data)
    for batch in (1, 7):
        (out,) = session.run(None, {'joint_positions': np.zeros((batch, 2), np.float32),
                                    'target': np.full((batch, 2), 0.5, np.float32),
                                    'branch': np.ones((batch, 1), np.float32)})
        assert out.shape == (batch, 2)


def test_seed1_network_exports_with_the_same_interface(chain):
    config = load_config('seed1').quick()
    result = train(chain, config, show_progress=False, log=lambda _: None)
    data = onnx_bytes(result.model, chain, card_for(chain, config, result.model))
    assert parity_error(result.model, chain, data) <= 1e-5
    names = [i.name for i in onnx.load_from_string(data).graph.input]
    assert names == ['joint_positions', 'target', 'branch']


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path):
    path = tmp_path / 'model.onnx'
    path.write_bytes(b'old model')
    with pytest.raises(TypeError):
        atomic_write_bytes(path, 'not bytes')
    assert path.read_bytes() == b'old model'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['model.onnx']
    atomic_write_bytes(path, b'new model')
    assert path.read_bytes() == b'new model'


# ---- checkpoints ------------------------------------------------------------------------------

class _Payload:

    def __reduce__(self):
        return (print, ('this would run on load',))


def test_checkpoints_round_trip_and_never_unpickle_objects(tmp_path, quick):
    config, result = quick
    path = tmp_path / 'checkpoint.pt'
    save_checkpoint(path, result.model, config)
    state, saved_config = load_checkpoint(path)
    assert saved_config == config.to_dict()
    assert all(torch.equal(v, state[k]) for k, v in result.model.state_dict().items())
    evil = tmp_path / 'evil.pt'
    torch.save({'format': 'iknn_ros.checkpoint', 'state_dict': _Payload()}, evil)
    with pytest.raises(ValueError, match='not a safe iknn_ros checkpoint'):
        load_checkpoint(evil)


# ---- command line ------------------------------------------------------------------------------

def run_train(*args, cwd=REPO):
    return subprocess.run([sys.executable, '-m', 'iknn_ros.training', *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize('args, message', [
    (['--set', 'optim.stepz=1'], 'unknown key'),
    (['--preset', 'nope'], 'unknown preset'),
    (['--set', 'data.step_m=2.0'], 'is not smaller than the reach'),
    (['--set', 'robot.tip_link=link1'], 'data.step_m 0.05 m is not smaller'),
    (['--set', 'robot.urdf=/no/such.urdf'], 'does not exist'),
    (['--set', 'model.bend_direction=true'], 'defined for planar chains of three or more'),
])
def test_command_line_refuses_bad_setups_before_training(args, message, tmp_path):
    done = run_train(*args, '--out', str(tmp_path / 'out'))
    assert done.returncode == 2
    assert message in done.stderr
    assert 'train: default' not in done.stdout


def test_command_line_refuses_an_unwritable_output(tmp_path):
    blocker = tmp_path / 'file'
    blocker.write_text('')
    done = run_train('--quick', '--out', str(blocker / 'sub'))
    assert done.returncode == 2 and 'is not writable' in done.stderr


def test_command_line_quick_run_writes_the_whole_report(tmp_path):
    out = tmp_path / 'model'
    done = run_train('--quick', '--out', str(out), '--progress', 'lines')
    assert done.returncode == 0, done.stderr
    for name in ('model.onnx', 'config.yaml', 'metrics.json', 'training_history.json',
                 'loss_curves.png', 'error_map.png', 'data_distribution.png', 'README.md',
                 'checkpoint.pt'):
        assert (out / name).is_file(), name
    metrics = json.loads((out / 'metrics.json').read_text())
    assert metrics['closed_loop']['refined']['n_targets'] == 40
    assert metrics['training']['onnx_parity_max_abs'] <= 1e-5
    assert 'held-out 1-step tip error mean' in done.stdout
    # The saved configuration rebuilds the same network.
    again = run_train('--config', str(out / 'config.yaml'), '--out', str(tmp_path / 'again'),
                      '--no-eval')
    assert again.returncode == 0, again.stderr
    first = onnx.load(out / 'model.onnx').graph.initializer
    second = onnx.load(tmp_path / 'again' / 'model.onnx').graph.initializer
    assert [onnx.numpy_helper.to_array(t).tobytes() for t in first] == \
        [onnx.numpy_helper.to_array(t).tobytes() for t in second]
    # Re-evaluating the folder (after a solver change) keeps the model and its training record.
    model_bytes = (out / 'model.onnx').read_bytes()
    again = run_train('--config', str(out / 'config.yaml'), '--out', str(out), '--evaluate-only')
    assert again.returncode == 0, again.stderr
    redone = json.loads((out / 'metrics.json').read_text())
    assert redone['training'] == metrics['training']
    assert (out / 'model.onnx').read_bytes() == model_bytes
    assert redone['closed_loop']['refined']['n_reached_without_detour'] <= \
        redone['closed_loop']['refined']['n_reached']
    assert 'by a detour' in (out / 'README.md').read_text()
    empty = run_train('--config', str(out / 'config.yaml'), '--out', str(tmp_path / 'empty'),
                      '--evaluate-only')
    assert empty.returncode == 2 and 'no trained model' in empty.stderr
    # Exporting again (after a change to the exported graph) keeps the weights, the card and
    # the training record, and only for the configuration the checkpoint was trained with.
    card = OnnxIKNetwork(out / 'model.onnx').card
    again = run_train('--config', str(out / 'config.yaml'), '--out', str(out), '--export-only',
                      '--no-eval')
    assert again.returncode == 0, again.stderr
    assert 'exported' in again.stdout and 'again from its checkpoint' in again.stdout
    assert OnnxIKNetwork(out / 'model.onnx').card == card
    assert json.loads((out / 'metrics.json').read_text())['training'] == metrics['training']
    exported = onnx.load(out / 'model.onnx').graph.initializer
    assert [onnx.numpy_helper.to_array(t).tobytes() for t in exported] == \
        [onnx.numpy_helper.to_array(t).tobytes() for t in first]
    other = run_train('--config', str(out / 'config.yaml'), '--out', str(out), '--export-only',
                      '--no-eval', '--set', 'optim.steps=7')
    assert other.returncode == 2 and "other ['optim'] settings" in other.stderr
    assert (out / 'model.onnx').read_bytes() == model_bytes
    empty = run_train('--config', str(out / 'config.yaml'), '--out', str(tmp_path / 'empty'),
                      '--export-only')
    assert empty.returncode == 2 and 'no trained model to export again' in empty.stderr


# ---- closed-loop (DAgger) rounds -----------------------------------------------------------

@pytest.fixture(scope='module')
def three_link_quick():
    overrides = ['data.closed_loop_rounds=1', 'data.samples=20000']
    config = load_config('three_link_arm', overrides).quick()
    chain = KinematicChain.from_urdf(REPO / config.robot.urdf)
    return chain, config, train(chain, config, show_progress=False, log=lambda _: None)


def test_a_closed_loop_round_adds_exactly_labelled_visited_states(three_link_quick):
    chain, config, result = three_link_quick
    (round_,) = result.closed_loop_rounds
    assert round_['round'] == 1 and 0.0 <= round_['reached_share_before'] <= 1.0
    assert 0 < round_['rows_added'] <= min(config.data.closed_loop_samples,
                                           round_['states_visited'])
    base_rows = round(config.data.samples * (1 - config.data.validation_share))
    assert result.train_rows == base_rows + round_['rows_added']
    assert any(e.get('closed_loop_round') == 1 for e in result.history)


def test_the_rollout_keeps_to_the_solver_limits_and_labels_are_exact(three_link_quick):
    from iknn_ros.training.closed_loop import closed_loop_samples
    from iknn_ros.training.closed_loop import RolloutSettings
    from iknn_ros.training.closed_loop import visited_states
    chain, config, result = three_link_quick
    safe = chain.with_limit_margin(config.robot.limit_margin_rad)
    settings = RolloutSettings(arms=50, targets_per_arm=2, ticks_per_target=60,
                               step_m=config.data.step_m, tolerance_m=1e-3)
    joints, waypoints, share = visited_states(result.model, safe, settings,
                                              np.random.default_rng(3))
    assert len(joints) > 50 and 0.0 <= share <= 1.0
    assert safe.within_limits(joints).all()
    # The waypoint is never more than one trained step from the tip it was asked from.
    steps = np.linalg.norm(waypoints - chain.fk(joints), axis=-1)
    assert steps.max() <= config.data.step_m + 1e-12
    labelled, _, visited = closed_loop_samples(result.model, safe, settings,
                                               config.data.comfort_gain, 500,
                                               np.random.default_rng(3))
    assert 0 < len(labelled) <= 500 and visited == len(joints)
    np.testing.assert_allclose(chain.fk(labelled.joints + labelled.delta), labelled.target,
                               atol=1e-9)
    assert safe.within_limits(labelled.joints + labelled.delta).all()


def test_the_bend_direction_input_is_the_direction_of_the_bend(three_link_quick, tmp_path):
    chain, config, result = three_link_quick
    model = result.model
    assert config.model.bend_direction and 'bend' in model.input_encoding()
    angle = np.radians([0.0, 30.0, 135.0, 250.0])
    for radius in (0.1, 0.5):
        joints = torch.tensor(np.stack([np.full(4, 0.7), radius * np.cos(angle),
                                        radius * np.sin(angle)], axis=-1), dtype=torch.float32)
        bend = model.bend_features(joints).numpy()
        expected = np.sin(joints[:, 1:].numpy())
        expected /= np.hypot(np.linalg.norm(expected, axis=-1, keepdims=True), 0.02)
        np.testing.assert_allclose(bend, expected, atol=1e-6)
        # Away from the stretched arm it is a unit vector, whatever the size of the bend.
        assert np.all(np.abs(np.linalg.norm(bend, axis=-1) - 1.0) < 0.03)
    stretched = model.bend_features(torch.tensor([[1.0, 0.0, 0.0]]))
    assert torch.all(torch.isfinite(stretched)) and float(stretched.abs().max()) == 0.0
    card = ModelCard.for_chain(chain, architecture='incremental', step_m=config.data.step_m,
                               branch_rule='none', input_encoding=model.input_encoding(),
                               training_config=config.to_dict(), producer={})
    assert parity_error(model, chain, onnx_bytes(model, chain, card)) <= 1e-5
