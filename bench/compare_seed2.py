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
Seed 2's served model beside ours on its own arm, on the same targets, in units of reach.

    .venv/bin/python bench/compare_seed2.py [--quick]

Seed 2 (../shared/anchors/seed2_deeparm) is evaluated as its web app uses it: the TF.js
weights in numpy, input ``[x, -z, y]`` of a target in its y-up frame, its own forward
kinematics (``R_i = Ry(theta_i) Rz(phi_i)``, tip ``R1 (e_y + R2 e_y)``, reach 2). Ours is the
shipped spatial_arm model through the solver, each target chained from where the last ended,
with the network alone and refined. Targets are drawn in seed 2's working space, the
hemisphere above the shoulder: reachable ones by radius band, and out-of-reach ones for the
pointing direction. Reported: tip error by radius band, error by azimuth (seed 2's dead
zone), and the direction error out of reach.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
from pathlib import Path
import sys

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from iknn_ros.evaluation.evaluate import direction_errors_deg  # noqa: E402
from iknn_ros.evaluation.evaluate import LoopSettings  # noqa: E402
from iknn_ros.evaluation.evaluate import make_solver  # noqa: E402
from iknn_ros.evaluation.evaluate import run_chained  # noqa: E402
from iknn_ros.ik.solver import OnnxIKNetwork  # noqa: E402
from iknn_ros.kinematics import KinematicChain  # noqa: E402
from iknn_ros.resources import share_path  # noqa: E402
import numpy as np  # noqa: E402

SEED2 = REPO.parent / 'shared' / 'anchors' / 'seed2_deeparm'
SEED2_REACH = 2.0
BANDS = ((0.0, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 1.0))
FAR_MIN_ELEVATION_DEG = 5.0


class Seed2:
    """Seed 2's served network and forward kinematics, as its web app uses them."""

    def __init__(self, folder: Path) -> None:
        manifest = json.loads((folder / 'model.json').read_text())['weightsManifest'][0]
        data = np.frombuffer((folder / manifest['paths'][0]).read_bytes(), dtype='<f4')
        self.weights, offset = [], 0
        for entry in manifest['weights']:
            size = int(np.prod(entry['shape']))
            self.weights.append(data[offset:offset + size].reshape(entry['shape']))
            offset += size

    def angles(self, robot_targets: np.ndarray) -> np.ndarray:
        """Return [theta1, phi1, theta2, phi2] for targets in the z-up frame (its units)."""
        h = robot_targets.astype(np.float32)
        layers = list(zip(self.weights[0::2], self.weights[1::2]))
        for i, (kernel, bias) in enumerate(layers):
            h = h @ kernel + bias
            if i < len(layers) - 1:
                h = np.maximum(h, 0.0)
        return h.astype(np.float64)

    @staticmethod
    def tip(angles: np.ndarray) -> np.ndarray:
        """Return its tip in the z-up frame: web (x, y, z) is robot (x, -z... see below)."""
        def ry(a):
            c, s = np.cos(a), np.sin(a)
            z, o = np.zeros_like(a), np.ones_like(a)
            return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1),
                             np.stack([-s, z, c], -1)], -2)

        def rz(a):
            c, s = np.cos(a), np.sin(a)
            z, o = np.zeros_like(a), np.ones_like(a)
            return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1),
                             np.stack([z, z, o], -1)], -2)

        e_y = np.array([0.0, 1.0, 0.0])
        r1 = ry(angles[:, 0]) @ rz(angles[:, 1])
        r2 = ry(angles[:, 2]) @ rz(angles[:, 3])
        web = (r1 @ (e_y + (r2 @ e_y)[..., :])[..., None])[..., 0]
        # Its input is [x, -z, y] of a web target: robot x = web x, y = -web z, z = web y.
        return np.stack([web[:, 0], -web[:, 2], web[:, 1]], axis=-1)


