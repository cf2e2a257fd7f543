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

"""Angles: wrapping, for numpy arrays and for plain floats (the same formula, twice)."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

TWO_PI = 2.0 * math.pi


def wrap_to_pi(angles: ArrayLike) -> NDArray[np.float64]:
    """Return angles wrapped to ``[-pi, pi)``."""
    a = np.asarray(angles, dtype=np.float64)
    return (a + math.pi) % TWO_PI - math.pi


def wrap_scalar(angle: float) -> float:
    """Return ``angle`` wrapped to ``[-pi, pi)`` (the float twin of :func:`wrap_to_pi`)."""
    return (angle + math.pi) % TWO_PI - math.pi
