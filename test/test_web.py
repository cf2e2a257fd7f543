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
The web view in a real headless Chromium: standalone, parity with Python, live, errors.

And who may drive the arm through it: pages of other origins, clients without the access
token, floods and malformed messages, against the real server and a real rclpy probe.
"""

import asyncio
import functools
import http.server
import json
import math
import re
import subprocess
import threading
import time
import urllib.error
import urllib.request

import aiohttp
from browser_harness import ARTIFACTS
from browser_harness import browse
from browser_harness import DRIVER
from browser_harness import needs_browser
from browser_harness import REPO
from browser_harness import start_process
from browser_harness import start_web
from browser_harness import stop
from browser_harness import WEB

from iknn_ros.ik.solver import IKSolver
from iknn_ros.ik.solver import OnnxIKNetwork
from iknn_ros.ik.solver import SolverConfig
from iknn_ros.kinematics import KinematicChain
from iknn_ros.resources import default_model_path
from iknn_ros.resources import default_urdf_path
import numpy as np
import pytest

pytestmark = needs_browser


@pytest.fixture(scope='module')
def standalone():
    process, url = start_web('--standalone', '--port', '0')
    yield url
    stop(process)


def test_server_sends_isolation_headers_and_the_wasm_runtime(standalone):
    wasm = 'vendor/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm'
    for path, kind in (('', 'text/html'), (wasm, 'application/wasm'),
                       ('vendor/onnxruntime-web/dist/ort.wasm.min.mjs', 'text/javascript')):
        with urllib.request.urlopen(standalone + path) as response:
            assert response.headers['Content-Type'].startswith(kind)
            assert response.headers['Cross-Origin-Opener-Policy'] == 'same-origin'
            assert response.headers['Cross-Origin-Embedder-Policy'] == 'require-corp'
            # No other page may frame the view and borrow its clicks.
            assert response.headers['Content-Security-Policy'] == "frame-ancestors 'none'"
            assert response.headers['X-Frame-Options'] == 'DENY'
            assert response.headers['Referrer-Policy'] == 'no-referrer'
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(standalone + 'vendor/onnxruntime-web/dist/ort.all.min.mjs')
    # Nothing is changed by a plain HTTP request: every route takes GET only.
    for path in ('', 'ws', 'access', 'config.json'):
        request = urllib.request.Request(standalone + path, data=b'{}', method='POST')
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request)
        assert refused.value.code == 405


def test_standalone_click_converges_without_console_errors(standalone):
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / 'web_standalone.png'
    result = browse('click', standalone + 'plan.html?mode=standalone', {'target': [-0.4, 0.5]},
                    shot)
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
    result = browse('click', standalone + 'plan.html?mode=standalone', {'target': [1.1, 0.05]})
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
    result = browse('parity', standalone + 'plan.html?mode=standalone',
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


def limit_pressing_steps(solver, rng, count):
    """Return joints at or near their limits and goals that pull them past, for lm_step."""
    lo, hi = solver.safe_chain.lower, solver.safe_chain.upper
    lo_f, hi_f = np.where(np.isfinite(lo), lo, -math.pi), np.where(np.isfinite(hi), hi, math.pi)
    cases = []
    for _ in range(count):
        q = rng.uniform(lo_f, hi_f)
        limited = np.flatnonzero(np.isfinite(lo))
        k = rng.choice(limited)
        q[k] = (lo[k] if rng.random() < 0.5 else hi[k]) + rng.uniform(-1e-3, 0.0) * \
            (1 if q[k] > 0 else -1)
        q = np.clip(q, lo_f, hi_f)
        goal = solver.chain.fk(q) + rng.normal(0.0, 0.2, 2)
        cases.append([q.tolist(), goal.tolist()])
    return cases


@pytest.mark.parametrize('arm, model', [
    ('two_link_arm', None), ('three_link_arm', 'three_link_arm_default')])
def test_browser_refinement_matches_python_at_the_joint_limits(arm, model):
    # The browser's lmStep once returned the unbounded step where Python's stops a joint
    # at its limit and lets the others take up the rest: refinement against a limit must
    # agree to rounding.
    urdf = REPO / 'urdf' / f'{arm}.urdf'
    model_path = default_model_path() if model is None else \
        REPO / 'models' / model / 'model.onnx'
    process, url = start_web('--standalone', '--port', '0', '--urdf', str(urdf),
                             '--model', str(model_path))
    solver = IKSolver(KinematicChain.from_urdf(urdf), OnnxIKNetwork(model_path),
                      SolverConfig())
    cases = limit_pressing_steps(solver, np.random.default_rng(12), 300)
    try:
        result = browse('steps', url + 'plan.html?mode=standalone', {'cases': cases})
    finally:
        stop(process)
    pressed = 0
    for (q, goal), (browser_q, browser_error) in zip(cases, result['steps']):
        python_q, python_error = solver._scalar.lm_step(q, *goal)
        assert np.max(np.abs(np.array(browser_q) - python_q)) <= 1e-9, (q, goal)
        assert browser_error == pytest.approx(python_error, abs=1e-12)
        lo, hi = solver.safe_chain.lower, solver.safe_chain.upper
        pressed += bool(np.any(np.isclose(python_q, lo, atol=1e-15, rtol=0)
                               | np.isclose(python_q, hi, atol=1e-15, rtol=0)))
    # Most of these steps stop a joint at its limit: the case the fix is about.
    assert pressed >= 100, pressed


def test_browser_tick_matches_the_python_solver_on_the_three_link_arm():
    urdf = REPO / 'urdf' / 'three_link_arm.urdf'
    model = REPO / 'models' / 'three_link_arm_default' / 'model.onnx'
    process, url = start_web('--standalone', '--port', '0', '--urdf', str(urdf),
                             '--model', str(model))
    try:
        # Back and forth across the base: the path goes around the keep-out disk.
        targets = np.repeat([[-0.9, 0.1], [0.9, 0.05], [0.1, -0.15], [-0.5, -0.5]], 75, axis=0)
        start, dt = [0.0, 1.0, 0.5], 0.01
        result = browse('parity', url + 'plan.html?mode=standalone',
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
    result = browse('outside', standalone + 'plan.html?mode=standalone')
    assert 'Click inside the arm view' in result['state']['message']


def test_a_model_that_fails_to_load_is_shown_not_blank(standalone):
    result = browse('error', standalone + 'plan.html?mode=standalone', {'breakModel': True})
    assert 'could not be loaded' in result['state']['message']
    assert result['canvasColours'] > 5


def ros_graph(*extra):
    params = str(REPO / 'config' / 'iknn.yaml')
    return [start_process(module, '--ros-args', '--params-file', params, '--log-level', 'warn')
            for module in ('iknn_ros.nodes.sim_arm', 'iknn_ros.nodes.ik_node', *extra)]


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
        result = browse('click', url + 'plan.html?mode=live',
                        {'target': [-0.5, -0.4], 'settle': 1500, 'tolerance': 1e-4,
                         'waitForLive': True},
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
    driver = subprocess.Popen(['node', str(DRIVER), 'lost', url + 'plan.html?mode=live'],
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
             for module in ('iknn_ros.nodes.sim_arm', 'iknn_ros.nodes.ik_node')]
    web, url = start_web('--ros-args', '-p', 'port:=0', '-p', f'urdf_path:={spatial}')
    try:
        with urllib.request.urlopen(url + 'config.json') as response:
            config = json.loads(response.read())
        assert config['kind'] == 'spatial' and config['n_joints'] == 4
        ARTIFACTS.mkdir(exist_ok=True)
        result = browse('click', url + 'plan.html?mode=live',
                        {'target': [0.3, 0.2], 'settle': 1000, 'tolerance': 1e-4,
                         'waitForLive': True},
                        ARTIFACTS / 'web_live_spatial.png')
        assert result['consoleErrors'] == []
        state = result['state']
        assert state['status'] == 'REACHED' and len(state['target']) == 3
        assert state['target'][2] == pytest.approx(0.1 + 0.3, abs=1e-9)
        chain = KinematicChain.from_urdf(spatial)
        assert np.linalg.norm(chain.fk(np.array(state['joints'])) - state['target']) < 1e-4
        # The 2D view runs planar arms standalone only, and points to the 3D view.
        outside = browse('error', url + 'plan.html?mode=standalone')
        assert 'the 3D view runs every arm standalone' in outside['state']['message']
    finally:
        stop(web)
        for node in nodes:
            stop(node)


# ---- who may drive the arm ------------------------------------------------------------------


class Probe:
    """
    A node on the ROS graph (in its own rclpy context, spun in a thread).

    It plays the arm (joint_states at 50 Hz, so the web node always has a stream to send)
    and records every goal that reaches /goal_pose.
    """

    def __init__(self):
        import rclpy
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor
        from geometry_msgs.msg import PoseStamped
        from sensor_msgs.msg import JointState

        self.context = Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node('test_web_probe', context=self.context)
        self.lock = threading.Lock()
        self._goals = []
        self.node.create_subscription(PoseStamped, '/goal_pose', self._on_goal, 1000)
        states = self.node.create_publisher(JointState, 'joint_states', 10)
        started = time.monotonic()

        def publish_state():
            msg = JointState(name=['joint1', 'joint2'])
            msg.position = [0.2 + 0.1 * math.sin(time.monotonic() - started), 1.0]
            states.publish(msg)

        self.node.create_timer(0.02, publish_state)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def _on_goal(self, msg):
        with self.lock:
            self._goals.append((time.monotonic(), msg.pose.position.x, msg.pose.position.y))

    def goals(self):
        """Return (arrival time, x, y) of every goal received so far."""
        with self.lock:
            return list(self._goals)

    def wait_for(self, condition, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(0.05)
        return condition()

    def wait_for_web(self, publishes=True):
        """Wait until the web node is on the graph (and its /goal_pose publisher is matched)."""
        assert self.wait_for(lambda: self.node.count_subscribers('joint_states') >= 1), \
            'the web node did not appear on the graph'
        if publishes:
            assert self.wait_for(lambda: self.node.count_publishers('/goal_pose') >= 1)
            # Seeing the web node's writer is not its seeing our reader: give DDS a moment,
            # or the first goal goes to nobody.
            time.sleep(1.5)

    def close(self):
        self.executor.shutdown()
        self.node.destroy_node()
        self.context.try_shutdown()
        self.thread.join(timeout=5)


@pytest.fixture
def probe():
    graph = Probe()
    yield graph
    graph.close()


def start_live_web(*parameters, cli=()):
    """Start the live web node (ROS parameters as NAME:=VALUE) on a free port."""
    ros = [item for parameter in ('port:=0', *parameters) for item in ('-p', parameter)]
    return start_web(*cli, '--ros-args', *ros)


def base_of(url):
    """Return the page's address without its query (the access token)."""
    return url.split('?', 1)[0]


