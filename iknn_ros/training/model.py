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
The networks, with the chain's forward kinematics inside the graph.

Both architectures share the model-card interface (``joint_positions``, ``target``,
``branch`` -> ``joint_delta``), so one solver, one evaluation and one browser page serve
them. The forward kinematics is part of the exported graph, so the ONNX file alone maps
"target + current joint angles" to "next joint angles" with no hidden pre-processing.
"""

from __future__ import annotations

from iknn_ros.kinematics import KinematicChain
from iknn_ros.kinematics.targets import POSE_TARGET_WIDTH
import numpy as np
import torch
from torch import nn

# Below this bend (rad) the bend direction fades to zero rather than turning abruptly.
BEND_EPS_RAD = 0.02

ACTIVATIONS = {'silu': nn.SiLU, 'tanh': nn.Tanh, 'relu': nn.ReLU, 'sigmoid': nn.Sigmoid}


class ChainForwardKinematics(nn.Module):
    """
    The tool of a kinematic chain in torch (planar chains: the tip in their plane).

    The runtime pays per ONNX node, not per flop, so both forms export to a handful of
    nodes. Planar chains are two small matrix products around one sin/cos pair. Spatial
    chains are one matrix product and a product tree. Each joint's transform
    ``origin @ rot(axis, q)`` is affine in ``cos q`` and ``sin q`` (Rodrigues:
    ``I + sin q K + (1 - cos q) K^2``), so one constant matrix takes ``[cos q, sin q]`` to
    every joint's 4x4 transform at once. The transforms, the tool offset after them and
    identities up to a power of two are then multiplied pairwise: ``log2`` levels of one
    batched product each, instead of a chain of small products per joint.
    """

    def __init__(self, chain: KinematicChain) -> None:
        super().__init__()
        self.planar = chain.planar is not None
        dtype = torch.float32
        if self.planar:
            p = chain.planar
            n = chain.n_joints
            # Accumulated angle after joint i: sum over j <= i of yaw_j + sign_j * q_j.
            accumulate = torch.tensor([[p.axis_signs[j] if j <= i else 0.0 for j in range(n)]
                                       for i in range(n)], dtype=dtype)
            self.register_buffer('accumulate', accumulate)
            self.register_buffer('yaw_accumulated',
                                 torch.tensor(p.yaw_offsets.cumsum(), dtype=dtype))
            # Link vector i + 1 is rotated by the angle after joint i:
            # x = sum c_i vx_i - s_i vy_i, y = sum s_i vx_i + c_i vy_i, over [c, s].
            vectors = list(p.offsets[1:]) + [p.tip_offset]
            rows = [[v[0] for v in vectors] + [-v[1] for v in vectors],
                    [v[1] for v in vectors] + [v[0] for v in vectors]]
            self.register_buffer('link_matrix', torch.tensor(rows, dtype=dtype))
            self.register_buffer('base_offset', torch.tensor(p.offsets[0], dtype=dtype))
        else:
            # The chain's description, kept in the state dict as checkpoints have it.
            origins = torch.tensor(np.array([j.origin for j in chain.joints]), dtype=dtype)
            self.register_buffer('origin_rotations', origins[:, :3, :3])
            self.register_buffer('origin_translations', origins[:, :3, 3])
            self.register_buffer('axes', torch.tensor(np.array([j.axis for j in chain.joints]),
                                                      dtype=dtype))
            self.register_buffer('tip_translation',
                                 torch.tensor(chain.tip_offset[:3, 3], dtype=dtype))
            weights, offsets = _transform_tables(chain)
            # Derived from the chain: not in the state dict.
            self.register_buffer('transform_weights', torch.tensor(weights, dtype=dtype),
                                 persistent=False)
            self.register_buffer('transform_offsets', torch.tensor(offsets, dtype=dtype),
                                 persistent=False)
            self.transforms = len(offsets) // 16

    def planar_angles(self, joints: torch.Tensor) -> torch.Tensor:
        """Return the accumulated in-plane angle after each joint (planar chains)."""
        return nn.functional.linear(joints, self.accumulate, self.yaw_accumulated)

    def planar_tip(self, cos_sin: torch.Tensor) -> torch.Tensor:
        """Return the tip from ``[cos(angles), sin(angles)]`` (planar chains)."""
        return nn.functional.linear(cos_sin, self.link_matrix, self.base_offset)

    def forward(self, joints: torch.Tensor) -> torch.Tensor:
        """Return tip positions ``[batch, target_dim]`` for joint vectors ``[batch, n]``."""
        if self.planar:
            phi = self.planar_angles(joints)
            return self.planar_tip(torch.cat([torch.cos(phi), torch.sin(phi)], dim=-1))
        return self.pose(joints)[0]

    def pose(self, joints: torch.Tensor) -> tuple:
        """Return the tool's position ``[batch, 3]`` and rotation ``[batch, 3, 3]`` (spatial)."""
        return self.pose_from_cos_sin(torch.cat([torch.cos(joints), torch.sin(joints)], dim=-1))

    def pose_from_cos_sin(self, cos_sin: torch.Tensor) -> tuple:
        """As :meth:`pose`, from ``[cos(joints), sin(joints)]`` ``[batch, 2n]``."""
        frames = nn.functional.linear(cos_sin, self.transform_weights, self.transform_offsets)
        count = self.transforms
        while count > 1:
            count //= 2
            pairs = frames.reshape(-1, count, 2, 4, 4)
            frames = pairs[:, :, 0] @ pairs[:, :, 1]
        tool = frames.reshape(-1, 4, 4)
        return tool[:, :3, 3], tool[:, :3, :3]


