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
The scenarios on which the browser's tick is held to the Python tick, written once.

test/test_web_3d.py asserts on them and bench/bench_web.py measures on them.

A scenario is 500 targets, 10 ms apart: a far pose held, a circle streamed one point per
tick, a pose with a joint at its URDF limit (past the margin the tick keeps), a target out
of reach, and a half turn across a continuous joint's +-pi (or another far pose).
"""

import math

from iknn_ros.evaluation.evaluate import default_start
from iknn_ros.ik.solver import Tracker
from iknn_ros.kinematics.targets import format_target
from iknn_ros.kinematics.targets import TargetMode
import numpy as np

DT = 0.01


def scenario(solver, rng, ticks=500):
    """Return 500 targets: far, streamed, past a joint limit, out of reach, across +-pi."""
    chain, safe = solver.chain, solver.safe_chain
    mode = solver.target_mode
    start = np.array(default_start(chain))

    def target_of(q):
        frame = chain.tool_frames(np.asarray(q, dtype=np.float64))
        values = format_target(chain, mode, frame[:3, 3], frame[:3, :3])
        return list(values[:2] if chain.planar is not None and mode is TargetMode.POSITION
                    else values)

    near = safe.random_configurations(rng, 1)[0]
    near = np.clip(start + 0.5 * (near - start), safe.lower, safe.upper)
    first = np.array(target_of(near))
    targets = [first.tolist()] * 110
    for i in range(90):
        point = first.copy()
        angle = 2.0 * math.pi * i / 90
        point[0] += 0.03 * (math.cos(angle) - 1.0)
        point[1] += 0.03 * math.sin(angle)
        targets.append(point.tolist())
    limited = near.copy()
    joint = int(np.flatnonzero(~chain.continuous)[-1])
    limited[joint] = chain.upper[joint]  # the URDF limit: past the margin the tick keeps
    targets += [target_of(limited)] * 100
    far = first.copy()
    shoulder = chain.shoulder()[:len(far[:3])] if chain.planar is None else chain.shoulder()[:2]
    k = len(shoulder)
    away = far[:k] - shoulder
    far[:k] = shoulder + 1.5 * chain.reach * away / np.linalg.norm(away)
    targets += [far.tolist()] * 100
    across = near.copy()
    if chain.continuous[0]:
        # Half a turn about the first joint: its shortest way crosses +-pi.
        across[0] = math.pi - 0.2 if near[0] < 0.0 else -math.pi + 0.2
        across[0] += -0.4 if near[0] < 0.0 else 0.4
    else:
        across = np.clip(start - 0.5 * (near - start), safe.lower, safe.upper)
    targets += [target_of(across)] * 100
    return targets[:ticks]


def python_run(solver, targets, start):
    """Return (joints, status) after each tick, as the IK node's controller runs them."""
    tracker = Tracker(solver)
    q, out = list(start), []
    for target in targets:
        result = tracker.tick(q, target, DT)
        if result.command is not None:
            q = list(result.command)
        out.append((q, result.status.name))
    return out


def joint_gaps(solver, python, browser):
    """Return the largest joint difference per tick (continuous joints: wrapped)."""
    continuous = solver.chain.continuous
    gaps = []
    for (q, _), tick in zip(python, browser):
        diff = np.subtract(tick['joints'], q)
        diff = np.where(continuous, (diff + math.pi) % (2.0 * math.pi) - math.pi, diff)
        gaps.append(float(np.max(np.abs(diff))))
    return np.array(gaps)
