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
The chain as a Pinocchio model: the tip's pose and its Jacobian in one call.

Pinocchio (the rigid-body library of this field, ``ros-<distro>-pinocchio``, ``pin`` on
PyPI) is the reference for our kinematics: the compiled kernels the tick runs
(:mod:`iknn_ros.kinematics.chain_kernels`) are held to it on every shipped URDF, and the
benchmarks score every solver's answers with it. The tick ran on it until 2026-12-03; driven
from Python, one call cost about 3 us on a 7-joint arm against 1.3 us for the kernel (0.45
us inside a compiled loop). The model is built from the :class:`KinematicChain` itself, not
from the URDF again, so it is the chain the loader checked (fixed joints folded, held joints
fixed, followers in place).
"""

from __future__ import annotations

from typing import Optional

from iknn_ros.kinematics.chain import JointSpec
from iknn_ros.kinematics.chain import KinematicChain
import numpy as np
from numpy.typing import ArrayLike, NDArray
import pinocchio

FloatArray = NDArray[np.float64]

_REVOLUTE = (pinocchio.JointModelRX, pinocchio.JointModelRY, pinocchio.JointModelRZ)
_PRISMATIC = (pinocchio.JointModelPX, pinocchio.JointModelPY, pinocchio.JointModelPZ)


class RigidBodyModel:
    """
    The tip pose and Jacobian of a chain, from Pinocchio.

    Continuous joints are plain revolute joints here (one coordinate, any angle), so the
    configuration is the chain's joint vector; followers are joints of their own, driven
    through :attr:`drive`.
    """

    def __init__(self, chain: KinematicChain) -> None:
        """Build the model of ``chain``, one Pinocchio joint per moving joint."""
        model = pinocchio.Model()
        model.name = chain.robot_name
        parent = 0
        for joint in chain.motions:
            parent = model.addJoint(parent, _joint_model(joint), _se3(joint.origin),
                                    joint.name)
        self.tip_frame = model.addFrame(pinocchio.Frame(
            chain.tip_link, parent, 0, _se3(chain.tip_offset), pinocchio.FrameType.OP_FRAME))
        self.model = model
        self.data = model.createData()
        # The frames' placements, looked up once: the attribute costs 0.3 us a call.
        self._placements = self.data.oMf
        self.n_joints = chain.n_joints
        # Every motion's coordinate is multiplier * q[driver] + offset: a linear map, the
        # identity when no joint follows another.
        self.drive: Optional[FloatArray] = None
        self.drive_offset: Optional[FloatArray] = None
        if chain.followers:
            drive = np.zeros((len(chain.motions), chain.n_joints))
            offset = np.zeros(len(chain.motions))
            for row, (joint, driver) in enumerate(zip(chain.motions, chain.drivers)):
                drive[row, driver] = 1.0 if joint.mimic is None else joint.multiplier
                offset[row] = 0.0 if joint.mimic is None else joint.offset
            self.drive, self.drive_offset = drive, offset

    def _configuration(self, q: FloatArray) -> FloatArray:
        return q if self.drive is None else self.drive @ q + self.drive_offset

    def placement(self, q: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Return the tip position (3,) and rotation (3, 3) in base coordinates."""
        q = np.asarray(q, dtype=np.float64)
        pinocchio.framesForwardKinematics(self.model, self.data, self._configuration(q))
        tip = self._placements[self.tip_frame]
        # Copies: Pinocchio's arrays are views into its data, which the next call rewrites.
        return tip.translation.copy(), tip.rotation.copy()

    def placement_and_jacobian(self, q: ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
        """
        Return the tip position, rotation and the 6 x n Jacobian at ``q``.

        Rows are the tip's linear velocity, then its angular velocity, both in base
        coordinates (Pinocchio's LOCAL_WORLD_ALIGNED), per unit joint velocity.
        """
        q = np.asarray(q, dtype=np.float64)
        jac = pinocchio.computeFrameJacobian(self.model, self.data, self._configuration(q),
                                             self.tip_frame, pinocchio.LOCAL_WORLD_ALIGNED)
        if self.drive is not None:
            jac = jac @ self.drive
        tip = self._placements[self.tip_frame]
        return tip.translation.copy(), tip.rotation.copy(), jac


def _se3(transform: FloatArray) -> pinocchio.SE3:
    return pinocchio.SE3(np.ascontiguousarray(transform[:3, :3]),
                         np.ascontiguousarray(transform[:3, 3]))


def _joint_model(joint: JointSpec):
    """Return Pinocchio's joint for ``joint``: along a base axis where it is one."""
    axis = np.asarray(joint.axis, dtype=np.float64)
    along = np.flatnonzero(axis == 1.0)
    if along.size == 1 and np.count_nonzero(axis) == 1:
        return (_PRISMATIC if joint.is_prismatic else _REVOLUTE)[int(along[0])]()
    if joint.is_prismatic:
        return pinocchio.JointModelPrismaticUnaligned(axis)
    return pinocchio.JointModelRevoluteUnaligned(axis)