def ws_url(url, token=None):
    address = base_of(url).replace('http://', 'ws://') + 'ws'
    return address + (f'?token={token}' if token else '')


def run(coroutine):
    return asyncio.run(coroutine)


async def handshake(url, token=None, **headers):
    """
    Open the live socket of the page at ``url`` with these headers.

    Return ('open', the hello message), or the refused handshake's HTTP status with its
    text and the reason /access gives for the same request.
    """
    query = f'?token={token}' if token else ''
    async with aiohttp.ClientSession() as session:
        try:
            async with session.ws_connect(ws_url(url, token), headers=headers) as ws:
                return 'open', await ws.receive_json(timeout=5)
        except aiohttp.WSServerHandshakeError as err:
            # The same request without the upgrade: the refusal's text.
            async with session.get(ws_url(url, token).replace('ws://', 'http://'),
                                   headers=headers) as response:
                text = await response.text()
            async with session.get(base_of(url) + 'access' + query, headers=headers) as access:
                assert access.status == err.status
                return err.status, text, (await access.json())['reason']


async def send_goals(url, goals, pause=0.0, **headers):
    """Send goal messages on one socket; return how it was closed (code, reason) if it was."""
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url, headers=headers) as ws:
            await ws.receive_json(timeout=5)
            for goal in goals:
                await ws.send_str(goal if isinstance(goal, str) else json.dumps(goal))
                await asyncio.sleep(pause)
            await asyncio.sleep(0.5)
            return await closed_by_server(ws, timeout=2.0)


