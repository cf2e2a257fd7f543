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
Measure a model through the solver the node runs, on problems it was not trained on.

Two modes::

    python -m iknn_ros.evaluation.evaluate [--model M] [--out DIR]          # held-out report
    python -m iknn_ros.evaluation.evaluate --targets T.csv [--start q1,q2] [--no-refine] --json

The held-out report draws an independent set (its own seed, continuous sampling) and gives
the single-step tip error of the network, then runs chained targets in closed loop with the
network alone and with refinement; with ``--out`` it writes ``metrics.json`` and plots.
The scenario mode runs a user's chained targets (a CSV with header ``x,y`` or ``x,y,z``),
each starting where the previous one ended, and prints per-target and summary results.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import math
import os
from pathlib import Path
import platform
import sys
import time
from typing import Optional, Sequence

from iknn_ros.ik.model_card import model_for
from iknn_ros.ik.model_card import ModelMismatchError
from iknn_ros.ik.solver import IKSolver
from iknn_ros.ik.solver import ModelLoadError
from iknn_ros.ik.solver import OnnxIKNetwork
from iknn_ros.ik.solver import SolverConfig
from iknn_ros.ik.solver import Status
from iknn_ros.ik.solver import Tracker
from iknn_ros.kinematics import AnnulusWorkspace
from iknn_ros.kinematics import KinematicChain
from iknn_ros.kinematics import UrdfError
from iknn_ros.kinematics.chain_kernels import pose_residuals
from iknn_ros.kinematics.sampling import has_closed_form
from iknn_ros.kinematics.sampling import pose_step_samples
from iknn_ros.kinematics.sampling import reachable_targets
from iknn_ros.kinematics.sampling import step_samples
from iknn_ros.kinematics.sampling import step_sizes
from iknn_ros.kinematics.targets import check_mode
from iknn_ros.kinematics.targets import format_target
from iknn_ros.kinematics.targets import target_length
from iknn_ros.kinematics.targets import TargetMode
from iknn_ros.resources import default_urdf_path
from iknn_ros.resources import is_no_model
import numpy as np

DEFAULT_START = (0.0, 1.0)
# "Exact" for the refined solver: this share of the reach (and as many radians).
EXACT_FRACTION_OF_REACH = 1e-9
# A pose reached by the network alone: within half a degree (and 0.1 % of the reach).
NETWORK_ONLY_TOLERANCE_RAD = math.radians(0.5)
# An elbow joint further than this from zero has a decided branch.
BRANCH_DECIDED_RAD = 0.05
# Slack for rounding when checking commands against limits.
_CHECK_SLACK = 1e-9


def stats(values: Sequence[float]) -> dict:
    """Return mean, median, p95, p99 and max of finite values (and how many were not)."""
    a = np.asarray(values, dtype=np.float64)
    finite = a[np.isfinite(a)]
    if finite.size == 0:
        return {'mean': None, 'median': None, 'p95': None, 'p99': None, 'max': None,
                'count': int(a.size), 'non_finite': int(a.size)}
    return {'mean': float(finite.mean()), 'median': float(np.median(finite)),
            'p95': float(np.percentile(finite, 95)), 'p99': float(np.percentile(finite, 99)),
            'max': float(finite.max()), 'count': int(a.size),
            'non_finite': int(a.size - finite.size)}


def machine() -> dict:
    """Return a short description of the machine the numbers were measured on."""
    return {'platform': platform.platform(), 'processor': platform.processor() or
            platform.machine(), 'cpus': os.cpu_count(), 'python': platform.python_version()}


# --------------------------------------------------------------------------------------
# Single step
# --------------------------------------------------------------------------------------

