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
Solve one target now: joint angles within the limits, no velocity bound, no network.

Print the joints that put the tool on a position or a pose, or the nearest reachable
one's, with the status, errors and time::

    ros2 run iknn_ros solve --urdf my_arm.urdf --target 0.4,0.1,0.5,0,1,0,0
    ros2 run iknn_ros solve --target 0.5,0.4             # the shipped two-link arm

A target is x,y,z (a position), x,y,z,qx,qy,qz,qw (a pose, for 6+ joints), x,y on a
planar arm, or x,y,yaw (planar arms of 3+ joints). Exit status: 0 reached, 3 out of reach
(the nearest reachable target's joints are printed), 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from typing import Optional, Sequence

from iknn_ros.ik.solver import IKSolver
from iknn_ros.ik.solver import SolverConfig
from iknn_ros.kinematics import KinematicChain
from iknn_ros.kinematics import UrdfError
from iknn_ros.kinematics.targets import TargetMode
from iknn_ros.resources import default_urdf_path

EXIT_REACHED = 0
EXIT_BAD_INPUT = 2
EXIT_OUT_OF_REACH = 3


def _numbers(text: str, what: str) -> tuple:
    try:
        values = tuple(float(v) for v in text.replace(' ', '').split(','))
    except ValueError:
        raise ValueError(f'{what} must be numbers separated by commas, got {text!r}') from None
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f'{what} must be finite, got {text!r}')
    return values


def mode_of(chain: KinematicChain, length: int) -> TargetMode:
    """Return the target mode a target of ``length`` numbers means on ``chain``."""
    planar = chain.planar is not None
    modes = {2: TargetMode.POSITION} if planar else {3: TargetMode.POSITION,
                                                     6: TargetMode.TOOL_AXIS,
                                                     7: TargetMode.POSE}
    if planar:
        modes[3] = TargetMode.PLANAR_POSE
    if length not in modes:
        raise ValueError(f'a target for this {"planar" if planar else "spatial"} arm has '
                         f'{" or ".join(str(n) for n in sorted(modes))} numbers, got {length}')
    return modes[length]


def build_parser() -> argparse.ArgumentParser:
    """Return the command line of ``solve``."""
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0].strip(),
        epilog='Exit status: 0 reached, 3 out of reach, 2 bad input.')
    parser.add_argument('--urdf', default=None, help='URDF file (default: the shipped arm)')
    parser.add_argument('--base-link', default=None, help='base link (default: the root)')
    parser.add_argument('--tip-link', default=None, help='tip link (default: the only leaf)')
    parser.add_argument('--target', required=True,
                        help='x,y,z | x,y,z,qx,qy,qz,qw | x,y | x,y,yaw (base frame)')
    parser.add_argument('--seed', default=None,
                        help='joint positions to start from, comma separated (default: the '
                             'middle of the limits)')
    parser.add_argument('--limit-margin', type=float, default=SolverConfig.limit_margin_rad,
                        help='keep this far from every limit (rad; default %(default)s)')
    parser.add_argument('--json', action='store_true', help='print one JSON object')
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Solve the target on the command line and print the answer."""
    args = build_parser().parse_args(argv)
    try:
        chain = KinematicChain.from_urdf(args.urdf or default_urdf_path(), args.base_link,
                                         args.tip_link)
        target = _numbers(args.target, '--target')
        mode = mode_of(chain, len(target))
        seed = None if args.seed is None else _numbers(args.seed, '--seed')
        solver = IKSolver(chain, None, SolverConfig(
            use_network=False, target_mode=mode.value, limit_margin_rad=args.limit_margin))
        start = time.perf_counter()
        result = solver.solve(target, seed)
        elapsed = time.perf_counter() - start
    except (UrdfError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return EXIT_BAD_INPUT
    report = {
        'status': result.status.name, 'target_mode': mode.value,
        'joints': dict(zip(chain.joint_names, result.joints)),
        'position_error_m': result.position_error_m,
        'orientation_error_rad': None if math.isnan(result.orientation_error_rad)
        else result.orientation_error_rad,
        'unreachable': result.unreachable or None, 'iterations': result.iterations,
        'starts': result.starts, 'time_s': elapsed,
    }
    if args.json:
        print(json.dumps(report))
    else:
        width = max(len(n) for n in chain.joint_names)
        print(f'{result.status.name.lower().replace("_", " ")}'
              + (f' ({result.unreachable} out of reach)' if result.unreachable else '')
              + f' in {elapsed * 1e3:.2f} ms ({result.iterations} iterations, '
              f'{result.starts} start{"s" if result.starts > 1 else ""})')
        for name, value in report['joints'].items():
            print(f'  {name:<{width}}  {value:+.9f}')
        line = f'position error {result.position_error_m:.2e} m'
        if report['orientation_error_rad'] is not None:
            line += f', orientation error {result.orientation_error_rad:.2e} rad'
        print(line)
    return EXIT_REACHED if result.reached else EXIT_OUT_OF_REACH


if __name__ == '__main__':
    sys.exit(main())