def hemisphere_targets(rng: np.random.Generator, count: int, low: float, high: float,
                       min_elevation_deg: float = 0.0) -> np.ndarray:
    """Return unit-reach targets above the shoulder, radius uniform in [low, high]."""
    radius = rng.uniform(low, high, count)
    azimuth = rng.uniform(-math.pi, math.pi, count)
    elevation = np.arcsin(rng.uniform(math.sin(math.radians(min_elevation_deg)), 1.0, count))
    return radius[:, None] * np.stack([np.cos(elevation) * np.cos(azimuth),
                                       np.cos(elevation) * np.sin(azimuth),
                                       np.sin(elevation)], axis=-1)


def by_band(radius: np.ndarray, error: np.ndarray) -> dict:
    out = {}
    for low, high in BANDS:
        inside = (radius >= low) & (radius < high)
        e = error[inside]
        out[f'{low:.2f}-{high:.2f}'] = {
            'targets': int(inside.sum()), 'mean': float(e.mean()) if e.size else None,
            'p95': float(np.percentile(e, 95)) if e.size else None,
            'max': float(e.max()) if e.size else None}
    return out


def by_azimuth(targets: np.ndarray, error: np.ndarray, width_deg: float = 10.0) -> list:
    azimuth = np.degrees(np.arctan2(targets[:, 1], targets[:, 0]))
    rows = []
    for start in np.arange(-180.0, 180.0, width_deg):
        inside = (azimuth >= start) & (azimuth < start + width_deg)
        rows.append({'azimuth_deg': [float(start), float(start + width_deg)],
                     'mean': float(error[inside].mean()) if inside.any() else None,
                     'max': float(error[inside].max()) if inside.any() else None})
    return rows


def direction_error_deg(tip: np.ndarray, target: np.ndarray) -> np.ndarray:
    cosine = np.sum(tip * target, -1) / (np.linalg.norm(tip, axis=-1) *
                                         np.linalg.norm(target, axis=-1))
    return np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0)))


def run(quick: bool) -> dict:
    """Measure both on the same targets; return plain data."""
    rng = np.random.default_rng(2026)
    count, far_count = (200, 40) if quick else (1000, 200)
    reachable = hemisphere_targets(rng, count, 0.0, 1.0)
    # Far targets at least 5 degrees above the ground, as in the held-out evaluation: our
    # arm's shoulder pitch stops short of horizontal (limit margin), so a lower direction
    # cannot be pointed at and its angle error would measure the margin, not the network.
    far = hemisphere_targets(rng, far_count, 1.1, 1.6, FAR_MIN_ELEVATION_DEG)
    results = {'targets': count, 'out_of_reach_targets': far_count,
               'units': 'fractions of reach (ours 1 m, seed 2 2 units), shoulder at 0'}

    seed2 = Seed2(SEED2)
    seed_tip = seed2.tip(seed2.angles(reachable * SEED2_REACH)) / SEED2_REACH
    seed_error = np.linalg.norm(seed_tip - reachable, axis=-1)
    seed_far = seed2.tip(seed2.angles(far * SEED2_REACH)) / SEED2_REACH
    radius = np.linalg.norm(reachable, axis=-1)
    results['seed2'] = {'by_radius': by_band(radius, seed_error),
                        'by_azimuth': by_azimuth(reachable, seed_error),
                        'out_of_reach_direction_error_deg': {
                            'mean': float(direction_error_deg(seed_far, far).mean()),
                            'max': float(direction_error_deg(seed_far, far).max())}}

    urdf = share_path('urdf/spatial_arm.urdf')
    model = share_path('models/spatial_arm_default/model.onnx')
    chain = KinematicChain.from_urdf(urdf)
    network = OnnxIKNetwork(model)
    shoulder = chain.shoulder()
    start = (0.0, 0.5, 0.0, 1.0)
    for name, refine in (('ours_network_only', 0), ('ours_refined', 1)):
        settings = LoopSettings(tolerance_m=(1e-3 if refine == 0 else 1e-9) * chain.reach,
                                tick_budget=1000)
        solver = make_solver(chain, network, refine, settings)
        near = run_chained(solver, shoulder + reachable * chain.reach, start, settings)
        tips = (np.array([t['final_tip'] for t in near['targets']]) - shoulder) / chain.reach
        error = np.linalg.norm(tips - reachable, axis=-1)
        projected = np.array([t['status'] == 'OUT_OF_REACH' for t in near['targets']])
        goal_error = np.array([t['final_error_m'] for t in near['targets']]) / chain.reach
        away = run_chained(solver, shoulder + far * chain.reach, start, settings)
        results[name] = {
            'by_radius': by_band(radius, error),
            'by_radius_to_projection': by_band(radius, goal_error),
            'inner_hole_targets_projected': int(projected.sum()),
            'by_azimuth': by_azimuth(reachable, np.where(projected, goal_error, error)),
            'out_of_reach_direction_error_deg': {
                'mean': float(direction_errors_deg(chain, away).mean()),
                'max': float(direction_errors_deg(chain, away).max())},
            'elbow_flips': near['summary']['elbow_flips'],
            'velocity_violations': near['summary']['velocity_violations'],
            'limit_violations': near['summary']['limit_violations']}
    return results