def _transform_tables(chain: KinematicChain) -> tuple:
    """
    Return ``(W, b)`` with every transform of the chain, flattened, equal to ``W @ cs + b``.

    ``cs = [cos q, sin q]``. Transform ``i < n`` is joint ``i``'s
    ``origin @ [[I + sin q K + (1 - cos q) K^2, 0], [0, 1]]``, ``K`` its axis' cross-product
    matrix; transform ``n`` is the tool offset; identities pad to a power of two.
    """
    n = chain.n_joints
    count = 1
    while count < n + 1:
        count *= 2
    weights = np.zeros((count * 16, 2 * n))
    offsets = np.tile(np.eye(4), (count, 1, 1))
    for i, joint in enumerate(chain.joints):
        x, y, z = joint.axis
        skew = np.zeros((4, 4))
        skew[:3, :3] = [[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]]
        square = skew @ skew
        rows = slice(16 * i, 16 * (i + 1))
        offsets[i] = joint.origin @ (np.eye(4) + square)
        weights[rows, i] = -(joint.origin @ square).reshape(16)
        weights[rows, n + i] = (joint.origin @ skew).reshape(16)
    offsets[n] = chain.tip_offset
    return weights, offsets.reshape(-1)


# vee((E - E^T) / 2) of a row-major 3x3 E, as one constant matrix.
_VEE = np.zeros((3, 9))
_VEE[0, 7], _VEE[0, 5] = 0.5, -0.5
_VEE[1, 2], _VEE[1, 6] = 0.5, -0.5
_VEE[2, 3], _VEE[2, 1] = 0.5, -0.5


def rotation_error(goal: torch.Tensor, rotation: torch.Tensor) -> torch.Tensor:
    """
    Return ``sin(angle) * axis`` of ``goal @ rotation^T`` in base axes, ``[batch, 3]``.

    The rotation vector to first order, and zero exactly when the two agree: the network's
    increment is linear in it, so a reached pose stays a fixed point.
    """
    turn = goal @ rotation.transpose(-1, -2)
    return nn.functional.linear(turn.reshape(-1, 9), torch.tensor(_VEE, dtype=turn.dtype))


def mlp(widths: list, activation: str) -> nn.Sequential:
    """Return a multilayer perceptron with the activation between hidden layers."""
    layers: list = []
    for i, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(fan_in, fan_out))
        if i < len(widths) - 2:
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


