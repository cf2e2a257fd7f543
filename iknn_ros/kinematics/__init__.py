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
Kinematics: chains from URDF and what follows from them alone.

``chain`` (KinematicChain: joints, limits, forward kinematics, Jacobians), ``two_link``
(the planar 2R closed form), ``workspace`` (reachability and projection), ``angles``,
``least_squares`` (the damped step, batched), ``chain_kernels`` (one arm's kinematics and
least-squares loops, compiled), ``rigid_body`` (the chain as a Pinocchio model: the
reference they are tested against), ``targets`` (target modes and their tuples),
``sampling`` (IK problems with exact answers) and the ``chain_info`` command.
Nothing here knows about ticks, networks or ROS.
"""

from iknn_ros.kinematics.chain import JointSpec
from iknn_ros.kinematics.chain import KinematicChain
from iknn_ros.kinematics.chain import PlanarGeometry
from iknn_ros.kinematics.chain import UrdfError
from iknn_ros.kinematics.two_link import TwoLinkGeometry
from iknn_ros.kinematics.workspace import AnnulusWorkspace
from iknn_ros.kinematics.workspace import EXACT_GAP_M
from iknn_ros.kinematics.workspace import nearest_keeping_elbows
from iknn_ros.kinematics.workspace import NumericWorkspace
from iknn_ros.kinematics.workspace import Workspace
from iknn_ros.kinematics.workspace import workspace_of

__all__ = ['AnnulusWorkspace', 'EXACT_GAP_M', 'JointSpec', 'KinematicChain', 'NumericWorkspace',
           'PlanarGeometry', 'TwoLinkGeometry', 'UrdfError', 'Workspace', 'nearest_keeping_elbows',
           'workspace_of']
