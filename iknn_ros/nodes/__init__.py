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
The ROS 2 glue: thin rclpy nodes over :mod:`iknn_ros.ik`, and what starts them.

``ik_node`` (its messages for people built in ``messages``), ``sim_arm``, ``web`` (with
``web_access``), ``goal_marker`` (RViz's interactive marker), ``demo``, ``node_main``
(signals and executors for every console script) and ``launch_plan`` (what the launch files
start, checked first).
"""
