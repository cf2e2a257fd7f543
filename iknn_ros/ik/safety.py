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

"""The last step of every one-arm tick: the command the joints may take, in plain floats."""

from __future__ import annotations

import math
from typing import Optional, Sequence

from iknn_ros.kinematics.angles import TWO_PI


def checked_joints(joints: Sequence[float], dt: float, lower: Sequence[float],
                   upper: Sequence[float]) -> Optional[list]:
    """
    Return the joints as floats, or None when one is outside its limits or not finite.

    Raise ValueError for a tick duration that is not a finite number > 0, or a joint vector
    of the wrong length (``lower`` and ``upper``: the limits a state may be within).
    """
    if not (dt > 0.0 and dt < math.inf):
        raise ValueError(f'tick duration must be a finite number > 0, got {dt!r}')
    if len(joints) != len(lower):
        raise ValueError(f'expected {len(lower)} joint positions, got {len(joints)}')
    q = list(map(float, joints))
    # Plain floats: at seven joints, numpy's per-call cost is the cost.
    for v, low, high in zip(q, lower, upper):
        # NaN fails every comparison; continuous joints have infinite limits.
        if not (low <= v <= high) or v in (math.inf, -math.inf):
            return None
    return q


def bounded_moves(q: Sequence[float], solution: Sequence[float], dt: float,
                  limits: Sequence[tuple]) -> tuple[list, bool, float]:
    """
    Return the moves toward ``solution``, whether a limit held a joint, and their scaling.

    The scaling is the largest share of a joint's velocity limit times ``dt`` that a move
    takes: above 1 the command is scaled down by it (see :func:`safe_command`).
    """
    position_limited = False
    moves = []
    biggest = 0.0
    for v, target, (low, high, vmax, cont) in zip(q, solution, limits):
        if cont:
            move = (target - v + math.pi) % TWO_PI - math.pi
        elif target > high or target < low:
            bounded = high if target > high else low
            if abs(bounded - target) > 1e-12:
                position_limited = True
            move = bounded - v
        else:
            move = target - v
        moves.append(move)
        ratio = abs(move) / (vmax * dt)
        if ratio > biggest:
            biggest = ratio
    return moves, position_limited, biggest


def safe_command(q: Sequence[float], solution: Sequence[float], dt: float,
                 limits: Sequence[tuple]) -> tuple[list, bool, bool]:
    """
    Return the command toward ``solution``, whether a limit held a joint, and the speed.

    ``limits`` holds ``(lower, upper, velocity, continuous)`` per joint (lower and upper
    less the margin). Continuous joints move by their wrapped increment (never the long way
    round), limited joints stop at their limits, and the whole move is scaled so that no
    joint exceeds its velocity times ``dt`` (the direction is kept). Plain floats: at two to
    seven joints numpy's per-call cost is the cost.
    """
    moves, position_limited, biggest = bounded_moves(q, solution, dt, limits)
    if biggest > 1.0:
        scale = 1.0 / biggest
        return [v + m * scale for v, m in zip(q, moves)], position_limited, True
    return [v + m for v, m in zip(q, moves)], position_limited, False
