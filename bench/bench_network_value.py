#!/usr/bin/env python3
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
Does the network earn its place? The same loop with and without it, on every shipped arm.

    .venv/bin/python bench/bench_network_value.py [--quick]

One run, the same targets for every method, each method the same tick (IKSolver and its
Tracker, as the node runs them) with the same waypoint speeds (the model's trained step
and turn per tick):

- network only: the network's answers alone drive the arm (no refinement, no fallback);
- network + refinement: the shipped configuration (one damped Newton iteration after the
  network);
- damped least squares: the same tick without the network (one iteration, as refined);
- Levenberg-Marquardt solve: ``IKSolver.solve`` (cold solves only; multi-start, no network).

Measured per arm: chained targets (success, ticks to goal, joint path length, the closest
approach to a URDF limit, limit and velocity violations), streaming targets reached exactly
in one tick, joint drift after ten laps of a closed tool path (redundant arms; again with
the tick's posture pull), the
direction error of out-of-reach targets, and cold solves (success and time). Writes
bench/results/network_value.json and docs/network_value.md, which says where the network
loses.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import math
import os
from pathlib import Path
import subprocess
import sys
import tempfile
import time

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from iknn_ros.evaluation.evaluate import direction_errors_deg  # noqa: E402
from iknn_ros.evaluation.evaluate import LoopSettings  # noqa: E402
from iknn_ros.evaluation.evaluate import machine  # noqa: E402
from iknn_ros.evaluation.evaluate import out_of_reach_targets  # noqa: E402
from iknn_ros.evaluation.evaluate import run_chained  # noqa: E402
from iknn_ros.ik.solver import IKSolver  # noqa: E402
from iknn_ros.ik.solver import OnnxIKNetwork  # noqa: E402
from iknn_ros.ik.solver import SolverConfig  # noqa: E402
from iknn_ros.ik.solver import Tracker  # noqa: E402
from iknn_ros.kinematics import KinematicChain  # noqa: E402
from iknn_ros.kinematics.targets import parse_target  # noqa: E402
import numpy as np  # noqa: E402

DT = 0.01
EXACT = 1e-9
# The network alone is held to 0.1 % of the reach and half a degree.
NETWORK_TOLERANCE_FRACTION = 1e-3
NETWORK_TOLERANCE_RAD = math.radians(0.5)
# Arms with a shipped model: (URDF, tip link, model folder).
ARMS = {
    'two_link_arm': ('tool0', 'two_link_arm_default'),
    'three_link_arm': ('tool0', 'three_link_arm_default'),
    'spatial_arm': ('tool0', 'spatial_arm_default'),
    'six_dof_arm': ('tool0', 'six_dof_arm_pose'),
    'seven_dof_arm': ('flange', 'seven_dof_arm_pose'),
}
METHODS = ('network only', 'network + refinement', 'damped least squares')
LAPS = 10
LAP_POINTS = 100
# The laps are run once more with the tick's posture pull (SolverConfig.posture_gain, 1/s),
# from and back to a start held this many ticks (the pull settles there).
POSTURE = ' + posture pull'
POSTURE_GAIN = 10.0
HOLD_TICKS = 1000
LAP_METHODS = METHODS + ('network + refinement' + POSTURE, 'damped least squares' + POSTURE)
# Out-of-reach poses end on the projection to its own tolerance: closer than this is a tie.
POSE_TIE_M = 1e-6


@dataclasses.dataclass
class Arm:
    """One shipped arm, its model, and a solver per method."""

    name: str
    chain: KinematicChain
    network: OnnxIKNetwork
    mode: str

    @property
    def step_m(self) -> float:
        return self.network.card.step_m

    @property
    def step_rad(self) -> float:
        return self.network.card.step_rad or 1.0

    def solver(self, method: str, dt: float = DT) -> IKSolver:
        """Return the method's solver; every method's waypoints move alike per tick."""
        pulled = method.endswith(POSTURE)
        method = method.removesuffix(POSTURE)
        network_only = method == 'network only'
        exact = EXACT * self.chain.reach
        config = SolverConfig(
            refine_iterations=0 if network_only else 1, fallback=not network_only,
            use_network=method != 'damped least squares', target_mode=self.mode,
            max_cartesian_speed=self.step_m / dt, max_angular_speed=self.step_rad / dt,
            goal_tolerance_m=NETWORK_TOLERANCE_FRACTION * self.chain.reach
            if network_only else exact,
            goal_tolerance_rad=NETWORK_TOLERANCE_RAD if network_only else exact,
            posture_gain=POSTURE_GAIN if pulled else 0.0)
        return IKSolver(self.chain, self.network if config.use_network else None, config)

    def start(self) -> np.ndarray:
        safe = self.chain.with_limit_margin(SolverConfig().limit_margin_rad)
        start = 0.5 * (np.where(safe.continuous, 0.0, safe.lower)
                       + np.where(safe.continuous, 0.0, safe.upper))
        # Away from the straight arm's singularity: bend each joint a little.
        return np.clip(start + 0.4 * (-1.0) ** np.arange(len(start)), safe.lower, safe.upper)

    def targets(self, joints: np.ndarray) -> np.ndarray:
        solver = self.solver('damped least squares')
        return np.array([solver.tool_target(q) for q in joints])


def load_arm(name: str) -> Arm | None:
    tip, folder = ARMS[name]
    model = REPO / 'models' / folder / 'model.onnx'
    if not model.is_file():
        return None
    chain = KinematicChain.from_urdf(REPO / 'urdf' / f'{name}.urdf', None, tip)
    network = OnnxIKNetwork(model)
    return Arm(name, chain, network, network.card.target_mode)


def chained(arm: Arm, count: int, seed: int) -> dict:
    safe = arm.chain.with_limit_margin(SolverConfig().limit_margin_rad)
    targets = arm.targets(safe.random_configurations(np.random.default_rng(seed), count))
    out = {}
    for method in METHODS:
        solver = arm.solver(method)
        settings = LoopSettings(dt=DT, tick_budget=1000,
                                tolerance_m=solver.config.goal_tolerance_m,
                                tolerance_rad=solver.config.goal_tolerance_rad)
        started = time.perf_counter()
        run = run_chained(solver, targets, tuple(arm.start()), settings)
        seconds = time.perf_counter() - started
        s = run['summary']
        out[method] = {
            'reached': s['n_reached'], 'targets': s['n_targets'],
            'without_detour': s['n_reached_without_detour'],
            'ticks_mean': s['ticks']['mean_per_target'],
            'joint_path_rad_mean': s['joint_path_rad_mean'],
            'closest_to_limit_rad': s['closest_to_limit_rad'],
            'limit_violations': s['limit_violations'],
            'velocity_violations': s['velocity_violations'], 'seconds': seconds,
            'tolerance_m': settings.tolerance_m, 'tolerance_rad': settings.tolerance_rad}
    return out


def streaming_path(arm: Arm, count: int) -> np.ndarray:
    """
    Return a smooth joint path of ``count`` points, each a tick's step from the last.

    The path moves at most about 1e-3 rad per joint per point (whatever ``count``), well
    within one tick's step: every point is reachable in one tick.
    """
    t = (np.arange(count) / 2000.0)[:, None]
    n = arm.chain.n_joints
    safe = arm.chain.with_limit_margin(SolverConfig().limit_margin_rad)
    return np.clip(arm.start() + 0.3 * np.sin(2 * math.pi * t * (1 + np.arange(n)) / n),
                   safe.lower, safe.upper)


def streaming(arm: Arm, count: int) -> dict:
    """Tick along :func:`streaming_path`'s tool targets; count those exact after one tick."""
    path = streaming_path(arm, count)
    targets = arm.targets(path)
    out = {}
    for method in METHODS:
        solver = arm.solver(method)
        q = tuple(path[0])
        exact, times, left = 0, [], []
        for target in targets[1:]:
            started = time.perf_counter_ns()
            result = solver.tick(q, target, DT)
            times.append((time.perf_counter_ns() - started) / 1e3)
            q = result.command
            angle = 0.0 if math.isnan(result.goal_error_rad) else result.goal_error_rad
            exact += result.goal_error_m <= EXACT and angle <= EXACT
            left.append(max(result.goal_error_m, angle))
        # What one tick leaves of the way to the point (m, or rad where larger): the
        # refinement's Newton step squares the error it starts from.
        out[method] = {'exact_in_one_tick': int(exact), 'points': len(targets) - 1,
                       'error_left_median': float(np.median(left)),
                       'tick_us_median': float(np.median(times))}
    return out


def closed_path(arm: Arm) -> np.ndarray:
    """Return one lap of a closed tool path: a circle about the start's tool position."""
    target = arm.solver('damped least squares').tool_target(arm.start())
    aim = parse_target(arm.chain, arm.solver('damped least squares').target_mode, target)
    radius = 0.1 * arm.chain.reach
    angle = np.linspace(0.0, 2 * math.pi, LAP_POINTS + 1)[1:]
    # In the base's xy plane (the plane of a planar arm), through the tool.
    centre = aim.position - np.array([radius, 0.0, 0.0])
    points = centre + radius * np.stack([np.cos(angle), np.sin(angle), 0 * angle], axis=-1)
    rest = list(target[len(arm.chain.fk(arm.start())):])
    return np.array([list(p[:arm.chain.target_dim]) + rest for p in points])


def drift(arm: Arm) -> dict:
    """
    Run ten laps from the held start; return how far the joints end from where they began.

    Measured at the end of the last lap, in the tenth lap alone, and once the start is held
    again as long as before the laps (where a posture pull settles).
    """
    lap = closed_path(arm)
    out = {}
    for method in LAP_METHODS:
        solver = arm.solver(method)
        tracker = Tracker(solver)
        q = tuple(arm.start())
        for _ in range(HOLD_TICKS):
            q = tracker.tick(q, lap[-1], DT).command
        ends = [np.array(q)]
        missed = 0
        for _ in range(LAPS):
            for target in lap:
                for _ in range(200):
                    result = tracker.tick(q, target, DT)
                    q = result.command
                    if result.reached:
                        break
                missed += not result.reached
            ends.append(np.array(q))
        for _ in range(HOLD_TICKS):
            q = tracker.tick(q, lap[-1], DT).command
        wrap = arm.chain.continuous

        def gap(a, b):
            diff = np.array(a) - np.array(b)
            return float(np.abs(np.where(wrap, (diff + math.pi) % (2 * math.pi) - math.pi,
                                         diff)).max())

        out[method] = {'drift_after_ten_laps_rad': gap(ends[-1], ends[0]),
                       'drift_in_the_tenth_lap_rad': gap(ends[-1], ends[-2]),
                       'drift_held_again_rad': gap(q, ends[0]),
                       'points_missed': int(missed), 'points': LAPS * LAP_POINTS}
    return out


def out_of_reach(arm: Arm, count: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    far = out_of_reach_targets(arm.chain, rng, count)
    if arm.mode == 'pose':
        turns = rng.normal(size=(len(far), 4))
        far = np.concatenate([far, turns / np.linalg.norm(turns, axis=-1, keepdims=True)],
                             axis=-1)
    out = {}
    weight = SolverConfig().orientation_weight_m_per_rad
    nearest = None
    if arm.mode == 'pose':
        # The nearest reachable pose over the whole joint space (the multi-start solve):
        # metres plus weighted radians, as the tick's own projection weighs them.
        solves = [arm.solver('damped least squares').solve(t) for t in far]
        nearest = np.array([r.position_error_m + weight * r.orientation_error_rad
                            for r in solves])
    for method in METHODS:
        solver = arm.solver(method)
        settings = LoopSettings(dt=DT, tick_budget=600, tolerance_m=1e-6 * arm.chain.reach,
                                tolerance_rad=1e-6)
        run = run_chained(solver, far, tuple(arm.start()), settings)
        errors = direction_errors_deg(arm.chain, run)
        out[method] = {'direction_error_deg_mean': float(errors.mean()),
                       'direction_error_deg_max': float(errors.max()),
                       'status_out_of_reach': sum(t['status'] == 'OUT_OF_REACH'
                                                  for t in run['targets']),
                       'targets': len(far)}
        if nearest is not None:
            left = np.array([t['target_error_m'] + weight * (t['target_error_rad'] or 0.0)
                             for t in run['targets']])
            beyond = np.maximum(left - nearest, 0.0)
            out[method].update({'pose_beyond_nearest_m_mean': float(beyond.mean()),
                                'pose_beyond_nearest_m_max': float(beyond.max()),
                                'at_nearest_pose': int(np.sum(beyond <= 1e-6 * arm.chain.reach))})
    return out


def cold_targets(arm: Arm, count: int, seed: int) -> np.ndarray:
    """Return ``count`` random reachable targets: tool targets of joints inside the margin."""
    safe = arm.chain.with_limit_margin(SolverConfig().limit_margin_rad)
    return arm.targets(safe.random_configurations(np.random.default_rng(seed), count))


def cold(arm: Arm, count: int, seed: int) -> dict:
    """Solve random reachable targets from the start: by ticks without a speed bound, by LM."""
    targets = cold_targets(arm, count, seed)
    start = tuple(arm.start())
    out = {}
    # Ticks one second long: the velocity limits allow whole radians, so the trained step
    # (and turn) per tick is the only bound left.
    for method in METHODS:
        solver = arm.solver(method, dt=1.0)
        reached, times, ticks = 0, [], []
        for target in targets:
            tracker = Tracker(solver)
            q = start
            started = time.perf_counter()
            for k in range(1, 401):
                result = tracker.tick(q, target, 1.0)
                q = result.command
                if result.reached:
                    break
            times.append(1e6 * (time.perf_counter() - started))
            reached += bool(result.reached)
            ticks.append(k)
        out[method] = {'reached': reached, 'targets': count,
                       'time_us_median': float(np.median(times)),
                       'ticks_median': float(np.median(ticks))}
    solver = arm.solver('damped least squares')
    reached, times = 0, []
    for target in targets:
        started = time.perf_counter()
        result = solver.solve(target, start)
        times.append(1e6 * (time.perf_counter() - started))
        reached += result.reached
    out['Levenberg-Marquardt solve'] = {'reached': reached, 'targets': count,
                                        'time_us_median': float(np.median(times)),
                                        'ticks_median': None}
    return out


def verdicts(data: dict, redundant: bool) -> list:
    """Return plain sentences: where the network wins, ties or loses on this arm."""
    lines = []
    net, refined, dls = (data['chained'][m] for m in METHODS)
    if refined['reached'] == dls['reached']:
        lines.append(f"chained targets: a tie ({refined['reached']}/{refined['targets']} "
                     'each, refined and without the network)')
    else:
        better = 'network + refinement' if refined['reached'] > dls['reached'] else \
            'damped least squares'
        lines.append(f'chained targets: {better} reaches more ({refined["reached"]} against '
                     f'{dls["reached"]})')
    faster = refined['ticks_mean'] < dls['ticks_mean']
    lines.append(f"ticks to goal: {'the network' if faster else 'damped least squares'} "
                 f"needs fewer (network + refinement {refined['ticks_mean']:.1f}, damped "
                 f"least squares {dls['ticks_mean']:.1f}); per tick the network costs "
                 f"{data['streaming']['network + refinement']['tick_us_median']:.0f} us "
                 f"against {data['streaming']['damped least squares']['tick_us_median']:.0f}")
    if refined['closest_to_limit_rad'] is not None:
        gap = refined['closest_to_limit_rad'] - dls['closest_to_limit_rad']
        who = 'a tie' if abs(gap) < 1e-3 else 'the network keeps clearer' if gap > 0.0 \
            else 'damped least squares keeps clearer'
        lines.append(f'closest approach to a limit: {who} (network + refinement '
                     f"{refined['closest_to_limit_rad']:.3f} rad, damped least squares "
                     f"{dls['closest_to_limit_rad']:.3f} rad)")
    s = data['streaming']
    a, b = s['network + refinement']['exact_in_one_tick'], s['damped least squares'][
        'exact_in_one_tick']
    lines.append(f'streaming, exact in one tick: network + refinement {a}, damped least '
                 f"squares {b} of {s['damped least squares']['points']}"
                 + (' (the network wins)' if a > b else ' (no win)' if a == b else
                    ' (the network loses)'))
    a, b = s['network + refinement']['error_left_median'], s['damped least squares'][
        'error_left_median']
    lines.append(f'streaming, error left after one tick (median): network + refinement '
                 f'{a:.1e}, damped least squares {b:.1e}'
                 + (f' ({b / max(a, 1e-300):.0f}x less with the network)' if a < 0.5 * b else
                    ' (no clear difference)' if a <= 2.0 * b else ' (the network loses)'))
    if redundant and 'drift' in data:
        d = data['drift']
        lines.append('ten laps, drift in the tenth lap: network + refinement '
                     f"{d['network + refinement']['drift_in_the_tenth_lap_rad']:.2e} rad, damped "
                     f"least squares {d['damped least squares']['drift_in_the_tenth_lap_rad']:.2e}"
                     ' rad')
        pulled = [d[m + POSTURE]['drift_held_again_rad'] for m in METHODS[1:]]
        lines.append('ten laps with the posture pull, drift once the start is held again: '
                     f'network + refinement {pulled[0]:.2e} rad, damped least squares '
                     f'{pulled[1]:.2e} rad (without it: '
                     f"{d['network + refinement']['drift_held_again_rad']:.2e} and "
                     f"{d['damped least squares']['drift_held_again_rad']:.2e}); the "
                     'repeatability is the pull, not the network')
    outside = data['out_of_reach']
    if 'at_nearest_pose' in outside['damped least squares']:
        a, b = (outside[m]['pose_beyond_nearest_m_mean'] for m in METHODS[1:])
        n, d = (outside[m]['at_nearest_pose'] for m in METHODS[1:])
        lines.append(f'poses out of reach, how much farther than the nearest reachable pose '
                     f'the tool ends, mean: network + refinement {1e3 * a:.2f} mm, damped '
                     f'least squares {1e3 * b:.2f} mm (at it: {n} and {d} of '
                     f"{outside['damped least squares']['targets']})"
                     + (' (a tie)' if abs(a - b) < POSE_TIE_M else
                        ' (the network wins)' if a < b else ' (the network loses)'))
    c = data['cold']
    lines.append(f"cold solves: Levenberg-Marquardt {c['Levenberg-Marquardt solve']['reached']}"
                 f"/{c['Levenberg-Marquardt solve']['targets']} in "
                 f"{c['Levenberg-Marquardt solve']['time_us_median']:.0f} us median; "
                 f"network-led ticks {c['network + refinement']['reached']} in "
                 f"{c['network + refinement']['time_us_median']:.0f} us; damped least squares "
                 f"ticks {c['damped least squares']['reached']} in "
                 f"{c['damped least squares']['time_us_median']:.0f} us")
    return lines


def peers(arm: Arm, counts: dict, seed: int) -> tuple:
    """
    Return the PyPI peers' streaming and cold-solve rows on this page's targets, or why not.

    They run in the benchmark venv of bench/bench_arms.py (placo and pytracik pin their own
    Pinocchio), on the very targets and path of :func:`cold` and :func:`streaming`, and
    take full poses (frame tasks): pose arms only.
    """
    if arm.mode != 'pose':
        return None, 'the peers are run on full poses (frame tasks): pose arms only'
    python = Path(os.environ.get('IKNN_BENCH_PYTHON', REPO / '.venv-bench' / 'bin' / 'python'))
    if not python.is_file():
        return None, f'no benchmark venv at {python} (make bench-arms makes it)'
    spec = {'arm': arm.name, 'seed': arm.start().tolist(),
            'cold': cold_targets(arm, counts['cold'], seed).tolist(),
            'stream': streaming_path(arm, counts['streaming']).tolist()}
    with tempfile.TemporaryDirectory() as folder:
        spec_path, out_path = Path(folder) / 'spec.json', Path(folder) / 'peers.json'
        spec_path.write_text(json.dumps(spec), encoding='utf-8')
        done = subprocess.run([str(python), str(REPO / 'bench' / 'bench_arms.py'),
                               '--peers-on', str(spec_path), str(out_path)],
                              capture_output=True, text=True, timeout=3600)
        if done.returncode != 0:
            return None, f'bench_arms.py --peers-on failed: {done.stderr.strip()[-300:]}'
        return json.loads(out_path.read_text(encoding='utf-8')), ''


def write_doc(report: dict, path: Path) -> None:
    m = report['machine']
    lines = ['# Does the network earn its place?', '',
             f"Written by `bench/bench_network_value.py` on {report['date']} "
             f"({'quick' if report['quick'] else 'full'} run); machine: {m['processor']}, "
             f"{m['cpus']} cores, Python {m['python']}. Every method is the same tick "
             '(IKSolver with its Tracker, as the node runs it) at the same waypoint speed: '
             "the model's trained step (and turn) per 10 ms tick. *Network only*: no "
             'refinement, no fallback, held to 0.1 % of the reach (and 0.5 deg); the others '
             'to 1e-9 of the reach (and 1e-9 rad). Times are wall time on a shared, noisy '
             'machine: compare within a run.', '']
    for name, data in report['arms'].items():
        lines += [f"## {name} ({data['joints']} joints, {data['mode']} targets)", '']
        lines += ['| method | chained reached | by a detour | ticks to goal | joint path '
                  '(rad) | closest to a limit (rad) | limit / velocity violations |',
                  '|---|---:|---:|---:|---:|---:|---:|']
        for method, r in data['chained'].items():
            clearance = '-' if r['closest_to_limit_rad'] is None else \
                f"{r['closest_to_limit_rad']:.3f}"
            lines.append(f"| {method} | {r['reached']}/{r['targets']} | "
                         f"{r['reached'] - r['without_detour']} | {r['ticks_mean']:.1f} | "
                         f"{r['joint_path_rad_mean']:.3f} | {clearance} | "
                         f"{r['limit_violations']} / {r['velocity_violations']} |")
        lines += ['', '| method | streaming: exact in one tick (median error left) | '
                  'tick median (us) | out of reach: direction error mean / max (deg) | '
                  'cold: reached | cold: median (us) | cold: ticks |',
                  '|---|---:|---:|---:|---:|---:|---:|']
        for method in (*METHODS, 'Levenberg-Marquardt solve'):
            s = data['streaming'].get(method)
            o = data['out_of_reach'].get(method)
            c = data['cold'][method]
            lines.append(
                f'| {method} | '
                + (f"{s['exact_in_one_tick']}/{s['points']} ({s['error_left_median']:.1e}) | "
                   f"{s['tick_us_median']:.1f}" if s else '- | -')
                + ' | ' + (f"{o['direction_error_deg_mean']:.3f} / "
                           f"{o['direction_error_deg_max']:.3f}" if o else '-')
                + f" | {c['reached']}/{c['targets']} | {c['time_us_median']:.0f} | "
                + ('-' if c['ticks_median'] is None else f"{c['ticks_median']:.0f}") + ' |')
        found = data.get('peers')
        for peer in sorted(set(found['streaming']) | set(found['cold'])) if found else ():
            s, c = found['streaming'].get(peer), found['cold'].get(peer)
            lines.append(
                f'| {peer} (PyPI peer) | '
                + (f"{s['exact_in_one_call']}/{s['points']} | {s['time_us']['median']:.1f}"
                   if s else '- | -') + ' | - | '
                + (f"{c['exact']}/{c['targets']} ({c['answered']}) | "
                   f"{c['time_us']['median']:.0f} | -" if c else '- | - | -') + ' |')
        if found:
            lines += ['', '*PyPI peers*, in the benchmark venv (`make bench-venv`; pinocchio '
                      f"{found['pinocchio']}) on the same streaming path (one call a point, "
                      'warm-started from the last answer) and the same cold targets from the '
                      'same start: placo (a warm-started QP step, no cold solve; "to 1e-9": '
                      'that step repeated until the tool is within 1e-9, at most 20), TRAC-IK '
                      '(pytracik as shipped: Speed, 5 ms, its own tolerance 1e-5) and '
                      "Pinocchio's CLIK loop (to 1e-9, no joint limits). Cold: exact to 1e-9 "
                      '(in brackets: answered, within its own tolerance). They are '
                      'solvers, not trackers: no chained, out-of-reach or lap runs.']
        outside = data['out_of_reach']
        if 'pose_beyond_nearest_m_mean' in outside['damped least squares']:
            lines += ['', 'Poses out of reach, after 600 ticks: how much farther from the '
                      'target (metres plus 0.5 m per radian, as the tick weighs them) the '
                      'tool ends than the nearest reachable pose over the whole joint space '
                      '(`IKSolver.solve`):', '',
                      '| method | at the nearest pose | beyond it, mean / max (mm) |',
                      '|---|---:|---:|']
            for method in METHODS:
                o = outside[method]
                lines.append(f"| {method} | {o['at_nearest_pose']}/{o['targets']} | "
                             f"{1e3 * o['pose_beyond_nearest_m_mean']:.2f} / "
                             f"{1e3 * o['pose_beyond_nearest_m_max']:.2f} |")
        if 'drift' in data:
            lines += ['', f'Ten laps of a closed tool path ({LAP_POINTS} points a lap, a '
                      'circle of a tenth of the reach about the start), from the start held '
                      f'{HOLD_TICKS} ticks and back to it for as long; *posture pull*: '
                      f'`posture_gain: {POSTURE_GAIN:g}` (1/s, toward the middle of the '
                      'limits):', '',
                      '| method | drift after ten laps (rad) | drift in the tenth lap (rad) | '
                      'drift once held again (rad) | points missed |',
                      '|---|---:|---:|---:|---:|']
            for method, d in data['drift'].items():
                lines.append(f"| {method} | {d['drift_after_ten_laps_rad']:.2e} | "
                             f"{d['drift_in_the_tenth_lap_rad']:.2e} | "
                             f"{d['drift_held_again_rad']:.2e} | {d['points_missed']}/"
                             f"{d['points']} |")
        lines += ['', 'In plain words:', ''] + [f'- {v}' for v in data['verdicts']] + ['']
    if report['skipped']:
        lines += ['Not measured: ' + '; '.join(f'{k} ({v})' for k, v in
                                               report['skipped'].items()), '']
    path.write_text('\n'.join(lines) + '\n', encoding='utf-8')


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0].strip())
    parser.add_argument('--quick', action='store_true', help='small counts, same code paths')
    parser.add_argument('--arms', nargs='*', default=list(ARMS), choices=list(ARMS))
    parser.add_argument('--json', type=Path,
                        default=REPO / 'bench' / 'results' / 'network_value.json')
    parser.add_argument('--doc', type=Path, default=REPO / 'docs' / 'network_value.md')
    args = parser.parse_args(argv)
    counts = {'chained': 20, 'streaming': 50, 'far': 5, 'cold': 5} if args.quick else \
        {'chained': 200, 'streaming': 500, 'far': 40, 'cold': 100}
    # Pose arms: slower ticks, and far chained poses of hundreds of ticks each.
    pose_counts = {'chained': 10, 'streaming': 50, 'far': 3, 'cold': 5} if args.quick else \
        {'chained': 200, 'streaming': 500, 'far': 10, 'cold': 20}
    report = {'date': datetime.date.today().isoformat(), 'quick': args.quick,
              'machine': machine(), 'counts': counts, 'pose_counts': pose_counts, 'arms': {},
              'skipped': {}}
    for name in args.arms:
        arm = load_arm(name)
        if arm is None:
            report['skipped'][name] = f'no shipped model in models/{ARMS[name][1]}'
            print(f'== {name}: skipped, no shipped model', flush=True)
            continue
        rows = 6 if arm.mode == 'pose' else arm.chain.target_dim
        redundant = arm.chain.n_joints > rows
        n = pose_counts if arm.mode == 'pose' else counts
        data = {'joints': arm.chain.n_joints, 'mode': arm.mode}
        for part, run in (('chained', lambda: chained(arm, n['chained'], 11)),
                          ('streaming', lambda: streaming(arm, n['streaming'])),
                          ('out_of_reach', lambda: out_of_reach(arm, n['far'], 12)),
                          ('cold', lambda: cold(arm, n['cold'], 13))):
            print(f'== {name}: {part}', flush=True)
            data[part] = run()
            for method, row in data[part].items():
                print(f'  {method:<26} {row}', flush=True)
        print(f'== {name}: the PyPI peers on the same targets', flush=True)
        found, why = peers(arm, n, 13)
        if found is None:
            report['skipped'][f'{name} peers'] = why
            print(f'  skipped: {why}', flush=True)
        else:
            data['peers'] = found
            for suite in ('streaming', 'cold'):
                for method, row in found[suite].items():
                    print(f'  {suite} {method:<16} {row}', flush=True)
            for peer, reason in found['skipped'].items():
                report['skipped'][f'{name} {peer}'] = reason
        if redundant:
            print(f'== {name}: drift over {LAPS} laps', flush=True)
            data['drift'] = drift(arm)
            for method, row in data['drift'].items():
                print(f'  {method:<26} {row}', flush=True)
        data['verdicts'] = verdicts(data, redundant)
        for line in data['verdicts']:
            print(f'  * {line}')
        report['arms'][name] = data
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + '\n', encoding='utf-8')
    write_doc(report, args.doc)
    print(f'wrote {args.json} and {args.doc}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