def single_step(network: OnnxIKNetwork, chain: KinematicChain, rng: np.random.Generator,
                count: int) -> tuple:
    """
    Return the one-step report and the per-sample data behind it.

    Problems: current angles uniform within limits, targets uniform in the disk of the
    trained step around the tip (reachable on the current elbow), the network called once.
    A redundant chain's sampler puts about 2 % of targets beyond the trained step; they
    are drawn (so the chained targets drawn next stay the same) and left out.
    """
    if network.card.target_mode == 'pose':
        return _pose_single_step(network, chain, rng, count)
    reach = chain.reach
    drawn = step_samples(chain, rng, count, network.card.step_m)
    drawn_step = np.linalg.norm(drawn.target - chain.fk(drawn.joints), axis=-1)
    within = np.flatnonzero(drawn_step <= network.card.step_m * (1.0 + 1e-9))
    samples, step = drawn.subset(within), drawn_step[within]
    delta = network.step_batch(samples.joints, samples.target, samples.branch)
    reached = chain.fk(samples.joints + delta)
    tip_error = np.linalg.norm(reached - samples.target, axis=-1)
    # Exact labels exist for the 2R chain only; a redundant chain's label is first-order.
    joint_error = np.max(np.abs(delta - samples.delta), axis=-1) if has_closed_form(chain) \
        else np.full(len(tip_error), np.nan)
    report = _step_report(tip_error, step, network.card.step_m, reach,
                          count - len(samples), joint_error_rad=stats(joint_error))
    return report, {'target': samples.target, 'tip_error': tip_error}


def _pose_single_step(network: OnnxIKNetwork, chain: KinematicChain,
                      rng: np.random.Generator, count: int) -> tuple:
    """
    Return :func:`single_step`'s report for a pose model: tip and orientation errors.

    Problems as training draws them (:func:`pose_step_samples`, the held-out seed): a
    position step within ``step_m`` and a turn within ``step_rad``; the few the sampler puts
    beyond either are left out. The orientation error is the angle left between the tool
    and the target after the network's one step.
    """
    card = network.card
    reach = chain.reach
    drawn = pose_step_samples(chain, rng, count, card.step_m, card.step_rad)
    distance, turn = step_sizes(chain, drawn.joints, drawn.target)
    within = np.flatnonzero((distance <= card.step_m * (1.0 + 1e-9))
                            & (turn <= card.step_rad * (1.0 + 1e-9)))
    samples, step = drawn.subset(within), distance[within]
    delta = network.step_batch(samples.joints, samples.target, samples.branch)
    residual = pose_residuals(chain.tool_frames(samples.joints + delta), samples.target)
    tip_error = np.linalg.norm(residual[:, :3], axis=-1)
    angle_error = np.linalg.norm(residual[:, 3:], axis=-1)
    report = _step_report(tip_error, step, card.step_m, reach, len(drawn) - len(samples),
                          step_rad=card.step_rad, orientation_error_rad=stats(angle_error),
                          joint_error_rad=stats(np.full(len(tip_error), np.nan)))
    return report, {'target': samples.target[:, :3], 'tip_error': tip_error}


def _step_report(tip_error: np.ndarray, step: np.ndarray, step_m: float, reach: float,
                 left_out: int, **parts: object) -> dict:
    """Return the single-step report of the tip errors after steps of length ``step``."""
    tip_stats = stats(tip_error)
    bands = {'0-10%': (0.0, 0.1), '10-50%': (0.1, 0.5), '50-100%': (0.5, 1.0 + 1e-9)}
    return {
        'samples': len(tip_error),
        'samples_beyond_the_trained_step_left_out': left_out,
        'step_m': step_m,
        'tip_error_m': tip_stats,
        'tip_error_fraction_of_reach': {k: (v / reach if isinstance(v, float) else v)
                                        for k, v in tip_stats.items()},
        **parts,
        'tip_error_by_step_fraction': {
            band: stats(tip_error[(step >= lo * step_m) & (step < hi * step_m)])['mean']
            for band, (lo, hi) in bands.items()},
        'gap_closed_mean': float(np.mean(1.0 - tip_error / np.maximum(step, 1e-12))),
    }


# --------------------------------------------------------------------------------------
# Closed loop
# --------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class LoopSettings:
    """How a chained-target run ticks."""

    dt: float = 0.01
    # Cartesian speed (m/s); None: the trained step per tick.
    speed: Optional[float] = None
    tick_budget: int = 400
    tolerance_m: float = 1e-3
    # Pose targets: the orientation tolerance (rad).
    tolerance_rad: float = 1e-4


