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

"""One log line per period for a stream of like events, the rest counted (no I/O, no ROS)."""

from __future__ import annotations

import dataclasses
import math
from typing import Optional


@dataclasses.dataclass(frozen=True)
class LetThrough:
    """An event that goes to the log: how many were held back, over how long."""

    held_back: int
    since_s: float


class LogThrottle:
    """Lets the first event through at once, then one per ``period_s``, counting the rest."""

    def __init__(self, period_s: float) -> None:
        self.period_s = period_s
        self._let_at = -math.inf
        self._held = 0

    def event(self, now: float) -> Optional[LetThrough]:
        """Count one event at ``now`` (s); return what to say if it goes out, else None."""
        if now - self._let_at < self.period_s:
            self._held += 1
            return None
        out = LetThrough(self._held, now - self._let_at)
        self._let_at, self._held = now, 0
        return out
