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
Benchmark the iknn_ros solver against its baselines, in one run, on the same problems.

    .venv/bin/python bench/bench_ik.py            # full run (a few minutes), or: make bench
    .venv/bin/python bench/bench_ik.py --quick    # smaller counts, same code paths

Methods: ours with the network alone, ours with one refinement iteration (the default
tick), the closed-form 2R solution (bare, and inside the same tick), damped least squares
alone, ikpy warm-started on the same URDF, and seed 1's shipped model replayed with its own
click loop (``../shared/anchors``; skipped, saying so, when absent). It prints a table with
ratios against the closed form, writes JSON, and writes docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import math
import os
from pathlib import Path
import platform
import sys
import time
from typing import Optional
import warnings

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from iknn_ros.evaluation.evaluate import LoopSettings  # noqa: E402
from iknn_ros.evaluation.evaluate import run_chained  # noqa: E402
from iknn_ros.evaluation.evaluate import stats  # noqa: E402
from iknn_ros.ik.solver import IKSolver  # noqa: E402
from iknn_ros.ik.solver import OnnxIKNetwork  # noqa: E402
from iknn_ros.ik.solver import SolverConfig  # noqa: E402
from iknn_ros.ik.solver import Status  # noqa: E402
from iknn_ros.kinematics import KinematicChain  # noqa: E402
from iknn_ros.kinematics import TwoLinkGeometry  # noqa: E402
from iknn_ros.kinematics.sampling import reachable_targets  # noqa: E402
from iknn_ros.resources import default_model_path  # noqa: E402
from iknn_ros.resources import default_urdf_path  # noqa: E402
import numpy as np  # noqa: E402

SEED1_ANCHOR = REPO.parent / 'shared' / 'anchors' / 'seed1_iknn' / 'IKModel.onnx'
SEED1_UNITS_PER_METRE = 10.0
DT = 0.01
EXACT = 1e-9


# --------------------------------------------------------------------------------------
# Baselines
# --------------------------------------------------------------------------------------

def closed_form_solve(x: float, y: float, l1: float, l2: float, elbow: float) -> tuple:
    """Return the 2R solution on ``elbow`` in plain floats (the physical limit)."""
    c2 = (x * x + y * y - l1 * l1 - l2 * l2) / (2.0 * l1 * l2)
    c2 = 1.0 if c2 > 1.0 else (-1.0 if c2 < -1.0 else c2)
    s2 = elbow * math.sqrt(1.0 - c2 * c2)
    return (math.atan2(y, x) - math.atan2(l2 * s2, l1 + l2 * c2), math.atan2(s2, c2))


class ClosedFormStep:
    """Stands in for the network inside the same tick: the exact step, in floats."""

    def __init__(self, network: OnnxIKNetwork, chain: KinematicChain) -> None:
        self.card = network.card
        self.l1, self.l2 = TwoLinkGeometry.of(chain).lengths

    def step_one(self, joints: list, target_and_branch: tuple) -> list:
        (q1, q2), (x, y, elbow) = joints, target_and_branch
        s1, s2 = closed_form_solve(x, y, self.l1, self.l2, elbow)
        return [(s1 - q1 + math.pi) % (2 * math.pi) - math.pi, s2 - q2]


def latency_suite(calls: dict, problems: list, rounds: int = 8,
                  warmup: Optional[list] = None) -> dict:
    """
    Return median and p99 per-call latency (microseconds) of each call on the problems.

    The methods take turns in blocks, round after round, so that a slow spell of a shared
    machine falls on all of them alike and the ratios stay fair. They warm up on
    ``warmup`` (default: the first 100 problems).
    """
    samples = {name: [] for name in calls}
    blocks = [problems[i::rounds] for i in range(rounds)]
    for call in calls.values():
        for problem in problems[:100] if warmup is None else warmup:
            call(*problem)
    gc.collect()
    gc.disable()
    try:
        for block in blocks:
            for name, call in calls.items():
                record = samples[name]
                for problem in block:
                    start = time.perf_counter_ns()
                    call(*problem)
                    record.append(time.perf_counter_ns() - start)
    finally:
        gc.enable()
    out = {}
    for name, values in samples.items():
        us = np.array(values) / 1e3
        out[name] = {'median_us': float(np.median(us)), 'p99_us': float(np.percentile(us, 99)),
                     'calls': int(us.size)}
    return out