def run_chained(solver: IKSolver, targets: np.ndarray, start: Sequence[float],
                settings: LoopSettings, keep_path: bool = False) -> dict:
    """
    Run targets one after another in closed loop (perfect tracking) and report.

    Each target starts from where the previous one ended and gets ``tick_budget`` ticks.
    """
    chain = solver.chain
    hard_lo = np.where(chain.continuous, -np.inf, chain.lower) - _CHECK_SLACK
    hard_hi = np.where(chain.continuous, np.inf, chain.upper) + _CHECK_SLACK
    allowance = chain.velocity_limits * settings.dt + _CHECK_SLACK
    q = tuple(float(v) for v in start)
    tracker = Tracker(solver)
    elbows = chain.elbow_joints()
    decided = [None] * len(elbows)
    per_target = []
    totals = {'limit_violations': 0, 'velocity_violations': 0, 'nan_outputs': 0,
              'fallback_ticks': 0, 'reconfiguring_ticks': 0, 'position_limited_ticks': 0,
              'ticks': 0}
    path = [chain.fk(np.array(q))] if keep_path else []
    limited = ~chain.continuous
    closest_to_limit = math.inf
    for target in np.asarray(targets, dtype=np.float64):
        ticks = 0
        flips = 0
        detoured = False
        biggest_step = 0.0
        joint_path = 0.0
        result = None
        for ticks in range(1, settings.tick_budget + 1):
            result = tracker.tick(q, target, settings.dt)
            if result.command is None:
                break
            command = np.asarray(result.command)
            if not np.all(np.isfinite(command)):
                totals['nan_outputs'] += 1
                break
            totals['limit_violations'] += int(np.any((command < hard_lo)
                                                     | (command > hard_hi)))
            joint_step = np.abs(command - np.asarray(q))
            totals['velocity_violations'] += int(np.any(joint_step > allowance))
            biggest_step = max(biggest_step, float(joint_step.max()))
            joint_path += float(np.linalg.norm(joint_step))
            if limited.any():
                clearance = np.minimum(command - chain.lower, chain.upper - command)[limited]
                closest_to_limit = min(closest_to_limit, float(clearance.min()))
            totals['fallback_ticks'] += int(result.fallback)
            totals['reconfiguring_ticks'] += int(result.status == Status.RECONFIGURING)
            detoured |= result.detour
            totals['position_limited_ticks'] += int(result.position_limited)
            for k, j in enumerate(elbows):
                # A branch is decided away from the stretched arm (hysteresis).
                if abs(command[j]) > BRANCH_DECIDED_RAD:
                    sign = 1.0 if command[j] > 0.0 else -1.0
                    flips += int(decided[k] is not None and sign != decided[k])
                    decided[k] = sign
            q = tuple(result.command)
            if keep_path:
                path.append(chain.fk(command))
            if result.reached or result.status == Status.INVALID_TARGET:
                break
        totals['ticks'] += ticks
        # The solver's own verdict: within tolerance of the goal, for a valid target.
        reached = result is not None and result.command is not None and result.reached
        final = result.command if result is not None and result.command is not None else q
        per_target.append({
            'target': [float(v) for v in target],
            'final_tip': [float(v) for v in chain.fk(np.asarray(final))],
            'goal': [float(v) for v in result.goal] if result is not None else None,
            'reached': bool(reached),
            'final_error_m': _finite_or_none(result.goal_error_m) if result else None,
            'target_error_m': _finite_or_none(result.target_error_m) if result else None,
            # Orientation errors (rad) of pose targets; None for positions.
            'final_error_rad': _finite_or_none(result.goal_error_rad) if result else None,
            'target_error_rad': _finite_or_none(result.target_error_rad) if result else None,
            'unreachable': result.unreachable or None if result else None,
            'ticks': ticks,
            'status': result.status.name if result is not None else 'NONE',
            'max_joint_step_rad': biggest_step,
            # The length of the joint-space path to it (rad, Euclidean).
            'joint_path_rad': joint_path,
            'final_joints': [float(v) for v in final],
            'elbow_flips': flips,
            'detoured': bool(detoured),
        })
    errors = [t['final_error_m'] for t in per_target if t['final_error_m'] is not None]
    summary = {
        'n_targets': len(per_target),
        'n_reached': sum(t['reached'] for t in per_target),
        # Reached by ordinary ticks alone, without a joint-space detour out of a trap.
        'n_reached_without_detour': sum(t['reached'] and not t['detoured'] for t in per_target),
        'final_error_m': {'mean': float(np.mean(errors)) if errors else None,
                          'max': float(np.max(errors)) if errors else None},
        'max_joint_step_rad': max((t['max_joint_step_rad'] for t in per_target), default=0.0),
        'joint_path_rad_mean': float(np.mean([t['joint_path_rad'] for t in per_target]))
        if per_target else 0.0,
        # The closest any command came to a URDF position limit (rad; None: no limits).
        'closest_to_limit_rad': closest_to_limit if math.isfinite(closest_to_limit) else None,
        'velocity_limit_per_tick_rad': [float(v) for v in chain.velocity_limits *
                                        settings.dt],
        'elbow_flips': sum(t['elbow_flips'] for t in per_target),
        'elbow_joints': [chain.joint_names[j] for j in elbows],
        'ticks': {'total': totals.pop('ticks'),
                  'mean_per_target': float(np.mean([t['ticks'] for t in per_target]))
                  if per_target else 0.0,
                  'max_per_target': max((t['ticks'] for t in per_target), default=0)},
        **totals,
        'tolerance_m': settings.tolerance_m,
        'dt_s': settings.dt,
    }
    out = {'targets': per_target, 'summary': summary}
    if keep_path:
        out['path'] = np.array(path)
    return out


