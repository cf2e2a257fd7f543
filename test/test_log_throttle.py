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

"""The log throttle shared by the IK node's target lines and the web view's refusals."""


from iknn_ros.ik.controller import LogSummary
from iknn_ros.log_throttle import LetThrough
from iknn_ros.log_throttle import LogThrottle


def test_the_first_event_goes_out_then_one_per_period_with_the_count():
    throttle = LogThrottle(2.0)
    assert throttle.event(10.0) == LetThrough(0, float('inf'))
    assert [throttle.event(10.0 + k * 0.001) for k in range(1, 1000)] == [None] * 999
    assert throttle.event(12.0) == LetThrough(999, 2.0)
    assert throttle.event(20.0) == LetThrough(0, 8.0)


def test_the_ik_node_summary_says_the_stream_in_one_line():
    summary = LogSummary(2.0)
    assert summary.record(0.0, 'new target (1, 2)') == 'new target (1, 2)'
    assert all(summary.record(k * 0.001, 'x') is None for k in range(1, 2000))
    assert summary.record(2.0, 'new target (3, 4)') == 'new target (3, 4) (2000 in the last 2.0 s)'