def ikpy_chain(urdf: Path):
    """Return ikpy's chain for the URDF, or None when ikpy is not installed."""
    try:
        import ikpy.chain
    except ImportError:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return ikpy.chain.Chain.from_urdf_file(str(urdf), base_elements=['base_link'],
                                               active_links_mask=[False, True, True, False])


def seed1_replay(session, input_name: str, targets_m: np.ndarray, start=(2.0, 2.0)) -> dict:
    """Replay seed 1's page loop on chained clicks; return its results and call latency."""
    unit = SEED1_UNITS_PER_METRE
    q = np.array(start, dtype=np.float32)
    rows = []
    call_ns = []
    flips = 0
    prev_elbow = None
    for click in targets_m * unit:
        final = math.inf
        iterations = 0
        for i in range(500):
            tip = np.array([5 * math.cos(q[0]) + 5 * math.cos(q[0] + q[1]),
                            5 * math.sin(q[0]) + 5 * math.sin(q[0] + q[1])])
            d = click - tip
            final = float(np.hypot(*d))
            if final < 0.2:
                break
            inter = tip + d / final * (0.5 * i / 100.0)
            feed = np.array([[inter[0], inter[1], q[0], q[1]]], dtype=np.float32)
            start_ns = time.perf_counter_ns()
            q = session.run(None, {input_name: feed})[0][0]
            call_ns.append(time.perf_counter_ns() - start_ns)
            iterations = i + 1
            elbow = math.copysign(1.0, math.sin(q[1])) if abs(math.sin(q[1])) > 0.05 else None
            if elbow is not None:
                flips += int(prev_elbow is not None and elbow != prev_elbow)
                prev_elbow = elbow
        rows.append((final / unit, iterations))
    errors = np.array([r[0] for r in rows])
    us = np.array(call_ns) / 1e3
    return {
        'targets': len(rows),
        'reached_own_criterion_0.2_units': int(np.sum(errors < 0.2 / unit)),
        'reached_within_1mm': int(np.sum(errors <= 1e-3)),
        'final_error_m': stats(errors),
        'iterations_mean': float(np.mean([r[1] for r in rows])),
        'elbow_flips': flips,
        'network_call': {'median_us': float(np.median(us)), 'p99_us':
                         float(np.percentile(us, 99)), 'calls': int(us.size)},
    }


# --------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------

