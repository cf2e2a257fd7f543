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

"""
The one-way flow: kinematics, then ik, then evaluation and training, then the nodes.

Nothing below the nodes imports rclpy (checked by importing each module alone), nothing but
training imports torch, nothing at run time imports Pinocchio (the tests' reference), and no
package imports one above it (checked in the source: every ``import`` of an ``iknn_ros``
module, at the top or inside a function).
"""

import ast
from pathlib import Path
import subprocess
import sys

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / 'iknn_ros'
# What each part of the package may import from iknn_ros: the layers below it, and the
# shared helpers at the top (resources: where shipped files are; log_throttle).
HELPERS = {'resources', 'log_throttle', '__init__'}
MAY_IMPORT = {
    'kinematics': {'kinematics'} | HELPERS,
    'ik': {'kinematics', 'ik'} | HELPERS,
    'evaluation': {'kinematics', 'ik', 'evaluation'} | HELPERS,
    'training': {'kinematics', 'ik', 'evaluation', 'training'} | HELPERS,
    'nodes': {'kinematics', 'ik', 'evaluation', 'nodes'} | HELPERS,
    'resources': {'__init__'},
    'log_throttle': set(),
    '__init__': set(),
}


def part_of(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def dotted(path: Path) -> str:
    relative = path.relative_to(PACKAGE).with_suffix('')
    return '.'.join(p for p in relative.parts if p != '__init__')


MODULES = sorted(PACKAGE.rglob('*.py'))
CORE = sorted(dotted(p) for p in MODULES if part_of(p) not in ('nodes', 'training')
              and p.stem not in ('__init__', '__main__'))
TRAINING = sorted(dotted(p) for p in MODULES if part_of(p) == 'training'
                  and p.stem not in ('__init__', '__main__'))


def imports_of(path: Path) -> list:
    """Return a module's import statements, at the top or inside a function."""
    return [node for node in ast.walk(ast.parse(path.read_text(), str(path)))
            if isinstance(node, (ast.Import, ast.ImportFrom))]


def iknn_imports(path: Path) -> set:
    """Return the parts of iknn_ros that a module's source imports."""
    parts = set()
    for node in imports_of(path):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module == 'iknn_ros':
            # from iknn_ros import <module>, or a name of the package itself (__version__)
            names = [f'iknn_ros.{a.name}' if (PACKAGE / a.name).is_dir()
                     or (PACKAGE / f'{a.name}.py').is_file() else 'iknn_ros' for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            pieces = name.split('.')
            if pieces[0] == 'iknn_ros' and len(pieces) > 1:
                parts.add(pieces[1])
            elif name == 'iknn_ros':
                parts.add('__init__')
    return parts


def imported_after(module: str, watched: tuple = ('torch', 'rclpy')) -> list:
    """Return which of ``watched`` importing ``module`` alone pulls in."""
    code = (f'import sys, iknn_ros.{module}; '
            f'print(sorted(m for m in {watched!r} if m in sys.modules))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         check=True, timeout=120)
    return eval(out.stdout.strip().splitlines()[-1])


def test_every_module_belongs_to_a_layer():
    assert {part_of(p) for p in MODULES} <= set(MAY_IMPORT)
    assert {'kinematics.chain', 'ik.pose_tick', 'ik.solver', 'ik.controller',
            'kinematics.targets', 'evaluation.evaluate'} <= set(CORE)
    assert len(CORE) >= 19


@pytest.mark.parametrize('path', MODULES, ids=lambda p: dotted(p) or '__init__')
def test_no_module_imports_a_layer_above_its_own(path):
    above = iknn_imports(path) - MAY_IMPORT[part_of(path)]
    assert not above, f'{dotted(path)} imports iknn_ros.{sorted(above)}'


@pytest.mark.parametrize('module', CORE)
def test_core_modules_import_neither_rclpy_nor_torch(module):
    assert imported_after(module) == []


@pytest.mark.parametrize('module', ['nodes.node_main', 'nodes.ik_node', 'nodes.goal_marker',
                                    'nodes.web', 'ik.solver', 'evaluation.evaluate'])
def test_the_runtime_needs_no_pinocchio(module):
    # Pinocchio is the kinematics' reference in the tests and the benchmarks; the runtime's
    # kinematics and rotations are the compiled kernels.
    assert imported_after(module, ('pinocchio',)) == []


def test_only_the_reference_model_imports_pinocchio():
    # In the source, at the top or inside a function: nothing but rigid_body (the tests'
    # reference) imports Pinocchio or rigid_body itself.
    reference = PACKAGE / 'kinematics' / 'rigid_body.py'
    importers = []
    for path in MODULES:
        for node in imports_of(path):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ''] + [f'{node.module}.{a.name}' for a in node.names]
            if path != reference and any(n.split('.')[0] == 'pinocchio' or
                                         n.endswith('rigid_body') for n in names):
                importers.append(dotted(path))
    assert importers == []


@pytest.mark.parametrize('module', TRAINING)
def test_training_imports_no_rclpy(module):
    assert 'rclpy' not in imported_after(module)
