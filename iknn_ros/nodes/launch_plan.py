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
What the launch files start, decided and checked before anything starts.

``launch/demo.launch.py`` and ``launch/ik.launch.py`` turn their arguments into a plan here
and only then into launch_ros ``Node`` actions. Every check that could otherwise fail after
some processes are already running happens first: the URDF parses into a chain, the
parameter file fits that chain, the model exists and was trained for it, and every package
and executable the chosen arguments need is installed. A failed check raises
:class:`LaunchArgumentError` naming the launch argument to change, so the whole launch
refuses at once and nothing is left running on the ROS graph.

No launch or rclpy import: the plan is plain data, tested without ROS.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Callable, Optional, Sequence

import yaml

PACKAGE = 'iknn_ros'
SHIPPED_ARMS = ('two_link_arm', 'three_link_arm', 'spatial_arm', 'six_dof_arm', 'seven_dof_arm')
DEFAULT_ARM = 'two_link_arm'
# Optional parts of the demo: the package each needs and the argument that turns it off.
OPTIONAL_PACKAGES = {'robot_state_publisher': 'use_rsp', 'rviz2': 'use_rviz'}


class LaunchArgumentError(ValueError):
    """Launch arguments that cannot work; the message names the argument to change."""


@dataclasses.dataclass(frozen=True)
class NodePlan:
    """One process to start: what launch_ros' ``Node`` takes, as plain data."""

    package: str
    executable: str
    name: str
    parameters: tuple = ()
    arguments: tuple = ()


def arm_params_file(share: Path, arm: str) -> Path:
    """Return the parameter file shipped for an arm (the two-link arm's is iknn.yaml)."""
    return share / 'config' / ('iknn.yaml' if arm == DEFAULT_ARM else f'{arm}.yaml')


def executable_path(package: str, executable: str,
                    prefix_of: Optional[Callable[[str], str]] = None) -> Path:
    """
    Return where launch_ros will look for a package's executable, or raise.

    launch_ros resolves ``Node(package=..., executable=...)`` to
    ``<package prefix>/lib/<package>/<executable>``; so does this, with the ament index.
    """
    if prefix_of is None:
        from ament_index_python.packages import get_package_prefix
        prefix_of = get_package_prefix
    try:
        prefix = Path(prefix_of(package))
    except (LookupError, ValueError, OSError) as err:  # PackageNotFoundError is a KeyError
        raise FileNotFoundError(f"package '{package}' not found") from err
    path = prefix / 'lib' / package / executable
    if not os.access(path, os.X_OK):
        raise FileNotFoundError(f"package '{package}' has no executable '{executable}' "
                                f'(looked for {path})')
    return path


def check_installed(plan: Sequence[NodePlan], optional: dict = OPTIONAL_PACKAGES,
                    prefix_of: Optional[Callable[[str], str]] = None) -> None:
    """Raise LaunchArgumentError unless every node of the plan can be started."""
    for node in plan:
        try:
            executable_path(node.package, node.executable, prefix_of)
        except FileNotFoundError as err:
            switch = optional.get(node.package)
            hint = f'; install it or pass {switch}:=false' if switch else \
                '; build and source the workspace that has it'
            raise LaunchArgumentError(f'{err}{hint}') from None


def _read_chain(urdf: str, argument: str):
    from iknn_ros.kinematics import KinematicChain
    from iknn_ros.kinematics import UrdfError
    try:
        text = Path(urdf).read_text()
    except OSError as err:
        raise LaunchArgumentError(f'{argument}:={urdf}: cannot read it: {err}') from None
    try:
        return text, KinematicChain.from_urdf(text)
    except UrdfError as err:
        raise LaunchArgumentError(f'{argument}:={urdf}: not a usable arm: {err}') from None


def _node_section(params: dict, node: str) -> dict:
    # The ways a ROS 2 parameter file can address a node, most specific last.
    merged = {}
    for key in ('/**', node, f'/{node}', f'/**/{node}'):
        section = params.get(key)
        if isinstance(section, dict):
            merged.update(section.get('ros__parameters') or {})
    return merged


def _read_params(path: Path, argument: str) -> dict:
    try:
        params = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise LaunchArgumentError(f'{argument}:={path}: cannot read it: {err}') from None
    if not isinstance(params, dict):
        raise LaunchArgumentError(f'{argument}:={path}: not a ROS 2 parameter file')
    return params


def _check_model(model: str, chain, target_mode: str = 'position') -> None:
    from iknn_ros.ik.model_card import ModelMismatchError
    from iknn_ros.resources import is_no_model
    from iknn_ros.ik.model_card import model_for
    from iknn_ros.ik.solver import ModelLoadError
    from iknn_ros.ik.solver import OnnxIKNetwork
    if is_no_model(model):
        return
    if not model:
        try:
            model_for(chain, target_mode)
        except ValueError as err:
            raise LaunchArgumentError(f'{err} (model:=...)') from None
        return
    try:
        OnnxIKNetwork(model).card.check_chain(chain, f"model:='{model}'")
    except (ModelLoadError, ModelMismatchError, OSError, ValueError) as err:
        raise LaunchArgumentError(str(err)) from None