def _error_summary(run: dict, key: str) -> dict:
    errors = [t[key] for t in run['targets'] if t[key] is not None]
    return {'mean': float(np.mean(errors)) if errors else None,
            'max': float(np.max(errors)) if errors else None}


def pose_targets_of(chain: KinematicChain, joints: np.ndarray) -> np.ndarray:
    """Return the tool poses of joint vectors as pose targets (x, y, z, qx, qy, qz, qw)."""
    return np.array([format_target(chain, TargetMode.POSE, frame[:3, 3], frame[:3, :3])
                     for frame in chain.tool_frames(joints)])


def _finite_or_none(value: float) -> Optional[float]:
    return float(value) if value is not None and math.isfinite(value) else None


def out_of_reach_targets(chain: KinematicChain, rng: np.random.Generator,
                         count: int) -> np.ndarray:
    """
    Return targets 1.1 to 1.6 reaches from the shoulder, out of reach.

    Planar chains: any direction in the plane. Spatial chains: the upper hemisphere, the
    working space of seed 2's arm (a far target below the ground has no meaningful
    pointing direction for an arm kept above it).
    """
    distance = chain.reach * rng.uniform(1.1, 1.6, count)
    azimuth = rng.uniform(-math.pi, math.pi, count)
    if chain.target_dim == 2:
        direction = np.stack([np.cos(azimuth), np.sin(azimuth)], axis=-1)
    else:
        elevation = np.arcsin(rng.uniform(math.sin(math.radians(5.0)), 1.0, count))
        direction = np.stack([np.cos(elevation) * np.cos(azimuth),
                              np.cos(elevation) * np.sin(azimuth), np.sin(elevation)], axis=-1)
    return chain.shoulder() + direction * distance[:, None]


def direction_errors_deg(chain: KinematicChain, run: dict) -> np.ndarray:
    """Return, per target of a run, the angle at the shoulder between tip and target."""
    shoulder = chain.shoulder()
    out = []
    for row in run['targets']:
        a = np.asarray(row['final_tip']) - shoulder
        # A pose target's position: its first numbers.
        b = np.asarray(row['target'][:len(shoulder)]) - shoulder
        cosine = a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
        out.append(math.degrees(math.acos(min(1.0, max(-1.0, float(cosine))))))
    return np.array(out)


def make_solver(chain: KinematicChain, network: Optional[OnnxIKNetwork], refine: int,
                settings: LoopSettings, target_mode: str = 'position') -> IKSolver:
    """
    Return a solver whose step per tick is the trained step (or the given speed).

    Without refinement the numerical fallback is off too: "network only" means the
    network's answers alone (after the safety clamps) drive the arm.
    """
    step = network.card.step_m if network is not None else 0.05
    speed = settings.speed if settings.speed is not None else step / settings.dt
    return IKSolver(chain, network, SolverConfig(
        refine_iterations=refine, goal_tolerance_m=settings.tolerance_m,
        goal_tolerance_rad=settings.tolerance_rad, max_cartesian_speed=speed,
        use_network=network is not None, fallback=refine > 0, target_mode=target_mode))


# --------------------------------------------------------------------------------------
# The held-out report
# --------------------------------------------------------------------------------------

