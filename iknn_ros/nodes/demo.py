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
The demo without ROS installed: the real nodes on real rclpy, driven by scripted goals.

Starts ``sim_arm``, ``ik_node`` and the ``web`` view as processes (as ``ros2 launch`` would),
prints the page's URL, publishes seed 1's chained clicks and one unreachable goal on
``/goal_pose`` as RViz's tool would, shows a live progress line, prints a table (per goal:
reached, error, time) and writes a plot of the tip path. From a terminal it then keeps
the nodes running so the page can drive the arm. ``make demo`` runs it.
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path
import signal
import subprocess
import sys
import time
from typing import Optional, Sequence

from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped
from iknn_ros.kinematics import KinematicChain
from iknn_ros.kinematics import workspace_of
from iknn_ros.resources import default_urdf_path
from iknn_ros.resources import share_path
import numpy as np
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from sensor_msgs.msg import JointState

# Clicks a user makes on seed 1's page (its arm reaches 10 units), at 0.1 m per unit; the
# last one is beyond the reach, to show the projection.
SEED_CLICKS = ((7.0, 3.0), (-4.0, 6.0), (-8.0, -2.0), (2.0, -9.0), (9.5, 0.0), (-3.0, -3.0),
               (1.0, 8.0), (6.0, -6.0), (0.5, 0.5), (14.0, 6.0))
DEFAULT_GOALS = tuple((x / 10.0, y / 10.0) for x, y in SEED_CLICKS)


class DemoDriver(Node):
    """Publishes goals like RViz's tool and watches the arm and the IK node's diagnostics."""

    def __init__(self) -> None:
        super().__init__('iknn_demo')
        self.goals = self.create_publisher(PoseStamped, '/goal_pose', 10)
        self.joints: Optional[tuple] = None
        self.diagnostic: dict = {}
        self.path: list = []
        self.subscriptions_ = [
            self.create_subscription(JointState, 'joint_states', self._on_state, 10),
            self.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics,
                                     10)]

    def _on_state(self, msg: JointState) -> None:
        positions = dict(zip(msg.name, msg.position))
        if {'joint1', 'joint2'} <= set(positions):
            self.joints = (positions['joint1'], positions['joint2'])
            self.path.append(self.joints)

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name == 'iknn_ros: ik_node':
                self.diagnostic = {'message': status.message,
                                   **{kv.key: kv.value for kv in status.values}}

    def send(self, goal: Sequence[float]) -> None:
        msg = PoseStamped()
        msg.header.frame_id = 'base_link'
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.pose.position.x, msg.pose.position.y = float(goal[0]), float(goal[1])
        msg.pose.orientation.w = 1.0
        self.goals.publish(msg)


