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
The ``train`` command: configuration in, a model folder out.

    python -m iknn_ros.training --preset default            # the shipped model
    python -m iknn_ros.training --preset seed1              # seed 1's method, for comparison
    python -m iknn_ros.training --preset spatial_arm        # seed 2's arm (redundant, 3D)
    python -m iknn_ros.training --config my.yaml --set optim.steps=20000 --out models/mine

The folder holds ``model.onnx`` (with its model card), ``config.yaml`` (the resolved
configuration that rebuilds it), ``training_history.json``, ``metrics.json`` (the held-out
evaluation), plots and a ``README.md`` report. Everything that can be wrong with the
configuration, the URDF or the output folder is reported before training starts.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
from pathlib import Path
import platform
import sys
import tempfile
from typing import Optional, Sequence

from iknn_ros import __version__
from iknn_ros.ik.model_card import ModelCard
from iknn_ros.kinematics import KinematicChain
from iknn_ros.kinematics import TwoLinkGeometry
from iknn_ros.kinematics import UrdfError
from iknn_ros.kinematics.targets import check_mode
from iknn_ros.resources import share_directory
from iknn_ros.training.config import config_from_dict
from iknn_ros.training.config import ConfigError
from iknn_ros.training.config import load_config
from iknn_ros.training.config import TrainConfig
import yaml

PARITY_TOLERANCE = 1e-5
# The resumable state of a run in progress, in its output folder.
STATE_FILE = 'training_state.pt'


def resolve_urdf(path: str) -> Path:
    """Return a URDF path; relative paths are taken from the package share directory."""
    candidate = Path(path)
    if candidate.is_absolute() or candidate.is_file():
        return candidate
    return share_directory() / candidate