def default_start(chain: KinematicChain) -> tuple:
    """Return the start pose of evaluations: elbow bent 1 rad, then 0.5, within limits."""
    start = (list(DEFAULT_START) + [0.5] * chain.n_joints)[:chain.n_joints]
    safe = chain.with_limit_margin(SolverConfig().limit_margin_rad)
    return tuple(float(min(max(q, lo), hi)) for q, lo, hi in zip(start, safe.lower, safe.upper))


def heldout_report(model: Path, urdf: Path, base_link: Optional[str], tip_link: Optional[str],
                   seed: int, holdout_samples: int, chained_targets: int,
                   tolerance_fraction: float, tick_budget: int,
                   start: Optional[Sequence[float]] = None) -> tuple:
    """Return the held-out report of a model and the data its plots need."""
    chain = KinematicChain.from_urdf(urdf, base_link, tip_link)
    start = default_start(chain) if start is None else tuple(start)
    network = OnnxIKNetwork(model)
    network.card.check_chain(chain, f"model '{model}'")
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    step_report, step_data = single_step(network, chain, rng, holdout_samples)
    margin = SolverConfig().limit_margin_rad
    mode = network.card.target_mode
    pose = mode == 'pose'
    if pose:
        targets = pose_targets_of(chain, chain.with_limit_margin(margin).random_configurations(
            rng, chained_targets))
    else:
        targets = reachable_targets(chain.with_limit_margin(margin), rng, chained_targets)
    tolerance = tolerance_fraction * chain.reach
    loops = {}
    # The network alone is held to the 0.1 %-of-reach goal (and half a degree for
    # poses); refined, to 1e-9 in both.
    exact = EXACT_FRACTION_OF_REACH * chain.reach
    for name, refine, goal, goal_rad in (
            ('network_only', 0, tolerance, NETWORK_ONLY_TOLERANCE_RAD),
            ('refined', 1, exact, exact)):
        settings = LoopSettings(tolerance_m=goal, tick_budget=tick_budget,
                                tolerance_rad=goal_rad)
        run = run_chained(make_solver(chain, network, refine, settings, mode), targets, start,
                          settings, keep_path=False)
        loops[name] = run['summary']
        if pose:
            loops[name]['tolerance_rad'] = goal_rad
            loops[name]['final_error_rad'] = _error_summary(run, 'final_error_rad')
    far = out_of_reach_targets(chain, rng, max(10, chained_targets // 5))
    unreachable = {'targets': len(far),
                   'sampling': 'distance 1.1-1.6 reach from the shoulder'
                               + (', upper hemisphere' if chain.target_dim == 3 else '')
                               + (', orientation uniformly random' if pose else '')}
    if pose:
        turns = rng.normal(size=(len(far), 4))
        turns /= np.linalg.norm(turns, axis=-1, keepdims=True)
        far = np.concatenate([far, turns], axis=-1)
    for name, refine in (('network_only', 0), ('refined', 1)):
        settings = LoopSettings(tolerance_m=1e-6 * chain.reach, tick_budget=tick_budget,
                                tolerance_rad=1e-6)
        run = run_chained(make_solver(chain, network, refine, settings, mode), far, start,
                          settings)
        unreachable[name] = {
            'direction_error_deg': stats(direction_errors_deg(chain, run)),
            'ended_on_projection_within_1e-6_reach': run['summary']['n_reached'],
            'status_out_of_reach': sum(t['status'] == 'OUT_OF_REACH' for t in run['targets'])}
    report = {
        'model': str(model),
        'architecture': network.card.architecture,
        'target_mode': mode,
        'chain_fingerprint': chain.fingerprint(),
        'reach_m': chain.reach,
        'seed': seed,
        'single_step': step_report,
        'closed_loop': {
            'targets': chained_targets,
            'sampling': f'tip positions of joint angles uniform within the limits less '
                        f'the solver margin ({margin} rad), chained from q = {list(start)}',
            **loops,
        },
        'out_of_reach': unreachable,
        'evaluation_seconds': time.perf_counter() - started,
        'machine': machine(),
    }
    return report, step_data, chain


def write_plots(out: Path, chain: KinematicChain, step_data: dict,
                history: Optional[list]) -> list:
    """Write the error map and (when a training history exists) the loss curves."""
    import matplotlib
    matplotlib.use('Agg')
    from matplotlib import pyplot as plt
    from matplotlib.colors import LogNorm

    written = []
    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    target, error = step_data['target'], np.maximum(step_data['tip_error'], 1e-9)
    order = np.argsort(error)
    dots = ax.scatter(target[order, 0], target[order, 1], c=error[order] * 1e3, s=1.5,
                      norm=LogNorm(vmin=max(1e-4, float(error.min() * 1e3)),
                                   vmax=float(error.max() * 1e3)), cmap='viridis')
    fig.colorbar(dots, ax=ax, label='tip error after one network step (mm)')
    from iknn_ros.kinematics import workspace_of
    workspace = workspace_of(chain)
    if isinstance(workspace, AnnulusWorkspace):
        for radius in (workspace.r_min, workspace.r_max):
            ax.add_patch(plt.Circle(tuple(workspace.center), radius, fill=False, lw=0.8,
                                    color='k'))
    ax.set_aspect('equal')
    ax.set_xlabel('x (m)')
    ax.set_ylabel('y (m)')
    ax.set_title('Held-out single-step tip error over the workspace')
    fig.tight_layout()
    fig.savefig(out / 'error_map.png', dpi=120)
    plt.close(fig)
    written.append(out / 'error_map.png')

    if history:
        steps = [h['step'] for h in history if h.get('train_loss') is not None]
        fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
        left.semilogy(steps, [h['train_loss'] for h in history if h.get('train_loss')
                              is not None], label='training loss')
        left.semilogy([h['step'] for h in history], [h['validation_loss'] for h in history],
                      label='validation loss')
        left.set_xlabel('optimiser step')
        left.legend()
        right.semilogy([h['step'] for h in history],
                       [1e3 * h['validation_tip_error_mean_m'] for h in history])
        right.set_xlabel('optimiser step')
        right.set_ylabel('validation mean tip error (mm)')
        fig.tight_layout()
        fig.savefig(out / 'loss_curves.png', dpi=120)
        plt.close(fig)
        written.append(out / 'loss_curves.png')
    return written


# --------------------------------------------------------------------------------------
# User scenarios
# --------------------------------------------------------------------------------------

TARGET_HEADERS = {
    ('x', 'y'): TargetMode.POSITION, ('x', 'y', 'z'): TargetMode.POSITION,
    ('x', 'y', 'yaw'): TargetMode.PLANAR_POSE,
    ('x', 'y', 'z', 'qx', 'qy', 'qz', 'qw'): TargetMode.POSE,
    ('x', 'y', 'z', 'ax', 'ay', 'az'): TargetMode.TOOL_AXIS,
}


def read_targets(path: Path, chain: KinematicChain) -> tuple[np.ndarray, TargetMode]:
    """
    Read chained targets from a CSV; return them and the target mode the header says.

    Headers: x,y or x,y,z (positions), x,y,z,qx,qy,qz,qw (poses), x,y,z,ax,ay,az (a
    position and the tool's z axis), x,y,yaw (planar poses).
    Raise ValueError naming the file, the line and what was expected.
    """
    if not path.is_file():
        raise ValueError(f"targets file '{path}' does not exist")
    with path.open(newline='', encoding='utf-8') as stream:
        reader = csv.reader(stream)
        header = tuple(h.strip().lower() for h in next(reader, []))
        if header not in TARGET_HEADERS:
            raise ValueError(f"'{path}': the header must be 'x,y', 'x,y,z', 'x,y,yaw', "
                             f"'x,y,z,ax,ay,az' or 'x,y,z,qx,qy,qz,qw', got "
                             f"{','.join(header) or 'nothing'}")
        mode = TARGET_HEADERS[header]
        if mode is TargetMode.POSITION and chain.target_dim == 3 and len(header) != 3:
            raise ValueError(f"'{path}': this arm is spatial; give x,y,z targets")
        try:
            check_mode(chain, mode.value)
        except ValueError as err:
            raise ValueError(f"'{path}': {err}") from None
        length = target_length(chain, mode)
        rows = []
        for line, row in enumerate(reader, start=2):
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise ValueError(f"'{path}' line {line}: expected {len(header)} values, "
                                 f'got {len(row)}')
            try:
                values = [float(cell) for cell in row]
            except ValueError as err:
                raise ValueError(f"'{path}' line {line}: {err}") from err
            rows.append(values[:length])
    if not rows:
        raise ValueError(f"'{path}' has no targets")
    return np.array(rows), mode


def parse_start(text: str, n_joints: int) -> tuple:
    """Parse ``q1,q2,...`` into joint angles."""
    try:
        values = tuple(float(v) for v in text.split(','))
    except ValueError as err:
        raise ValueError(f'--start must be {n_joints} comma-separated numbers: {err}') from err
    if len(values) != n_joints or not all(math.isfinite(v) for v in values):
        raise ValueError(f'--start must be {n_joints} finite comma-separated numbers, got '
                         f'{text!r}')
    return values


def _print_scenario_table(run: dict) -> None:
    print(f"{'#':>4} {'target':>22} {'status':>14} {'reached':>8} {'error (m)':>11} "
          f"{'ticks':>6} {'max step':>9} {'flips':>6}")
    for i, t in enumerate(run['targets'], start=1):
        target = ', '.join(f'{v:+.3f}' for v in t['target'])
        error = '-' if t['final_error_m'] is None else f"{t['final_error_m']:.2e}"
        print(f"{i:>4} {target:>22} {t['status']:>14} {str(t['reached']):>8} {error:>11} "
              f"{t['ticks']:>6} {t['max_joint_step_rad']:>9.4f} {t['elbow_flips']:>6}")
    s = run['summary']
    print(f"reached {s['n_reached']}/{s['n_targets']}; limit violations "
          f"{s['limit_violations']}, velocity violations {s['velocity_violations']}, "
          f"NaN outputs {s['nan_outputs']}, elbow flips {s['elbow_flips']}")


# --------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    parser = argparse.ArgumentParser(
        prog='evaluate', description='Measure an iknn_ros model through the solver.',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--model', type=Path, default=None,
                        help='ONNX model (default: the shipped model trained for the URDF); '
                             "with --targets, 'none' runs damped least squares alone (pose "
                             'targets have no model yet)')
    parser.add_argument('--urdf', type=Path, default=None,
                        help='URDF (default: the shipped two-link arm)')
    parser.add_argument('--base-link', default=None)
    parser.add_argument('--tip-link', default=None)
    parser.add_argument('--targets', type=Path, default=None,
                        help='CSV of chained targets (header x,y | x,y,z | x,y,yaw | '
                             'x,y,z,qx,qy,qz,qw): scenario mode')
    parser.add_argument('--start', default=None,
                        help=f'start joint angles, comma-separated (default '
                             f'{",".join(map(str, DEFAULT_START))})')
    parser.add_argument('--no-refine', action='store_true',
                        help='network only: no refinement iterations')
    parser.add_argument('--refine', type=int, default=1, help='refinement iterations')
    parser.add_argument('--json', action='store_true', help='print JSON on stdout')
    parser.add_argument('--dt', type=float, default=0.01, help='tick duration (s)')
    parser.add_argument('--speed', type=float, default=None,
                        help='Cartesian speed (m/s); default: the trained step per tick')
    parser.add_argument('--budget', type=int, default=None,
                        help='tick budget per target (default 1000 for scenarios, 400 held-out)')
    parser.add_argument('--tolerance', type=float, default=None,
                        help='goal tolerance (m); default 1e-4 for scenarios, 1e-3 of reach '
                             'held-out')
    parser.add_argument('--out', type=Path, default=None,
                        help='held-out mode: write metrics.json and plots into this folder')
    parser.add_argument('--seed', type=int, default=20261123, help='held-out seed')
    parser.add_argument('--samples', type=int, default=200_000, help='single-step problems')
    parser.add_argument('--chained', type=int, default=1000, help='chained targets')
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the evaluation the arguments ask for."""
    args = build_parser().parse_args(argv)
    urdf = args.urdf or default_urdf_path()
    try:
        if args.targets is not None and args.model is not None and \
                is_no_model(str(args.model)):
            return _scenario(args, None, urdf)
        model = args.model or model_for(
            KinematicChain.from_urdf(urdf, args.base_link, args.tip_link))
        if args.targets is not None:
            return _scenario(args, model, urdf)
        report, step_data, chain = heldout_report(
            model, urdf, args.base_link, args.tip_link, args.seed, args.samples,
            args.chained, (args.tolerance / KinematicChain.from_urdf(
                urdf, args.base_link, args.tip_link).reach) if args.tolerance else 1e-3,
            args.budget or 400)
    except (ValueError, UrdfError, ModelLoadError, ModelMismatchError) as err:
        print(f'evaluate: error: {err}', file=sys.stderr)
        return 2
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        history_path = Path(model).with_name('training_history.json')
        history = json.loads(history_path.read_text()) if history_path.is_file() else None
        (args.out / 'metrics.json').write_text(json.dumps(report, indent=2) + '\n')
        write_plots(args.out, chain, step_data, history)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(format_report(report))
    return 0


def _scenario(args: argparse.Namespace, model: Optional[Path], urdf: Path) -> int:
    chain = KinematicChain.from_urdf(urdf, args.base_link, args.tip_link)
    targets, mode = read_targets(args.targets, chain)
    start = parse_start(args.start, chain.n_joints) if args.start else default_start(chain)
    network = None
    if model is not None:
        network = OnnxIKNetwork(model)
        network.card.check_chain(chain, f"model '{model}'")
    settings = LoopSettings(dt=args.dt, speed=args.speed if args.speed else 0.5,
                            tick_budget=args.budget or 1000,
                            tolerance_m=args.tolerance or SolverConfig().goal_tolerance_m)
    refine = 0 if args.no_refine else args.refine
    if network is None and refine == 0:
        raise ValueError('--no-refine needs a model: without one, refinement is the tick')
    run = run_chained(make_solver(chain, network, refine, settings, mode.value), targets,
                      start, settings)
    run['summary'].update({'model': 'none' if model is None else str(model),
                           'urdf': str(urdf), 'refine_iterations': refine,
                           'start': list(start), 'target_mode': mode.value})
    if args.json:
        print(json.dumps(run, indent=2))
    else:
        _print_scenario_table(run)
    return 0


def format_report(report: dict) -> str:
    """Return the held-out report as a table."""
    s = report['single_step']['tip_error_m']
    reach = report['reach_m']
    lines = [f"model {report['model']} ({report['architecture']}), reach {reach:.3f} m",
             f"single step within {report['single_step']['step_m']} m "
             f"({report['single_step']['samples']} held-out problems):",
             f"  tip error mean {s['mean'] * 1e3:.4f} mm ({100 * s['mean'] / reach:.4f} % of "
             f"reach), median {s['median'] * 1e3:.4f} mm, p95 {s['p95'] * 1e3:.4f} mm "
             f"({100 * s['p95'] / reach:.4f} %), max {s['max'] * 1e3:.3f} mm "
             f"({100 * s['max'] / reach:.3f} %)"]
    if 'orientation_error_rad' in report['single_step']:
        o = report['single_step']['orientation_error_rad']
        lines.append(f"  orientation error mean {math.degrees(o['mean']):.4f} deg, p95 "
                     f"{math.degrees(o['p95']):.4f} deg, max {math.degrees(o['max']):.3f} deg")
    loop = report['closed_loop']
    for name in ('network_only', 'refined'):
        r = loop[name]
        lines.append(
            f"closed loop, {name.replace('_', ' ')}: {r['n_reached']}/{r['n_targets']} "
            f"reached within {r['tolerance_m'] * 1e3:.2g} mm, final error mean "
            f"{_mm(r['final_error_m']['mean'])} max {_mm(r['final_error_m']['max'])}, "
            f"elbow flips {r['elbow_flips']}, limit violations {r['limit_violations']}, "
            f"velocity violations {r['velocity_violations']}, NaN {r['nan_outputs']}, "
            f"fallback ticks {r['fallback_ticks']}, ticks/target "
            f"{r['ticks']['mean_per_target']:.1f}")
    far = report['out_of_reach']
    for name in ('network_only', 'refined'):
        r = far[name]
        lines.append(
            f"out of reach ({far['targets']} targets), {name.replace('_', ' ')}: "
            f"{r['ended_on_projection_within_1e-6_reach']} ended on their projection, "
            f"direction error mean {r['direction_error_deg']['mean']:.3f} deg, max "
            f"{r['direction_error_deg']['max']:.3f} deg")
    return '\n'.join(lines)


def _mm(value: Optional[float]) -> str:
    return '-' if value is None else f'{value * 1e3:.2e} mm'


if __name__ == '__main__':
    sys.exit(main())
