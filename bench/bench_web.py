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
Benchmark the web view in headless Chromium (Debian's, through playwright-core).

    .venv/bin/python bench/bench_web.py [--arms two_link_arm,seven_dof_arm] [--loads 3]

For every shipped arm, the 3D view standalone (the shipped network in onnxruntime-web):
time to the first frame of the robot (from navigation, and from the load event), frames
per second idle and while the target moves, the in-browser tick back to back over a
500-tick scenario (bench/web_scenarios.py), and the tick's parity with the Python tick on
that scenario: step by step from the same joints, and rolled out on its own, with the
network and without one. Writes bench/results/web.json and docs/benchmarks_web.md.
"""

import argparse
import datetime
import json
from pathlib import Path
import re
import signal
import subprocess
import sys
import tempfile

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
ARMS = ('two_link_arm', 'three_link_arm', 'spatial_arm', 'six_dof_arm', 'seven_dof_arm')


class WebServer:
    """The standalone web node for one arm, on a free port."""

    def __init__(self, arm: str, model: str = '') -> None:
        args = ['--standalone', '--port', '0', '--urdf', str(REPO / 'urdf' / f'{arm}.urdf')]
        self.process = subprocess.Popen(
            [sys.executable, '-m', 'iknn_ros.nodes.web', *args,
             *(['--model', model] if model else [])], stdout=subprocess.PIPE, text=True,
            cwd=REPO)
        match = re.search(r'serving (http://\S+)', self.process.stdout.readline())
        if match is None:
            self.process.kill()
            raise RuntimeError(f'the web node for {arm} did not start')
        self.url = match.group(1)

    def __enter__(self) -> 'WebServer':
        return self

    def __exit__(self, *_) -> None:
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=15)


def browse(scenario: str, url: str, options: dict) -> dict:
    """Run one web/tests/browser.mjs scenario; return its report."""
    with tempfile.NamedTemporaryFile('w', suffix='.json', delete=False) as f:
        json.dump(options, f)
    try:
        done = subprocess.run(['node', str(REPO / 'web' / 'tests' / 'browser.mjs'), scenario,
                               url, '@' + f.name], capture_output=True, text=True,
                              timeout=600, cwd=REPO / 'web')
    finally:
        Path(f.name).unlink()
    report = json.loads(done.stdout.strip().splitlines()[-1])
    if 'error' in report:
        raise RuntimeError(report['error'])
    return report


def measure_arm(arm: str, loads: int) -> dict:
    """Return the load, frame-rate, throughput and parity figures of one arm."""
    from iknn_ros.nodes.web import view_solver
    from web_scenarios import DT, joint_gaps, python_run, scenario
    from iknn_ros.evaluation.evaluate import default_start

    urdf = str(REPO / 'urdf' / f'{arm}.urdf')
    solver, _, _ = view_solver(urdf)
    targets = scenario(solver, np.random.default_rng(7))
    start = list(default_start(solver.chain))
    row = {'arm': arm, 'joints': solver.chain.n_joints,
           'target_mode': solver.target_mode.value}
    with WebServer(arm) as server:
        runs = [browse('bench3d', server.url + '?mode=standalone',
                       {'target': targets[0], 'farTarget': targets[300], 'targets': targets,
                        'start': start, 'dt': DT})
                for _ in range(loads)]
    first = [r['state']['firstFrameMs'] for r in runs]
    after_load = [r['state']['firstFrameMs'] - r['state']['loadEventMs'] for r in runs]
    tracking = [s['fps'] for r in runs for s in r['tracking']]
    outside = [s for r in runs for s in r['trackingOutOfReach']]
    row.update({
        'first_frame_ms': {'median': float(np.median(first)), 'max': float(max(first))},
        'first_frame_after_load_ms': {'median': float(np.median(after_load)),
                                      'max': float(max(after_load))},
        'fps_idle': float(np.median([r['idle'] for r in runs])),
        'fps_tracking': {'median': float(np.median(tracking)), 'min': float(min(tracking))},
        # The page's own work per frame and the gaps between frames while tracking (ms).
        'frame_work_ms_tracking': {
            'median': float(np.median([s['work']['median'] for r in runs
                                       for s in r['tracking']])),
            'max': float(max(s['work']['max'] for r in runs for s in r['tracking']))},
        'frame_gap_ms_tracking': {
            'median': float(np.median([s['gap']['median'] for r in runs
                                       for s in r['tracking']])),
            'max': float(max(s['gap']['max'] for r in runs for s in r['tracking']))},
        'fps_tracking_out_of_reach': {'median': float(np.median([s['fps'] for s in outside])),
                                      'min': float(min(s['fps'] for s in outside))},
        'ticks_per_s_tracking_out_of_reach': float(np.median([s['ticks'] for s in outside])),
        'animation_ticks_per_s': float(np.median([s['ticks'] for r in runs
                                                  for s in r['tracking']])),
        'ticks_per_s_back_to_back': float(np.median(
            [r['throughput']['ticksPerSecond'] for r in runs]))})
    row['parity'] = {}
    for label, model in (('network', ''), ('no network', 'none')):
        solver, _, _ = view_solver(urdf, model)
        python = python_run(solver, targets, start)
        states = [start] + [q for q, _ in python[:-1]]
        with WebServer(arm, model) as server:
            stepped = browse('parity', server.url + '?mode=standalone',
                             {'targets': targets, 'start': start, 'dt': DT,
                              'states': states})['joints']
            rolled = browse('parity', server.url + '?mode=standalone',
                            {'targets': targets, 'start': start, 'dt': DT})['joints']
        row['parity'][label] = {
            'per_tick_max_rad': float(joint_gaps(solver, python, stepped).max()),
            'status_mismatches': sum(t['status'] != s for t, (_, s) in zip(stepped, python)),
            'rolled_out_max_rad': float(joint_gaps(solver, python, rolled).max()),
            'ticks': len(targets)}
    return row


def table(rows: list) -> str:
    """Return the results as a Markdown table."""
    lines = ['| arm | joints | first frame (from navigation / after load) | fps idle / '
             'tracking (min) | ticks/s in the animation / back to back | target moving out of '
             'reach: fps (min), ticks/s | parity per tick, network / none | rolled out 500 '
             'ticks, network / none |',
             '|---|---|---|---|---|---|---|---|']
    for r in rows:
        p = r['parity']
        lines.append(
            f"| {r['arm']} ({r['target_mode']}) | {r['joints']} | "
            f"{r['first_frame_ms']['median']:.0f} / "
            f"{r['first_frame_after_load_ms']['median']:.0f} ms | "
            f"{r['fps_idle']:.0f} / {r['fps_tracking']['median']:.0f} "
            f"({r['fps_tracking']['min']:.0f}) | {r['animation_ticks_per_s']:.0f} / "
            f"{r['ticks_per_s_back_to_back']:.0f} | "
            f"{r['fps_tracking_out_of_reach']['median']:.0f} "
            f"({r['fps_tracking_out_of_reach']['min']:.0f}), "
            f"{r['ticks_per_s_tracking_out_of_reach']:.0f} | "
            f"{p['network']['per_tick_max_rad']:.1e} / {p['no network']['per_tick_max_rad']:.1e}"
            f" rad | {p['network']['rolled_out_max_rad']:.1e} / "
            f"{p['no network']['rolled_out_max_rad']:.1e} rad |")
    lines += ['', 'While tracking: the work of the page per frame (the matrices of the arm, the '
              'path, the WebGL calls; the tick runs in a worker) and the time between frames '
              '(16.7 ms at 60 fps):', '',
              '| arm | frame work median / max (ms) | between frames median / max (ms) |',
              '|---|---|---|']
    for r in rows:
        w, g = r['frame_work_ms_tracking'], r['frame_gap_ms_tracking']
        lines.append(f"| {r['arm']} | {w['median']:.1f} / {w['max']:.1f} | "
                     f"{g['median']:.1f} / {g['max']:.1f} |")
    return '\n'.join(lines)


def main() -> int:
    """Measure, print and write JSON and the docs page."""
    from bench_ik import machine
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--arms', default=','.join(ARMS))
    parser.add_argument('--loads', type=int, default=3, help='page loads per arm')
    args = parser.parse_args()
    rows = [measure_arm(arm, args.loads) for arm in args.arms.split(',')]
    results = {'date': datetime.datetime.now(datetime.timezone.utc).isoformat(
        timespec='seconds'), 'machine': machine(), 'loads_per_arm': args.loads, 'arms': rows}
    text = table(rows)
    print(text)
    out = REPO / 'bench' / 'results'
    out.mkdir(parents=True, exist_ok=True)
    (out / 'web.json').write_text(json.dumps(results, indent=2) + '\n')
    mismatches = sum(p['status_mismatches'] for r in rows for p in r['parity'].values())
    (REPO / 'docs' / 'benchmarks_web.md').write_text(
        '# Web view benchmarks\n\n'
        f"Written by `make bench` (`bench/bench_web.py`) on {results['date']}, "
        f'{args.loads} page loads per arm. Raw numbers: `bench/results/web.json`.\n\n'
        f"Machine: {results['machine']['cpu']}, {results['machine']['cores']} cores, no GPU; "
        'Debian Chromium headless, WebGL through SwiftShader (software rendering), '
        'onnxruntime-web WASM on one thread.\n\n'
        '- **First frame**: the robot drawn, counted from navigation and from the load '
        'event.\n'
        '- **fps**: frames per second, idle and while the target moves on a 5 cm circle (one '
        'tick per frame in standalone mode).\n'
        '- **Out of reach**: the same circle about a point outside the reachable set: every '
        "new target is projected (for position targets, the numeric workspace's grid "
        'search, in the page); the tick runs in a worker, so the drawing goes on meanwhile.\n'
        '- **Ticks back to back**: the 500-tick scenario of `bench/web_scenarios.py` run '
        'through the in-browser tick with no drawing.\n'
        '- **Parity**: the largest joint difference (rad) from the Python tick on that '
        'scenario. *Per tick*: each tick from the joints the Python tick reached. *Rolled out*: '
        'each side from its own last command. Rolled out, the two part only by rounding until a '
        'discrete choice goes the other way (which of two equally near projections, when a '
        'detour starts). '
        f'Status mismatches per tick over all arms: {mismatches}.\n\n' + text + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
