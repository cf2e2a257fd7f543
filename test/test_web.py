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

"""The web view in a real headless Chromium: standalone, parity with Python, live, errors."""

import json
import math
import os
from pathlib import Path
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

from iknn_ros.kinematics import KinematicChain
from iknn_ros.resources import default_model_path
from iknn_ros.resources import default_urdf_path
from iknn_ros.solver import IKSolver
from iknn_ros.solver import OnnxIKNetwork
from iknn_ros.solver import SolverConfig
import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
WEB = REPO / 'web'
DRIVER = WEB / 'tests' / 'browser.mjs'
ARTIFACTS = REPO / 'artifacts'
CHROMIUM = os.environ.get('CHROMIUM', '/usr/bin/chromium')

pytestmark = pytest.mark.skipif(
    not (Path(CHROMIUM).is_file() and shutil.which('node')
         and (WEB / 'node_modules' / 'playwright-core').is_dir()
         and (WEB / 'node_modules' / 'onnxruntime-web').is_dir()),
    reason='needs Debian chromium, node and `npm ci` in web/ (make test installs them)')


def start_process(*args):
    return subprocess.Popen([sys.executable, '-m', *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=REPO)


def start_web(*args):
    """Start the web server on a free port; return the process and its URL."""
    process = start_process('iknn_ros.web', *args)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        match = re.search(r'serving (http://\S+)', line)
        if match:
            return process, match.group(1)
        if process.poll() is not None:
            break
    process.kill()
    raise AssertionError(f'web server did not start: {process.stderr.read()}')


def stop(process):
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
    return process


def browse(scenario, url, options=None, screenshot=None, timeout=120):
    done = subprocess.run(['node', str(DRIVER), scenario, url, json.dumps(options or {}),
                           str(screenshot or '')], capture_output=True, text=True,
                          timeout=timeout, cwd=WEB)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert 'error' not in result, result['error']
    return result


@pytest.fixture(scope='module')
def standalone():
    process, url = start_web('--standalone', '--port', '0')
    yield url
    stop(process)


def test_server_sends_isolation_headers_and_the_wasm_runtime(standalone):
    for path, kind in (('', 'text/html'), ('vendor/onnxruntime-web/ort-wasm-simd-threaded.wasm',
                                           'application/wasm'),
                       ('vendor/onnxruntime-web/ort.wasm.min.mjs', 'text/javascript')):
        with urllib.request.urlopen(standalone + path) as response:
            assert response.headers['Content-Type'].startswith(kind)
            assert response.headers['Cross-Origin-Opener-Policy'] == 'same-origin'
            assert response.headers['Cross-Origin-Embedder-Policy'] == 'require-corp'
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(standalone + 'vendor/onnxruntime-web/ort.all.min.mjs')


def test_standalone_click_converges_without_console_errors(standalone):
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / 'web_standalone.png'
    result = browse('click', standalone + '?mode=standalone', {'target': [-0.4, 0.5]}, shot)
    assert result['consoleErrors'] == []
    assert result['crossOriginIsolated'] is True
    state = result['state']
    assert state['mode'] == 'standalone' and state['status'] == 'REACHED'
    assert state['tipError'] < 1e-9
    chain = KinematicChain.from_urdf(default_urdf_path())
    tip = chain.fk(np.array(state['joints']))
    assert np.linalg.norm(tip - np.array(state['target'])) < 1e-9
    assert result['canvasColours'] > 10 and shot.stat().st_size > 10_000


def test_unreachable_click_shows_the_projection(standalone):
    result = browse('click', standalone + '?mode=standalone', {'target': [1.1, 0.05]})
    state = result['state']
    assert state['status'] == 'OUT_OF_REACH'
    assert math.hypot(*state['goal']) == pytest.approx(1.0, abs=1e-12)
    assert state['tipError'] == pytest.approx(math.hypot(*state['target']) - 1.0, abs=1e-6)


def test_browser_tick_matches_the_python_solver(standalone):
    rng = np.random.default_rng(6)
    # 500 ticks: a slow circle, jumps to random points (some unreachable, some in the hole),
    # then a line through the inner hole.
    angles = np.linspace(0, 2 * math.pi, 200)
    circle = np.stack([0.45 + 0.25 * np.cos(angles), 0.2 + 0.25 * np.sin(angles)], axis=-1)
    jumps = np.repeat(rng.uniform(-1.2, 1.2, (5, 2)), 30, axis=0)
    line = np.stack([np.linspace(0.6, -0.6, 150), np.full(150, 0.03)], axis=-1)
    targets = np.concatenate([circle, jumps, line])
    assert len(targets) == 500
    start, dt = [0.2, 1.1], 0.01
    result = browse('parity', standalone + '?mode=standalone',
                    {'targets': targets.tolist(), 'start': start, 'dt': dt})
    browser = np.array(result['joints'])
    solver = IKSolver(KinematicChain.from_urdf(default_urdf_path()),
                      OnnxIKNetwork(default_model_path()), SolverConfig())
    q, branch, python = tuple(start), None, []
    for target in targets:
        tick = solver.tick(q, tuple(target), dt, branch)
        q, branch = tick.command, tick.branch
        python.append(q)
    assert browser.shape == (500, 2)
    assert np.max(np.abs(browser - np.array(python))) <= 1e-5


def test_browser_tick_matches_the_python_solver_on_the_three_link_arm():
    urdf = REPO / 'urdf' / 'three_link_arm.urdf'
    model = REPO / 'models' / 'three_link_arm_default' / 'model.onnx'
    process, url = start_web('--standalone', '--port', '0', '--urdf', str(urdf),
                             '--model', str(model))
    try:
        # Back and forth across the base: the path goes around the keep-out disk.
        targets = np.repeat([[-0.9, 0.1], [0.9, 0.05], [0.1, -0.15], [-0.5, -0.5]], 75, axis=0)
        start, dt = [0.0, 1.0, 0.5], 0.01
        result = browse('parity', url + '?mode=standalone',
                        {'targets': targets.tolist(), 'start': start, 'dt': dt})
    finally:
        stop(process)
    solver = IKSolver(KinematicChain.from_urdf(urdf), OnnxIKNetwork(model), SolverConfig())
    assert solver.route_radius == pytest.approx(0.25)
    q, branch, python = tuple(start), None, []
    for target in targets:
        tick = solver.tick(q, tuple(target), dt, branch)
        q, branch = tick.command, tick.branch
        python.append(q)
    browser = np.array(result['joints'])
    assert browser.shape == (300, 3)
    assert np.max(np.abs(browser - np.array(python))) <= 1e-5


def test_click_outside_the_canvas_says_where_to_click(standalone):
    result = browse('outside', standalone + '?mode=standalone')
    assert 'Click inside the arm view' in result['state']['message']


def test_a_model_that_fails_to_load_is_shown_not_blank(standalone):
    result = browse('error', standalone + '?mode=standalone', {'breakModel': True})
    assert 'could not be loaded' in result['state']['message']
    assert result['canvasColours'] > 5


def ros_graph(*extra):
    params = str(REPO / 'config' / 'iknn.yaml')
    return [start_process(module, '--ros-args', '--params-file', params, '--log-level', 'warn')
            for module in ('iknn_ros.sim_arm', 'iknn_ros.ik_node', *extra)]


def test_live_click_drives_the_simulated_arm(tmp_path):
    import rclpy
    from sensor_msgs.msg import JointState

    nodes = ros_graph()
    web, url = start_web('--ros-args', '-p', 'port:=0')
    rclpy.init()
    listener = rclpy.create_node('test_listener')
    states = []
    listener.create_subscription(JointState, 'joint_states', states.append, 10)
    try:
        ARTIFACTS.mkdir(exist_ok=True)
        result = browse('click', url + '?mode=live',
                        {'target': [-0.5, -0.4], 'settle': 1500, 'tolerance': 1e-4},
                        ARTIFACTS / 'web_live.png')
        assert result['consoleErrors'] == []
        state = result['state']
        assert state['mode'] == 'live' and state['live'] is True
        assert state['status'] == 'REACHED'
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not states:
            rclpy.spin_once(listener, timeout_sec=0.1)
        for _ in range(20):
            rclpy.spin_once(listener, timeout_sec=0.05)
        positions = dict(zip(states[-1].name, states[-1].position))
        chain = KinematicChain.from_urdf(default_urdf_path())
        tip = chain.fk(np.array([positions['joint1'], positions['joint2']]))
        assert np.linalg.norm(tip - np.array(state['target'])) < 1e-4
    finally:
        listener.destroy_node()
        rclpy.try_shutdown()
        stop(web)
        for node in nodes:
            stop(node)


def test_a_lost_websocket_is_reported():
    web, url = start_web('--ros-args', '-p', 'port:=0')
    driver = subprocess.Popen(['node', str(DRIVER), 'lost', url + '?mode=live'],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              cwd=WEB)
    try:
        assert driver.stdout.readline().strip() == 'CONNECTED'
        stop(web)
        driver.stdin.write('GO\n')
        driver.stdin.flush()
        out, _ = driver.communicate(timeout=60)
        result = json.loads(out.strip().splitlines()[-1])
        assert 'error' not in result, result.get('error')
        assert 'connection to the web node lost' in result['state']['message']
        assert result['canvasColours'] > 5
    finally:
        stop(web)
        if driver.poll() is None:
            driver.kill()


def test_live_view_of_the_spatial_arm():
    spatial = REPO / 'urdf' / 'spatial_arm.urdf'
    params = str(REPO / 'config' / 'spatial_arm.yaml')
    nodes = [start_process(module, '--ros-args', '--params-file', params, '-p',
                           f'urdf_path:={spatial}', '--log-level', 'warn')
             for module in ('iknn_ros.sim_arm', 'iknn_ros.ik_node')]
    web, url = start_web('--ros-args', '-p', 'port:=0', '-p', f'urdf_path:={spatial}')
    try:
        with urllib.request.urlopen(url + 'config.json') as response:
            config = json.loads(response.read())
        assert config['kind'] == 'spatial' and config['n_joints'] == 4
        ARTIFACTS.mkdir(exist_ok=True)
        result = browse('click', url + '?mode=live',
                        {'target': [0.3, 0.2], 'settle': 1000, 'tolerance': 1e-4},
                        ARTIFACTS / 'web_live_spatial.png')
        assert result['consoleErrors'] == []
        state = result['state']
        assert state['status'] == 'REACHED' and len(state['target']) == 3
        assert state['target'][2] == pytest.approx(0.1 + 0.3, abs=1e-9)
        chain = KinematicChain.from_urdf(spatial)
        assert np.linalg.norm(chain.fk(np.array(state['joints'])) - state['target']) < 1e-4
        # Standalone mode runs planar arms only, and says so.
        outside = browse('error', url + '?mode=standalone')
        assert 'Standalone mode runs planar arms' in outside['state']['message']
    finally:
        stop(web)
        for node in nodes:
            stop(node)
