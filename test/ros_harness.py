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

"""A harness for tests that run real rclpy nodes in this process."""

import time
from typing import Callable

import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node


class Harness:
    """Spins the nodes under test and a probe node that talks to them."""

    def __init__(self, *nodes: Node) -> None:
        self.probe = rclpy.create_node('test_probe')
        self.executor = SingleThreadedExecutor()
        self.nodes = [*nodes, self.probe]
        for node in self.nodes:
            self.executor.add_node(node)
        self.received: dict = {}

    def record(self, kind, topic: str, qos=10) -> list:
        """Subscribe the probe to a topic; return the list its messages land in."""
        messages = self.received.setdefault(topic, [])
        self.probe.create_subscription(kind, topic, messages.append, qos)
        return messages

    def publisher(self, kind, topic: str, qos=10):
        """Return a probe publisher."""
        return self.probe.create_publisher(kind, topic, qos)

    def spin(self, seconds: float) -> None:
        """Spin all nodes for a while."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.executor.spin_once(timeout_sec=0.005)

    def spin_until(self, condition: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Spin until ``condition()`` holds; return whether it did before the timeout."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if condition():
                return True
            self.executor.spin_once(timeout_sec=0.005)
        return condition()

    def close(self) -> None:
        """Destroy the probe (the nodes under test are destroyed by their owners)."""
        self.executor.shutdown()
        self.probe.destroy_node()
