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


"""Reachable sets and projection onto them, against dense sampling and each other."""

import math

from conftest import joint, JOINT2_LIMIT, links, urdf_text
from iknn_ros.kinematics import AnnulusWorkspace
from iknn_ros.kinematics import KinematicChain
from iknn_ros.kinematics import NumericWorkspace
from iknn_ros.kinematics import TwoLinkGeometry
from iknn_ros.kinematics import workspace_of
import numpy as np
import pytest


def dense_tip_samples(chain, per_joint):
    lo = np.where(chain.continuous, -math.pi, chain.lower)
    hi = np.where(chain.continuous, math.pi, chain.upper)
    grids = np.meshgrid(*[np.linspace(lo[i], hi[i], per_joint) for i in range(2)],
                        indexing='ij')
    return chain.fk(np.stack(grids, axis=-1).reshape(-1, 2))


def probe_points(seed=4):
    rng = np.random.default_rng(seed)
    radius = np.concatenate([rng.uniform(0.0, 0.17, 40), rng.uniform(0.17, 1.0, 40),
                             rng.uniform(1.0, 1.6, 40)])
    angle = rng.uniform(-math.pi, math.pi, radius.size)
    return np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=-1)


def assert_nearest_reachable(projected, points, samples, resolution):
    from scipy.spatial import cKDTree
    tree = cKDTree(samples)
    nearest_sample, _ = tree.query(points)
    own = np.linalg.norm(projected - points, axis=-1)
    # No sampled reachable point is meaningfully closer than the projection ...
    assert np.all(own <= nearest_sample + 1e-12)
    # ... and the projection is itself (within the sampling resolution) a reachable point.
    gap_to_samples, _ = tree.query(projected)
    assert np.all(gap_to_samples <= resolution)


def test_annulus_projection_is_the_nearest_reachable_point(chain):
    workspace = workspace_of(chain)
    assert isinstance(workspace, AnnulusWorkspace)
    points = probe_points()
    projected = workspace.project(points)
    samples = dense_tip_samples(chain, 1500)
    assert_nearest_reachable(projected, points, samples, resolution=3e-3)
    inside = workspace.contains(points)
    np.testing.assert_array_equal(np.all(projected == points, axis=-1), inside)
    geometry = TwoLinkGeometry.of(chain)
    _, ok = geometry.ik(projected, np.ones(len(points)))
    assert ok.all()


def test_annulus_projection_of_the_centre_heads_toward_the_hint(chain):
    workspace = workspace_of(chain)
    projected = workspace.project(np.zeros(2), toward=np.array([0.0, -0.4]))
    np.testing.assert_allclose(projected, [0.0, -workspace.r_min], atol=1e-15)


def test_limit_margin_shrinks_the_annulus(chain):
    inner = workspace_of(chain.with_limit_margin(0.1))
    assert inner.r_min == pytest.approx(abs(math.cos((JOINT2_LIMIT - 0.1) / 2)), abs=1e-12)
    assert inner.r_max == pytest.approx(1.0)
    with pytest.raises(ValueError, match='narrower'):
        chain.with_limit_margin(3.0)


LIMITED_2R = urdf_text(
    joint('j1', 'revolute', 'base', 'l1', limit='<limit lower="-1.0" upper="2.0" '
          'effort="1" velocity="1"/>')
    + joint('j2', 'revolute', 'l1', 'l2', xyz='0.6 0 0', limit='<limit lower="-2.5" '
            'upper="1.5" effort="1" velocity="1"/>')
    + joint('tip_joint', 'fixed', 'l2', 'tip', xyz='0.4 0 0'),
    links('base', 'l1', 'l2', 'tip'))


def test_numeric_projection_matches_dense_sampling_on_a_limited_chain():
    chain = KinematicChain.from_urdf(LIMITED_2R)
    workspace = workspace_of(chain)
    assert isinstance(workspace, NumericWorkspace)
    points = probe_points(seed=5)[::4]
    projected = workspace.project(points)
    samples = dense_tip_samples(chain, 1500)
    assert_nearest_reachable(projected, points, samples, resolution=3e-3)


def test_numeric_projection_agrees_with_the_annulus(chain):
    points = probe_points(seed=6)[::6]
    exact = workspace_of(chain).project(points)
    numeric = NumericWorkspace(chain).project(points)
    gap_exact = np.linalg.norm(exact - points, axis=-1)
    gap_numeric = np.linalg.norm(numeric - points, axis=-1)
    assert np.max(np.abs(gap_exact - gap_numeric)) < 1e-9
    # Where the nearest point is unique and well conditioned, it is the same point.
    well_posed = np.linalg.norm(points, axis=-1) > 0.05
    assert np.max(np.abs(exact - numeric)[well_posed]) < 1e-7


def test_three_link_workspace_is_the_sampled_disk(three):
    workspace = workspace_of(three)
    assert isinstance(workspace, AnnulusWorkspace)
    q = three.random_configurations(np.random.default_rng(3), 400_000)
    radii = np.linalg.norm(three.fk(q), axis=-1)
    assert workspace.r_min == 0.0 and workspace.r_max == pytest.approx(1.0, abs=1e-9)
    assert radii.min() >= workspace.r_min and radii.max() <= workspace.r_max + 1e-12
    assert radii.min() < 2e-3 and radii.max() > 0.999


def test_spatial_workspace_projection(spatial):
    workspace = workspace_of(spatial)
    assert isinstance(workspace, NumericWorkspace)
    shoulder = spatial.shoulder()
    rng = np.random.default_rng(4)
    for _ in range(5):
        azimuth, elevation = rng.uniform(-math.pi, math.pi), rng.uniform(0.05, 1.5)
        direction = np.array([math.cos(elevation) * math.cos(azimuth),
                              math.cos(elevation) * math.sin(azimuth), math.sin(elevation)])
        projected = workspace.project(shoulder + 1.7 * direction)
        np.testing.assert_allclose(projected, shoulder + direction, atol=1e-7)
    # Inside the elbow's hole: onto the sphere of radius cos(2.6 / 2).
    inner = workspace.project(shoulder + np.array([0.0, 0.0, 0.05]))
    assert np.linalg.norm(inner - shoulder) == pytest.approx(math.cos(1.3), abs=1e-7)
    q = spatial.random_configurations(rng, 3)
    reached = spatial.fk(q)
    np.testing.assert_array_equal(workspace.project(reached, seeds=q), reached)
