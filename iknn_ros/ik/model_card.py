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
The model card: what an iknn_ros ONNX model records about itself, and how it is checked.

Training writes the card into the ONNX file's ``metadata_props`` at export; the runtime
reads it back (through onnxruntime, without the onnx package) and refuses a model whose
chain does not match the URDF it is asked to drive. It is the one place where training and
runtime agree on what a model means, so a mismatch is found at load time, not on the robot.

The network interface, shared by every architecture::

    inputs   joint_positions  float32 [batch, n_joints]   current joint angles (rad)
             target           float32 [batch, target_dim] tip target in the base frame (m);
                                                          pose models: x, y, z and R_goal
                                                          row-major (target_dim 12)
             branch           float32 [batch, 1]          elbow branch to stay on (+1/-1)
    output   joint_delta      float32 [batch, n_joints]   increment: next = current + delta
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any, Mapping, Optional

from iknn_ros.kinematics import KinematicChain
from iknn_ros.kinematics.targets import POSE_TARGET_ENCODING
from iknn_ros.kinematics.targets import POSE_TARGET_WIDTH
from iknn_ros.resources import NO_MODEL
from iknn_ros.resources import shipped_models

# The card's format name, written into every model (not a module path: it outlived one).
CARD_FORMAT = 'iknn_ros.model_card'
# 2: target_mode, orientation_encoding and step_rad (pose models). Version-1 cards are
# position models.
CARD_VERSION = 2
METADATA_PREFIX = 'iknn_ros.'

INPUT_JOINTS = 'joint_positions'
INPUT_TARGET = 'target'
INPUT_BRANCH = 'branch'
OUTPUT_DELTA = 'joint_delta'

# The targets a network can be trained for (tool-axis and planar-pose targets run without
# one).
TARGET_MODES = ('position', 'pose')

ANGLE_CONVENTION = (
    'joint angles in radians as in the URDF and sensor_msgs/JointState; inputs are encoded '
    'as sin/cos so continuous joints have no seam; the output is an increment, and '
    'continuous joints stay unwrapped (next = current + delta)')

# How the runtime presents joint angles to a network. Ours: continuous joints wrapped to
# [-pi, pi), limited joints as they are (the encoding inside is sin/cos, so no seam).
# Seed 1's: every angle wrapped to [0, 2 pi), the range its grid covered.
JOINT_INPUTS = ('wrap_continuous_pm_pi', 'wrap_all_0_2pi')

# Geometry differences below this are rounding, not a different robot.
_GEOMETRY_TOLERANCE = 1e-6


class ModelCardError(ValueError):
    """An ONNX file without a valid iknn_ros model card."""


class ModelMismatchError(ValueError):
    """A model trained for a different kinematic chain than the one it is asked to drive."""