def machine() -> dict:
    """Return the machine the numbers were measured on."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                model = line.split(':', 1)[1].strip()
                break
    except OSError:
        pass
    import onnxruntime
    return {'cpu': model, 'cores': os.cpu_count(), 'python': platform.python_version(),
            'onnxruntime': onnxruntime.__version__, 'numpy': np.__version__,
            'platform': platform.platform()}


def run(quick: bool) -> dict:
    """Measure everything; return the results as plain data."""
    counts = {'chained': 500 if quick else 10_000, 'latency': 2000 if quick else 20_000,
              'ikpy': 40 if quick else 300, 'seed1': 100 if quick else 1000,
              'random_ticks': 100_000 if quick else 1_000_000,
              'unreachable': 100 if quick else 1000}
    chain = KinematicChain.from_urdf(default_urdf_path())
    network = OnnxIKNetwork(default_model_path())
    reach = chain.reach
    rng = np.random.default_rng(2026)
    targets = reachable_targets(chain.with_limit_margin(0.05), rng, counts['chained'])
    results = {'machine': machine(), 'counts': counts,
               'date': datetime.datetime.now(datetime.timezone.utc).isoformat(
                   timespec='seconds'), 'methods': {}}
    methods = results['methods']

    def solver(**kw):
        return IKSolver(chain, network if kw.get('use_network', True) else None,
                        SolverConfig(**kw))

    # Problems for latency: states and targets along a real chained run (network + 1).
    default = solver()
    path_problems = []
    q, branch = (0.0, 1.0), None
    for target in targets[:max(50, counts['latency'] // 20)]:
        for _ in range(400):
            res = default.tick(q, tuple(target), 0.001, branch)
            path_problems.append((q, tuple(target), branch))
            q, branch = res.command, res.branch
            if res.reached or len(path_problems) >= counts['latency']:
                break
        if len(path_problems) >= counts['latency']:
            break

    l1, l2 = TwoLinkGeometry.of(chain).lengths
    closed_tick = IKSolver(chain, ClosedFormStep(network, chain),
                           SolverConfig(refine_iterations=0))
    ticking = {
        'ours_network_only': solver(refine_iterations=0, fallback=False),
        'ours_refined': solver(refine_iterations=1),
        'closed_form_tick': closed_tick,
        'dls_only': solver(refine_iterations=1, use_network=False),
    }
    calls = {name: (lambda s: lambda q, t, b: s.tick(q, t, 0.001, b))(s)
             for name, s in ticking.items()}
    calls['closed_form_solve'] = lambda q, t, b: closed_form_solve(t[0], t[1], l1, l2, b or 1.0)
    for name, measured in latency_suite(calls, path_problems).items():
        methods[name] = {'latency': measured}
    methods['closed_form_solve']['accuracy'] = 'exact (~1e-16 m): the reference'

    # Accuracy on the same chained targets, each from where the last ended.
    print(f"chained accuracy on {counts['chained']} targets ...", flush=True)
    plans = (('ours_refined', {'refine_iterations': 1}, EXACT * reach),
             ('ours_network_only', {'refine_iterations': 0, 'fallback': False}, 1e-3 * reach),
             ('dls_only', {'refine_iterations': 1, 'use_network': False}, EXACT * reach),
             ('closed_form_tick', None, EXACT * reach))
    for name, config, tolerance in plans:
        settings = LoopSettings(dt=DT, tolerance_m=tolerance, tick_budget=400)
        step = network.card.step_m / DT
        if config is None:
            s = IKSolver(chain, ClosedFormStep(network, chain), SolverConfig(
                refine_iterations=0, goal_tolerance_m=tolerance, max_cartesian_speed=step))
        else:
            s = IKSolver(chain, network if config.get('use_network', True) else None,
                         SolverConfig(goal_tolerance_m=tolerance, max_cartesian_speed=step,
                                      **config))
        started = time.perf_counter()
        summary = run_chained(s, targets, (0.0, 1.0), settings)['summary']
        summary['seconds'] = time.perf_counter() - started
        methods[name]['chained'] = summary

    # ikpy, warm-started from the previous solution, on the first targets.
    ik = ikpy_chain(default_urdf_path())
    if ik is None:
        methods['ikpy'] = {'skipped': 'ikpy is not installed'}
    else:
        height = chain.planar.height
        full = np.zeros(len(ik.links))
        full[1:3] = (0.0, 1.0)
        errors, call_us = [], []
        for target in targets[:counts['ikpy']]:
            goal = np.array([target[0], target[1], height])
            start = time.perf_counter_ns()
            full = ik.inverse_kinematics(goal, initial_position=full)
            call_us.append((time.perf_counter_ns() - start) / 1e3)
            errors.append(float(np.linalg.norm(ik.forward_kinematics(full)[:3, 3] - goal)))
        errors = np.array(errors)
        # Per-tick latency, warm-started from the current state, on the same problems.
        tick_problems = path_problems[:counts['ikpy'] * 5]

        def ikpy_tick(q, t, b):
            seed = np.zeros(len(ik.links))
            seed[1:3] = q
            return ik.inverse_kinematics(np.array([t[0], t[1], height]), initial_position=seed)
        # ikpy's ticks take turns with ours, as above.
        pair = latency_suite({'ikpy': ikpy_tick, 'ours': calls['ours_refined']},
                             tick_problems, rounds=4)
        methods['ikpy'] = {
            'latency': pair['ikpy'], 'ours_refined_same_run': pair['ours'],
            'solve_per_target': {'median_us': float(np.median(call_us)),
                                 'p99_us': float(np.percentile(call_us, 99))},
            'chained': {'n_targets': int(errors.size),
                        'n_within_1e-9_reach': int(np.sum(errors <= EXACT * reach)),
                        'n_within_1mm': int(np.sum(errors <= 1e-3)),
                        'final_error_m': stats(errors)}}

    # Seed 1's shipped model, replayed with its own loop on the same chained targets.
    if SEED1_ANCHOR.is_file():
        import onnxruntime
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        session = onnxruntime.InferenceSession(str(SEED1_ANCHOR), options,
                                               providers=['CPUExecutionProvider'])
        name = session.get_inputs()[0].name
        replay = seed1_replay(session, name, targets[:counts['seed1']])
        methods['seed1_anchor'] = {'latency': replay.pop('network_call'), 'chained': replay,
                                   'note': 'latency is one network call of its loop; its '
                                           'page re-created the session on every call'}
    else:
        methods['seed1_anchor'] = {'skipped': f'{SEED1_ANCHOR} not found'}

    # Batched network throughput (2 threads) and batched ticks.
    net2 = OnnxIKNetwork(default_model_path(), threads=2)
    batch = 100_000
    qb = chain.random_configurations(rng, batch)
    tb = chain.fk(qb) + rng.normal(0, 0.02, (batch, 2))
    bb = np.ones(batch)
    net2.step_batch(qb, tb, bb)
    started = time.perf_counter()
    reps = 3 if quick else 10
    for _ in range(reps):
        net2.step_batch(qb, tb, bb)
    results['batched_network_steps_per_s'] = reps * batch / (time.perf_counter() - started)
    batched_solver = IKSolver(chain, net2, SolverConfig())
    started = time.perf_counter()
    batched_solver.tick_batch(qb, tb, DT)
    results['batched_ticks_per_s'] = batch / (time.perf_counter() - started)

    # Robustness: random and hostile ticks, batched.
    print(f"{counts['random_ticks']} random ticks ...", flush=True)
    totals = {'ticks': 0, 'nan_outputs': 0, 'limit_violations': 0, 'velocity_violations': 0}
    status_counts: dict = {}
    chunk = 100_000
    for start in range(0, counts['random_ticks'], chunk):
        n = min(chunk, counts['random_ticks'] - start)
        q = chain.random_configurations(rng, n)
        q[:, 0] += rng.integers(-3, 4, n) * 2 * math.pi
        kind = rng.integers(0, 6, n)
        t = np.select([kind[:, None] == 0, kind[:, None] == 1, kind[:, None] == 2,
                       kind[:, None] == 3, kind[:, None] == 4],
                      [rng.uniform(-1.2, 1.2, (n, 2)), rng.uniform(-1e3, 1e3, (n, 2)),
                       np.zeros((n, 2)), np.full((n, 2), np.nan),
                       np.where(rng.uniform(size=(n, 1)) < 0.5, np.inf, -np.inf)
                       * np.ones((n, 2))],
                      chain.fk(chain.random_configurations(rng, n)))
        dt = float(rng.choice([0.001, 0.01, 0.05]))
        res = batched_solver.tick_batch(q, t, dt)
        totals['ticks'] += n
        totals['nan_outputs'] += int(np.isnan(res.command).any(axis=1).sum())
        totals['limit_violations'] += int((~chain.within_limits(res.command)).sum())
        totals['velocity_violations'] += int(np.any(
            np.abs(res.command - q) > chain.velocity_limits * dt + 1e-12, axis=1).sum())
        for value, count in zip(*np.unique(res.status, return_counts=True)):
            key = Status(int(value)).name
            status_counts[key] = status_counts.get(key, 0) + int(count)
    results['random_ticks'] = {**totals, 'statuses': status_counts}

    # Unreachable targets: outside the reach and in the inner hole.
    radius = np.concatenate([rng.uniform(1.0, 2.0, counts['unreachable'] // 2),
                             rng.uniform(0.0, 0.19, counts['unreachable']
                                         - counts['unreachable'] // 2)])
    angle = rng.uniform(-math.pi, math.pi, radius.size)
    far = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=-1)
    settings = LoopSettings(dt=DT, tolerance_m=1e-6 * reach, tick_budget=1000)
    s = IKSolver(chain, network, SolverConfig(goal_tolerance_m=1e-6 * reach))
    run_far = run_chained(s, far, (0.0, 1.0), settings)
    results['unreachable'] = {
        'targets': int(radius.size),
        'ended_on_projection_within_1e-6_reach': run_far['summary']['n_reached'],
        'status_out_of_reach': sum(t['status'] == 'OUT_OF_REACH' for t in run_far['targets']),
        'final_error_to_projection_m': run_far['summary']['final_error_m']}
    results['redundant_arms'] = redundant_arm_latency(counts['latency'] // 4)
    return results


def redundant_arm_latency(count: int) -> dict:
    """
    Return per-tick latency on the shipped three-link and spatial models, and trap searches.

    The problems are the states and targets of a refined chained run; the search is the
    network-only tracker's way out of a trap (IKSolver.network_solution) from the states
    of test/test_arms.py, where ordinary ticks stall.
    """
    out = {}
    traps = {'spatial_arm': [((-0.91, -0.961, -1.176, 1.704), (0.595, 0.766, 0.063)),
                             ((8.031, 0.157, -1.655, 1.868), (-0.636, 0.022, 0.328)),
                             ((11.959, 1.339, -1.415, 0.485), (-0.044, 0.289, 0.364))]}
    for arm in ('three_link_arm', 'spatial_arm'):
        chain = KinematicChain.from_urdf(REPO / 'urdf' / f'{arm}.urdf')
        network = OnnxIKNetwork(REPO / 'models' / f'{arm}_default' / 'model.onnx')
        rng = np.random.default_rng(2026)
        targets = reachable_targets(chain.with_limit_margin(0.05), rng, 200)
        default = IKSolver(chain, network, SolverConfig())
        problems = []
        q = tuple(chain.with_limit_margin(0.05).random_configurations(rng, 1)[0])
        for target in targets:
            for _ in range(200):
                res = default.tick(q, tuple(target), 0.001)
                problems.append((q, tuple(target), None))
                q = res.command
                if res.reached or len(problems) >= count:
                    break
            if len(problems) >= count:
                break
        ticking = {'network_only': IKSolver(chain, network, SolverConfig(
                       refine_iterations=0, fallback=False)),
                   'refined': default,
                   'dls_only': IKSolver(chain, None, SolverConfig(use_network=False))}
        calls = {name: (lambda s: lambda q, t, b: s.tick(q, t, 0.001, b))(s)
                 for name, s in ticking.items()}
        # The same refined tick through the numpy reference (tick_batch on one row).
        calls['numpy_reference'] = lambda q, t, b: default.tick_batch(
            np.array([q]), np.array([t]), 0.001)
        out[arm] = {'latency': latency_suite(calls, problems), 'problems': len(problems)}
        searches = []
        for start, target in traps.get(arm, []):
            started = time.perf_counter()
            found = ticking['network_only'].network_solution(np.array(target), np.array(start))
            searches.append((time.perf_counter() - started) * 1e3)
            assert found is not None, f'no way out found from {start}'
        if searches:
            out[arm]['trap_search_ms'] = stats(searches)
    out['spatial_arm']['moving_target'] = moving_target_latency(max(count // 10, 50))
    return out


def moving_target_latency(count: int) -> dict:
    """
    Return per-tick latency of the spatial arm following a target that moves every tick.

    Each tick's target is new, so its goal cannot be remembered: the float tick's quick
    reachability check (a few Newton steps from the current joints) against the numpy
    reference, which solves each new target from the arm's joints.
    """
    chain = KinematicChain.from_urdf(REPO / 'urdf' / 'spatial_arm.urdf')
    network = OnnxIKNetwork(REPO / 'models' / 'spatial_arm_default' / 'model.onnx')
    solver = IKSolver(chain, network, SolverConfig())
    # A circle of 0.2 m radius at 0.25 m/s in front of the arm, one point per 1 ms tick.
    center, radius, dt = np.array([0.45, 0.0, 0.6]), 0.2, 0.001
    angles = np.arange(2 * count + 1) * 0.25 * dt / radius
    circle = center + radius * np.stack([np.zeros_like(angles), np.cos(angles),
                                         np.sin(angles)], axis=-1)
    q = (0.0, 0.6, 0.0, 0.9)
    for _ in range(2000):
        result = solver.tick(q, tuple(circle[0]), dt)
        q = result.command
        if result.reached:
            break
    problems = []
    for target in circle:
        problems.append((q, tuple(target), None))
        result = solver.tick(q, tuple(target), dt)
        q = result.command
    calls = {'float_tick': lambda q, t, b: solver.tick(q, t, dt, b),
             'numpy_reference': lambda q, t, b: solver.tick_batch(
                 np.array([q]), np.array([t]), dt)}
    # Warm up on the second half, measure on the first: no target is seen twice.
    measured = latency_suite(calls, problems[:count], rounds=4, warmup=problems[count:])
    return {'latency': measured, 'ticks': count,
            'final_target_error_m': float(result.target_error_m)}


def _redundant_arm_lines(arms: dict) -> list:
    lines = []
    for arm, measured in arms.items():
        lat = measured['latency']
        line = (f'{arm}: per tick median / p99 us: network only '
                f"{lat['network_only']['median_us']:.1f} / {lat['network_only']['p99_us']:.1f}"
                f", refined {lat['refined']['median_us']:.1f} / "
                f"{lat['refined']['p99_us']:.1f}, damped least squares alone "
                f"{lat['dls_only']['median_us']:.1f} / {lat['dls_only']['p99_us']:.1f}, "
                f"refined through the numpy reference {lat['numpy_reference']['median_us']:.0f}"
                f" / {lat['numpy_reference']['p99_us']:.0f}")
        if 'trap_search_ms' in measured:
            search = measured['trap_search_ms']
            line += (f"; trap search (network rollouts) {search['median']:.0f} ms median, "
                     f"{search['max']:.0f} ms max")
        lines.append(line)
        if 'moving_target' in measured:
            moving = measured['moving_target']['latency']
            lines.append(
                f'{arm}, a target moving every tick (0.25 m/s circle): refined tick median / '
                f"p99 us {moving['float_tick']['median_us']:.1f} / "
                f"{moving['float_tick']['p99_us']:.1f}, numpy reference "
                f"{moving['numpy_reference']['median_us']:.0f} / "
                f"{moving['numpy_reference']['p99_us']:.0f}")
    return lines


def table(results: dict) -> str:
    """Return the printed table."""
    methods = results['methods']
    base = methods['closed_form_solve']['latency']['median_us']
    base_tick = methods['closed_form_tick']['latency']['median_us']
    lines = [f"{'method':<20}{'median us':>11}{'p99 us':>9}{'x solve':>9}{'x tick':>8}"
             '  chained targets reached (tolerance), final error max']
    for name in ('ours_network_only', 'ours_refined', 'closed_form_solve', 'closed_form_tick',
                 'dls_only', 'ikpy', 'seed1_anchor'):
        m = methods.get(name, {})
        if 'skipped' in m:
            lines.append(f'{name:<20} skipped: {m["skipped"]}')
            continue
        lat = m['latency']
        row = (f"{name:<20}{lat['median_us']:>11.2f}{lat['p99_us']:>9.1f}"
               f"{lat['median_us'] / base:>9.1f}{lat['median_us'] / base_tick:>8.2f}  ")
        c = m.get('chained')
        if name == 'ikpy':
            row += (f"{c['n_within_1e-9_reach']}/{c['n_targets']} (1e-9 reach), "
                    f"{c['n_within_1mm']}/{c['n_targets']} (1 mm), max "
                    f"{c['final_error_m']['max']:.1e} m")
        elif name == 'seed1_anchor':
            row += (f"{c['reached_within_1mm']}/{c['targets']} (1 mm), "
                    f"{c['reached_own_criterion_0.2_units']}/{c['targets']} (its 2 cm), "
                    f"max {c['final_error_m']['max']:.1e} m, flips {c['elbow_flips']}")
        elif c is not None:
            row += (f"{c['n_reached']}/{c['n_targets']} ({c['tolerance_m']:.0e} m), max "
                    f"{c['final_error_m']['max']:.1e} m, flips {c['elbow_flips']}, "
                    f"violations {c['limit_violations']}/{c['velocity_violations']}")
        else:
            row += str(m.get('accuracy', ''))
        lines.append(row)
    r = results['random_ticks']
    u = results['unreachable']
    ikpy = methods.get('ikpy', {})
    ratio_ikpy = 'n/a'
    if 'latency' in ikpy:
        ours = ikpy['ours_refined_same_run']['median_us']
        ratio_ikpy = f"{ikpy['latency']['median_us'] / ours:.0f}x"
    lines += [
        f'ours_refined is {ratio_ikpy} faster than ikpy warm-started (median per tick)',
        f"batched network steps: {results['batched_network_steps_per_s'] / 1e6:.2f} M/s; "
        f"batched full ticks: {results['batched_ticks_per_s'] / 1e6:.2f} M/s (2 threads)",
        f"{r['ticks']} random/hostile ticks: NaN {r['nan_outputs']}, limit violations "
        f"{r['limit_violations']}, velocity violations {r['velocity_violations']}",
        f"{u['targets']} unreachable targets: {u['ended_on_projection_within_1e-6_reach']} "
        f"ended within 1e-6 reach of their projection, {u['status_out_of_reach']} with status "
        'OUT_OF_REACH',
        *_redundant_arm_lines(results.get('redundant_arms', {})),
        f"machine: {results['machine']['cpu']}, {results['machine']['cores']} cores, "
        f"Python {results['machine']['python']}, onnxruntime "
        f"{results['machine']['onnxruntime']}"]
    return '\n'.join(lines)


def main() -> int:
    """Run, print, write JSON and the docs page."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--quick', action='store_true', help='smaller counts')
    parser.add_argument('--out', type=Path, default=REPO / 'bench' / 'results',
                        help='folder for the JSON results')
    parser.add_argument('--docs', type=Path, default=None,
                        help='markdown page to write (default: docs/benchmarks.md unless '
                             '--quick)')
    args = parser.parse_args()
    results = run(args.quick)
    text = table(results)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    name = 'latest_quick.json' if args.quick else 'latest.json'
    (args.out / name).write_text(json.dumps(results, indent=2) + '\n')
    docs = args.docs or (None if args.quick else REPO / 'docs' / 'benchmarks.md')
    if docs is not None:
        docs.parent.mkdir(parents=True, exist_ok=True)
        docs.write_text(
            '# Benchmarks\n\nWritten by `make bench` (`bench/bench_ik.py`) on '
            f"{results['date']}. Machine: {results['machine']['cpu']}, "
            f"{results['machine']['cores']} cores, {results['machine']['platform']}. "
            'Absolute times depend on the machine and its load; the ratios are measured in '
            'the same run. Raw numbers: `bench/results/latest.json`.\n\n'
            'Latency is per call for one arm in Python (one tick; for `closed_form_solve` '
            'the bare closed-form solution; for `seed1_anchor` one network call of its '
            'loop). "x solve" and "x tick" are ratios of the median to the bare closed form '
            'and to the same tick with the closed form in place of the network.\n\n'
            f'```text\n{text}\n```\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