def start_nodes(port: int) -> tuple:
    """Start sim_arm, ik_node and the web node; return the processes and the page's URL."""
    params = str(share_path('config/iknn.yaml'))
    processes = []
    for module in ('iknn_ros.nodes.sim_arm', 'iknn_ros.nodes.ik_node'):
        processes.append(subprocess.Popen(
            [sys.executable, '-m', module, '--ros-args', '--params-file', params,
             '--log-level', 'warn'], env=os.environ.copy()))
    web = subprocess.Popen([sys.executable, '-m', 'iknn_ros.nodes.web', '--ros-args', '-p',
                            f'port:={port}', '--log-level', 'warn'],
                           stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    processes.append(web)
    url = None
    deadline = time.monotonic() + 20
    while url is None and time.monotonic() < deadline and web.poll() is None:
        line = web.stdout.readline()
        if 'serving' in line:
            url = line.split('serving', 1)[1].strip()
    return processes, url


def stop_nodes(processes: list) -> None:
    """Stop child processes with SIGINT, as Ctrl-C would."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


SETTLED_M = 1e-6


def run_goals(driver: DemoDriver, executor: SingleThreadedExecutor, chain: KinematicChain,
              goals: Sequence[Sequence[float]], timeout: float, out=sys.stdout) -> list:
    """
    Send goals one by one; return per-goal results while printing a progress line.

    A goal counts as reached when the IK node reports it (REACHED, or OUT_OF_REACH at the
    projection) and the measured tip has settled within 1 micrometre of it.
    """
    live = out.isatty()
    rows = []
    for index, goal in enumerate(goals, start=1):
        driver.diagnostic = {}
        driver.send(goal)
        started = time.monotonic()
        shown = -1.0
        result = {'goal': tuple(goal), 'reached': False, 'status': 'NO REPLY',
                  'error_m': math.nan, 'target_error_m': math.nan, 'seconds': timeout}
        while time.monotonic() - started < timeout:
            executor.spin_once(timeout_sec=0.02)
            d = driver.diagnostic
            target = d.get('target')
            if not target or driver.joints is None:
                continue
            if np.linalg.norm(np.array([float(v) for v in target.split(',')]) - goal) > 1e-9:
                continue
            tip = chain.fk(np.array(driver.joints))
            goal_point = np.array([float(v) for v in d['goal'].split(',')]) \
                if 'goal' in d else np.asarray(goal)
            error = float(np.linalg.norm(tip - goal_point))
            elapsed = time.monotonic() - started
            result.update(status=d.get('status', '?'), error_m=error, seconds=elapsed,
                          target_error_m=float(np.linalg.norm(tip - np.asarray(goal))))
            done = d.get('status') in ('REACHED', 'OUT_OF_REACH') and error < SETTLED_M
            if live and (elapsed - shown >= 0.1 or done):
                shown = elapsed
                out.write(f'\r  goal {index}/{len(goals)} ({goal[0]:+.2f}, {goal[1]:+.2f}): '
                          f"{d.get('status', '...'):<12} tip error {error * 1e3:10.6f} mm  "
                          f'{elapsed:5.2f} s ')
                out.flush()
            if done:
                result['reached'] = True
                break
        if live:
            out.write('\n')
        else:
            out.write(f'  goal {index}/{len(goals)} ({goal[0]:+.2f}, {goal[1]:+.2f}): '
                      f"{result['status']} in {result['seconds']:.2f} s\n")
        rows.append(result)
    return rows


def format_table(rows: list) -> str:
    """Return the per-goal results as a table."""
    lines = [f"{'#':>3} {'goal (m)':>18} {'status':>13} {'reached':>8} {'error to goal':>14} "
             f"{'from target':>12} {'time':>7}"]
    for i, r in enumerate(rows, start=1):
        goal = f'({r["goal"][0]:+.2f}, {r["goal"][1]:+.2f})'
        lines.append(f"{i:>3} {goal:>18} {r['status']:>13} {str(r['reached']):>8} "
                     f"{r['error_m'] * 1e3:11.6f} mm {r['target_error_m'] * 1e3:9.3f} mm "
                     f"{r['seconds']:6.2f}s")
    return '\n'.join(lines)


def plot_path(path: Path, chain: KinematicChain, joints: list, goals: Sequence) -> None:
    """Plot the tip path, the goals and the reachable annulus."""
    import matplotlib
    matplotlib.use('Agg')
    from matplotlib import pyplot as plt

    tips = chain.fk(np.array(joints)) if joints else np.zeros((0, 2))
    fig, ax = plt.subplots(figsize=(6, 6))
    workspace = workspace_of(chain)
    for radius in (getattr(workspace, 'r_min', None), getattr(workspace, 'r_max', None)):
        if radius:
            ax.add_patch(plt.Circle((0, 0), radius, fill=False, color='0.6', lw=1))
    ax.plot(tips[:, 0], tips[:, 1], lw=1.2, label='tip path')
    g = np.array(goals)
    ax.scatter(g[:, 0], g[:, 1], c='tab:red', s=25, zorder=3, label='goals')
    for i, (x, y) in enumerate(goals, start=1):
        ax.annotate(str(i), (x, y), textcoords='offset points', xytext=(4, 4), fontsize=8)
    ax.set_aspect('equal')
    ax.set_xlabel('x (m)')
    ax.set_ylabel('y (m)')
    ax.set_title('iknn_ros demo: ik_node driving sim_arm')
    ax.legend(loc='lower left')
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the scripted demo."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[1].strip())
    parser.add_argument('--plot', type=Path, default=Path('artifacts') / 'demo_path.png',
                        help='where to write the tip-path plot')
    parser.add_argument('--timeout', type=float, default=15.0, help='seconds per goal')
    parser.add_argument('--port', type=int, default=8080, help='port of the web view')
    parser.add_argument('--stay', choices=('auto', 'yes', 'no'), default='auto',
                        help='keep the nodes and the page running after the scripted goals '
                             '(auto: when run from a terminal, not in CI)')
    args = parser.parse_args(argv)
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    chain = KinematicChain.from_urdf(default_urdf_path())
    processes, url = start_nodes(args.port)
    if url:
        print(f'iknn_ros demo: the live view is at {url} (click in it to send goals)')
    else:
        print(f'iknn_ros demo: the web view did not start (is port {args.port} free?); '
              'continuing without it')
    rclpy.init()
    driver = DemoDriver()
    executor = SingleThreadedExecutor()
    executor.add_node(driver)
    try:
        print('iknn_ros demo: sim_arm and ik_node running on rclpy; waiting for the arm ...')
        deadline = time.monotonic() + 20.0
        while (driver.joints is None or not driver.diagnostic) and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
        if driver.joints is None:
            print('demo: no joint states from sim_arm', file=sys.stderr)
            return 1
        rows = run_goals(driver, executor, chain, DEFAULT_GOALS, args.timeout)
        print(format_table(rows))
        plot_path(args.plot, chain, driver.path, DEFAULT_GOALS)
        print(f'tip path plot: {args.plot}')
        status = 0 if all(r['reached'] for r in rows) else 1
        interactive = sys.stdin.isatty() and not os.environ.get('CI')
        stay = args.stay == 'yes' or (args.stay == 'auto' and interactive)
        if stay and url:
            print(f'The nodes keep running: open {url} and click to move the arm '
                  '(Ctrl-C to stop).')
            while all(p.poll() is None for p in processes):
                executor.spin_once(timeout_sec=0.2)
        return status
    except KeyboardInterrupt:
        return 130
    finally:
        executor.shutdown()
        driver.destroy_node()
        rclpy.try_shutdown()
        stop_nodes(processes)


if __name__ == '__main__':
    sys.exit(main())