def check_output_folder(out: Path) -> None:
    """Create ``out`` and prove it writable, or raise ConfigError."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix='.write-test-'):
            pass
    except OSError as err:
        raise ConfigError(f"output folder '{out}' is not writable: {err}") from err


def load_chain(config: TrainConfig) -> KinematicChain:
    """Load the configured chain and check the design can be trained on it."""
    chain = KinematicChain.from_urdf(resolve_urdf(config.robot.urdf), config.robot.base_link,
                                     config.robot.tip_link)
    unsupported = [j.name for j in chain.joints if j.is_prismatic] + \
        [j.name for j in chain.followers]
    if unsupported:
        raise ConfigError(f'joint(s) {unsupported} are prismatic or mimic joints: training '
                          'does not support them yet (only revolute and continuous)')
    if config.data.sampler == 'seed1_grid' or config.model.architecture == 'seed1':
        try:
            TwoLinkGeometry.of(chain)
        except ValueError as err:
            raise ConfigError(f"{err}; seed 1's method is defined for a planar 2R arm") from err
    if config.model.bend_direction and (chain.planar is None or chain.n_joints < 3):
        raise ConfigError('model.bend_direction is defined for planar chains of three or '
                          f'more joints; this one has {chain.n_joints} joints'
                          + ('' if chain.planar is not None else ' and is not planar'))
    chain.with_limit_margin(config.robot.limit_margin_rad)
    if config.model.target_mode == 'pose':
        try:
            check_mode(chain, 'pose')
        except ValueError as err:
            raise ConfigError(str(err)) from err
    if config.data.step_m >= chain.reach:
        raise ConfigError(f'data.step_m {config.data.step_m} m is not smaller than the '
                          f'reach {chain.reach:.3f} m')
    return chain


def branch_rule(chain: KinematicChain) -> str:
    """Return how the model's branch input is to be set."""
    return 'elbow_sign' if chain.n_joints == 2 and chain.planar is not None else 'none'


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Train, export, evaluate and report."""
    parser = argparse.ArgumentParser(
        prog='train', description='Train an iknn_ros model from a configuration.')
    source = parser.add_mutually_exclusive_group()
    source.add_argument('--preset', default=None,
                        help='preset name (config/training/<name>.yaml): default, seed1, '
                             'seed1_code, three_link_arm or spatial_arm')
    source.add_argument('--config', type=Path, default=None, help='a YAML configuration')
    parser.add_argument('--set', dest='overrides', action='append', default=[],
                        metavar='KEY=VALUE', help='override a setting, e.g. optim.steps=2000')
    parser.add_argument('--urdf', default=None,
                        help='URDF of the arm to train for (sets robot.urdf)')
    parser.add_argument('--base-link', default=None, help='chain base link (robot.base_link)')
    parser.add_argument('--tip-link', default=None, help='chain tip link (robot.tip_link)')
    parser.add_argument('--target-mode', choices=('position', 'pose'), default=None,
                        help='what targets hold (model.target_mode); pose: spatial chains of '
                             'six joints or more')
    parser.add_argument('--out', type=Path, default=None,
                        help='output folder (default: models/<robot>_<name>)')
    parser.add_argument('--quick', action='store_true',
                        help='a seconds-long run of the same design (for tests)')
    parser.add_argument('--no-eval', action='store_true', help='skip the held-out report')
    parser.add_argument('--evaluate-only', action='store_true',
                        help='no training: re-run the held-out report of the model already in '
                             '--out (after a change to the solver or the evaluation), keeping '
                             'its training record')
    parser.add_argument('--export-only', action='store_true',
                        help='no training: export --out/model.onnx again from the checkpoint '
                             'beside it (after a change to the exported graph), keeping its '
                             'model card and training record, then re-run the held-out report '
                             '(unless --no-eval)')
    parser.add_argument('--init-from', type=Path, default=None,
                        help='start from the weights of an iknn_ros checkpoint')
    parser.add_argument('--progress', choices=('auto', 'bar', 'lines'), default='auto',
                        help='progress display (auto: a bar on a terminal)')
    parser.add_argument('--device', choices=('auto', 'cpu', 'cuda'), default='auto',
                        help='where to train: auto takes a CUDA GPU when torch sees one '
                             '(the CPU path is the tested one)')
    parser.add_argument('--resume', action='store_true',
                        help=f'continue an interrupted run from --out/{STATE_FILE}')
    parser.add_argument('--checkpoint-every', type=int, default=1000, metavar='N',
                        help=f'write --out/{STATE_FILE} every N steps (epochs); 0: never')
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except (ConfigError, UrdfError, ValueError) as err:
        print(f'train: error: {err}', file=sys.stderr)
        return 2


def chain_preset(chain: KinematicChain, target_mode: str) -> list[str]:
    """
    Return the settings that fit the design to an arm of the user's own (``--urdf`` alone).

    The planar 2R arm keeps the default preset. Other arms: a trained step of 5 % of the
    reach for positions (1 % and 0.02 rad for poses, whose six rows make each step harder;
    still twice a 100 Hz tick's at the node's default speeds),
    wider layers for more joints, a comfort drift toward mid-range where the arm is
    redundant for its targets, room in the evaluation for a detour out of a trap, and for
    poses the shipped pose models' recipe: SiLU, the FK loss as the mean error with the turn
    weighed at a fifth, one closed-loop (DAgger) round.
    """
    if chain.planar is not None and chain.n_joints == 2 and target_mode == 'position':
        return []
    pose = target_mode == 'pose'
    rows = 6 if pose else chain.target_dim
    width = 128 if chain.n_joints <= 4 else 256
    settings = [f'name={"pose" if pose else "default"}',
                f'data.step_m={round((0.01 if pose else 0.05) * chain.reach, 4)}',
                'data.samples=2000000', 'data.validation_share=0.02',
                f'data.comfort_gain={0.05 if chain.n_joints > rows else 0.0}',
                f'model.hidden=[{width}, {width}, {width}]', 'optim.steps=30000',
                'evaluation.tick_budget=1000']
    if pose:
        # The shipped pose models' recipe (docs/design.md): SiLU, the loss in the held-out
        # report's form with the turn weighed at a fifth, one DAgger round.
        settings += ['data.step_rad=0.02', 'data.closed_loop_rounds=1',
                     'optim.closed_loop_steps=12000', 'model.activation=silu',
                     'optim.fk_loss=norm', 'optim.orientation_loss_weight=0.2']
    return settings


def _run(args: argparse.Namespace) -> int:
    # The chain flags are the same settings as --set robot.X=...; they win over --set.
    chain_overrides = [f'robot.{key}={value}' for key, value in (
        ('urdf', args.urdf), ('base_link', args.base_link), ('tip_link', args.tip_link))
        if value is not None]
    if args.target_mode is not None:
        chain_overrides.append(f'model.target_mode={args.target_mode}')
    preset = []
    if args.urdf is not None and args.config is None and args.preset is None:
        # An arm of the user's own: the chain picks the preset. The links the URDF
        # implies are taken when not given (the default preset names the 2R arm's).
        chain_overrides += [f'robot.{key}=null' for key, value in (
            ('base_link', args.base_link), ('tip_link', args.tip_link)) if value is None]
        chain = KinematicChain.from_urdf(resolve_urdf(args.urdf), args.base_link,
                                         args.tip_link)
        preset = chain_preset(chain, args.target_mode or 'position')
    config = load_config(args.config or args.preset or 'default',
                         [*preset, *args.overrides, *chain_overrides])
    if args.quick:
        config = config.quick()
    chain = load_chain(config)
    out = args.out or Path('models') / f'{chain.robot_name}_{config.name}'
    check_output_folder(out)
    if args.evaluate_only:
        return _evaluate_only(config, chain, out)
    if args.export_only:
        _export_again(config, chain, out)
        return 0 if args.no_eval else _evaluate_only(config, chain, out)
    init_state = None
    # torch is imported only now: the configuration errors above need no torch.
    from iknn_ros.training.train import load_checkpoint
    from iknn_ros.training.train import resolve_device
    from iknn_ros.training.train import save_checkpoint
    from iknn_ros.training.train import train
    import torch

    if args.init_from is not None:
        init_state, _ = load_checkpoint(args.init_from)

    device = resolve_device(args.device)
    print(f'train: {config.name} on {chain.robot_name} {list(chain.joint_names)} -> {out} '
          f'({device.type})')
    show = {'auto': None, 'bar': True, 'lines': False}[args.progress]
    result = train(chain, config, init_state=init_state, show_progress=show,
                   device=args.device, state_path=out / STATE_FILE,
                   checkpoint_every=args.checkpoint_every, resume=args.resume)

    card = ModelCard.for_chain(
        chain, architecture=config.model.architecture, step_m=config.data.step_m,
        branch_rule=branch_rule(chain), input_encoding=result.model.input_encoding(),
        training_config=config.to_dict(),
        joint_input='wrap_all_0_2pi' if config.model.architecture == 'seed1'
        else 'wrap_continuous_pm_pi', target_mode=config.model.target_mode,
        step_rad=config.data.step_rad,
        producer={'iknn_ros': __version__, 'torch': torch.__version__,
                  'python': platform.python_version()},
        metrics={'train_seconds': round(result.seconds, 1),
                 'peak_memory_mb': round(result.peak_memory_mb, 1),
                 'final_validation_tip_error_mean_m':
                     result.history[-1]['validation_tip_error_mean_m']})
    parity = _export_checked(result.model, chain, card, out / 'model.onnx')
    save_checkpoint(out / 'checkpoint.pt', result.model, config)
    (out / 'config.yaml').write_text(
        f'# Rebuild: python -m iknn_ros.training --config {out / "config.yaml"} --out {out}\n'
        + yaml.safe_dump(config.to_dict(), sort_keys=False))
    (out / 'training_history.json').write_text(json.dumps(result.history, indent=1) + '\n')
    write_data_distribution(out, chain, config)
    # The model is out: the resumable state has done its job.
    (out / STATE_FILE).unlink(missing_ok=True)

    training = {'seconds': result.seconds, 'peak_memory_mb': result.peak_memory_mb,
                'train_rows': result.train_rows, 'validation_rows': result.validation_rows,
                'parameters': sum(p.numel() for p in result.model.parameters()),
                'onnx_parity_max_abs': parity,
                'first_validation_tip_error_mean_m':
                    result.history[0]['validation_tip_error_mean_m'],
                'final_validation_tip_error_mean_m':
                    result.history[-1]['validation_tip_error_mean_m'],
                'closed_loop_rounds': result.closed_loop_rounds}
    if args.no_eval:
        # The training record alone, so that --evaluate-only can add the report later.
        report = None
        (out / 'metrics.json').write_text(json.dumps({'training': training}, indent=2) + '\n')
    else:
        report = _report(config, chain, out, training, result.history)
    table = summary_table(config, training, report, chain.reach)
    (out / 'README.md').write_text(markdown_report(config, out, table))
    print(table)
    return 0


def _report(config: TrainConfig, chain: KinematicChain, out: Path, training: dict,
            history: list) -> dict:
    """Run the held-out report of ``out/model.onnx``; write metrics.json and the plots."""
    from iknn_ros.evaluation.evaluate import heldout_report
    from iknn_ros.evaluation.evaluate import write_plots
    e = config.evaluation
    report, step_data, _ = heldout_report(
        out / 'model.onnx', resolve_urdf(config.robot.urdf), config.robot.base_link,
        config.robot.tip_link, e.seed, e.holdout_samples, e.chained_targets,
        e.tolerance_fraction_of_reach, e.tick_budget)
    report['training'] = training
    (out / 'metrics.json').write_text(json.dumps(report, indent=2) + '\n')
    write_plots(out, chain, step_data, history)
    return report


def _export_checked(model, chain: KinematicChain, card: ModelCard, path: Path) -> float:
    """Export ``model`` with ``card`` once onnxruntime agrees with torch; return the gap."""
    from iknn_ros.training.export import export_onnx
    from iknn_ros.training.export import onnx_bytes
    from iknn_ros.training.export import parity_error

    parity = parity_error(model, chain, onnx_bytes(model, chain, card))
    if not parity <= PARITY_TOLERANCE:
        raise ValueError(f'onnxruntime and torch disagree by {parity:.2e} (> '
                         f'{PARITY_TOLERANCE:.0e}); not exporting')
    card = dataclasses.replace(card, metrics={**card.metrics, 'onnx_parity_max_abs': parity})
    export_onnx(model, chain, card, path)
    return parity


def _export_again(config: TrainConfig, chain: KinematicChain, out: Path) -> None:
    """Export ``out/model.onnx`` again from ``out/checkpoint.pt``: same weights, same card."""
    from iknn_ros.ik.solver import OnnxIKNetwork
    from iknn_ros.ik.tick_types import ModelLoadError
    from iknn_ros.training.model import model_of
    from iknn_ros.training.train import load_checkpoint

    try:
        state, saved = load_checkpoint(out / 'checkpoint.pt')
        card = OnnxIKNetwork(out / 'model.onnx').card
        metrics_path = out / 'metrics.json'
        record = json.loads(metrics_path.read_text())
        record['training']
    except (OSError, ValueError, KeyError, ModelLoadError) as err:
        raise ConfigError(f"'{out}' holds no trained model to export again: {err}") from err
    try:
        saved = json.loads(json.dumps(config_from_dict(saved).to_dict()))
    except ConfigError as err:
        raise ConfigError(f"'{out / 'checkpoint.pt'}' holds a configuration this version "
                          f'cannot read: {err}') from err
    given = json.loads(json.dumps(config.to_dict()))
    # The evaluation settings do not touch the weights; everything else must match.
    differ = sorted(key for key in set(saved) | set(given)
                    if key != 'evaluation' and saved.get(key) != given.get(key))
    if differ:
        raise ConfigError(f"'{out / 'checkpoint.pt'}' was trained with other {differ} "
                          'settings than the configuration given')
    model = model_of(chain, config)
    model.load_state_dict(state)
    parity = _export_checked(model, chain, card, out / 'model.onnx')
    record['training']['onnx_parity_max_abs'] = parity
    metrics_path.write_text(json.dumps(record, indent=2) + '\n')
    print(f'train: exported {out / "model.onnx"} again from its checkpoint (ONNX vs torch, '
          f'max |diff| {parity:.2e})')


def _evaluate_only(config: TrainConfig, chain: KinematicChain, out: Path) -> int:
    try:
        training = json.loads((out / 'metrics.json').read_text())['training']
        history = json.loads((out / 'training_history.json').read_text())
    except (OSError, ValueError, KeyError) as err:
        raise ConfigError(f"'{out}' holds no trained model's record to keep: {err}") from err
    report = _report(config, chain, out, training, history)
    table = summary_table(config, training, report, chain.reach)
    (out / 'README.md').write_text(markdown_report(config, out, table))
    print(table)
    return 0


def summary_table(config: TrainConfig, training: dict, report: Optional[dict],
                  reach: float) -> str:
    """Return the end-of-run summary as an aligned text table."""
    rows = [('training time', f"{training['seconds']:.1f} s"),
            ('peak memory', f"{training['peak_memory_mb']:.0f} MB"),
            ('parameters', f"{training['parameters']}"),
            ('ONNX vs torch, max |diff|', f"{training['onnx_parity_max_abs']:.2e}"),
            ('validation tip error, start -> end',
             f"{training['first_validation_tip_error_mean_m'] * 1e3:.3f} -> "
             f"{training['final_validation_tip_error_mean_m'] * 1e3:.4f} mm")]
    if report is not None:
        s = report['single_step']['tip_error_m']
        for key in ('mean', 'median', 'p95', 'max'):
            rows.append((f'held-out 1-step tip error {key}',
                         f'{s[key] * 1e3:.4f} mm ({100 * s[key] / reach:.4f} % of reach)'))
        turn = report['single_step'].get('orientation_error_rad')
        for key in ('mean', 'p95', 'max') if turn else ():
            rows.append((f'held-out 1-step orientation error {key}',
                         f'{math.degrees(turn[key]):.4f} deg'))
        loop = report['closed_loop']
        for name in ('network_only', 'refined'):
            r = loop[name]
            detours = r['n_reached'] - r.get('n_reached_without_detour', r['n_reached'])
            within = f"{r['tolerance_m'] * 1e3:.2g} mm" + (
                f" and {r['tolerance_rad']:.2g} rad" if 'tolerance_rad' in r else '')
            rows.append((f"chained targets, {name.replace('_', ' ')}",
                         f"{r['n_reached']}/{r['n_targets']} within {within} "
                         f'({detours} by a detour); '
                         f"flips {r['elbow_flips']}, "
                         f"limit/velocity violations {r['limit_violations']}/"
                         f"{r['velocity_violations']}, fallbacks {r['fallback_ticks']}"))
        far = report['out_of_reach']
        for name in ('network_only', 'refined'):
            r = far[name]
            rows.append((f"out of reach, {name.replace('_', ' ')}",
                         f"{r['ended_on_projection_within_1e-6_reach']}/{far['targets']} on "
                         'the projection; direction error max '
                         f"{r['direction_error_deg']['max']:.3f} deg"))
    width = max(len(k) for k, _ in rows)
    line = '-' * (width + 3 + max(len(v) for _, v in rows))
    return '\n'.join([f'{config.name}: summary', line] +
                     [f'{k:<{width}} | {v}' for k, v in rows] + [line])


def markdown_report(config: TrainConfig, out: Path, table: str) -> str:
    """Return the README.md written beside the model."""
    return (f'# iknn_ros model `{config.name}`\n\n'
            f'Rebuild from the repository root with\n\n'
            f'```bash\n.venv/bin/python -m iknn_ros.training --config {out}/config.yaml '
            f'--out {out}\n```\n\n'
            f'(deterministic for the saved seed and thread count; the held-out evaluation '
            f'uses its own seed).\n\n```text\n{table}\n```\n\n'
            f'Files: `model.onnx` (model card in its metadata), `config.yaml`, '
            f'`metrics.json` (held-out evaluation, machine stated), `training_history.json`, '
            f'`loss_curves.png`, `error_map.png`, `data_distribution.png`.\n')


def write_data_distribution(out: Path, chain: KinematicChain, config: TrainConfig) -> None:
    """Plot the training data: joint angles, targets and step lengths."""
    import matplotlib
    matplotlib.use('Agg')
    from matplotlib import pyplot as plt
    import numpy as np
    from iknn_ros.kinematics.sampling import step_sizes
    from iknn_ros.training.data import make_samples

    rng = np.random.default_rng(config.seed)
    data_config = dataclasses.replace(config.data, samples=min(config.data.samples, 200_000))
    samples = make_samples(chain, data_config, rng, config.model.target_mode)
    step = step_sizes(chain, samples.joints, samples.target)[0]
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    axes[0].hist2d(samples.joints[:, 0], samples.joints[:, 1], bins=80, cmap='magma')
    axes[0].set_xlabel(f'{chain.joint_names[0]} (rad)')
    axes[0].set_ylabel(f'{chain.joint_names[1]} (rad)')
    axes[0].set_title('current joint angles')
    axes[1].hist2d(samples.target[:, 0], samples.target[:, 1], bins=80, cmap='magma')
    axes[1].set_aspect('equal')
    axes[1].set_title('targets (m)')
    positive = step[step > 0]
    axes[2].hist(positive, bins=np.logspace(math.log10(max(positive.min(), 1e-9)),
                                            math.log10(positive.max()), 60))
    axes[2].set_xscale('log')
    axes[2].set_xlabel('step to target (m)')
    axes[2].set_title(f'{len(samples)} samples shown')
    fig.tight_layout()
    fig.savefig(out / 'data_distribution.png', dpi=110)
    plt.close(fig)
