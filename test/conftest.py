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

"""Shared fixtures: the shipped URDF, small URDF builders, and an isolated ROS graph."""

import os
from pathlib import Path
import random

import pytest

# Keep the tests' DDS traffic on this machine and away from any other ROS graph.
os.environ.setdefault('ROS_DOMAIN_ID', str(random.Random(os.getpid()).randint(100, 199)))
os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')

REPO_ROOT = Path(__file__).resolve().parent.parent
URDF_PATH = REPO_ROOT / 'urdf' / 'two_link_arm.urdf'
URDFS = sorted((REPO_ROOT / 'urdf').glob('*.urdf'))
THREE = REPO_ROOT / 'urdf' / 'three_link_arm.urdf'
SPATIAL = REPO_ROOT / 'urdf' / 'spatial_arm.urdf'
SIX = REPO_ROOT / 'urdf' / 'six_dof_arm.urdf'
SEVEN = REPO_ROOT / 'urdf' / 'seven_dof_arm.urdf'
# The shipped two-link arm: link lengths (m) and the elbow's limit (rad).
L1 = L2 = 0.5
JOINT2_LIMIT = 2.8


def urdf_text(joints: str, links: str = '') -> str:
    """Return a URDF document with the given joint and extra link elements."""
    return f'<robot name="test_robot">{links}{joints}</robot>'


def links(*names: str) -> str:
    """Return empty <link> elements with the given names."""
    return ''.join(f'<link name="{n}"/>' for n in names)


def joint(name: str, kind: str, parent: str, child: str, xyz: str = '0 0 0',
          rpy: str = '0 0 0', axis: str = '0 0 1', limit: str = '') -> str:
    """Return a <joint> element."""
    return (f'<joint name="{name}" type="{kind}"><parent link="{parent}"/>'
            f'<child link="{child}"/><origin xyz="{xyz}" rpy="{rpy}"/><axis xyz="{axis}"/>'
            f'{limit}</joint>')


# A 5-joint arm: the UR-sized arm with its last wrist joint (about the tool axis) fixed.
FIVE = SIX.read_text().replace('<joint name="wrist_3_joint" type="revolute">',
                               '<joint name="wrist_3_joint" type="fixed">')
LIMIT = '<limit lower="-2" upper="2" effort="1" velocity="1"/>'
SLIDE_LIMIT = '<limit lower="0" upper="0.4" effort="1" velocity="0.5"/>'
# A spatial arm with a slide in the middle and a mimic follower at the wrist.
SLIDE_AND_FOLLOWER = urdf_text(
    joint('j1', 'revolute', 'base', 'l1', xyz='0 0 0.2', axis='0 0 1', limit=LIMIT)
    + joint('s1', 'prismatic', 'l1', 'l2', xyz='0.1 0 0.3', rpy='0.3 -0.2 0.5',
            axis='0.6 0 0.8', limit=SLIDE_LIMIT)
    + joint('j2', 'revolute', 'l2', 'l3', xyz='0 0.2 0', rpy='0 0.7 0', axis='0 1 0',
            limit=LIMIT)
    + joint('m', 'revolute', 'l3', 'l4', xyz='0.2 0 0', axis='1 0 0', limit=LIMIT).replace(
        '</joint>', '<mimic joint="j2" multiplier="-0.5" offset="0.1"/></joint>')
    + joint('tip_joint', 'fixed', 'l4', 'tip', xyz='0.05 0 0.15', rpy='0.1 0.2 0.3'),
    links('base', 'l1', 'l2', 'l3', 'l4', 'tip'))


@pytest.fixture(scope='session')
def two_link_urdf_path() -> Path:
    """Return the path of the shipped planar two-link arm."""
    return URDF_PATH


@pytest.fixture(scope='session')
def chain(two_link_urdf_path):
    """Return the shipped planar two-link arm's chain."""
    from iknn_ros.kinematics import KinematicChain
    return KinematicChain.from_urdf(two_link_urdf_path)


@pytest.fixture(scope='session')
def three():
    """Return the shipped three-link planar arm's chain."""
    from iknn_ros.kinematics import KinematicChain
    return KinematicChain.from_urdf(THREE)


@pytest.fixture(scope='session')
def spatial():
    """Return the shipped 4-joint spatial arm's chain."""
    from iknn_ros.kinematics import KinematicChain
    return KinematicChain.from_urdf(SPATIAL)
