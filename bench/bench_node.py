#!/usr/bin/env python3
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
Benchmark the IK node as a process on loopback, as a controller would use it.

    .venv/bin/python bench/bench_node.py [--quick]

1. Feedback to command: the node ticks on feedback at 500 Hz; this process plays a perfect
   servo (it echoes each command back as the next joint state, every 2 ms) and times each
   feedback message to the command it causes.
2. CPU: the node at 100 Hz driving sim_arm toward a moving target; CPU time of the node
   process over wall time.
3. Start to first command: from starting the node process (sim_arm already publishing, a
   target waiting) to the first command received.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
from pathlib import Path
import signal
import subprocess
import sys
import time

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from geometry_msgs.msg import PoseStamped  # noqa: E402
import numpy as np  # noqa: E402
import rclpy  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from sensor_msgs.msg import JointState  # noqa: E402

NAMES = ['joint1', 'joint2']


def start(module: str, *params: str) -> subprocess.Popen:
    """Start an iknn_ros node process with parameters ``name:=value``."""
    args = [sys.executable, '-m', module, '--ros-args', '--log-level', 'warn']
    for p in params:
        args += ['-p', p]
    return subprocess.Popen(args, env=child_environment())


def child_environment() -> dict:
    """Return the environment for node processes: this checkout first on the path."""
    env = os.environ.copy()
    env['PYTHONPATH'] = os.pathsep.join(filter(None, [str(REPO), env.get('PYTHONPATH')]))
    return env


def stop(process: subprocess.Popen) -> None:
    """Stop a node process as Ctrl-C would."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def cpu_seconds(pid: int) -> float:
    """Return user + system CPU seconds of a process."""
    fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def target_message(x: float, y: float) -> PoseStamped:
    msg = PoseStamped()
    msg.header.frame_id = 'base_link'
    msg.pose.position.x, msg.pose.position.y = x, y
    msg.pose.orientation.w = 1.0
    return msg


def feedback_to_command(samples: int, baseline: bool = False,
                        node_executor: str = 'single_threaded') -> dict:
    """
    Time feedback -> command with the node ticking on feedback at 500 Hz.

    With ``baseline``, the process is bench/echo_node.py instead: rclpy receiving and
    publishing a JointState with no work in between, the floor for any rclpy node.
    """
    if baseline:
        node_process = subprocess.Popen([sys.executable, str(REPO / 'bench' / 'echo_node.py'),
                                         '--ros-args', '--log-level', 'warn'],
                                        env=child_environment())
    else:
        node_process = start('iknn_ros.nodes.ik_node', 'trigger:=feedback',
                             'control_rate_hz:=500.0', 'feedback_timeout:=1.0',
                             f'executor:={node_executor}')
    node = rclpy.create_node('bench_servo')
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    received = []
    node.create_subscription(JointState, 'joint_commands',
                             lambda m: received.append((time.perf_counter(), m)), 10)
    feedback = node.create_publisher(JointState, 'joint_states', 10)
    targets = node.create_publisher(PoseStamped, 'target_pose', 10)
    q = [0.0, 1.0]
    latencies = []
    try:
        deadline = time.monotonic() + 30
        while not received and time.monotonic() < deadline:
            targets.publish(target_message(-0.5, 0.5))
            feedback.publish(JointState(name=NAMES, position=q))
            for _ in range(20):
                executor.spin_once(timeout_sec=0.005)
        if not received:
            raise RuntimeError('the node sent no command')
        goal = 0
        goals = [(-0.5, 0.5), (0.7, -0.3), (0.2, 0.8), (-0.6, -0.6)]
        period = 0.002
        next_time = time.perf_counter()
        while len(latencies) < samples:
            if len(latencies) % 400 == 0:
                goal = (goal + 1) % len(goals)
                targets.publish(target_message(*goals[goal]))
            before = len(received)
            msg = JointState(name=NAMES, position=q)
            msg.header.stamp = node.get_clock().now().to_msg()
            sent = time.perf_counter()
            feedback.publish(msg)
            wait_until = sent + 0.05
            while len(received) == before and time.perf_counter() < wait_until:
                # Block until the command arrives: polling would take the core the node needs.
                executor.spin_once(timeout_sec=max(0.0, wait_until - time.perf_counter()))
            if len(received) > before:
                arrived, command = received[-1]
                latencies.append(arrived - sent)
                q = list(command.position)
            next_time += period
            while time.perf_counter() < next_time:
                executor.spin_once(timeout_sec=max(0.0, next_time - time.perf_counter()))
    finally:
        executor.shutdown()
        node.destroy_node()
        stop(node_process)
    ms = np.array(latencies) * 1e3
    return {'samples': int(ms.size), 'median_ms': float(np.median(ms)),
            'p99_ms': float(np.percentile(ms, 99)), 'max_ms': float(ms.max()),
            'control_rate_hz': 500.0, 'executor': 'echo' if baseline else node_executor}


def cpu_at_100hz(seconds: float) -> dict:
    """Return the node's CPU use while it drives sim_arm at 100 Hz."""
    sim = start('iknn_ros.nodes.sim_arm', 'initial_positions:=[0.0, 1.0]')
    node_process = start('iknn_ros.nodes.ik_node', 'control_rate_hz:=100.0')
    node = rclpy.create_node('bench_cpu')
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    commands = []
    node.create_subscription(JointState, 'joint_commands', commands.append, 10)
    targets = node.create_publisher(PoseStamped, 'target_pose', 10)
    try:
        deadline = time.monotonic() + 30
        while not commands and time.monotonic() < deadline:
            targets.publish(target_message(0.5, 0.5))
            executor.spin_once(timeout_sec=0.05)
        start_cpu, start_wall = cpu_seconds(node_process.pid), time.monotonic()
        count = len(commands)
        while time.monotonic() - start_wall < seconds:
            phase = time.monotonic() - start_wall
            targets.publish(target_message(0.45 + 0.25 * math.cos(phase),
                                           0.2 + 0.25 * math.sin(phase)))
            end = time.monotonic() + 0.05
            while time.monotonic() < end:
                executor.spin_once(timeout_sec=0.01)
        wall = time.monotonic() - start_wall
        used = cpu_seconds(node_process.pid) - start_cpu
        rate = (len(commands) - count) / wall
    finally:
        executor.shutdown()
        node.destroy_node()
        stop(node_process)
        stop(sim)
    return {'seconds': wall, 'cpu_percent_of_one_core': 100.0 * used / wall,
            'commands_per_second': rate}


