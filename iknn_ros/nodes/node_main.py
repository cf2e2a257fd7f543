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
Run one rclpy node the way every iknn_ros executable does: clean start, clean stop.

The console scripts point here (``iknn_ros.nodes.node_main:ik_node`` and so on) rather than at the
node modules, so that the stop signals are caught before rclpy, numpy and onnxruntime are
imported: a Ctrl-C during those imports ends the process with exit code 0 too.

Why not rclpy's own signal handlers: they shut the context down on the first SIGINT and
leave the process with the default disposition while it tears down, so the second SIGINT
of a Ctrl-C under ``ros2 launch`` (the terminal signals the whole process group, and launch
forwards its own) killed nodes with exit code -2. Here every SIGINT and SIGTERM, however
many and whenever they arrive, only sets a flag; the spin loop polls it, and once the node
is torn down the signals are ignored for the last moments of interpreter exit.
"""

from __future__ import annotations

import gc
import importlib
import signal
import sys
from typing import Callable, Optional, Sequence, TYPE_CHECKING

if TYPE_CHECKING:
    from rclpy.node import Node

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# How long one spin waits for work before it looks at the stop flag again: the longest a
# stop signal can wait to be seen (a wait inside rcl is not interrupted by signals).
STOP_POLL_S = 0.05


class StopFlag:
    """
    Whether a stop signal has arrived: set from a signal handler, read by the spin loop.

    Not a threading.Event: its set() takes a lock, and a second signal arriving while the
    handler of the first holds it runs the handler again in the same thread, which then
    waits for itself forever (1 in 8 double SIGINTs 0 ms apart hung the IK node). Setting
    an attribute takes no lock and may be interrupted and repeated at any point.
    """

    def __init__(self) -> None:
        self._set = False

    def request(self) -> None:
        """Raise the flag."""
        self._set = True

    def is_set(self) -> bool:
        """Return whether the flag is raised."""
        return self._set


_stop = StopFlag()


def install_stop_handlers() -> StopFlag:
    """Make SIGINT and SIGTERM set the process's stop flag; return the flag."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, lambda *_: _stop.request())
    return _stop


def stop_requested() -> bool:
    """Return whether a stop signal has arrived since the handlers were installed."""
    return _stop.is_set()


def ignore_stop_signals() -> None:
    """Ignore SIGINT and SIGTERM: for the last moments of a process that is stopping."""
    # Python resets handlers it installed to the default disposition while it finalizes;
    # an ignored signal stays ignored, so a late SIGINT cannot turn exit 0 into -2.
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)


def _init_rclpy(args: Optional[Sequence[str]]) -> None:
    import rclpy
    try:
        from rclpy.signals import SignalHandlerOptions
    except ImportError:  # an older rclpy: take its handlers out after the fact
        rclpy.init(args=args)
        uninstall = getattr(rclpy, 'uninstall_signal_handlers', None)
        if uninstall is not None:
            uninstall()
        install_stop_handlers()
        return
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)


EXECUTORS = ('single_threaded', 'events')


def make_executor(kind: str, log: Callable[[str], None] = print):
    """
    Return the rclpy executor named ``kind``.

    ``events`` is rclpy's EventsExecutor (``rclpy.experimental``, Jazzy and later), whose
    wait and dispatch run in C++; where it does not exist (Humble) the single-threaded
    executor runs instead, and ``log`` says so.
    """
    from rclpy.executors import SingleThreadedExecutor
    if kind not in EXECUTORS:
        raise ValueError(f'executor must be one of {list(EXECUTORS)}, got {kind!r}')
    if kind == 'events':
        try:
            from rclpy.experimental import EventsExecutor
        except ImportError:
            log('executor events: this rclpy has no EventsExecutor; using single_threaded')
        else:
            return EventsExecutor()
    return SingleThreadedExecutor()


def spin_node(name: str, make_node: Callable[[], 'Node'],
              startup_errors: tuple = (), args: Optional[Sequence[str]] = None) -> int:
    """
    Create the node and spin it until SIGINT, SIGTERM or shutdown; return the exit code.

    An exception of ``startup_errors`` (or one of rclpy's parameter errors: a parameter of
    the wrong type, an uninitialized one) raised while creating the node is reported in one
    line with exit code 1, not as a traceback.
    """
    from rclpy.exceptions import NameValidationException
    from rclpy.exceptions import ParameterException
    from rclpy.executors import ExternalShutdownException
    import rclpy

    stop = install_stop_handlers()
    if stop.is_set():  # stopped while Python was still importing
        ignore_stop_signals()
        return 0
    _init_rclpy(args)
    executor = None
    node = None
    code = 0
    try:
        node = make_node()
        # A node picks its executor with a read-only 'executor' parameter, if it has one.
        kind = node.get_parameter('executor').value if node.has_parameter('executor') \
            else 'single_threaded'
        executor = make_executor(kind, node.get_logger().warning)
        executor.add_node(node)
        # Everything built so far (numpy, onnxruntime, the messages, the model) lives as
        # long as the process: out of the collector's reach, its full passes stay short
        # and the loop's latency tail with them.
        gc.freeze()
        while not stop.is_set() and rclpy.ok():
            executor.spin_once(timeout_sec=STOP_POLL_S)
    except startup_errors + (ParameterException, NameValidationException) as err:
        if executor is None:
            print(f'{name}: cannot start: {err}', file=sys.stderr)
            code = 1
        else:
            raise
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if executor is not None:
            executor.shutdown()
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
        ignore_stop_signals()
    return code


def _run(module: str) -> int:
    install_stop_handlers()
    try:
        main = importlib.import_module(module).main
    except KeyboardInterrupt:  # only if a signal beat install_stop_handlers
        return 0
    return main()


def ik_node() -> int:
    """Console script ``ik_node``."""
    return _run('iknn_ros.nodes.ik_node')


def sim_arm() -> int:
    """Console script ``sim_arm``."""
    return _run('iknn_ros.nodes.sim_arm')


def web() -> int:
    """Console script ``web``."""
    return _run('iknn_ros.nodes.web')