@dataclasses.dataclass(frozen=True)
class ModelCard:
    """Everything the runtime needs to use a model correctly and to refuse a wrong one."""

    architecture: str
    chain: dict
    chain_fingerprint: str
    joint_names: tuple
    target_dim: int
    step_m: float
    reach_m: float
    branch_rule: str
    input_encoding: dict
    training_config: dict
    producer: dict
    metrics: dict = dataclasses.field(default_factory=dict)
    # How joint angles are presented to the network (see JOINT_INPUTS).
    joint_input: str = 'wrap_continuous_pm_pi'
    # 'position' or 'pose'; a pose model's target encoding and the turn of its trained step.
    target_mode: str = 'position'
    orientation_encoding: str = ''
    step_rad: Optional[float] = None
    angle_convention: str = ANGLE_CONVENTION
    card_format: str = CARD_FORMAT
    card_version: int = CARD_VERSION

    @classmethod
    def for_chain(cls, chain: KinematicChain, *, architecture: str, step_m: float,
                  branch_rule: str, input_encoding: dict, training_config: dict,
                  producer: dict, metrics: Optional[dict] = None,
                  joint_input: str = JOINT_INPUTS[0], target_mode: str = 'position',
                  step_rad: Optional[float] = None) -> 'ModelCard':
        """Return the card of a model trained for ``chain``."""
        pose = target_mode == 'pose'
        return cls(architecture=architecture, chain=chain.description(), joint_input=joint_input,
                   chain_fingerprint=chain.fingerprint(), joint_names=chain.joint_names,
                   target_dim=POSE_TARGET_WIDTH if pose else chain.target_dim,
                   target_mode=target_mode, step_rad=float(step_rad) if pose else None,
                   orientation_encoding=POSE_TARGET_ENCODING if pose else '',
                   step_m=float(step_m),
                   reach_m=float(chain.reach), branch_rule=branch_rule,
                   input_encoding=dict(input_encoding), training_config=dict(training_config),
                   producer=dict(producer), metrics=dict(metrics or {}))

    def to_metadata(self) -> dict[str, str]:
        """Return the card as ONNX ``metadata_props`` (string keys and JSON values)."""
        return {METADATA_PREFIX + field.name: json.dumps(getattr(self, field.name),
                                                         sort_keys=True)
                for field in dataclasses.fields(self)}

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, str], source: str = 'model') -> 'ModelCard':
        """Read a card from ``metadata_props``; raise ModelCardError naming what is wrong."""
        values: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            key = METADATA_PREFIX + field.name
            if key not in metadata:
                if field.default is not dataclasses.MISSING or \
                        field.default_factory is not dataclasses.MISSING:
                    continue
                raise ModelCardError(
                    f'{source}: no iknn_ros model card entry {key!r}; was it exported by '
                    'iknn_ros.training? (keys found: '
                    f'{sorted(k for k in metadata if k.startswith(METADATA_PREFIX))})')
            try:
                values[field.name] = json.loads(metadata[key])
            except json.JSONDecodeError as err:
                raise ModelCardError(f'{source}: model card entry {key!r} is not JSON: '
                                     f'{err}') from err
        card = cls(**values)
        if card.card_format != CARD_FORMAT:
            raise ModelCardError(f'{source}: model card format {card.card_format!r}, expected '
                                 f'{CARD_FORMAT!r}')
        if card.card_version > CARD_VERSION:
            raise ModelCardError(f'{source}: model card version {card.card_version} is newer '
                                 f'than this iknn_ros understands ({CARD_VERSION}); upgrade '
                                 'iknn_ros')
        if card.joint_input not in JOINT_INPUTS:
            raise ModelCardError(f'{source}: unknown joint input convention '
                                 f'{card.joint_input!r}; known: {list(JOINT_INPUTS)}')
        if not (isinstance(card.step_m, (int, float)) and math.isfinite(card.step_m)
                and card.step_m > 0.0):
            raise ModelCardError(f'{source}: invalid trained step {card.step_m!r}')
        if card.target_mode not in TARGET_MODES:
            raise ModelCardError(f'{source}: unknown target mode {card.target_mode!r}; known: '
                                 f'{list(TARGET_MODES)}')
        if card.target_mode == 'pose' and (
                card.orientation_encoding != POSE_TARGET_ENCODING
                or card.target_dim != POSE_TARGET_WIDTH
                or not (isinstance(card.step_rad, (int, float)) and card.step_rad > 0.0)):
            raise ModelCardError(
                f'{source}: a pose model needs orientation_encoding {POSE_TARGET_ENCODING!r}, '
                f'target_dim {POSE_TARGET_WIDTH} and a positive step_rad; got '
                f'{card.orientation_encoding!r}, {card.target_dim}, {card.step_rad!r}')
        return dataclasses.replace(card, joint_names=tuple(card.joint_names))

    @property
    def continuous_joints(self) -> tuple:
        """Return, per joint, whether the chain the model was trained for has it continuous."""
        return tuple(j['type'] == 'continuous' for j in self.chain['joints'])

    def chain_differences(self, chain: KinematicChain) -> list[str]:
        """
        Return what makes ``chain`` unusable with this model (empty when compatible).

        Geometry, joint names and types must match. Position limits may be narrower than
        the model was trained for (the solver clamps to the URDF's), never wider. Velocity
        limits are the URDF's business alone.
        """
        return _chain_differences(self.chain, chain.description())

    def check_chain(self, chain: KinematicChain, source: str = 'model') -> None:
        """Raise ModelMismatchError naming every difference that makes ``chain`` unusable."""
        differences = self.chain_differences(chain)
        if differences:
            raise ModelMismatchError(
                f'{source} was trained for a different arm than the URDF describes: '
                + '; '.join(differences))


