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


"""The Pinocchio model of a chain against the chain's own kinematics."""

from conftest import SEVEN, SLIDE_AND_FOLLOWER, URDFS
from iknn_ros.kinematics import KinematicChain
from iknn_ros.kinematics.rigid_body import RigidBodyModel
import numpy as np
import pinocchio
import pytest


@pytest.mark.parametrize('source', URDFS + [SLIDE_AND_FOLLOWER], ids=lambda s: getattr(
    s, 'stem', 'slide_and_follower'))
def test_pinocchio_model_is_the_chain(source):
    chain = KinematicChain.from_urdf(source)
    body = RigidBodyModel(chain)
    rng = np.random.default_rng(3)
    for q in chain.random_configurations(rng, 50):
        position, rotation, jac = body.placement_and_jacobian(q)
        frame = chain.frames(q)[-1]
        np.testing.assert_allclose(position, frame[:3, 3], atol=1e-12)
        np.testing.assert_allclose(rotation, frame[:3, :3], atol=1e-12)
        if chain.planar is None:
            np.testing.assert_allclose(jac[:3], chain.jacobian(q), atol=1e-12)
        # The angular rows against finite differences of the rotation.
        eps = 1e-7
        for i in range(chain.n_joints):
            dq = np.zeros(chain.n_joints)
            dq[i] = eps
            turned = body.placement(q + dq)[1]
            np.testing.assert_allclose(pinocchio.log3(turned @ rotation.T) / eps, jac[3:, i],
                                       atol=1e-6)


def test_a_placement_is_not_rewritten_by_the_next_one():
    # Pinocchio hands out views into its data: keeping one across calls once made a
    # benchmark compare every target with itself.
    chain = KinematicChain.from_urdf(SEVEN)
    body = RigidBodyModel(chain)
    first, second = chain.random_configurations(np.random.default_rng(4), 2)
    kept = [body.placement(first), body.placement_and_jacobian(first)[:2]]
    body.placement(second)
    body.placement_and_jacobian(second)
    frame = chain.frames(first)[-1]
    for position, rotation in kept:
        np.testing.assert_allclose(position, frame[:3, 3], atol=1e-12)
        np.testing.assert_allclose(rotation, frame[:3, :3], atol=1e-12)
