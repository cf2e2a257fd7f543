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

"""The benchmark script runs end to end and its invariants hold (no timing is asserted)."""

import json
from pathlib import Path
import subprocess
import sys

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def test_quick_benchmark_runs_and_reports(tmp_path):
    done = subprocess.run([sys.executable, str(REPO / 'bench' / 'bench_ik.py'), '--quick',
                           '--out', str(tmp_path), '--docs', str(tmp_path / 'bench.md')],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    results = json.loads((tmp_path / 'latest_quick.json').read_text())
    methods = results['methods']
    for name in ('ours_network_only', 'ours_refined', 'closed_form_solve', 'closed_form_tick',
                 'dls_only', 'ikpy', 'seed1_anchor'):
        assert name in methods
    refined = methods['ours_refined']['chained']
    assert refined['n_reached'] == refined['n_targets'] == results['counts']['chained']
    assert refined['final_error_m']['max'] <= 1e-9 * 1.0
    assert methods['ours_network_only']['chained']['n_reached'] == results['counts']['chained']
    for name in ('ours_refined', 'ours_network_only'):
        c = methods[name]['chained']
        assert c['limit_violations'] == c['velocity_violations'] == c['nan_outputs'] == 0
        assert c['elbow_flips'] == 0
    ticks = results['random_ticks']
    assert ticks['ticks'] == results['counts']['random_ticks']
    assert ticks['nan_outputs'] == ticks['limit_violations'] == ticks['velocity_violations'] == 0
    unreachable = results['unreachable']
    assert unreachable['ended_on_projection_within_1e-6_reach'] == unreachable['targets']
    assert unreachable['status_out_of_reach'] == unreachable['targets']
    assert 'machine:' in done.stdout and (tmp_path / 'bench.md').is_file()
    arms = results['redundant_arms']
    for arm in ('three_link_arm', 'spatial_arm'):
        for method in ('network_only', 'refined', 'dls_only', 'numpy_reference'):
            assert arms[arm]['latency'][method]['calls'] == arms[arm]['problems'] > 0
    # A target moving every tick at 0.25 m/s is followed exactly, each tick timed both ways.
    moving = arms['spatial_arm']['moving_target']
    assert moving['final_target_error_m'] < 1e-9
    for method in ('float_tick', 'numpy_reference'):
        assert moving['latency'][method]['calls'] == moving['ticks'] > 0
    # Every trap of the spatial arm was searched, and each search found a way out.
    assert arms['spatial_arm']['trap_search_ms']['count'] == 3
    assert 'trap search (network rollouts)' in done.stdout


def test_the_real_size_arm_benchmark_runs_and_its_invariants_hold(tmp_path):
    out, doc = tmp_path / 'arms.json', tmp_path / 'arms.md'
    done = subprocess.run([sys.executable, str(REPO / 'bench' / 'bench_arms.py'), '--quick',
                           '--json', str(out), '--doc', str(doc)],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    for arm in ('seven_dof_arm', 'six_dof_arm'):
        data = report['arms'][arm]
        ours = data['streaming']['iknn_ros tick']
        # Every streaming pose exact in one tick, inside the limits.
        assert ours['exact_in_one_call'] == ours['points'] == ours['inside_limits']
        solve = data['cold']['iknn_ros solve']
        assert solve['exact'] == solve['targets'] == solve['inside_limits']
        # The targets are what they say: as many poses as points (a kept view of
        # Pinocchio's data once made them one pose, compared with itself).
        assert ours['distinct_targets'] == ours['points']
        assert solve['distinct_targets'] == solve['targets']
        assert 'pin CLIK' in data['cold']
        hostile = data['hostile']
        assert hostile['nan_commands'] == hostile['limit_violations'] == \
            hostile['velocity_violations'] == 0
    # A peer that is not installed is named with the reason, never silently left out.
    for peer in ('placo', 'pytracik'):
        assert peer in report['skipped'] or 'placo solve' in \
            report['arms']['seven_dof_arm']['streaming']
    assert 'Streaming poses' in doc.read_text()


def test_the_peers_run_on_another_benchmarks_targets(tmp_path):
    # bench_network_value.py hands the peers its own cold targets and streaming path.
    from iknn_ros.kinematics import KinematicChain
    from iknn_ros.kinematics.rigid_body import RigidBodyModel
    from iknn_ros.kinematics.targets import format_target, TargetMode
    chain = KinematicChain.from_urdf(REPO / 'urdf' / 'seven_dof_arm.urdf', None, 'flange')
    body = RigidBodyModel(chain)
    joints = chain.with_limit_margin(0.05).random_configurations(np.random.default_rng(1), 3)
    middle = 0.5 * (chain.lower + chain.upper)
    path = middle + 1e-3 * np.arange(6)[:, None]
    spec = {'arm': 'seven_dof_arm', 'seed': middle.tolist(), 'stream': path.tolist(),
            'cold': [list(format_target(chain, TargetMode.POSE, *body.placement(q)))
                     for q in joints]}
    (tmp_path / 'spec.json').write_text(json.dumps(spec))
    done = subprocess.run([sys.executable, str(REPO / 'bench' / 'bench_arms.py'), '--peers-on',
                           str(tmp_path / 'spec.json'), str(tmp_path / 'out.json')],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    out = json.loads((tmp_path / 'out.json').read_text())
    # Pinocchio's CLIK runs wherever iknn_ros does; ours are not among the peers.
    assert out['cold']['pin CLIK']['targets'] == 3 and out['cold']['pin CLIK']['exact'] >= 1
    assert out['streaming']['pin CLIK']['points'] == 5
    assert 'iknn_ros solve' not in out['cold'] and 'iknn_ros tick' not in out['streaming']
    for peer in ('placo', 'pytracik'):
        assert peer in out['skipped'] or any(peer[:4] in k.lower() for k in out['streaming'])


def test_the_network_value_benchmark_compares_every_method_on_the_same_targets(tmp_path):
    out, doc = tmp_path / 'value.json', tmp_path / 'value.md'
    done = subprocess.run([sys.executable, str(REPO / 'bench' / 'bench_network_value.py'),
                           '--quick', '--arms', 'two_link_arm', 'three_link_arm', '--json',
                           str(out), '--doc', str(doc)],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    for name, data in report['arms'].items():
        methods = data['chained']
        assert set(methods) == {'network only', 'network + refinement', 'damped least squares'}
        targets = {row['targets'] for row in methods.values()}
        assert targets == {report['counts']['chained']}, name
        for row in methods.values():
            assert row['limit_violations'] == row['velocity_violations'] == 0
        # Refined and without the network: every target, to 1e-9 of the reach.
        assert methods['network + refinement']['reached'] == targets.pop()
        assert 'Levenberg-Marquardt solve' in data['cold']
        # The planar arms' refined network is exact in one tick on streaming targets.
        streaming = data['streaming']['network + refinement']
        assert streaming['exact_in_one_tick'] == streaming['points'], name
        # ... and what one tick leaves is measured: nothing with the network, more without.
        assert streaming['error_left_median'] <= 1e-9 < \
            data['streaming']['damped least squares']['error_left_median'], name
    # The redundant arm's laps are measured, the non-redundant one's are not.
    assert 'drift' in report['arms']['three_link_arm']
    assert 'drift' not in report['arms']['two_link_arm']
    text = doc.read_text()
    assert '## three_link_arm' in text and 'In plain words:' in text
    assert 'error left after one tick (median)' in text
