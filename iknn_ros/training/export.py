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
ONNX export, written atomically and checked against torch.

The file has named inputs and outputs, a dynamic batch axis, all weights inside (no
``.onnx.data``) and the model card in its ``metadata_props``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
import tempfile
import warnings

from iknn_ros.ik.model_card import INPUT_BRANCH
from iknn_ros.ik.model_card import INPUT_JOINTS
from iknn_ros.ik.model_card import INPUT_TARGET
from iknn_ros.ik.model_card import ModelCard
from iknn_ros.ik.model_card import OUTPUT_DELTA
from iknn_ros.kinematics import KinematicChain
from iknn_ros.kinematics.targets import pose_targets
import numpy as np
import onnx
import onnxruntime
import torch
from torch import nn

OPSET = 18


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new, never half."""
    path = Path(path)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f'.{path.name}.',
                                         suffix='.tmp')
    try:
        # mkstemp makes the file private (0600); a model is read by other users and installs.
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(handle, 0o666 & ~umask)
        with os.fdopen(handle, 'wb') as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def onnx_bytes(model: nn.Module, chain: KinematicChain, card: ModelCard) -> bytes:
    """Return the serialized ONNX model with the card in ``metadata_props``."""
    model.eval()
    example = (torch.zeros(3, chain.n_joints), torch.zeros(3, card.target_dim),
               torch.ones(3, 1))
    batch = torch.export.Dim('batch', min=1)
    with warnings.catch_warnings(), _quiet_exporter():
        warnings.simplefilter('ignore')
        program = torch.onnx.export(
            model, example, None, input_names=[INPUT_JOINTS, INPUT_TARGET, INPUT_BRANCH],
            output_names=[OUTPUT_DELTA], opset_version=OPSET, dynamo=True,
            external_data=False, verbose=False,
            dynamic_shapes={'joint_positions': {0: batch}, 'target': {0: batch},
                            'branch': {0: batch}})
    proto = program.model_proto
    names = [i.name for i in proto.graph.input]
    if names != [INPUT_JOINTS, INPUT_TARGET, INPUT_BRANCH]:
        raise RuntimeError(f'exported graph has inputs {names}, expected the card interface')
    del proto.metadata_props[:]
    for key, value in card.to_metadata().items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.doc_string = (f'iknn_ros {card.architecture} model for {chain.robot_name} '
                        f'({", ".join(chain.joint_names)}); see metadata_props')
    onnx.checker.check_model(proto, full_check=True)
    return proto.SerializeToString()


def export_onnx(model: nn.Module, chain: KinematicChain, card: ModelCard, path: Path) -> Path:
    """Export ``model`` to ``path`` atomically and return the path."""
    atomic_write_bytes(Path(path), onnx_bytes(model, chain, card))
    return Path(path)


def parity_error(model: nn.Module, chain: KinematicChain, onnx_model: bytes,
                 samples: int = 10_000, seed: int = 0) -> float:
    """Return max |onnxruntime - torch| over random in-domain inputs."""
    rng = np.random.default_rng(seed)
    joints = chain.random_configurations(rng, samples)
    if getattr(model, 'pose', False):
        # Poses a small joint motion away: steps of the size the network is trained for.
        moved = joints + rng.normal(scale=0.02, size=joints.shape)
        target = pose_targets(chain.tool_frames(moved))
    else:
        direction = rng.normal(size=(samples, chain.target_dim))
        target = chain.fk(joints) + direction * rng.uniform(0.0, 0.05, size=(samples, 1)) \
            / np.linalg.norm(direction, axis=-1, keepdims=True)
    inputs = {INPUT_JOINTS: joints.astype(np.float32),
              INPUT_TARGET: target.astype(np.float32),
              INPUT_BRANCH: rng.choice([-1.0, 1.0], size=(samples, 1)).astype(np.float32)}
    session = onnxruntime.InferenceSession(onnx_model, providers=['CPUExecutionProvider'])
    (from_onnx,) = session.run([OUTPUT_DELTA], inputs)
    with torch.no_grad():
        from_torch = model(*(torch.from_numpy(inputs[k]) for k in
                             (INPUT_JOINTS, INPUT_TARGET, INPUT_BRANCH))).numpy()
    return float(np.max(np.abs(from_onnx - from_torch)))


class _quiet_exporter:
    """Silence the exporter's progress chatter (it logs through 'torch.onnx')."""

    def __enter__(self) -> None:
        self._loggers = [logging.getLogger(n) for n in ('torch.onnx', 'onnxscript')]
        self._levels = [lg.level for lg in self._loggers]
        for lg in self._loggers:
            lg.setLevel(logging.ERROR)

    def __exit__(self, *exc: object) -> None:
        for lg, level in zip(self._loggers, self._levels):
            lg.setLevel(level)
