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


"""Angle wrapping: the array and the float forms agree, on [-pi, pi), everywhere."""

import math

from hypothesis import given
from hypothesis import strategies as st
from iknn_ros.kinematics.angles import TWO_PI
from iknn_ros.kinematics.angles import wrap_scalar
from iknn_ros.kinematics.angles import wrap_to_pi
import numpy as np


@given(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False))
def test_the_float_and_the_array_wrap_agree_and_stay_in_range(angle):
    wrapped = wrap_scalar(angle)
    assert wrapped == float(wrap_to_pi(angle))
    assert -math.pi <= wrapped < math.pi
    # The same direction: a whole number of turns away.
    turns = (angle - wrapped) / TWO_PI
    assert abs(turns - round(turns)) < 1e-6


def test_the_edges_of_the_range():
    np.testing.assert_array_equal(wrap_to_pi([math.pi, -math.pi, 0.0, 3 * math.pi]),
                                  [-math.pi, -math.pi, 0.0, -math.pi])
    assert wrap_scalar(math.pi) == -math.pi and wrap_scalar(-math.pi) == -math.pi
    assert wrap_scalar(math.pi - 1e-12) == math.pi - 1e-12
