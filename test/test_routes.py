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


"""Tip paths around the shoulder, and the way left along them that the Tracker watches."""

from conftest import SPATIAL, THREE
from iknn_ros.ik.solver import IKSolver
from iknn_ros.ik.solver import route_length
from iknn_ros.ik.solver import route_waypoint
from iknn_ros.ik.solver import SolverConfig
from iknn_ros.kinematics import KinematicChain
import numpy as np
import pytest


@pytest.mark.parametrize('urdf', [THREE, SPATIAL])
def test_paths_go_around_the_shoulder(urdf):
    chain = KinematicChain.from_urdf(urdf)
    solver = IKSolver(chain, None, SolverConfig(use_network=False))
    center, radius = solver.route_center, solver.route_radius
    # The hole the arm cannot fold into, widened to a quarter of the reach (redundant arms).
    assert radius >= 0.25 * chain.reach - 1e-12
    rng = np.random.default_rng(3)
    starts = chain.fk(chain.with_limit_margin(0.05).random_configurations(rng, 200))
    ends = 2.0 * center - starts  # the far side of the shoulder, through its centre
    tip = starts.copy()
    outside = np.linalg.norm(starts - center, axis=-1) >= radius
    # The way left (what the tracker watches for progress) shrinks by most of each step.
    way = route_length(tip, ends, center, radius)
    for _ in range(400):
        nxt = route_waypoint(tip, ends, np.full(len(tip), 0.05), center, radius)
        step = np.linalg.norm(nxt - tip, axis=-1)
        assert np.all(step <= 0.05 + 1e-12)
        assert np.all(np.linalg.norm(nxt[outside] - center, axis=-1) >= radius - 1e-9)
        next_way = route_length(nxt, ends, center, radius)
        assert np.all(next_way <= way - 0.5 * step + 1e-12)
        tip, way = nxt, next_way
    np.testing.assert_allclose(tip, ends, atol=1e-12)


def test_the_trackers_way_left_is_route_length_in_floats(three):
    solver = IKSolver(three, None, SolverConfig(use_network=False))
    rng = np.random.default_rng(5)
    joints = three.random_configurations(rng, 300)
    goals = three.fk(three.random_configurations(rng, 300))
    expected = route_length(three.fk(joints), goals, solver.route_center, solver.route_radius)
    got = [solver.way_left(tuple(q), tuple(goal)) for q, goal in zip(joints, goals)]
    np.testing.assert_allclose(got, expected, rtol=0.0, atol=1e-12)
    # Some of these ways go around the shoulder, longer than the straight line.
    assert np.sum(expected > np.linalg.norm(goals - three.fk(joints), axis=-1) + 1e-3) > 10


def test_the_spatial_way_left_is_route_length_in_floats(spatial):
    solver = IKSolver(spatial, None, SolverConfig(use_network=False))
    rng = np.random.default_rng(6)
    joints = spatial.random_configurations(rng, 300)
    goals = spatial.fk(spatial.random_configurations(rng, 300))
    expected = route_length(spatial.fk(joints), goals, solver.route_center,
                            solver.route_radius)
    got = [solver.way_left(tuple(q), tuple(goal)) for q, goal in zip(joints, goals)]
    np.testing.assert_allclose(got, expected, rtol=0.0, atol=1e-12)
    assert np.sum(expected > np.linalg.norm(goals - spatial.fk(joints), axis=-1) + 1e-3) > 10
