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
Print what iknn_ros reads from a URDF: the chain, its limits, its workspace, FK/IK checks.

Run it before training or launching on a new arm to see that the URDF says what you think::

    ros2 run iknn_ros chain_info --urdf my_arm.urdf --base-link base_link --tip-link tool0
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Optional, Sequence

from iknn_ros.kinematics.chain import KinematicChain
from iknn_ros.kinematics.chain import UrdfError
from iknn_ros.kinematics.two_link import TwoLinkGeometry
from iknn_ros.kinematics.workspace import AnnulusWorkspace
from iknn_ros.kinematics.workspace import workspace_of
from iknn_ros.resources import default_urdf_path
import numpy as np


def _limit_text(value: float) -> str:
    return 'free' if not math.isfinite(value) else f'{value:+.4f}'


def describe(chain: KinematicChain, samples: int = 8, seed: int = 0) -> str:
    """Return a human-readable report of the chain, its workspace and round trips."""
    lines = [f'robot {chain.robot_name!r}: {chain.base_link} -> {chain.tip_link}, '
             f'{chain.n_joints} joints, '
             + (f'planar (targets x, y at z = {chain.planar.height:.4f} m)'
                if chain.planar is not None else 'spatial (targets x, y, z)'),
             f'reach bound {chain.reach:.4f} m   fingerprint {chain.fingerprint()[:16]}',
             '',
             ]
    width = max(len('joint'), *(len(j.name) for j in chain.joints)) + 2
    lines.append(f"{'joint':<{width}}{'type':<12}{'lower':>9}{'upper':>9}{'vel rad/s':>11}")
    for j in chain.joints:
        vel = f'{j.velocity:.3f}' if math.isfinite(j.velocity) else 'none'
        lines.append(f'{j.name:<{width}}{j.joint_type:<12}{_limit_text(j.lower):>9}'
                     f'{_limit_text(j.upper):>9}{vel:>11}')
    workspace = workspace_of(chain)
    lines.append('')
    if isinstance(workspace, AnnulusWorkspace):
        lines.append(f'workspace: annulus around ({workspace.center[0]:+.3f}, '
                     f'{workspace.center[1]:+.3f}) with {workspace.r_min:.4f} m <= r <= '
                     f'{workspace.r_max:.4f} m')
    else:
        lines.append('workspace: general (nearest reachable points found numerically)')
    elbows = [chain.joint_names[j] for j in chain.elbow_joints()]
    lines.append(f"elbow joints (stretched at zero): {', '.join(elbows) or 'none'}")

    rng = np.random.default_rng(seed)
    q = chain.random_configurations(rng, samples)
    tips = chain.fk(q)
    try:
        geometry = TwoLinkGeometry.of(chain)
    except ValueError:
        geometry = None
    lines += ['', 'round trips (random joint angles -> FK -> closed-form IK -> FK):'
              if geometry is not None else
              'forward kinematics of random joint angles (no closed form for this chain):']
    for qi, tip in zip(q, tips):
        q_text = ', '.join(f'{v:+.3f}' for v in qi)
        tip_text = ', '.join(f'{v:+.4f}' for v in tip)
        row = f'  q = ({q_text})  tip = ({tip_text})'
        if geometry is not None:
            errors = []
            for elbow in (1.0, -1.0):
                solution, ok = geometry.ik(tip, elbow)
                errors.append(f'{np.linalg.norm(chain.fk(solution) - tip):.1e}'
                              if ok else 'n/a')
            row += f'  IK error elbow+ {errors[0]}  elbow- {errors[1]}'
        lines.append(row)
    return '\n'.join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Print the report for the URDF named on the command line (default: the shipped arm)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[1].strip())
    parser.add_argument('--urdf', default=None, help='URDF file (default: the shipped arm)')
    # --base/--tip: the spellings before every command took --base-link/--tip-link.
    parser.add_argument('--base-link', '--base', dest='base_link', default=None,
                        help='base link (default: the root link)')
    parser.add_argument('--tip-link', '--tip', dest='tip_link', default=None,
                        help='tip link (default: the only leaf link)')
    parser.add_argument('--samples', type=int, default=8, help='round trips to show')
    args = parser.parse_args(argv)
    try:
        chain = KinematicChain.from_urdf(args.urdf or default_urdf_path(), args.base_link,
                                         args.tip_link)
    except UrdfError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    print(describe(chain, samples=args.samples))
    return 0


if __name__ == '__main__':
    sys.exit(main())