def table(results: dict) -> str:
    """Return the printed comparison."""
    lines = [f"{'radius band (reach)':<22}{'seed 2 mean':>12}{'seed 2 max':>11}"
             f"{'ours net mean':>15}{'ours net max':>13}{'ours ref max':>13}"]
    for band in results['seed2']['by_radius']:
        s = results['seed2']['by_radius'][band]
        n = results['ours_network_only']['by_radius_to_projection'][band]
        r = results['ours_refined']['by_radius_to_projection'][band]
        lines.append(f"{band:<22}{s['mean']:>12.4f}{s['max']:>11.4f}{n['mean']:>15.2e}"
                     f"{n['max']:>13.2e}{r['max']:>13.2e}")
    seed_bins = results['seed2']['by_azimuth']
    worst = sorted(seed_bins, key=lambda b: -(b['max'] or 0))[:3]
    ours_bins = results['ours_network_only']['by_azimuth']
    lines.append('seed 2 worst azimuth bins (max error): ' + ', '.join(
        f"{b['azimuth_deg'][0]:.0f} to {b['azimuth_deg'][1]:.0f} deg: {b['max']:.3f}"
        for b in worst))
    lines.append('ours, network only, worst azimuth bin max error: '
                 f"{max(b['max'] or 0 for b in ours_bins):.2e}")
    for name in ('seed2', 'ours_network_only', 'ours_refined'):
        d = results[name]['out_of_reach_direction_error_deg']
        lines.append(f"out of reach, {name}: direction error mean {d['mean']:.3f} deg, "
                     f"max {d['max']:.3f} deg")
    lines.append(f"ours: {results['ours_refined']['inner_hole_targets_projected']} targets in "
                 'the inner hole (r < 0.267 reach, the elbow cannot fold more) end on their '
                 'projection; the table measures ours to the goal (target or projection)')
    return '\n'.join(lines)


def main() -> int:
    """Run, print and write JSON and the docs page."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--quick', action='store_true', help='fewer targets')
    parser.add_argument('--out', type=Path, default=REPO / 'bench' / 'results')
    parser.add_argument('--docs', type=Path, default=None)
    args = parser.parse_args()
    if not SEED2.is_dir():
        print(f'compare_seed2: skipped: {SEED2} not found (seed 2 anchors absent)')
        return 0
    results = run(args.quick)
    results['date'] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')
    text = table(results)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / ('seed2_quick.json' if args.quick else 'seed2.json')).write_text(
        json.dumps(results, indent=2) + '\n')
    docs = args.docs or (None if args.quick else REPO / 'docs' / 'seed2_comparison.md')
    if docs is not None:
        docs.write_text('# Seed 2 beside ours on its arm\n\nWritten by `bench/compare_seed2.py` '
                        f"on {results['date']}; see its docstring for the method. Raw numbers "
                        f'and the per-azimuth table: `bench/results/seed2.json`.\n\n'
                        f'```text\n{text}\n```\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
