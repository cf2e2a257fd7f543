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

"""The one-way flow: nothing below the nodes imports rclpy, nothing but training torch."""

from pathlib import Path
import subprocess
import sys

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / 'iknn_ros'
# The ROS glue: the only modules that may import rclpy.
NODES = {'ik_node', 'sim_arm', 'web', 'demo', 'node_main'}
CORE = sorted(p.stem for p in PACKAGE.glob('*.py') if p.stem not in NODES | {'__init__'})
TRAINING = sorted(f'training.{p.stem}' for p in (PACKAGE / 'training').glob('*.py')
                  if p.stem not in ('__init__', '__main__'))


def imported_after(module: str) -> list:
    """Return which of torch and rclpy importing ``module`` alone pulls in."""
    code = (f'import sys, iknn_ros.{module}; '
            'print(sorted(m for m in ("torch", "rclpy") if m in sys.modules))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         check=True, timeout=120)
    return eval(out.stdout.strip().splitlines()[-1])


def test_every_module_is_either_core_glue_or_training():
    assert {'kinematics', 'pose_tick', 'solver', 'control', 'targets'} <= set(CORE)
    assert len(CORE) >= 15


@pytest.mark.parametrize('module', CORE)
def test_core_modules_import_neither_rclpy_nor_torch(module):
    assert imported_after(module) == []


@pytest.mark.parametrize('module', TRAINING)
def test_training_imports_no_rclpy(module):
    assert 'rclpy' not in imported_after(module)