class IncrementalIKNet(nn.Module):
    """
    Our design: a learned, state-dependent inverse of the chain's Jacobian.

    Features: sin/cos of the joint angles (of the accumulated in-plane angles for planar
    chains; either way no seam at +-pi), the tip over the reach, the step to the target over
    the trained step, the elbow branch and, with ``bend_direction``, the direction of the
    planar arm's bend (below). The MLP outputs a matrix ``M`` of shape
    ``[n_joints, target_dim]`` and the increment is ``M @ (target - tip)``: exactly zero
    when the target is reached, so the closed loop has the target as a fixed point, and
    linear for small steps, like a Jacobian inverse.

    The bend direction ``b / sqrt(|b|^2 + eps^2)``, ``b`` the sines of the relative angles
    of joints 2..n, is for redundant planar arms. Near the stretched arm their least-motion
    answer bends the arm in the direction it is already bent, however slightly: a function
    of the direction of ``b`` that turns once around the stretched pose, as steep as
    ``1 / |b|``. Given that direction as an input, the network need not build it.
    """

    def __init__(self, chain: KinematicChain, step_m: float, hidden: list,
                 activation: str, bend_direction: bool = False, target_mode: str = 'position',
                 step_rad: float = 0.1) -> None:
        super().__init__()
        self.fk = ChainForwardKinematics(chain)
        self.pose = target_mode == 'pose'
        if target_mode not in ('position', 'pose'):
            raise ValueError(f"networks take 'position' or 'pose' targets, not {target_mode!r}")
        if self.pose and (chain.planar is not None or chain.n_joints < 6):
            raise ValueError('pose networks need a spatial chain of six joints or more')
        # d: the rows of the residual the increment is linear in (3 position + 3 turn).
        n, d = chain.n_joints, (6 if self.pose else chain.target_dim)
        self.step_rad = float(step_rad)
        self.bend_direction = bend_direction
        bends = 0
        if bend_direction:
            if chain.planar is None or n < 3:
                raise ValueError('bend direction features are defined for planar chains of '
                                 'three or more joints')
            bends = n - 1
            p = chain.planar
            select = torch.zeros(bends, n)
            for i in range(bends):
                select[i, i + 1] = float(p.axis_signs[i + 1])
            self.register_buffer('bend_select', select)
            self.register_buffer('bend_offset', torch.tensor(p.yaw_offsets[1:],
                                                             dtype=torch.float32))
            self.register_buffer('bend_sum', torch.ones(1, bends))
            self.register_buffer('bend_eps_squared', torch.tensor([BEND_EPS_RAD ** 2]))
        self.n_joints = n
        self.target_dim = POSE_TARGET_WIDTH if self.pose else d
        self.step_m = float(step_m)
        self.reach_m = float(chain.reach)
        # Scales the matrix so that its entries are of order one for a unit step.
        self.delta_scale = 4.0 * self.step_m / self.reach_m
        if self.pose:
            scale = ([1.0] * (2 * n) + [1.0 / self.reach_m] * 3 + [1.0 / self.step_m] * 3
                     + [1.0 / self.step_rad] * 3 + [1.0])
            # Radians of turn weigh step_m / step_rad metres in the residual.
            self.register_buffer('residual_weight', torch.tensor(
                [1.0] * 3 + [self.step_m / self.step_rad] * 3, dtype=torch.float32))
        else:
            scale = ([1.0] * (2 * n) + [1.0 / self.reach_m] * d + [1.0 / self.step_m] * d
                     + [1.0] + [1.0] * bends)
        self.register_buffer('feature_scale', torch.tensor(scale, dtype=torch.float32))
        # (M @ s)_i = sum_k M[i * d + k] s_k, as two constant matrix products around a
        # product: replicate s, multiply elementwise, sum each joint's group.
        replicate = torch.zeros(n * d, d)
        group_sum = torch.zeros(n, n * d)
        for i in range(n):
            for k in range(d):
                replicate[i * d + k, k] = 1.0
                group_sum[i, i * d + k] = self.delta_scale / self.step_m
        self.register_buffer('replicate', replicate)
        self.register_buffer('group_sum', group_sum)
        self.net = mlp([len(scale), *hidden, n * d], activation)

    def forward(self, joint_positions: torch.Tensor, target: torch.Tensor,
                branch: torch.Tensor) -> torch.Tensor:
        """Return the joint increment toward ``target``."""
        if self.fk.planar:
            phi = self.fk.planar_angles(joint_positions)
            cos_sin = torch.cat([torch.cos(phi), torch.sin(phi)], dim=-1)
            tip = self.fk.planar_tip(cos_sin)
        else:
            cos_sin = torch.cat([torch.cos(joint_positions), torch.sin(joint_positions)],
                                dim=-1)
            tip, rotation = self.fk.pose_from_cos_sin(cos_sin)
        if self.pose:
            offset = target[:, :3] - tip
            turn = rotation_error(target[:, 3:].reshape(-1, 3, 3), rotation)
            parts = [cos_sin, tip, offset, turn, branch]
            step = torch.cat([offset, turn], dim=-1) * self.residual_weight
        else:
            step = target - tip
            parts = [cos_sin, tip, step, branch]
        if self.bend_direction:
            parts.append(self.bend_features(joint_positions))
        features = torch.cat(parts, dim=-1)
        # Scaling the first layer's weights instead of the features is the same map; the
        # exporter folds the product into one constant, saving a node per call.
        first = self.net[0]
        hidden = nn.functional.linear(features, first.weight * self.feature_scale, first.bias)
        matrix = self.net[1:](hidden)
        products = matrix * nn.functional.linear(step, self.replicate)
        return nn.functional.linear(products, self.group_sum)

    def bend_features(self, joint_positions: torch.Tensor) -> torch.Tensor:
        """Return the bend direction ``b / sqrt(|b|^2 + eps^2)``, shape ``[batch, n - 1]``."""
        bend = torch.sin(nn.functional.linear(joint_positions, self.bend_select,
                                              self.bend_offset))
        norm = nn.functional.linear(bend * bend, self.bend_sum, self.bend_eps_squared)
        return bend / torch.sqrt(norm)

    def input_encoding(self) -> dict:
        """Return the encoding the model card records."""
        angles = 'accumulated planar angles' if self.fk.planar else 'joint angles'
        encoding = {'joints': f'cos and sin of the {angles}',
                    'tip': f'fk(joints) / {self.reach_m}',
                    'step': f'(target - fk(joints)) / {self.step_m}', 'branch': 'raw +1/-1',
                    'output': f'(M(features) @ step) * {self.delta_scale}',
                    'network': 'M is the MLP output reshaped [n_joints, target_dim]'}
        if self.pose:
            weight = self.step_m / self.step_rad
            encoding.update({
                'target': 'x, y, z, then the rotation matrix R_goal row-major (12 numbers)',
                'step': f'(target position - tip) / {self.step_m}, turn / {self.step_rad}; '
                        'turn = vee(E - E^T) / 2, E = R_goal R(joints)^T (sin(angle) * axis, '
                        'base axes)',
                'output': f'(M(features) @ [target position - tip, {weight} * turn]) * '
                          f'{self.delta_scale / self.step_m}',
                'network': 'M is the MLP output reshaped [n_joints, 6]'})
        if self.bend_direction:
            encoding['bend'] = (f'b / sqrt(|b|^2 + {BEND_EPS_RAD}^2), b = sin of the relative '
                                'angles of joints 2..n')
        return encoding


