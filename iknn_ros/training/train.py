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
The training loop: deterministic for a given configuration and seed.

Losses, in units that make their weights comparable: the tip error after the step over the
trained step (the FK loss), the joint-space error to the label, and a penalty on joint
angles the step would take beyond the URDF limits.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path
import resource
import time
from typing import Callable, Optional

from iknn_ros.evaluation.evaluate import NETWORK_ONLY_TOLERANCE_RAD
from iknn_ros.kinematics import KinematicChain
from iknn_ros.kinematics.sampling import Samples
from iknn_ros.training.closed_loop import closed_loop_samples
from iknn_ros.training.closed_loop import RolloutSettings
from iknn_ros.training.config import TrainConfig
from iknn_ros.training.data import make_samples
from iknn_ros.training.model import ChainForwardKinematics
from iknn_ros.training.model import model_of
from iknn_ros.training.model import step_errors
import numpy as np
import torch
from torch import nn
from tqdm import tqdm

CHECKPOINT_FORMAT = 'iknn_ros.checkpoint'
_VALIDATION_ROWS = 20_000


@dataclasses.dataclass
class TrainResult:
    """A trained model with what happened while training it."""

    model: nn.Module
    history: list
    seconds: float
    peak_memory_mb: float
    train_rows: int
    validation_rows: int
    # One entry per DAgger round: the rollout's success before it, and the rows it added.
    closed_loop_rounds: list = dataclasses.field(default_factory=list)


class _Tensors:
    """Samples as float32 tensors, split into training and validation rows."""

    def __init__(self, samples: Samples, validation_share: float,
                 rng: np.random.Generator) -> None:
        order = rng.permutation(len(samples))
        n_val = max(1, int(round(len(samples) * validation_share)))
        self.train = self._tensors(samples.subset(order[n_val:]))
        self.validation = self._tensors(samples.subset(order[:n_val][:_VALIDATION_ROWS]))

    def add_training_rows(self, samples: Samples) -> None:
        """Append rows to the training set (the validation set stays as drawn)."""
        self.train = tuple(torch.cat([old, new]) for old, new in
                           zip(self.train, self._tensors(samples)))

    def to(self, device: torch.device) -> None:
        """Move every row to ``device``."""
        self.train = tuple(t.to(device) for t in self.train)
        self.validation = tuple(t.to(device) for t in self.validation)

    @staticmethod
    def _tensors(samples: Samples) -> tuple:
        return tuple(torch.tensor(a, dtype=torch.float32) for a in
                     (samples.joints, samples.target, samples.branch[:, None], samples.delta))


class _Loss:
    """The weighted training loss, and the metrics logged alongside it."""

    def __init__(self, chain: KinematicChain, config: TrainConfig) -> None:
        self.fk = ChainForwardKinematics(chain)
        self.step_m = config.data.step_m
        self.step_rad = config.data.step_rad
        self.weights = config.optim
        limited = ~chain.continuous
        self.limited = torch.tensor(limited)
        self.lower = torch.tensor(np.where(limited, chain.lower, 0.0), dtype=torch.float32)
        self.upper = torch.tensor(np.where(limited, chain.upper, 0.0), dtype=torch.float32)
        self.middle = (self.lower + self.upper) / 2.0
        self.half_range = torch.clamp((self.upper - self.lower) / 2.0, min=1e-9)

    def to(self, device: torch.device) -> '_Loss':
        """Move the loss's constants to ``device``; return self."""
        self.fk.to(device)
        for name in ('limited', 'lower', 'upper', 'middle', 'half_range'):
            setattr(self, name, getattr(self, name).to(device))
        return self

    def __call__(self, model: nn.Module, batch: tuple) -> tuple:
        joints, target, branch, label = batch
        delta = model(joints, target, branch)
        nxt = joints + delta
        tip_error, turn_error = step_errors(self.fk, nxt, target)
        # The FK loss: the tool's error after the step, in units of the trained step.
        power = 2 if self.weights.fk_loss == 'squared' else 1
        fk_term = (tip_error / self.step_m).pow(power).mean()
        if turn_error is not None:
            fk_term = fk_term + self.weights.orientation_loss_weight * (
                turn_error / self.step_rad).pow(power).mean()
        joint_term = (delta - label).pow(2).mean()
        over = torch.relu(nxt - self.upper) + torch.relu(self.lower - nxt)
        limit_term = (over * self.limited).pow(2).sum(-1).mean()
        motion_term = delta.pow(2).sum(-1).mean()
        comfort_term = (((nxt - self.middle) / self.half_range) * self.limited).pow(2).sum(
            -1).mean()
        w = self.weights
        loss = (w.fk_loss_weight * fk_term + w.joint_loss_weight * joint_term
                + w.limit_penalty_weight * limit_term + w.motion_penalty_weight * motion_term
                + w.comfort_weight * comfort_term)
        metrics = {'loss': float(loss.detach()), 'joint_mse': float(joint_term.detach()),
                   'tip_error_mean_m': float(tip_error.detach().mean())}
        if turn_error is not None:
            metrics['orientation_error_mean_rad'] = float(turn_error.detach().mean())
        return loss, metrics