def _chain_differences(model: dict, urdf: dict) -> list[str]:
    found = []
    for key in ('base_link', 'tip_link'):
        if model[key] != urdf[key]:
            found.append(f'{key}: model {model[key]!r}, URDF {urdf[key]!r}')
    model_names = [j['name'] for j in model['joints']]
    urdf_names = [j['name'] for j in urdf['joints']]
    if model_names != urdf_names:
        found.append(f'joints: model {model_names}, URDF {urdf_names}')
        return found
    for mj, uj in zip(model['joints'], urdf['joints']):
        name = mj['name']
        if mj['type'] != uj['type']:
            found.append(f"joint '{name}' type: model {mj['type']}, URDF {uj['type']}")
        for key, what in (('origin', 'origin'), ('axis', 'axis')):
            if _far(mj[key], uj[key]):
                found.append(f"joint '{name}' {what}: model {mj[key]}, URDF {uj[key]}")
        lower_m, upper_m = _limit(mj['lower'], -1), _limit(mj['upper'], 1)
        lower_u, upper_u = _limit(uj['lower'], -1), _limit(uj['upper'], 1)
        if lower_u < lower_m - _GEOMETRY_TOLERANCE or upper_u > upper_m + _GEOMETRY_TOLERANCE:
            found.append(f"joint '{name}' limits: URDF [{lower_u}, {upper_u}] are wider than "
                         f'the model was trained for [{lower_m}, {upper_m}]')
    if _far(model['tip_offset'], urdf['tip_offset']):
        found.append(f"tip offset: model {model['tip_offset']}, URDF {urdf['tip_offset']}")
    return found


def _limit(value: Optional[float], sign: int) -> float:
    return sign * math.inf if value is None else float(value)


def _far(a: list, b: list) -> bool:
    return len(a) != len(b) or any(abs(x - y) > _GEOMETRY_TOLERANCE for x, y in zip(a, b))


# ---- the shipped models, found by their cards -----------------------------------------

def shipped_model_for(fingerprint: str, robot_name: str = '',
                      target_mode: Optional[str] = None) -> Optional[Path]:
    """
    Return the shipped model trained for the chain with this fingerprint, if any.

    With ``target_mode``, only a model for that kind of target (a version-1 card is a
    position model). Models in folders named after ``robot_name`` are looked at first: each
    look opens an ONNX session, and the node's start time counts.
    """
    import onnxruntime  # noqa: F401 - only the metadata is read, but through onnxruntime
    models = shipped_models()
    if robot_name:
        models.sort(key=lambda p: not p.parent.name.startswith(robot_name + '_'))
    for path in models:
        metadata = onnxruntime.InferenceSession(
            str(path), providers=['CPUExecutionProvider']).get_modelmeta().custom_metadata_map
        if metadata.get(METADATA_PREFIX + 'chain_fingerprint', '').strip('"') != fingerprint:
            continue
        mode = metadata.get(METADATA_PREFIX + 'target_mode', '"position"').strip('"')
        if target_mode is None or mode == target_mode:
            return path
    return None


def model_for(chain: KinematicChain, target_mode: Optional[str] = None) -> Path:
    """Return the shipped model trained for the chain, or raise ValueError saying what to do."""
    model = shipped_model_for(chain.fingerprint(), chain.robot_name, target_mode)
    if model is None:
        kind = f'{target_mode} ' if target_mode else ''
        raise ValueError(f'no shipped {kind}model is trained for {chain.robot_name} '
                         f'{list(chain.joint_names)}; train one '
                         '(python -m iknn_ros.training --urdf ...) and pass its model.onnx, '
                         f'or run without one: model_path {NO_MODEL} (damped least squares)')
    return model