class Seed1Net(nn.Module):
    """
    Seed 1's network: raw ``[x, y, q1, q2]`` in, absolute next angles out, sigmoid MLP.

    Wrapped in the shared interface: the output is returned as an increment and the branch
    input is accepted and ignored (the seed had no notion of it).
    """

    def __init__(self, chain: KinematicChain, hidden: list, activation: str) -> None:
        super().__init__()
        if chain.target_dim + chain.n_joints != 4:
            raise ValueError('the seed1 architecture is defined for planar 2R chains only')
        self.net = mlp([4, *hidden, chain.n_joints], activation)

    def forward(self, joint_positions: torch.Tensor, target: torch.Tensor,
                branch: torch.Tensor) -> torch.Tensor:
        """Return the seed's absolute answer as an increment from the current angles."""
        next_angles = self.net(torch.cat([target, joint_positions], dim=-1))
        # Keeps ``branch`` a real graph input so every model has the same signature.
        return next_angles - joint_positions + 0.0 * branch

    def input_encoding(self) -> dict:
        """Return the encoding the model card records."""
        return {'joints': 'raw radians', 'target': 'raw metres', 'branch': 'ignored',
                'output': 'absolute next angles - joints'}


def build_model(chain: KinematicChain, architecture: str, step_m: float, hidden: list,
                activation: str, bend_direction: bool = False, target_mode: str = 'position',
                step_rad: float = 0.1) -> nn.Module:
    """Return the network named by ``architecture``."""
    if architecture == 'seed1':
        return Seed1Net(chain, hidden, activation)
    return IncrementalIKNet(chain, step_m, hidden, activation, bend_direction, target_mode,
                            step_rad)


def model_of(chain: KinematicChain, config) -> nn.Module:
    """Return the network a training configuration (:class:`TrainConfig`) describes."""
    m = config.model
    return build_model(chain, m.architecture, config.data.step_m, m.hidden, m.activation,
                       m.bend_direction, m.target_mode, config.data.step_rad)


def step_errors(fk: ChainForwardKinematics, joints: torch.Tensor,
                target: torch.Tensor) -> tuple:
    """
    Return the tool's position error (m) at ``joints`` and, for pose targets, its turn.

    The turn is ``|sin(angle)|`` of the rotation left (the angle itself to first order).
    """
    if target.shape[-1] == POSE_TARGET_WIDTH:
        position, rotation = fk.pose(joints)
        turn = rotation_error(target[:, 3:].reshape(-1, 3, 3), rotation)
        return (torch.linalg.norm(position - target[:, :3], dim=-1),
                torch.linalg.norm(turn, dim=-1))
    return torch.linalg.norm(fk(joints) - target, dim=-1), None


def parameter_count(model: nn.Module) -> int:
    """Return the number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
