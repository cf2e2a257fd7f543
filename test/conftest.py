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


@pytest.fixture(scope='session')
def two_link_urdf_path() -> Path:
    """Return the path of the shipped planar two-link arm."""
    return URDF_PATH
