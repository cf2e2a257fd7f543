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
Training configuration: typed dataclasses, loaded from YAML presets with strict checking.

A preset is a YAML file under ``config/training/``; every key must be known and every value
valid, or loading fails before any training starts. The resolved configuration is saved
beside the model so that the model can be rebuilt from it exactly.
"""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
import typing
from typing import Any, Optional, Union

from iknn_ros.resources import share_path
import yaml

PRESET_DIRECTORY = Path('config') / 'training'


class ConfigError(ValueError):
    """An invalid training configuration, found before any work starts."""


@dataclasses.dataclass
class RobotConfig:
    """Which chain to learn: a URDF and the links between which the chain runs."""

    urdf: str = 'urdf/two_link_arm.urdf'
    base_link: Optional[str] = None
    tip_link: Optional[str] = None
    # Joints keep this far from their limits in commands; training covers the full range.
    limit_margin_rad: float = 0.05


@dataclasses.dataclass
class DataConfig:
    """How training samples are drawn."""

    # 'continuous': current angles and task-space steps sampled continuously (ours); exact
    # closed-form labels for a planar 2R chain, exact least-motion ones (Gauss-Newton)
    # otherwise.
    # 'seed1_grid': seed 1's grid of next angles with small perturbations.
    sampler: str = 'continuous'
    samples: int = 4_000_000
    # Largest Cartesian step (m) toward the target the network is trained for.
    step_m: float = 0.05
    # Pose models: the largest turn (rad) of a step; step_m / step_rad is the metres a
    # radian weighs in the network's residual.
    step_rad: float = 0.1
    # Share of steps drawn log-uniformly down to min_step_fraction * step_m, so that the
    # last millimetres of an approach are learned as well as the first centimetres.
    small_step_share: float = 0.5
    min_step_fraction: float = 1e-4
    # Chains without a closed form: each label's null-space drift toward mid-range, in rad
    # per full step (the exact least-motion solution for 0).
    comfort_gain: float = 0.0
    # Label problems against a joint limit that clipping cannot solve with an active set
    # (the joint stays at its limit, the others take up the rest); False: leave them out.
    active_set_labels: bool = True
    # Rounds of DAgger after the main training (0: none): the network runs in closed loop
    # (``closed_loop_arms`` arms, each chained through ``closed_loop_targets`` random
    # reachable targets for at most ``closed_loop_ticks`` ticks each, within the limits
    # less the margin), ``closed_loop_samples`` of the states it visits get exact labels and
    # join the training set, and training goes on for ``optim.closed_loop_steps`` steps.
    closed_loop_rounds: int = 0
    closed_loop_arms: int = 4000
    closed_loop_targets: int = 8
    closed_loop_ticks: int = 400
    closed_loop_samples: int = 1_000_000
    # seed1_grid only: the grid of next angles and the perturbation of current angles.
    grid_step_rad: float = 0.4
    grid_max_rad: float = 6.0
    perturbations: int = 20
    perturbation_rad: float = 0.1
    validation_share: float = 0.2


@dataclasses.dataclass
class ModelConfig:
    """The network."""

    # 'incremental': sin/cos joints, tip and normalised step in; joint increment out (ours).
    # 'seed1': seed 1's 4-128-64-32-16-8-2 sigmoid MLP on raw [x, y, q1, q2] -> angles.
    architecture: str = 'incremental'
    # What a target holds: 'position' or 'pose' (position and orientation; spatial chains
    # of six joints or more). The node's target_mode must match.
    target_mode: str = 'position'
    hidden: list = dataclasses.field(default_factory=lambda: [64, 64, 64])
    activation: str = 'tanh'
    # 'incremental' only, planar chains of 3+ joints: the direction of the arm's bend as
    # an input (see IncrementalIKNet).
    bend_direction: bool = False


@dataclasses.dataclass
class OptimConfig:
    """The optimiser, schedule and loss."""

    optimizer: str = 'adam'
    learning_rate: float = 3e-3
    # 'onecycle' (default) or 'steps': the rates of learning_rates, each for an equal
    # share of the run (seed 1's 0.01 -> 0.001 -> 0.0001).
    schedule: str = 'onecycle'
    learning_rates: list = dataclasses.field(default_factory=list)
    steps: int = 60_000
    epochs: int = 0
    batch_size: int = 4096
    momentum: float = 0.0
    # Largest gradient norm of a step (0: no clipping): one bad batch cannot throw the
    # network far from where it was.
    gradient_clip: float = 0.0
    # Loss: task-space tip error after the step (the FK loss, in units of step_m), plus
    # joint-space error to the elbow-consistent closed-form label, plus a limit penalty.
    fk_loss_weight: float = 1.0
    # The FK loss's form: 'squared' (the mean of the squared errors, each over its trained
    # step) or 'norm' (the mean of the errors themselves: the held-out measure's form, which
    # weighs the many small errors more and the few large ones less).
    fk_loss: str = 'squared'
    # Pose models: the weight of the turn's term in the FK loss against the position's (each
    # over its trained step). Below 1 it trades orientation accuracy for position accuracy.
    orientation_loss_weight: float = 1.0
    joint_loss_weight: float = 0.1
    limit_penalty_weight: float = 1.0
    # Mean squared joint increment (rad^2): with the FK loss, selects the least joint motion
    # among a redundant chain's solutions (0 for chains with exact labels).
    motion_penalty_weight: float = 0.0
    # Mean squared distance of limited joints from mid-range, in half-ranges: among equally
    # short steps of a redundant chain, prefer those that move away from the limits.
    comfort_weight: float = 0.0
    # Each DAgger round: steps of a fresh one-cycle schedule peaking at this share of
    # learning_rate (the network is already trained; a full rate would undo it).
    closed_loop_steps: int = 20_000
    closed_loop_learning_rate_share: float = 0.3


@dataclasses.dataclass
class EvalConfig:
    """The held-out evaluation run after training (fresh seed, continuous sampling)."""

    seed: int = 20261123
    holdout_samples: int = 200_000
    chained_targets: int = 1000
    tolerance_fraction_of_reach: float = 1e-3
    tick_budget: int = 400


@dataclasses.dataclass
class TrainConfig:
    """A complete, reproducible training run."""

    name: str = 'default'
    seed: int = 7
    threads: int = 2
    log_every: int = 500
    robot: RobotConfig = dataclasses.field(default_factory=RobotConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    evaluation: EvalConfig = dataclasses.field(default_factory=EvalConfig)

    def to_dict(self) -> dict:
        """Return the configuration as plain data (for YAML, JSON and the model card)."""
        return dataclasses.asdict(self)

    def validate(self) -> 'TrainConfig':
        """Raise ConfigError for any value that cannot work; return self."""
        d, m, o, e = self.data, self.model, self.optim, self.evaluation
        _check(bool(self.name) and self.name.replace('_', '').replace('-', '').isalnum(),
               f"name must be letters, digits, '-' or '_', got {self.name!r}")
        _check(self.threads >= 1, f'threads must be >= 1, got {self.threads}')
        _check(self.robot.limit_margin_rad >= 0.0 and math.isfinite(self.robot.limit_margin_rad),
               'robot.limit_margin_rad must be finite and >= 0')
        _check(d.sampler in ('continuous', 'seed1_grid'),
               f"data.sampler must be 'continuous' or 'seed1_grid', got {d.sampler!r}")
        _check(d.samples >= 1000, f'data.samples must be >= 1000, got {d.samples}')
        _check(0.0 < d.step_m and math.isfinite(d.step_m), 'data.step_m must be > 0')
        _check(0.0 <= d.small_step_share <= 1.0, 'data.small_step_share must be in [0, 1]')
        _check(0.0 < d.min_step_fraction < 1.0, 'data.min_step_fraction must be in (0, 1)')
        _check(0.0 <= d.comfort_gain <= 10.0, 'data.comfort_gain must be in [0, 10]')
        _check(d.closed_loop_rounds >= 0 and min(
            d.closed_loop_arms, d.closed_loop_targets, d.closed_loop_ticks,
            d.closed_loop_samples, o.closed_loop_steps) >= 1,
            'closed-loop rounds must be >= 0 and their sizes >= 1')
        _check(d.closed_loop_rounds == 0 or (d.sampler == 'continuous' and
                                             m.architecture == 'incremental'),
               'closed-loop rounds need the continuous sampler and the incremental network')
        _check(0.0 < o.closed_loop_learning_rate_share <= 1.0,
               'optim.closed_loop_learning_rate_share must be in (0, 1]')
        _check(d.grid_step_rad > 0.0 and d.grid_max_rad > 0.0, 'grid must be positive')
        _check(d.perturbations >= 1 and d.perturbation_rad >= 0.0, 'invalid perturbations')
        _check(0.0 < d.validation_share < 1.0, 'data.validation_share must be in (0, 1)')
        _check(m.architecture in ('incremental', 'seed1'),
               f"model.architecture must be 'incremental' or 'seed1', got {m.architecture!r}")
        _check(not m.bend_direction or m.architecture == 'incremental',
               'model.bend_direction needs the incremental network')
        _check(m.target_mode in ('position', 'pose'),
               f"model.target_mode must be 'position' or 'pose', got {m.target_mode!r}")
        _check(m.target_mode == 'position' or (m.architecture == 'incremental' and
                                               d.sampler == 'continuous'
                                               and not m.bend_direction),
               'pose models need the incremental network and the continuous sampler')
        _check(o.gradient_clip >= 0.0 and math.isfinite(o.gradient_clip),
               'optim.gradient_clip must be finite and >= 0')
        _check(0.0 < d.step_rad <= 1.0 and math.isfinite(d.step_rad),
               'data.step_rad must be in (0, 1]')
        _check(bool(m.hidden) and all(isinstance(w, int) and w > 0 for w in m.hidden),
               f'model.hidden must be a list of positive widths, got {m.hidden!r}')
        _check(m.activation in ('silu', 'tanh', 'relu', 'sigmoid'),
               f'model.activation must be silu, tanh, relu or sigmoid, got {m.activation!r}')
        _check(o.fk_loss in ('squared', 'norm'),
               f"optim.fk_loss must be 'squared' or 'norm', got {o.fk_loss!r}")
        _check(o.optimizer in ('adam', 'adamw', 'sgd'),
               f'optim.optimizer must be adam, adamw or sgd, got {o.optimizer!r}')
        _check(o.schedule in ('onecycle', 'steps'),
               f"optim.schedule must be 'onecycle' or 'steps', got {o.schedule!r}")
        _check(o.schedule != 'steps' or (bool(o.learning_rates)
                                         and all(r > 0 for r in o.learning_rates)),
               "optim.schedule 'steps' needs positive optim.learning_rates")
        _check(o.learning_rate > 0.0, 'optim.learning_rate must be > 0')
        _check((o.steps > 0) != (o.epochs > 0), 'give exactly one of optim.steps and '
               'optim.epochs (> 0)')
        _check(o.batch_size >= 1, 'optim.batch_size must be >= 1')
        _check(min(o.fk_loss_weight, o.joint_loss_weight, o.limit_penalty_weight,
                   o.motion_penalty_weight, o.comfort_weight,
                   o.orientation_loss_weight) >= 0.0
               and o.fk_loss_weight + o.joint_loss_weight > 0.0,
               'loss weights must be >= 0 with a positive FK or joint weight')
        _check(e.holdout_samples >= 100 and e.chained_targets >= 1 and e.tick_budget >= 1,
               'evaluation sizes must be positive')
        _check(0.0 < e.tolerance_fraction_of_reach < 1.0,
               'evaluation.tolerance_fraction_of_reach must be in (0, 1)')
        _check(e.seed != self.seed, 'evaluation.seed must differ from the training seed so '
               'the held-out set is independent')
        return self

    def quick(self) -> 'TrainConfig':
        """Return a seconds-long version of this run for tests (same design, less of it)."""
        quick = dataclasses.replace(
            self, log_every=50,
            data=dataclasses.replace(
                self.data, samples=min(self.data.samples, 200_000),
                closed_loop_arms=min(self.data.closed_loop_arms, 200),
                closed_loop_targets=min(self.data.closed_loop_targets, 2),
                closed_loop_ticks=min(self.data.closed_loop_ticks, 100),
                closed_loop_samples=min(self.data.closed_loop_samples, 20_000)),
            optim=dataclasses.replace(
                self.optim, closed_loop_steps=min(self.optim.closed_loop_steps, 200),
                steps=min(self.optim.steps, 600) if self.optim.steps else 0,
                epochs=min(self.optim.epochs, 8) if self.optim.epochs else 0),
            evaluation=dataclasses.replace(self.evaluation, holdout_samples=5000,
                                           chained_targets=40))
        return quick.validate()


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def _build(cls: type, values: Any, where: str) -> Any:
    """Build dataclass ``cls`` from a mapping, refusing unknown keys and wrong types."""
    if not isinstance(values, dict):
        raise ConfigError(f'{where or "config"} must be a mapping, got {type(values).__name__}')
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(f'unknown key(s) {[f"{where}{k}" for k in unknown]}; known: '
                          f'{sorted(where + k for k in fields)}')
    kwargs = {}
    for key, value in values.items():
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            kwargs[key] = _build(hint, value, f'{where}{key}.')
        else:
            kwargs[key] = _coerce(hint, value, f'{where}{key}')
    return cls(**kwargs)


def _coerce(hint: Any, value: Any, key: str) -> Any:
    optional = typing.get_origin(hint) is Union and type(None) in typing.get_args(hint)
    if value is None:
        if optional:
            return None
        raise ConfigError(f'{key} must not be empty')
    base = [a for a in typing.get_args(hint) if a is not type(None)][0] if optional else hint
    if base is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if base is float and isinstance(value, str):
        # YAML 1.1 reads 1e-4 (no dot) as a string; the intent is plain.
        try:
            return float(value)
        except ValueError:
            pass
    if base is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if base is str and isinstance(value, str):
        return value
    if base is bool and isinstance(value, bool):
        return value
    if base is list and isinstance(value, list):
        return value
    raise ConfigError(f'{key} must be {getattr(base, "__name__", base)}, got {value!r}')


def config_from_dict(values: dict) -> TrainConfig:
    """
    Return the configuration of plain data (a saved ``config.yaml``, a checkpoint's record).

    Keys added since it was written take their defaults, which keep earlier runs as they
    were trained.
    """
    return _build(TrainConfig, values, '').validate()


def preset_path(name: str) -> Path:
    """Return the YAML file of a named preset."""
    return share_path(PRESET_DIRECTORY / f'{name}.yaml')


def load_config(source: Union[str, os.PathLike], overrides: Optional[list] = None) -> TrainConfig:
    """
    Load a preset name (``default``, ``seed1``) or a YAML path, apply ``key=value`` overrides.

    Overrides use dotted keys and YAML values, e.g. ``optim.steps=2000``.
    """
    path = Path(source)
    if not path.suffix:
        path = preset_path(str(source))
        if not path.is_file():
            known = sorted(p.stem for p in path.parent.glob('*.yaml'))
            raise ConfigError(f'unknown preset {str(source)!r}; presets: {known}')
    if not path.is_file():
        raise ConfigError(f"config file '{path}' does not exist")
    try:
        values = yaml.safe_load(path.read_text(encoding='utf-8')) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"config file '{path}' is not valid YAML: {err}") from err
    for override in overrides or []:
        key, sep, raw = override.partition('=')
        if not sep or not key:
            raise ConfigError(f'override {override!r} is not key=value')
        target = values
        parts = key.split('.')
        for part in parts[:-1]:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise ConfigError(f'override {override!r}: {part!r} is not a section')
        target[parts[-1]] = yaml.safe_load(raw)
    return _build(TrainConfig, values, '').validate()
