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

"""The model card: written by training, read and enforced by the runtime."""

import json

from iknn_ros.ik.model_card import CARD_VERSION
from iknn_ros.ik.model_card import ModelCard
from iknn_ros.ik.model_card import ModelCardError
from iknn_ros.ik.model_card import ModelMismatchError
from iknn_ros.kinematics import KinematicChain
import pytest


@pytest.fixture(scope='module')
def card(chain):
    return ModelCard.for_chain(chain, architecture='incremental', step_m=0.05,
                               branch_rule='elbow_sign', input_encoding={'joints': 'sin_cos'},
                               training_config={'seed': 7}, producer={'iknn_ros': 'test'})


def variant(path, old, new):
    text = path.read_text()
    assert old in text
    return KinematicChain.from_urdf(text.replace(old, new))


def test_card_round_trips_through_metadata(card, chain):
    metadata = card.to_metadata()
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())
    assert json.loads(metadata['iknn_ros.joint_names']) == ['joint1', 'joint2']
    again = ModelCard.from_metadata(metadata)
    assert again == card
    assert again.chain_differences(chain) == []


def test_missing_card_is_refused():
    with pytest.raises(ModelCardError, match='no iknn_ros model card entry'):
        ModelCard.from_metadata({'producer': 'someone else'}, 'seed1.onnx')


def test_newer_card_version_is_refused(card):
    metadata = card.to_metadata()
    metadata['iknn_ros.card_version'] = str(CARD_VERSION + 1)
    with pytest.raises(ModelCardError, match='newer than this iknn_ros understands'):
        ModelCard.from_metadata(metadata)


def test_broken_json_is_refused(card):
    metadata = card.to_metadata()
    metadata['iknn_ros.step_m'] = '{'
    with pytest.raises(ModelCardError, match="'iknn_ros.step_m' is not JSON"):
        ModelCard.from_metadata(metadata)


def test_longer_link_is_named(card, two_link_urdf_path):
    longer = variant(two_link_urdf_path, '<origin xyz="0.5 0 0" rpy="0 0 0"/>\n    <axis',
                     '<origin xyz="0.6 0 0" rpy="0 0 0"/>\n    <axis')
    with pytest.raises(ModelMismatchError, match="joint 'joint2' origin"):
        card.check_chain(longer, 'model.onnx')


def test_wider_limits_are_refused_and_narrower_accepted(card, two_link_urdf_path):
    wider = variant(two_link_urdf_path, 'lower="-2.8" upper="2.8"', 'lower="-3.0" upper="2.8"')
    with pytest.raises(ModelMismatchError, match="joint 'joint2' limits: URDF .* wider"):
        card.check_chain(wider)
    narrower = variant(two_link_urdf_path, 'lower="-2.8" upper="2.8"',
                       'lower="-2.0" upper="2.5"')
    card.check_chain(narrower)


def test_velocity_limits_do_not_matter(card, two_link_urdf_path):
    slower = variant(two_link_urdf_path, 'velocity="2.0"/>\n    <dynamics damping="0.05" '
                     'friction="0.0"/>\n  </joint>\n\n  <link name="link2">',
                     'velocity="0.5"/>\n    <dynamics damping="0.05" friction="0.0"/>\n  '
                     '</joint>\n\n  <link name="link2">')
    assert slower.velocity_limits[1] == 0.5
    card.check_chain(slower)


def test_renamed_joint_and_other_tip_are_named(card, two_link_urdf_path):
    renamed = variant(two_link_urdf_path, 'joint name="joint2"', 'joint name="elbow"')
    with pytest.raises(ModelMismatchError, match=r"joints: model \['joint1', 'joint2'\]"):
        card.check_chain(renamed)
    shorter = KinematicChain.from_urdf(two_link_urdf_path, 'base_link', 'link2')
    differences = card.chain_differences(shorter)
    assert any(d.startswith('tip_link') for d in differences)
