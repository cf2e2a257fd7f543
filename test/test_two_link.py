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


"""The planar 2R arm's closed form: IK on both elbows, unreachable targets, the radius range."""

import math

from conftest import JOINT2_LIMIT, L1, L2
from iknn_ros.kinematics import TwoLinkGeometry
from iknn_ros.kinematics.angles import wrap_to_pi
import numpy as np
import pytest


@pytest.mark.parametrize('elbow', [1.0, -1.0])
def test_closed_form_ik_round_trips_fk_on_both_elbows(chain, elbow):
    geometry = TwoLinkGeometry.of(chain)
    q = chain.random_configurations(np.random.default_rng(3), 10_000)
    targets = chain.fk(q)
    solution, ok = geometry.ik(targets, np.full(len(q), elbow))
    assert ok.all()
    assert np.max(np.abs(chain.fk(solution) - targets)) <= 1e-12
    assert np.all(geometry.elbow(solution) == elbow)
    assert chain.within_limits(solution).all()
    # The solution on the configuration's own elbow is the configuration itself.
    own = geometry.elbow(q) == elbow
    assert np.max(np.abs(wrap_to_pi(solution[own] - q[own]))) < 1e-9


def test_closed_form_reports_unreachable_targets(chain):
    geometry = TwoLinkGeometry.of(chain)
    targets = np.array([[1.2, 0.0], [0.0, 0.1], [0.0, 0.0], [0.6, 0.0]])
    _, ok = geometry.ik(targets, np.ones(4))
    assert ok.tolist() == [False, False, False, True]


def test_radius_range_matches_sampling_the_elbow(chain):
    geometry = TwoLinkGeometry.of(chain)
    q2 = np.linspace(-JOINT2_LIMIT, JOINT2_LIMIT, 200_001)
    radii = np.hypot(L1 + L2 * np.cos(q2), L2 * np.sin(q2))
    r_min, r_max = geometry.radius_range()
    assert r_min == pytest.approx(radii.min(), abs=1e-12)
    assert r_max == pytest.approx(radii.max(), abs=1e-12)
    assert r_min == pytest.approx(abs(math.cos(JOINT2_LIMIT / 2)), abs=1e-12)
