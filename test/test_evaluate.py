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

"""The evaluate command: user scenarios and the held-out report, run as users run them."""

import json
import math
from pathlib import Path
import subprocess
import sys

from iknn_ros.kinematics import KinematicChain
from iknn_ros.kinematics.rigid_body import RigidBodyModel
from iknn_ros.kinematics.targets import format_target
from iknn_ros.kinematics.targets import TargetMode
import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
SUMMARY_KEYS = {'n_targets', 'n_reached', 'final_error_m', 'max_joint_step_rad',
                'elbow_flips', 'limit_violations', 'velocity_violations', 'nan_outputs'}
TARGET_KEYS = {'final_error_m', 'ticks', 'status', 'max_joint_step_rad', 'elbow_flips'}


def evaluate(*args):
    return subprocess.run([sys.executable, '-m', 'iknn_ros.evaluation.evaluate', *args], cwd=REPO,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture()
def targets_csv(tmp_path):
    path = tmp_path / 'targets.csv'
    path.write_text('x,y\n0.6,0.3\n-0.4,0.5\n1.4,0.2\n0.05,0.0\n-0.2,-0.7\nnan,0.3\n0.3,0.3\n')
    return path


@pytest.mark.parametrize('options, tolerance', [(['--tolerance', '1e-9'], 1e-9),
                                                (['--no-refine'], 1e-4)])
def test_scenario_json(targets_csv, options, tolerance):
    done = evaluate('--targets', str(targets_csv), '--start', '0.5,1.0', '--json', *options)
    assert done.returncode == 0, done.stderr
    run = json.loads(done.stdout)
    assert SUMMARY_KEYS <= set(run['summary'])
    assert {'mean', 'max'} == set(run['summary']['final_error_m'])
    rows = run['targets']
    assert len(rows) == 7 and all(TARGET_KEYS <= set(r) for r in rows)
    assert [r['status'] for r in rows] == ['REACHED', 'REACHED', 'OUT_OF_REACH',
                                           'OUT_OF_REACH', 'REACHED', 'INVALID_TARGET',
                                           'REACHED']
    # Unreachable rows count as reached when the arm ends on their projection.
    assert [r['reached'] for r in rows] == [True] * 5 + [False, True]
    assert run['summary']['n_reached'] == 6
    s = run['summary']
    assert s['limit_violations'] == s['velocity_violations'] == s['nan_outputs'] == 0
    assert s['elbow_flips'] == 0
    assert s['max_joint_step_rad'] <= 2.0 * 0.01 + 1e-12
    assert all(r['final_error_m'] <= tolerance for r in rows if r['reached'])


def test_scenario_table_and_3d_targets(tmp_path):
    path = tmp_path / 't.csv'
    path.write_text('x,y,z\n0.5,0.5,0.07\n')
    done = evaluate('--targets', str(path))
    assert done.returncode == 0, done.stderr
    assert 'reached 1/1' in done.stdout


@pytest.mark.parametrize('content, message', [
    ('a,b\n1,2\n', "header must be 'x,y', 'x,y,z', 'x,y,yaw', 'x,y,z,ax,ay,az' or "
     "'x,y,z,qx,qy,qz,qw'"),
    ('x,y\n0.5,zero\n', 'line 2'),
    ('x,y\n0.5\n', 'line 2: expected 2 values'),
    ('x,y\n', 'has no targets'),
])
def test_bad_target_files_are_refused(tmp_path, content, message):
    path = tmp_path / 'bad.csv'
    path.write_text(content)
    done = evaluate('--targets', str(path), '--json')
    assert done.returncode == 2
    assert message in done.stderr and done.stdout == ''


def test_bad_start_and_missing_files(tmp_path, targets_csv):
    done = evaluate('--targets', str(targets_csv), '--start', '1,2,3')
    assert done.returncode == 2 and '--start must be 2' in done.stderr
    done = evaluate('--targets', str(tmp_path / 'none.csv'))
    assert done.returncode == 2 and 'does not exist' in done.stderr
    done = evaluate('--targets', str(targets_csv), '--model', str(tmp_path / 'none.onnx'))
    assert done.returncode == 2 and 'does not exist' in done.stderr


def test_heldout_report_writes_metrics_and_plots(tmp_path):
    done = evaluate('--samples', '3000', '--chained', '25', '--out', str(tmp_path), '--json')
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert json.loads((tmp_path / 'metrics.json').read_text()) == report
    assert (tmp_path / 'error_map.png').stat().st_size > 10_000
    assert (tmp_path / 'loss_curves.png').is_file()
    step = report['single_step']['tip_error_m']
    assert step['count'] == 3000 and step['mean'] < step['p95'] <= step['max']
    assert math.isclose(report['single_step']['tip_error_fraction_of_reach']['mean'],
                        step['mean'] / report['reach_m'])
    loop = report['closed_loop']
    assert loop['network_only']['n_targets'] == loop['refined']['n_targets'] == 25
    assert report['machine']['cpus'] >= 1


def test_single_steps_of_a_redundant_arm_keep_to_the_trained_step():
    import numpy as np
    from iknn_ros.evaluation.evaluate import single_step
    from iknn_ros.kinematics import KinematicChain
    from iknn_ros.ik.model_card import shipped_model_for
    from iknn_ros.kinematics.sampling import step_samples
    from iknn_ros.ik.solver import OnnxIKNetwork
    chain = KinematicChain.from_urdf(REPO / 'urdf' / 'three_link_arm.urdf')
    network = OnnxIKNetwork(shipped_model_for(chain.fingerprint()))
    rng = np.random.default_rng(11)
    report, data = single_step(network, chain, rng, 4000)
    # About 2 % of the sampler's targets lie beyond the trained step: left out, and counted.
    assert 20 < report['samples_beyond_the_trained_step_left_out'] < 200
    assert report['samples'] + report['samples_beyond_the_trained_step_left_out'] == 4000
    assert report['tip_error_m']['count'] == report['samples']
    # The draw is the full one, so what the evaluation draws next does not move.
    again = np.random.default_rng(11)
    step_samples(chain, again, 4000, network.card.step_m)
    assert rng.uniform() == again.uniform()


def test_pose_targets_run_without_a_model_and_report_both_errors(tmp_path):
    # FK of two joint vectors of the Panda-sized arm as pose targets, then one whose
    # position is beyond reach.
    urdf = REPO / 'urdf' / 'seven_dof_arm.urdf'
    chain = KinematicChain.from_urdf(urdf)
    body = RigidBodyModel(chain)
    rows = [format_target(chain, TargetMode.POSE, *body.placement(np.array(q))) for q in
            ([0.3, -0.5, 0.2, -2.0, 0.1, 1.8, 0.5], [-0.4, 0.2, -0.3, -1.5, -0.2, 1.2, 0.9])]
    rows.append((2.0, 0.0, 0.5, 0.0, 0.0, 0.0, 1.0))
    path = tmp_path / 'poses.csv'
    lines = [','.join(f'{v:.12f}' for v in row) for row in rows]
    path.write_text('x,y,z,qx,qy,qz,qw\n' + '\n'.join(lines) + '\n')
    done = evaluate('--urdf', str(urdf), '--model', 'none', '--targets', str(path),
                    '--start', '0,-0.3,0,-2,0,1.7,0.785', '--refine', '3', '--json')
    assert done.returncode == 0, done.stderr
    run = json.loads(done.stdout)
    assert run['summary']['target_mode'] == 'pose' and run['summary']['model'] == 'none'
    first, second, far = run['targets']
    for reached in (first, second):
        assert reached['reached'] and reached['status'] == 'REACHED'
        assert reached['final_error_m'] <= 1e-4 and reached['final_error_rad'] <= 1e-4
    assert far['status'] == 'OUT_OF_REACH' and far['unreachable'] == 'position'
    assert run['summary']['limit_violations'] == run['summary']['velocity_violations'] == 0


def test_tool_axis_targets_take_the_header_x_y_z_ax_ay_az(tmp_path):
    urdf = REPO / 'urdf' / 'six_dof_arm.urdf'
    chain = KinematicChain.from_urdf(urdf)
    body = RigidBodyModel(chain)
    row = format_target(chain, TargetMode.TOOL_AXIS,
                        *body.placement(np.array([0.3, -1.4, 1.5, -1.2, -1.4, 0.5])))
    path = tmp_path / 'axes.csv'
    path.write_text('x,y,z,ax,ay,az\n' + ','.join(f'{v:.12f}' for v in row) + '\n')
    done = evaluate('--urdf', str(urdf), '--model', 'none', '--targets', str(path),
                    '--start', '0,-1.5,1.5,-1.5,-1.5,0', '--refine', '3', '--json')
    assert done.returncode == 0, done.stderr
    run = json.loads(done.stdout)
    assert run['summary']['target_mode'] == 'tool_axis'
    (reached,) = run['targets']
    assert reached['status'] == 'REACHED' and reached['final_error_rad'] <= 1e-4


def test_pose_targets_are_refused_where_the_arm_cannot_hold_them(tmp_path):
    path = tmp_path / 'poses.csv'
    path.write_text('x,y,z,qx,qy,qz,qw\n0.5,0.2,0.6,0,0,0,1\n')
    done = evaluate('--urdf', str(REPO / 'urdf' / 'spatial_arm.urdf'), '--model', 'none',
                    '--targets', str(path))
    assert done.returncode == 2 and 'six joints or more' in done.stderr