def start_to_first_command(repeats: int, node_executor: str = 'single_threaded') -> dict:
    """Return seconds from starting the node process to its first command."""
    sim = start('iknn_ros.nodes.sim_arm', 'initial_positions:=[0.0, 1.0]')
    node = rclpy.create_node('bench_start')
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    commands = []
    node.create_subscription(JointState, 'joint_commands', commands.append, 10)
    targets = node.create_publisher(PoseStamped, 'target_pose', 10)
    times = []
    try:
        time.sleep(1.0)
        for _ in range(repeats):
            commands.clear()
            started = time.monotonic()
            process = start('iknn_ros.nodes.ik_node', f'executor:={node_executor}')
            # A target every 10 ms, as a teleoperation source would; no busy loop that
            # would take the CPU the starting node needs.
            while not commands and time.monotonic() - started < 30:
                targets.publish(target_message(0.5, 0.5))
                end = time.monotonic() + 0.01
                while not commands and time.monotonic() < end:
                    executor.spin_once(timeout_sec=0.002)
            times.append(time.monotonic() - started)
            stop(process)
    finally:
        executor.shutdown()
        node.destroy_node()
        stop(sim)
    return {'repeats': repeats, 'median_s': float(np.median(times)),
            'max_s': float(np.max(times)), 'times_s': [round(t, 3) for t in times]}


def main() -> int:
    """Run the three measurements, print them, and write JSON and the docs page."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--quick', action='store_true', help='fewer samples')
    parser.add_argument('--out', type=Path, default=REPO / 'bench' / 'results')
    parser.add_argument('--docs', type=Path, default=None)
    args = parser.parse_args()
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    rclpy.init()
    try:
        results = {
            'date': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
            'feedback_to_command': feedback_to_command(500 if args.quick else 5000,
                                                       node_executor='events'),
            'feedback_to_command_single_threaded': feedback_to_command(
                500 if args.quick else 5000, node_executor='single_threaded'),
            'echo_baseline': feedback_to_command(500 if args.quick else 5000, baseline=True),
            'cpu_at_100hz': cpu_at_100hz(3.0 if args.quick else 15.0),
            'start_to_first_command': start_to_first_command(2 if args.quick else 8, 'events'),
            'start_to_first_command_single_threaded': start_to_first_command(
                2 if args.quick else 8, 'single_threaded'),
        }
    finally:
        rclpy.try_shutdown()
    from bench_ik import machine
    results['machine'] = machine()
    f, v, e, c, s, sv = (results['feedback_to_command'],
                         results['feedback_to_command_single_threaded'],
                         results['echo_baseline'], results['cpu_at_100hz'],
                         results['start_to_first_command'],
                         results['start_to_first_command_single_threaded'])
    text = '\n'.join([
        f"feedback -> command at 500 Hz ({f['samples']} samples), events executor (default): "
        f"median {f['median_ms']:.3f} ms, p99 {f['p99_ms']:.3f} ms, max {f['max_ms']:.3f} ms",
        f"  single_threaded executor: median {v['median_ms']:.3f} ms, p99 {v['p99_ms']:.3f} ms, "
        f"max {v['max_ms']:.3f} ms",
        f"  rclpy echo baseline, same method: median {e['median_ms']:.3f} ms, p99 "
        f"{e['p99_ms']:.3f} ms (ik_node p99 / baseline p99 = {f['p99_ms'] / e['p99_ms']:.2f})",
        f"CPU at 100 Hz driving sim_arm: {c['cpu_percent_of_one_core']:.1f} % of one core "
        f"({c['commands_per_second']:.1f} commands/s over {c['seconds']:.1f} s)",
        f"start to first command: median {s['median_s']:.3f} s, max {s['max_s']:.3f} s "
        f"({s['repeats']} starts, events: {s['times_s']}); single_threaded: median "
        f"{sv['median_s']:.3f} s, max {sv['max_s']:.3f} s ({sv['times_s']})",
        f"machine: {results['machine']['cpu']}, {results['machine']['cores']} cores"])
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    name = 'node_quick.json' if args.quick else 'node.json'
    (args.out / name).write_text(json.dumps(results, indent=2) + '\n')
    docs = args.docs or (None if args.quick else REPO / 'docs' / 'benchmarks_node.md')
    if docs is not None:
        docs.write_text('# Node benchmarks\n\nWritten by `make bench` (`bench/bench_node.py`) '
                        f"on {results['date']}, on loopback (Fast DDS, rclpy Jazzy wheels). "
                        f'Raw numbers: `bench/results/node.json`.\n\n```text\n{text}\n```\n')
    return 0


if __name__ == '__main__':
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
