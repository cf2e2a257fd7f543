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
The IK itself: one arm's tick, the cold solve, the network and the control loop's state.

``tick_types`` (SolverConfig, Status, TickResult), ``safety`` (the last step of every tick),
``routes`` (the tip's way around the keep-out disk or ball), ``pose_tick`` (the general
tick and cold solve), ``solver`` (IKSolver, the ONNX network, the Tracker),
``model_card``, ``controller`` (targets, feedback, staleness for a node) and the
``solve`` command. It stands on :mod:`iknn_ros.kinematics`; nothing here imports rclpy.
"""