def start_positions(chain) -> list:
    """Return the simulated arm's start for a URDF with no parameter file: zeros, in limits."""
    return [min(max(0.0, float(lo)), float(hi)) for lo, hi in zip(chain.lower, chain.upper)]


def ik_parameters(params_file: Path, robot_description: str, model: str,
                  output_mode: str) -> tuple:
    """
    Return ik_node's parameters: the file, then what the launch arguments set.

    An empty ``model`` leaves the file's ``model_path`` (a shipped arm without a model yet
    says ``none`` there).
    """
    overrides = {'robot_description': robot_description, 'output_mode': output_mode}
    if model:
        overrides['model_path'] = model
    return (str(params_file), overrides)


def _file_model(params: dict) -> str:
    return str(_node_section(params, 'ik_node').get('model_path') or '')


def _file_target_mode(params: dict) -> str:
    return str(_node_section(params, 'ik_node').get('target_mode') or 'position')


def plan_demo(share: Path, *, arm: str = '', urdf: str = '', params_file: str = '',
              model: str = '', output_mode: str = 'joint_state', use_rsp: bool = True,
              use_rviz: bool = True, rviz_config: str = '',
              prefix_of: Optional[Callable[[str], str]] = None) -> list:
    """
    Return the demo's nodes (robot_state_publisher, sim_arm, ik_node, rviz2), all checked.

    ``arm`` picks a shipped URDF and its parameter file. A ``urdf`` of your own is used as
    given; with no ``params_file`` the parameters follow that URDF: a shipped arm's file when
    it describes the same chain, otherwise the generic ``iknn.yaml`` with the simulated arm
    starting at zero (inside the limits).
    """
    if arm and arm not in SHIPPED_ARMS:
        raise LaunchArgumentError(f'arm:={arm}: not a shipped arm; one of {list(SHIPPED_ARMS)}, '
                                  'or pass urdf:=/path/to/arm.urdf')
    from iknn_ros.kinematics import KinematicChain
    urdf_argument = 'urdf' if urdf else 'arm'
    urdf = urdf or str(share / 'urdf' / f'{arm or DEFAULT_ARM}.urdf')
    robot_description, chain = _read_chain(urdf, urdf_argument)
    sim_overrides = {}
    if params_file:
        params_path, params_argument = Path(params_file), 'params_file'
    elif arm or urdf_argument == 'arm':
        params_path, params_argument = arm_params_file(share, arm or DEFAULT_ARM), 'arm'
    else:
        # A URDF of one's own: a shipped arm's parameters only when it is that arm's chain.
        same = [a for a in SHIPPED_ARMS if KinematicChain.from_urdf(
            share / 'urdf' / f'{a}.urdf').fingerprint() == chain.fingerprint()]
        params_path, params_argument = arm_params_file(share, (same or [DEFAULT_ARM])[0]), 'urdf'
        if not same:
            sim_overrides['initial_positions'] = start_positions(chain)
    params = _read_params(params_path, params_argument)
    initial = _node_section(params, 'sim_arm').get('initial_positions')
    if 'initial_positions' not in sim_overrides and initial is not None and \
            len(initial) != chain.n_joints:
        raise LaunchArgumentError(
            f'{params_argument}: {params_path} starts sim_arm with {len(initial)} joint '
            f"positions, but {urdf_argument}:={urdf} describes {chain.robot_name}'s "
            f'{chain.n_joints} joints {list(chain.joint_names)}; pass a params_file for this '
            'arm, or leave params_file and arm unset to derive it from the URDF')
    _check_model(model or _file_model(params), chain, _file_target_mode(params))
    plan = []
    if use_rsp:
        plan.append(NodePlan('robot_state_publisher', 'robot_state_publisher',
                             'robot_state_publisher',
                             ({'robot_description': robot_description},)))
    plan.append(NodePlan(PACKAGE, 'sim_arm', 'sim_arm', (
        str(params_path), {'robot_description': robot_description, **sim_overrides})))
    plan.append(NodePlan(PACKAGE, 'ik_node', 'ik_node',
                         ik_parameters(params_path, robot_description, model, output_mode)))
    if use_rviz:
        config = rviz_config or str(share / 'rviz' / 'iknn.rviz')
        plan.append(NodePlan('rviz2', 'rviz2', 'rviz2', (), ('-d', config)))
    check_installed(plan, prefix_of=prefix_of)
    return plan


def plan_ik(share: Path, *, urdf: str = '', params_file: str = '', model: str = '',
            output_mode: str = 'forward_position',
            prefix_of: Optional[Callable[[str], str]] = None) -> list:
    """Return the IK node alone for a real arm, checked as :func:`plan_demo` checks."""
    urdf = urdf or str(share / 'urdf' / f'{DEFAULT_ARM}.urdf')
    robot_description, chain = _read_chain(urdf, 'urdf')
    params_path = Path(params_file) if params_file else share / 'config' / 'iknn.yaml'
    params = _read_params(params_path, 'params_file')
    _check_model(model or _file_model(params), chain, _file_target_mode(params))
    plan = [NodePlan(PACKAGE, 'ik_node', 'ik_node',
                     ik_parameters(params_path, robot_description, model, output_mode))]
    check_installed(plan, prefix_of=prefix_of)
    return plan