def _optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    o = config.optim
    if o.optimizer == 'sgd':
        return torch.optim.SGD(model.parameters(), lr=o.learning_rate, momentum=o.momentum)
    if o.optimizer == 'adamw':
        return torch.optim.AdamW(model.parameters(), lr=o.learning_rate)
    return torch.optim.Adam(model.parameters(), lr=o.learning_rate)


def _learning_rate(config: TrainConfig, total: int) -> Callable[[int], Optional[float]]:
    """Return the piecewise-constant rate for schedule 'steps' (None: use the scheduler)."""
    rates = config.optim.learning_rates

    def rate(i: int) -> Optional[float]:
        if config.optim.schedule != 'steps':
            return None
        return rates[min(len(rates) - 1, i * len(rates) // max(total, 1))]
    return rate


def resolve_device(name: str) -> torch.device:
    """Return the device for ``'auto'`` (CUDA when present, else CPU), ``'cpu'`` or ``'cuda'``."""
    if name == 'auto':
        name = 'cuda' if torch.cuda.is_available() else 'cpu'
    if name == 'cuda' and not torch.cuda.is_available():
        raise ValueError('--device cuda: torch sees no CUDA device (this torch build or '
                         'machine has none); use --device cpu or auto')
    if name not in ('cpu', 'cuda'):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {name!r}")
    if name == 'cuda':
        # cuBLAS is deterministic only with a fixed workspace.
        os.environ.setdefault('CUBLAS_WORKSPACE_CONFIG', ':4096:8')
    return torch.device(name)


def train(chain: KinematicChain, config: TrainConfig, init_state: Optional[dict] = None,
          show_progress: Optional[bool] = None,
          log: Callable[[str], None] = print, device: str = 'cpu',
          state_path: Optional[Path] = None, checkpoint_every: int = 1000,
          resume: bool = False) -> TrainResult:
    """
    Train the configured network on ``chain`` and return it with its history.

    With ``state_path``, the whole training state (weights, optimiser, schedule, the batch
    sampler's generator, the history) is written there every ``checkpoint_every`` steps
    (epochs) and when the main training ends; ``resume`` continues from it. The samples are
    drawn again from the seed, so a resumed run is the run that was interrupted, to the bit.
    """
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    torch.use_deterministic_algorithms(True)
    target_device = resolve_device(device)
    rng = np.random.default_rng(config.seed)
    started = time.perf_counter()

    m = config.model
    saved = None
    if resume:
        if state_path is None or not Path(state_path).is_file():
            raise ValueError(f"no training state to resume at '{state_path}'")
        saved = load_training_state(Path(state_path), config)
    samples = make_samples(chain, config.data, rng, m.target_mode)
    data = _Tensors(samples, config.data.validation_share, rng)
    data.to(target_device)
    model = model_of(chain, config)
    if init_state is not None:
        model.load_state_dict(init_state)
    model.to(target_device)
    loss_fn = _Loss(chain, config).to(target_device)
    optimizer = _optimizer(model, config)
    generator = torch.Generator().manual_seed(config.seed)
    n_train = data.train[0].shape[0]
    o = config.optim

    by_epoch = o.epochs > 0
    batches_per_epoch = max(1, math.ceil(n_train / o.batch_size))
    total_steps = o.epochs * batches_per_epoch if by_epoch else o.steps
    scheduler = None
    if o.schedule == 'onecycle':
        scheduler = _one_cycle(optimizer, o.learning_rate, total_steps)
    rate_at = _learning_rate(config, o.epochs if by_epoch else total_steps)

    history: list = []
    running: list = []
    first_unit = 0
    if saved is not None:
        model.load_state_dict(saved['model'])
        optimizer.load_state_dict(saved['optimizer'])
        if scheduler is not None:
            scheduler.load_state_dict(saved['scheduler'])
        generator.set_state(saved['generator'])
        history.extend(json.loads(saved['history_json']))
        running.extend(json.loads(saved['running_json']))
        first_unit = int(saved['units_done'])
        log(f'{config.name}: resuming after {first_unit} of the '
            f"{'epochs' if o.epochs > 0 else 'steps'} from '{state_path}'")

    def checkpoint(units_done: int) -> None:
        if state_path is not None:
            save_training_state(Path(state_path), config, {
                'model': model.state_dict(), 'optimizer': optimizer.state_dict(),
                'scheduler': scheduler.state_dict() if scheduler is not None else {},
                'generator': generator.get_state(), 'units_done': units_done,
                'history_json': json.dumps(history), 'running_json': json.dumps(running)})

    def record(step: int, epoch: Optional[int], running: list = running) -> dict:
        model.eval()
        with torch.no_grad():
            _, val = loss_fn(model, data.validation)
        model.train()
        entry = {'step': step, 'epoch': epoch, 'learning_rate': optimizer.param_groups[0]['lr'],
                 'train_loss': float(np.mean([r['loss'] for r in running]))
                 if running else None,
                 'train_joint_mse': float(np.mean([r['joint_mse'] for r in running]))
                 if running else None,
                 'validation_loss': val['loss'], 'validation_joint_mse': val['joint_mse'],
                 'validation_tip_error_mean_m': val['tip_error_mean_m']}
        if 'orientation_error_mean_rad' in val:
            entry['validation_orientation_error_mean_rad'] = val['orientation_error_mean_rad']
        running.clear()
        history.append(entry)
        return entry

    units = o.epochs if by_epoch else total_steps
    if saved is None:
        record(0, 0 if by_epoch else None)
    progress = tqdm(total=units, initial=first_unit, unit='epoch' if by_epoch else 'step',
                    disable=None if show_progress is None else not show_progress,
                    mininterval=1.0, dynamic_ncols=True, desc=f'train {config.name}')
    model.train()
    step = first_unit * (batches_per_epoch if by_epoch else 1)
    loop_started = time.perf_counter()
    for unit in range(first_unit, units):
        if by_epoch:
            order = torch.randperm(n_train, generator=generator)
            index_batches = torch.split(order, o.batch_size)
        else:
            index_batches = (torch.randint(n_train, (o.batch_size,), generator=generator),)
        lr = rate_at(unit)
        if lr is not None:
            for group in optimizer.param_groups:
                group['lr'] = lr
        for index in index_batches:
            batch = tuple(t[index] for t in data.train)
            loss, metrics = loss_fn(model, batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if o.gradient_clip > 0.0:
                nn.utils.clip_grad_norm_(model.parameters(), o.gradient_clip)
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            running.append(metrics)
            step += 1
        done = unit + 1
        progress.update(1)
        if done % config.log_every == 0 or done == units:
            entry = record(step, done if by_epoch else None)
            progress.set_postfix(loss=f"{entry['train_loss']:.3g}",
                                 val_tip_mm=f"{1e3 * entry['validation_tip_error_mean_m']:.3f}")
            if progress.disable:
                left = _time_left(time.perf_counter() - loop_started, done - first_unit,
                                  units - done)
                turn = entry.get('validation_orientation_error_mean_rad')
                log(f"{config.name}: {'epoch' if by_epoch else 'step'} {done}/{units} "
                    f"loss {entry['train_loss']:.4g} validation tip error "
                    f"{1e3 * entry['validation_tip_error_mean_m']:.4f} mm"
                    + ('' if turn is None else f', orientation {math.degrees(turn):.4f} deg')
                    + f'; {left} left')
        if checkpoint_every > 0 and (done % checkpoint_every == 0 or done == units):
            checkpoint(done)
    progress.close()
    rounds = _closed_loop_rounds(model, chain, config, data, loss_fn, generator, rng, record,
                                 step, show_progress, log)
    model.eval()
    model.cpu()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return TrainResult(model=model, history=history, seconds=time.perf_counter() - started,
                       peak_memory_mb=peak_mb, train_rows=int(data.train[0].shape[0]),
                       validation_rows=int(data.validation[0].shape[0]),
                       closed_loop_rounds=rounds)


def _closed_loop_rounds(model: nn.Module, chain: KinematicChain, config: TrainConfig,
                        data: _Tensors, loss_fn: _Loss, generator: torch.Generator,
                        rng: np.random.Generator, record: Callable, step: int,
                        show_progress: Optional[bool], log: Callable[[str], None]) -> list:
    """Run the configured DAgger rounds (see :mod:`iknn_ros.training.closed_loop`)."""
    d, o = config.data, config.optim
    # The rollout commands, and its labels respect, the limits the solver enforces.
    solver_chain = chain.with_limit_margin(config.robot.limit_margin_rad)
    settings = RolloutSettings(
        arms=d.closed_loop_arms, targets_per_arm=d.closed_loop_targets,
        ticks_per_target=d.closed_loop_ticks, step_m=d.step_m,
        tolerance_m=config.evaluation.tolerance_fraction_of_reach * chain.reach,
        step_rad=d.step_rad if config.model.target_mode == 'pose' else None,
        tolerance_rad=NETWORK_ONLY_TOLERANCE_RAD)
    rounds = []
    for round_index in range(1, d.closed_loop_rounds + 1):
        extra, reached_share, visited = closed_loop_samples(
            model, solver_chain, settings, d.comfort_gain, d.closed_loop_samples, rng,
            d.active_set_labels)
        data.add_training_rows(extra)
        rounds.append({'round': round_index, 'reached_share_before': reached_share,
                       'states_visited': visited, 'rows_added': len(extra)})
        log(f'{config.name}: closed-loop round {round_index}: the network reached '
            f'{100 * reached_share:.1f} % of {settings.arms * settings.targets_per_arm} '
            f'targets; {len(extra)} of {visited} visited states added')
        optimizer = _optimizer(model, config)
        scheduler = _one_cycle(optimizer, o.learning_rate * o.closed_loop_learning_rate_share,
                               o.closed_loop_steps)
        n_train = data.train[0].shape[0]
        running = []
        progress = tqdm(total=o.closed_loop_steps, unit='step', mininterval=1.0,
                        disable=None if show_progress is None else not show_progress,
                        dynamic_ncols=True, desc=f'closed-loop round {round_index}')
        for done in range(1, o.closed_loop_steps + 1):
            index = torch.randint(n_train, (o.batch_size,), generator=generator)
            loss, metrics = loss_fn(model, tuple(t[index] for t in data.train))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if o.gradient_clip > 0.0:
                nn.utils.clip_grad_norm_(model.parameters(), o.gradient_clip)
            optimizer.step()
            scheduler.step()
            running.append(metrics)
            step += 1
            if done % config.log_every == 0 or done == o.closed_loop_steps:
                entry = record(step, None, running)
                entry['closed_loop_round'] = round_index
                if progress.disable:
                    log(f'{config.name}: round {round_index} step {done}/'
                        f"{o.closed_loop_steps} loss {entry['train_loss']:.4g} validation "
                        f"tip error {1e3 * entry['validation_tip_error_mean_m']:.4f} mm")
            progress.update(1)
        progress.close()
    return rounds


def _one_cycle(optimizer: torch.optim.Optimizer, max_lr: float,
               total_steps: int) -> torch.optim.lr_scheduler.OneCycleLR:
    """Return the one-cycle schedule: 5 % warm-up, then cosine annealing."""
    # OneCycleLR divides by pct_start * total_steps - 1, which is 0 at exactly 20 steps.
    warm_up = 0.05 if total_steps != 20 else 0.1
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr,
                                               total_steps=total_steps, pct_start=warm_up)


def _time_left(elapsed: float, units_run: int, units_left: int) -> str:
    """Return the time the rest of the run takes at the rate so far, as tqdm shows it."""
    return tqdm.format_interval(units_left * elapsed / max(units_run, 1))


TRAINING_STATE_FORMAT = 'iknn_ros.training_state'


def save_training_state(path: Path, config: TrainConfig, state: dict) -> None:
    """Write a resumable training state atomically (tensors, numbers and strings only)."""
    content = {'format': TRAINING_STATE_FORMAT, 'version': 1,
               'config_json': json.dumps(config.to_dict(), sort_keys=True), **state}
    temporary = path.with_name(f'.{path.name}.tmp')
    torch.save(content, temporary)
    os.replace(temporary, path)


def _load_weights_only(path: Path, file_format: str, what: str) -> dict:
    """Read a file of ours with torch's weights-only loader; raise ValueError for any other."""
    try:
        content = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as err:  # noqa: B902 - the weights-only unpickler raises many types
        raise ValueError(f"'{path}' is not a safe iknn_ros {what}: {err}") from err
    if not isinstance(content, dict) or content.get('format') != file_format:
        raise ValueError(f"'{path}' is not an iknn_ros {what}")
    return content


def load_training_state(path: Path, config: TrainConfig) -> dict:
    """Read a training state written for ``config``; raise ValueError for any other."""
    content = _load_weights_only(path, TRAINING_STATE_FORMAT, 'training state')
    if content['config_json'] != json.dumps(config.to_dict(), sort_keys=True):
        raise ValueError(f"'{path}' was written by a run with another configuration; resume "
                         'with the same configuration, or start afresh without --resume')
    return content


def save_checkpoint(path: Path, model: nn.Module, config: TrainConfig) -> None:
    """Write the weights and the configuration (tensors and strings only, no pickles)."""
    torch.save({'format': CHECKPOINT_FORMAT, 'version': 1,
                'config_json': json.dumps(config.to_dict(), sort_keys=True),
                'state_dict': model.state_dict()}, path)


def load_checkpoint(path: Path) -> tuple:
    """Read a checkpoint with torch's weights-only loader; return (state_dict, config)."""
    content = _load_weights_only(path, CHECKPOINT_FORMAT, 'checkpoint')
    return content['state_dict'], json.loads(content['config_json'])
