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


"""The last step of every tick (ik/safety.py): the states it takes and the commands it gives."""

import math

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from iknn_ros.ik.safety import checked_joints
from iknn_ros.ik.safety import safe_command
import pytest

LOWER = [-1.0, -2.0, -math.inf]
UPPER = [1.5, 0.5, math.inf]
# (lower, upper, velocity, continuous) per joint, as PoseTick passes them (less the margin).
LIMITS = [(-0.95, 1.45, 2.0, False), (-1.95, 0.45, 0.5, False),
          (-math.inf, math.inf, 3.0, True)]


def test_checked_joints_takes_states_within_the_limits_as_floats():
    assert checked_joints((0, -2.0, 1e6), 0.01, LOWER, UPPER) == [0.0, -2.0, 1e6]
    for bad in ([math.nan, 0.0, 0.0], [0.0, 0.6, 0.0], [0.0, 0.0, math.inf],
                [1.5000001, 0.0, 0.0], [0.0, 0.0, -math.inf]):
        assert checked_joints(bad, 0.01, LOWER, UPPER) is None, bad


@pytest.mark.parametrize('dt', [0.0, -0.01, math.nan, math.inf])
def test_checked_joints_refuses_a_tick_duration_that_is_no_duration(dt):
    with pytest.raises(ValueError, match='tick duration must be a finite number > 0'):
        checked_joints([0.0, 0.0, 0.0], dt, LOWER, UPPER)


def test_checked_joints_refuses_a_joint_vector_of_the_wrong_length():
    with pytest.raises(ValueError, match='expected 3 joint positions, got 2'):
        checked_joints([0.0, 0.0], 0.01, LOWER, UPPER)


def inside(limits):
    low, high, _, continuous = limits
    return st.floats(-50.0, 50.0) if continuous else st.floats(low, high)


anywhere = st.floats(-1e3, 1e3) | st.sampled_from([1e9, -1e9, 0.0])


@settings(max_examples=2000, deadline=None)
@given(q=st.tuples(*(inside(limit) for limit in LIMITS)),
       solution=st.tuples(anywhere, anywhere, anywhere),
       dt=st.floats(1e-4, 0.5))
def test_a_command_stays_in_the_limits_and_within_one_ticks_speed(q, solution, dt):
    command, position_limited, velocity_limited = safe_command(q, solution, dt, LIMITS)
    moves = [c - v for c, v in zip(command, q)]
    ratios = [abs(m) / (vmax * dt) for m, (_, _, vmax, _) in zip(moves, LIMITS)]
    assert max(ratios) <= 1.0 + 1e-9
    for c, target, (low, high, _, continuous) in zip(command, solution, LIMITS):
        if not continuous:
            assert low <= c <= high or math.isclose(c, low) or math.isclose(c, high)
    # The whole move is scaled alike: the direction toward the (bounded) solution is kept.
    wanted = []
    for v, target, (low, high, _, continuous) in zip(q, solution, LIMITS):
        if continuous:
            wanted.append((target - v + math.pi) % (2 * math.pi) - math.pi)
        else:
            wanted.append(min(max(target, low), high) - v)
    assert position_limited == any(
        not continuous and (target > high + 1e-12 or target < low - 1e-12)
        for target, (low, high, _, continuous) in zip(solution, LIMITS))
    biggest = max(abs(w) / (vmax * dt) for w, (_, _, vmax, _) in zip(wanted, LIMITS))
    assert velocity_limited == (biggest > 1.0)
    scale = 1.0 / biggest if biggest > 1.0 else 1.0
    for m, w in zip(moves, wanted):
        assert m == pytest.approx(w * scale, rel=1e-9, abs=1e-9)


def test_a_continuous_joint_turns_the_short_way_round():
    # From +3.1 rad to -3.1 rad: 0.083 rad forward across the seam, not 6.2 back.
    command, _, velocity_limited = safe_command([0.0, 0.0, 3.1], [0.0, 0.0, -3.1], 1.0,
                                                LIMITS)
    assert command[2] == pytest.approx(3.1 + (2 * math.pi - 6.2))
    assert not velocity_limited


def test_a_joint_outside_its_margin_comes_back_no_faster_than_allowed():
    # A state between the margin and the hard limit (allowed by checked_joints) is moved
    # back inside at the joint's speed.
    command, position_limited, velocity_limited = safe_command([1.49, 0.0, 0.0],
                                                               [2.0, 0.0, 0.0], 0.01, LIMITS)
    assert command[0] == pytest.approx(1.49 - 0.02)
    assert position_limited and velocity_limited
