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

"""The kinematics core against closed forms, an independent library and dense sampling."""

import math
import warnings

from conftest import joint, JOINT2_LIMIT, L1, L2, links, urdf_text
from iknn_ros.kinematics import KinematicChain
from iknn_ros.kinematics import UrdfError
from iknn_ros.kinematics.angles import wrap_to_pi
import numpy as np
import pytest


def closed_form_fk(q):
    return np.stack([L1 * np.cos(q[:, 0]) + L2 * np.cos(q[:, 0] + q[:, 1]),
                     L1 * np.sin(q[:, 0]) + L2 * np.sin(q[:, 0] + q[:, 1])], axis=-1)


def random_q(chain, count, seed=0):
    return chain.random_configurations(np.random.default_rng(seed), count)


# ---- the shipped URDF ------------------------------------------------------------------

def test_shipped_urdf_describes_the_seed_arm(chain):
    assert chain.joint_names == ('joint1', 'joint2')
    assert chain.base_link == 'base_link' and chain.tip_link == 'tool0'
    assert chain.continuous.tolist() == [True, False]
    assert chain.lower[1] == -JOINT2_LIMIT and chain.upper[1] == JOINT2_LIMIT
    assert chain.velocity_limits.tolist() == [2.0, 2.0]
    assert chain.planar is not None and chain.target_dim == 2
    assert chain.reach == pytest.approx(1.0)


def test_fk_equals_closed_form_for_10000_random_vectors(chain):
    q = random_q(chain, 10_000)
    expected = closed_form_fk(q)
    assert np.max(np.abs(chain.fk(q) - expected)) <= 1e-12
    # The general 4x4 path (used for spatial chains and drawing) agrees as well.
    tip3 = chain.tip_position_3d(q)
    assert np.max(np.abs(tip3[:, :2] - expected)) <= 1e-12
    assert np.allclose(tip3[:, 2], chain.planar.height)


def test_fk_matches_ikpy_loading_the_same_file(chain, two_link_urdf_path):
    ikpy_chain_module = pytest.importorskip('ikpy.chain')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        reference = ikpy_chain_module.Chain.from_urdf_file(
            str(two_link_urdf_path), base_elements=['base_link'])
    active = [i for i, link in enumerate(reference.links) if link.joint_type != 'fixed']
    assert [reference.links[i].name for i in active] == list(chain.joint_names)
    q = random_q(chain, 300, seed=1)
    full = np.zeros((len(q), len(reference.links)))
    full[:, active] = q
    expected = np.array([reference.forward_kinematics(row)[:3, 3] for row in full])
    assert np.max(np.abs(chain.tip_position_3d(q) - expected)) <= 1e-12


def test_frames_draw_the_arm(chain):
    points = chain.joint_positions(np.array([0.0, math.pi / 2]))
    assert points.shape == (4, 3)
    np.testing.assert_allclose(points[:, :2], [[0, 0], [0, 0], [0.5, 0], [0.5, 0.5]],
                               atol=1e-15)


@pytest.mark.parametrize('planar', [True, False])
def test_jacobian_matches_finite_differences(chain, planar):
    q = random_q(chain, 50, seed=2)
    fk = chain.fk if planar else chain.tip_position_3d
    jac = chain.jacobian(q)
    if not planar:
        # Spatial path: force it by building the spatial Jacobian from the 3D function.
        jac = np.concatenate([jac, np.zeros((50, 1, 2))], axis=1)
    eps = 1e-6
    numeric = np.stack([(fk(q + eps * e) - fk(q - eps * e)) / (2 * eps)
                        for e in np.eye(2)], axis=-1)
    assert np.max(np.abs(jac[:, :numeric.shape[1]] - numeric)) < 1e-8


# ---- closed form ----------------------------------------------------------------------


# ---- reachability and projection --------------------------------------------------------


# ---- limits -------------------------------------------------------------------------------

def test_wrap_and_clamp(chain):
    q = np.array([[3 * math.pi, 3.5], [-7.0, -3.0], [0.2, 0.1]])
    out = chain.wrap_and_clamp(q)
    np.testing.assert_allclose(out, [[-math.pi, 2.8], [-7.0 + 2 * math.pi, -2.8], [0.2, 0.1]])
    assert chain.within_limits(out).all()
    assert chain.within_limits(q).tolist() == [False, False, True]
    assert np.all((wrap_to_pi(np.linspace(-20, 20, 1001)) >= -math.pi)
                  & (wrap_to_pi(np.linspace(-20, 20, 1001)) < math.pi))


# ---- URDF handling --------------------------------------------------------------------------

def test_xml_string_and_file_give_the_same_chain(chain, two_link_urdf_path):
    from_text = KinematicChain.from_urdf(two_link_urdf_path.read_text())
    assert from_text.fingerprint() == chain.fingerprint()
    assert from_text.description() == chain.description()