async def closed_by_server(ws, timeout):
    """Read until the server closes the socket; return (code, reason), or None if it did not."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            message = await ws.receive(timeout=max(0.01, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            return None
        if message.type == aiohttp.WSMsgType.CLOSE:
            # The server's close frame (the connection may have been dropped after it).
            return message.data, message.extra or ''
        if message.type in (aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
            return ws.close_code, message.extra or ''
    return None


def evil_site(directory, page_url):
    """Serve an attacker's page on a second local port; return the server and its URL."""
    victim = base_of(page_url)
    (directory / 'evil.html').write_text(f"""<!DOCTYPE html>
<html><body>
<iframe src="{victim}?mode=live" width="800" height="800"></iframe>
<script>
  window.attack = {{done: false, opened: false, closeCode: null, messages: 0}};
  const ws = new WebSocket('{ws_url(victim)}');
  ws.onopen = () => {{
    window.attack.opened = true;
    ws.send(JSON.stringify({{type: 'goal', x: 0.42, y: -0.33}}));
    setTimeout(() => {{ window.attack.done = true; }}, 1500);
  }};
  ws.onmessage = () => {{ window.attack.messages += 1; }};
  ws.onclose = (event) => {{ window.attack.closeCode = event.code; window.attack.done = true; }};
</script>
</body></html>
""")

    class Quiet(http.server.SimpleHTTPRequestHandler):

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(
        ('127.0.0.1', 0), functools.partial(Quiet, directory=str(directory)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f'http://127.0.0.1:{server.server_address[1]}/evil.html'


def web_log(process):
    """Stop the web node and return what it logged."""
    stop(process)
    return process.stderr.read()


def test_a_page_from_another_origin_cannot_connect_send_or_frame_the_view(tmp_path, probe):
    web, url = start_live_web()
    server, evil = evil_site(tmp_path, url)
    try:
        probe.wait_for_web()
        result = browse('attack', evil)
        # The attacker's own socket is refused before the upgrade: nothing to send on.
        assert result['attack']['opened'] is False, result['attack']
        assert result['attack']['messages'] == 0
        assert result['attack']['closeCode'] == 1006
        # The framed view does not render at all, so the operator's clicks reach nothing.
        assert len(result['frames']) == 1 and result['frames'][0]['framedView'] is False
        time.sleep(1.0)
        assert probe.goals() == []
        # The page itself connects and its click arrives: the probe was listening.
        own = browse('send', url + 'plan.html?mode=live', {'target': [0.5, 0.3]})
        assert own['state']['live'] is True and own['consoleErrors'] == []
        assert probe.wait_for(lambda: len(probe.goals()) == 1)
        _, x, y = probe.goals()[0]
        assert (x, y) == pytest.approx((0.5, 0.3), abs=0.01)
    finally:
        server.shutdown()
        log = web_log(web)
    evil_origin = evil.rsplit('/', 1)[0]
    assert f'refused a live connection from 127.0.0.1 (Origin: {evil_origin})' in log


def test_cross_site_clients_are_refused_before_the_upgrade(probe):
    web, url = start_live_web('allow_origins:=http://tablet.local:8080')
    port = int(re.search(r':(\d+)/', url).group(1))
    try:
        probe.wait_for_web()
        # The report: a client claiming another site's Origin sends a goal.
        status, text, reason = run(handshake(url, Origin='http://evil.example.com'))
        assert status == 403 and 'refused' in text and 'evil.example.com' in reason
        for origin, host in (('null', None),
                             (f'http://127.0.0.1:{port + 1}', None),
                             # A DNS name of the attacker's, rebound to 127.0.0.1.
                             (f'http://evil.example.com:{port}', f'evil.example.com:{port}')):
            headers = {'Origin': origin, **({'Host': host} if host else {})}
            assert run(handshake(url, **headers))[0] == 403, origin
        # The page's own origin, a listed one, and a script with no Origin get in.
        own = base_of(url).rstrip('/')
        for headers in ({'Origin': own}, {'Origin': 'http://tablet.local:8080'}, {}):
            opened, hello = run(handshake(url, **headers))
            assert opened == 'open' and hello == {'type': 'hello', 'goals': True}, headers
        # Of goals sent through refused and admitted sockets, only the admitted arrive.
        goal = {'type': 'goal', 'x': 0.42, 'y': -0.33}
        with pytest.raises(aiohttp.WSServerHandshakeError):
            run(send_goals(ws_url(url), [goal], Origin='http://evil.example.com'))
        assert run(send_goals(ws_url(url), [{**goal, 'x': 0.25}], Origin=own)) is None

        async def send_and_leave():
            # A script's way: connect, send, close at once; the goal still goes out.
            async with aiohttp.ClientSession() as session:
                async with session.ws_connect(ws_url(url)) as ws:
                    for i in range(3):
                        await ws.send_json({**goal, 'x': 0.1 * i})

        run(send_and_leave())
        assert probe.wait_for(lambda: (0.2, -0.33) in [(round(x, 6), round(y, 6))
                                                       for _, x, y in probe.goals()])
        time.sleep(0.5)
        arrived = [(round(x, 6), round(y, 6)) for _, x, y in probe.goals()]
        # The first may go out at once; the last one sent always does, and goes out last.
        assert arrived[0] == (0.25, -0.33) and arrived[-1] == (0.2, -0.33)
        assert set(arrived[1:]) <= {(0.0, -0.33), (0.1, -0.33), (0.2, -0.33)}
    finally:
        log = web_log(web)
    # One line for the first refusal; the repeats within seconds are counted, not printed.
    assert log.count('refused a live connection') == 1
    assert 'Origin: http://evil.example.com' in log


def test_beyond_loopback_the_token_is_required(probe):
    # Listening on every interface, but every request here goes to 127.0.0.1.
    web, url = start_live_web('host:=0.0.0.0')
    match = re.fullmatch(r'http://127\.0\.0\.1:(\d+)/\?token=([A-Za-z0-9_-]{40,})', url)
    assert match, url
    token = match.group(2)
    try:
        probe.wait_for_web()
        base = base_of(url)
        # The page without the token, or with a wrong one, says so and sends nothing.
        wrong = base + f'plan.html?mode=live&token={token[:-2]}xy'
        for address, said in ((base + 'plan.html?mode=live', 'needs its access token'),
                              (wrong, 'wrong access token')):
            page = browse('send', address, {'target': [0.5, 0.3], 'waitFor': 'refused'})
            state = page['state']
            assert state['live'] is False and said in state['refused'], state
            assert 'refused this page' in state['message'] and said in state['message']
        # Scripts: refused without the token, and cut off for a goal that lacks it.
        status, text, reason = run(handshake(url, Origin=base.rstrip('/')))
        assert status == 403 and 'needs its access token' in text
        assert run(handshake(url))[0] == 403
        assert run(handshake(url, token='x' * 43))[0] == 403
        goal = {'type': 'goal', 'x': -0.3, 'y': 0.6}
        closed = run(send_goals(ws_url(url, token), [goal]))
        assert closed == (1008, 'goal without the right access token')
        time.sleep(0.5)
        assert probe.goals() == []
        # With the token: the script's goal, then the page's click, arrive.
        assert run(send_goals(ws_url(url, token), [{**goal, 'token': token}])) is None
        assert probe.wait_for(lambda: len(probe.goals()) == 1)
        page = browse('send', url.replace('/?', '/plan.html?') + '&mode=live',
                      {'target': [0.5, 0.3]})
        assert page['state']['live'] is True and page['state']['refused'] is None
        assert probe.wait_for(lambda: len(probe.goals()) == 2)
        arrived = [(round(x, 2), round(y, 2)) for _, x, y in probe.goals()]
        assert arrived == [(-0.3, 0.6), (0.5, 0.3)]
    finally:
        log = web_log(web)
    assert 'needs its access token' in log and 'goal without the right access token' in log
    assert token not in log


def test_a_given_token_is_required_on_loopback_too_and_a_weak_one_refused(probe):
    token = 'operator-token-0123456789'
    web, url = start_live_web(cli=('--token', token))
    try:
        assert url.endswith(f'/?token={token}')
        probe.wait_for_web()
        assert run(handshake(url))[0] == 403
        assert run(handshake(url, token=token))[0] == 'open'
    finally:
        stop(web)
    weak = start_process('iknn_ros.nodes.web', '--standalone', '--port', '0', '--token', 'abc')
    _, err = weak.communicate(timeout=60)
    assert weak.returncode == 1 and 'token must be' in err


async def count_stream(url, seconds, windows, **headers):
    """Count state messages in each of ``windows`` equal windows over ``seconds``."""
    counts = [0] * windows
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url, headers=headers) as ws:
            start = time.monotonic()
            while (now := time.monotonic()) - start < seconds:
                try:
                    message = await ws.receive_json(timeout=seconds - (now - start))
                except asyncio.TimeoutError:
                    break
                if message['type'] == 'state':
                    index = int((time.monotonic() - start) / seconds * windows)
                    counts[min(index, windows - 1)] += 1
            # Not starved of goals either: one sent after the flood is published.
            await ws.send_json({'type': 'goal', 'x': -0.6, 'y': -0.1})
            await asyncio.sleep(0.5)
    return counts


async def flood(url, seconds):
    """Send goals as fast as the socket takes them, reconnecting when cut off."""
    closes, sent = [], 0
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            async with session.ws_connect(url) as ws:
                try:
                    while time.monotonic() < deadline and not ws.closed:
                        for i in range(50):
                            await ws.send_str(json.dumps(
                                {'type': 'goal', 'x': 0.3 + 1e-5 * (sent % 1000), 'y': 0.4}))
                            sent += 1
                        await asyncio.sleep(0)
                except ConnectionError:
                    pass
                closes.append(await closed_by_server(ws, timeout=2.0))
    return sent, closes


def test_a_goal_flood_from_one_client_leaves_the_stream_to_another_running(probe):
    web, url = start_live_web()
    try:
        probe.wait_for_web()
        start = time.monotonic()

        async def both():
            return await asyncio.gather(count_stream(ws_url(url), 4.0, 8),
                                        flood(ws_url(url), 3.5))

        counts, (sent, closes) = run(both())
        elapsed = time.monotonic() - start
        # The stream runs at 30 Hz: 15 a window, more than a third of it in each.
        assert min(counts) >= 5, counts
        # The flooder was cut off with the reason, every time it came back.
        assert sent > 1000 and closes
        assert all(c == (1008, 'too many messages (more than 60 per second)') for c in closes)
        # At most goal_rate_hz (10) goals a second reached /goal_pose, however many were sent,
        # and the other client's one goal among them.
        assert probe.wait_for(lambda: any(x == -0.6 for _, x, _ in probe.goals()), 3.0)
        goals = probe.goals()
        assert len(goals) <= 10 * (elapsed + 1) + 1, len(goals)
        times = [t for t, _, _ in goals]
        assert all(b - a > 0.05 for a, b in zip(times, times[1:])), times
        # And the server still takes new clients.
        assert run(handshake(url))[0] == 'open'
        assert web.poll() is None
    finally:
        stop(web)


def test_goals_are_rate_limited_and_clients_take_turns(probe):
    web, url = start_live_web('goal_rate_hz:=4.0')
    try:
        probe.wait_for_web()
        # One client streams goals at 25 a second (arrow keys held), another clicks
        # twice a second; /goal_pose gets 4 a second, every click among them.
        busy = [{'type': 'goal', 'x': 0.3 + 0.001 * i, 'y': 0.2} for i in range(75)]
        clicks = [{'type': 'goal', 'x': -0.5, 'y': 0.1 * i} for i in range(1, 6)]
        start = time.monotonic()

        async def both():
            return await asyncio.gather(send_goals(ws_url(url), busy, pause=0.04),
                                        send_goals(ws_url(url), clicks, pause=0.5))

        assert run(both()) == [None, None]
        elapsed = time.monotonic() - start
        time.sleep(1.0)
        goals = probe.goals()
        assert len(goals) <= 4 * elapsed + 1, (len(goals), elapsed)
        published = {(round(x, 3), round(y, 3)) for _, x, y in goals}
        assert {(-0.5, round(0.1 * i, 3)) for i in range(1, 6)} <= published
        # The busy client's latest goal is the one that waited, and it went out.
        assert (0.374, 0.2) in published
        times = [t for t, _, _ in goals]
        assert all(b - a > 0.15 for a, b in zip(times, times[1:])), times
    finally:
        stop(web)


def test_oversized_and_malformed_messages_close_that_client_only(probe):
    web, url = start_live_web()
    padded = '{"type": "goal", "x": 0.1, "y": 0, "pad": "' + 'x' * 3000 + '"}'
    cases = [('not json', 1007, 'malformed message: not JSON'),
             ('[1, 2]', 1007, 'malformed message: not a JSON object'),
             ('{"type": "teleport", "x": 0}', 1007, 'malformed message: type must be "goal"'),
             ('{"type": "goal", "x": "0.4", "y": 0}', 1007, 'malformed goal: x must be a number'),
             ('{"type": "goal", "x": NaN, "y": 0}', 1007, 'malformed message: NaN is not JSON'),
             ('{"type": "goal", "x": 1e999, "y": 0}', 1007, 'malformed goal: x must be finite'),
             (padded, 1009, f'message too big: {len(padded)} bytes (limit 1024)'),
             # Beyond aiohttp's frame limit the frame is refused unread: the code alone.
             ('x' * 200_000, 1009, ''),
             (b'\x00\x01', 1003, 'only JSON text messages are taken')]
    try:
        probe.wait_for_web()

        async def bad_clients_beside_a_good_one():
            async with aiohttp.ClientSession() as session:
                async with session.ws_connect(ws_url(url)) as good:
                    closes = []
                    for message, _, _ in cases:
                        async with session.ws_connect(ws_url(url)) as bad:
                            await bad.receive_json(timeout=5)
                            if isinstance(message, bytes):
                                await bad.send_bytes(message)
                            else:
                                await bad.send_str(message)
                            closes.append(await closed_by_server(bad, timeout=5.0))
                    # The good client was never disturbed and still sends.
                    kinds = set()
                    while len(kinds) < 2:
                        kinds.add((await good.receive_json(timeout=5))['type'])
                    await good.send_json({'type': 'goal', 'x': 0.61, 'y': -0.2})
                    await asyncio.sleep(0.5)
                    return closes, kinds, good.closed

        closes, kinds, good_closed = run(bad_clients_beside_a_good_one())
        assert closes == [(code, reason) for _, code, reason in cases]
        assert kinds == {'hello', 'state'} and good_closed is False
        assert probe.wait_for(lambda: len(probe.goals()) == 1)
        time.sleep(0.3)
        assert [(round(x, 6), round(y, 6)) for _, x, y in probe.goals()] == [(0.61, -0.2)]
        assert web.poll() is None
    finally:
        log = web_log(web)
    assert 'closed the live connection from 127.0.0.1: malformed message: not JSON' in log


def test_read_only_serves_the_view_without_accepting_goals(probe):
    web, url = start_live_web('read_only:=true')
    try:
        probe.wait_for_web(publishes=False)
        page = browse('send', url + 'plan.html?mode=live', {'target': [0.5, 0.3]})
        state = page['state']
        assert state['live'] is True and state['readOnly'] is True
        assert 'read-only' in state['message'] and state['joints'] is not None
        assert page['consoleErrors'] == []

        async def script_goal():
            async with aiohttp.ClientSession() as session:
                async with session.ws_connect(ws_url(url)) as ws:
                    hello = await ws.receive_json(timeout=5)
                    await ws.send_json({'type': 'goal', 'x': 0.5, 'y': 0.3})
                    while (reply := await ws.receive_json(timeout=5))['type'] != 'error':
                        pass
                    return hello, reply

        hello, reply = run(script_goal())
        assert hello == {'type': 'hello', 'goals': False}
        assert reply['message'] == 'read-only view: goals are not accepted'
        time.sleep(0.5)
        assert probe.goals() == []
        # Not even a publisher: a read-only view has no way to move the arm.
        assert probe.node.count_publishers('/goal_pose') == 0
    finally:
        stop(web)
