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

"""Run one rclpy node the way every iknn_ros executable does: clean start, clean Ctrl-C."""

from __future__ import annotations

import signal
import sys
import threading
from typing import Callable, Optional, Sequence

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node


def spin_node(name: str, make_node: Callable[[], Node],
              startup_errors: tuple = (), args: Optional[Sequence[str]] = None) -> int:
    """
    Create the node and spin it until SIGINT, SIGTERM or shutdown; return the exit code.

    SIGINT and SIGTERM set a stop flag instead of raising KeyboardInterrupt: an exception
    raised by a signal can land inside a finalizer, where Python drops it, and the node
    would then spin on after Ctrl-C. rclpy's own handlers, installed by ``rclpy.init``
    after ours, still wake the executor and then call ours. An exception of
    ``startup_errors`` raised while creating the node is reported in one line (exit code 1),
    not as a traceback.
    """
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    rclpy.init(args=args)  # its handlers wake the executor, then call ours
    executor = SingleThreadedExecutor()
    node = None
    try:
        node = make_node()
        executor.add_node(node)
        while not stop.is_set() and rclpy.ok():
            try:
                executor.spin_once()
            except Exception:  # noqa: B902 - re-raised unless the signal raced the callback
                # rclpy's handler has already shut the context down, so a callback that
                # was ready in the same wake-up can fail to publish: that is the stop.
                if stop.is_set() or not rclpy.ok():
                    break
                raise
    except startup_errors as err:
        print(f'{name}: cannot start: {err}', file=sys.stderr)
        return 1
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        executor.shutdown()
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0