def test_fingerprint_changes_with_geometry_and_limits(chain, two_link_urdf_path):
    text = two_link_urdf_path.read_text()
    longer = KinematicChain.from_urdf(text.replace('<origin xyz="0.5 0 0" rpy="0 0 0"/>\n'
                                                   '    <axis', '<origin xyz="0.6 0 0" '
                                                   'rpy="0 0 0"/>\n    <axis'))
    tighter = KinematicChain.from_urdf(text.replace('lower="-2.8" upper="2.8"',
                                                    'lower="-2.5" upper="2.5"'))
    assert longer.fingerprint() != chain.fingerprint()
    assert tighter.fingerprint() != chain.fingerprint()


def test_base_and_tip_can_be_chosen(two_link_urdf_path):
    sub = KinematicChain.from_urdf(two_link_urdf_path, 'link1', 'tool0')
    assert sub.joint_names == ('joint2',)
    np.testing.assert_allclose(sub.fk(np.array([0.0])), [1.0, 0.0])


def test_spatial_chain_is_not_planar():
    text = urdf_text(joint('yaw', 'continuous', 'base', 'a', axis='0 0 1')
                     + joint('pitch', 'revolute', 'a', 'b', xyz='0 0 0.1', axis='0 1 0',
                             limit='<limit lower="-1" upper="1" effort="1" velocity="1"/>')
                     + joint('tip_joint', 'fixed', 'b', 'tip', xyz='0 0 0.5'),
                     links('base', 'a', 'b', 'tip'))
    chain = KinematicChain.from_urdf(text)
    assert chain.planar is None and chain.target_dim == 3
    np.testing.assert_allclose(chain.fk(np.array([0.0, math.pi / 2 - 1e-9 + 1e-9])),
                               [0.5, 0.0, 0.1], atol=1e-12)
    q = np.array([[0.3, 0.4]])
    eps = 1e-6
    numeric = np.stack([(chain.fk(q + eps * e) - chain.fk(q - eps * e)) / (2 * eps)
                        for e in np.eye(2)], axis=-1)
    assert np.max(np.abs(chain.jacobian(q) - numeric)) < 1e-8


@pytest.mark.parametrize('source, message', [
    ('<robot name="r"><link name="a"', 'malformed URDF'),
    ('<robot><link name="a"/></robot>', 'malformed URDF'),
    ('/nonexistent/arm.urdf', 'does not exist'),
    (urdf_text(joint('slide', 'planar', 'a', 'b'), links('a', 'b')),
     "joint 'slide' has type 'planar'"),
    (urdf_text(joint('spin', 'floating', 'a', 'b'), links('a', 'b')),
     "joint 'spin' has type 'floating'"),
    (urdf_text(joint('j', 'revolute', 'a', 'b'), links('a', 'b')),
     "revolute joint 'j' has no <limit"),
    (urdf_text(joint('j', 'continuous', 'a', 'ghost'), links('a')),
     "names child link 'ghost'"),
    (urdf_text(joint('j', 'continuous', 'a', 'b') + joint('k', 'continuous', 'a', 'c'),
               links('a', 'b', 'c')), 'several leaf links'),
    (urdf_text(joint('j', 'fixed', 'a', 'b'), links('a', 'b')),
     'no revolute, continuous or prismatic'),
    (urdf_text(joint('j', 'continuous', 'a', 'b', axis='0 0 0'), links('a', 'b')),
     'zero or invalid axis'),
])
def test_bad_urdf_gives_a_clear_error(source, message):
    with pytest.raises(UrdfError, match=message.replace('(', r'\(')):
        KinematicChain.from_urdf(source)


def test_no_chain_between_links(two_link_urdf_path):
    with pytest.raises(UrdfError, match="no chain from base link 'link2' to tip link 'link1'"):
        KinematicChain.from_urdf(two_link_urdf_path, 'link2', 'link1')
    with pytest.raises(UrdfError, match="tip link 'hand' is not a link"):
        KinematicChain.from_urdf(two_link_urdf_path, 'base_link', 'hand')


def test_a_mimic_of_a_joint_off_the_chain_is_refused():
    # 'm' follows 'k', which moves another branch: the chain to 'd' cannot know where it is.
    text = urdf_text(joint('j', 'continuous', 'a', 'b') + joint('k', 'continuous', 'a', 'c')
                     + '<joint name="m" type="continuous"><parent link="b"/><child link="d"/>'
                       '<mimic joint="k"/></joint>', links('a', 'b', 'c', 'd'))
    with pytest.raises(UrdfError, match="joint 'm' mimics 'k', which is not between"):
        KinematicChain.from_urdf(text, tip_link='d')


def test_unknown_tags_are_tolerated(two_link_urdf_path):
    text = two_link_urdf_path.read_text().replace(
        '</robot>', '<ros2_control name="x" type="system"><hardware/></ros2_control></robot>')
    assert KinematicChain.from_urdf(text).joint_names == ('joint1', 'joint2')


def test_wrong_joint_vector_length_is_refused(chain):
    with pytest.raises(ValueError, match='length 2'):
        chain.fk(np.zeros(3))
