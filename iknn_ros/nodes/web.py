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
The web view: serves the page and bridges it to the ROS graph over a WebSocket.

    ros2 run iknn_ros web                       # live: page + /joint_states, /diagnostics
    ros2 run iknn_ros web --ros-args -p port:=8080
    ros2 run iknn_ros web --host 0.0.0.0        # from a tablet: the printed URL has a token
    python -m iknn_ros.nodes.web --standalone         # the page only, no ROS (in-browser model)

The page (web/static) runs the shipped model with onnxruntime-web (served from the npm
package, never a CDN) in the same control tick as the Python solver. In live mode this node
streams the arm's joint states and the IK node's status to the page, and publishes the
page's clicks as geometry_msgs/PoseStamped on /goal_pose, as RViz's tool does. Every
response carries the cross-origin isolation headers the WASM runtime needs, and may not be
framed by another page (which could otherwise trick the operator into clicking in it).

The live socket admits only the page's own origin (or one in allow_origins) and, beyond
loopback, the holder of the access token printed in the URL; each client's messages and
all clients' goals together are rate-limited (web_access.py says why and how).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import math
from pathlib import Path
import signal
import socket
import sys
import threading
import time
from typing import Callable, Optional, Sequence

from aiohttp import web
from aiohttp import WSMsgType
from iknn_ros.evaluation.evaluate import default_start
from iknn_ros.ik.model_card import shipped_model_for
from iknn_ros.ik.solver import IKSolver
from iknn_ros.ik.solver import OnnxIKNetwork
from iknn_ros.ik.solver import SolverConfig
from iknn_ros.kinematics import KinematicChain
from iknn_ros.kinematics.targets import check_mode
from iknn_ros.kinematics.targets import modes_for
from iknn_ros.kinematics.targets import TargetMode
from iknn_ros.nodes.node_main import ignore_stop_signals
from iknn_ros.nodes.node_main import install_stop_handlers
from iknn_ros.nodes.node_main import stop_requested
from iknn_ros.nodes.web_access import AccessPolicy
from iknn_ros.nodes.web_access import GoalQueue
from iknn_ros.nodes.web_access import is_wildcard
from iknn_ros.nodes.web_access import make_policy
from iknn_ros.nodes.web_access import MESSAGE_BURST
from iknn_ros.nodes.web_access import MESSAGE_RATE_HZ
from iknn_ros.nodes.web_access import MessageError
from iknn_ros.nodes.web_access import page_url
from iknn_ros.nodes.web_access import parse_goal
from iknn_ros.nodes.web_access import POLICY_VIOLATION
from iknn_ros.nodes.web_access import ThrottledLog
from iknn_ros.nodes.web_access import TokenBucket
from iknn_ros.nodes.web_access import UNSUPPORTED_DATA
from iknn_ros.resources import default_urdf_path
from iknn_ros.resources import is_no_model
from iknn_ros.resources import package_share
from iknn_ros.resources import share_directory
import numpy as np

ISOLATION_HEADERS = {'Cross-Origin-Opener-Policy': 'same-origin',
                     'Cross-Origin-Embedder-Policy': 'require-corp',
                     'Cross-Origin-Resource-Policy': 'same-origin',
                     # Framed in a page of its own, the view would take that page's clicks.
                     'Content-Security-Policy': "frame-ancestors 'none'",
                     'X-Frame-Options': 'DENY',
                     # The address may carry the access token.
                     'Referrer-Policy': 'no-referrer',
                     'X-Content-Type-Options': 'nosniff'}
CONTENT_TYPES = {'.mjs': 'text/javascript', '.js': 'text/javascript', '.wasm': 'application/wasm',
                 '.html': 'text/html', '.css': 'text/css', '.json': 'application/json',
                 '.onnx': 'application/octet-stream'}
# What a URDF's visuals may name (urdf-loader reads these); nothing else leaves the disk.
MESH_TYPES = {'.stl': 'model/stl', '.dae': 'model/vnd.collada+xml', '.obj': 'model/obj',
              '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg',
              '.tga': 'image/x-tga'}
# aiohttp's own limit: bigger frames are refused unread (code 1009, no reason text); up to
# it, parse_goal refuses anything over MAX_MESSAGE_BYTES with the reason.
FRAME_LIMIT_BYTES = 64 * 1024
# A client that takes this long to accept one stream message is cut off: it holds a
# buffer and its own sender, never the others'.
SEND_TIMEOUT_S = 5.0
CLOSE_TIMEOUT_S = 2.0


def vendor_packages(share: Path) -> dict:
    """
    Return {npm package: (its folder, the files the page may load)} (web/vendor.json).

    The folder is the installed copy (share/web/vendor) or the source tree's
    node_modules; None when `npm ci` has not fetched the package.
    """
    manifest = json.loads((share / 'web' / 'vendor.json').read_text(encoding='utf-8'))
    packages = {}
    for package, paths in manifest['packages'].items():
        folder = None
        for candidate in (share / 'web' / 'vendor' / package,
                          share / 'web' / 'node_modules' / package):
            if all((candidate / p).is_file() for p in paths):
                folder = candidate
                break
        packages[package] = (folder, frozenset(paths))
    return packages


@dataclasses.dataclass(frozen=True)
class RobotFiles:
    """The URDF the page draws, and where its relative mesh paths lead (None: nowhere)."""

    urdf: str
    directory: Optional[Path]

    @classmethod
    def read(cls, source: str) -> 'RobotFiles':
        """Return the files of ``source``: URDF text (robot_description) or a file path."""
        if source.lstrip().startswith('<'):
            return cls(source, None)
        path = Path(source)
        return cls(path.read_text(encoding='utf-8'), path.resolve().parent)


def mesh_file(root: Optional[Path], relative: str) -> Path:
    """
    Return the mesh or texture ``relative`` to ``root``, or raise HTTPNotFound saying why.

    Only the file types a URDF visual names, and only beneath ``root``: the page cannot
    read anything else from the disk.
    """
    if root is None:
        raise web.HTTPNotFound(text=f'{relative}: no folder to find it in (the URDF came '
                               'as text, or its package is unknown)')
    path = (root / relative).resolve()
    if path.suffix.lower() not in MESH_TYPES or not path.is_relative_to(root.resolve()):
        raise web.HTTPNotFound(text=f'{relative}: not a mesh or texture of the robot')
    if not path.is_file():
        raise web.HTTPNotFound(text=f'{relative} not found')
    return path


def page_config(solver: IKSolver, start: Sequence[float], live: bool) -> dict:
    """
    Return /config.json: what the page draws and the tick's constants.

    Planar arms whose first joint turns freely get the constants of the planar tick
    (tick.js); every other arm the general tick's. ``model_url`` is None when the solver
    runs without a network (damped least squares alone).
    """
    chain = solver.chain
    common = {'start': list(start), 'live': live,
              'model_url': None if solver.network is None else 'model.onnx',
              'urdf_url': 'robot/robot.urdf', 'robot_name': chain.robot_name,
              'base_link': chain.base_link, 'tip_link': chain.tip_link,
              'target_mode': solver.target_mode.value,
              'target_modes': [m.value for m in modes_for(chain)],
              'joint_names': list(chain.joint_names), 'n_joints': chain.n_joints,
              'target_dim': chain.target_dim, 'reach': float(chain.reach),
              'shoulder': chain.shoulder().tolist()}
    if solver.network is not None:
        common['joint_input'] = solver.network.card.joint_input
    constants = solver.planar_constants()
    if constants is not None:
        return {**constants, **common, 'kind': 'planar'}
    return {**solver.general_constants(), **common,
            'kind': 'spatial' if chain.target_dim == 3 else 'planar_general',
            'start_points': chain.joint_positions(np.asarray(start)).tolist()}


class Bridge:
    """The ROS side: latest joint state and IK status in, goals out (rclpy in a thread)."""

    def __init__(self, node, chain: KinematicChain, read_only: bool = False) -> None:
        from diagnostic_msgs.msg import DiagnosticArray
        from geometry_msgs.msg import PoseStamped
        from rclpy.qos import qos_profile_sensor_data
        from sensor_msgs.msg import JointState

        self.node = node
        self.chain = chain
        self.pose_type = PoseStamped
        self.lock = threading.Lock()
        self.joints: Optional[list] = None
        self.points: Optional[list] = None
        self.diagnostics: Optional[dict] = None
        self.version = 0
        # A read-only view has no way to move the arm: not even a publisher to misuse.
        self.goal_publisher = (None if read_only else
                               node.create_publisher(PoseStamped, '/goal_pose', 10))
        self.subscriptions = [
            node.create_subscription(JointState, 'joint_states', self._on_state,
                                     qos_profile_sensor_data),
            node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics,
                                     10)]

    def _on_state(self, msg) -> None:
        positions = dict(zip(msg.name, msg.position))
        if all(n in positions for n in self.chain.joint_names):
            joints = [float(positions[n]) for n in self.chain.joint_names]
            points = self.chain.joint_positions(np.array(joints)).tolist()
            with self.lock:
                self.joints, self.points = joints, points
                self.version += 1

    def _on_diagnostics(self, msg) -> None:
        for status in msg.status:
            if status.name != 'iknn_ros: ik_node':
                continue
            values = {kv.key: kv.value for kv in status.values}

            def point(key: str) -> Optional[list]:
                return [float(v) for v in values[key].split(',')] if key in values else None

            def number(key: str) -> Optional[float]:
                try:
                    value = float(values.get(key, 'nan'))
                except ValueError:
                    return None
                return value if math.isfinite(value) else None

            with self.lock:
                self.diagnostics = {
                    'type': 'diagnostics', 'status': values.get('status', 'WAITING'),
                    'message': status.message, 'level': int.from_bytes(status.level, 'little')
                    if isinstance(status.level, bytes) else int(status.level),
                    'tip_error_m': number('tip_error_m'), 'goal_error_m': number('goal_error_m'),
                    'tip_error_rad': number('tip_error_rad'),
                    'goal_error_rad': number('goal_error_rad'),
                    'target_mode': values.get('target_mode'),
                    'out_of_reach': values.get('out_of_reach'),
                    'goal': point('goal'), 'target': point('target')}
                self.version += 1

    def publish_goal(self, x: float, y: float, z: Optional[float] = None,
                     orientation: Optional[tuple] = None) -> None:
        """Publish a goal on /goal_pose; ``orientation``: (qx, qy, qz, qw), None: identity."""
        if self.goal_publisher is None:
            return
        msg = self.pose_type()
        msg.header.frame_id = self.chain.base_link
        msg.header.stamp = self.node.get_clock().now().to_msg()
        msg.pose.position.x, msg.pose.position.y = float(x), float(y)
        if self.chain.planar is not None:
            msg.pose.position.z = float(self.chain.planar.height)
        elif z is not None:
            msg.pose.position.z = float(z)
        o = msg.pose.orientation
        o.x, o.y, o.z, o.w = orientation or (0.0, 0.0, 0.0, 1.0)
        self.goal_publisher.publish(msg)

    def snapshot(self) -> tuple:
        with self.lock:
            return self.version, self.joints, self.points, self.diagnostics


class Client:
    """One live socket: the stream messages waiting for it, and its message budget."""

    def __init__(self, ws: web.WebSocketResponse, request: web.Request) -> None:
        self.ws = ws
        self.transport = request.transport
        self.peer = request.remote or '?'
        self.messages = TokenBucket(MESSAGE_RATE_HZ, MESSAGE_BURST, time.monotonic())
        self.outbox: list = []
        self.wake = asyncio.Event()
        self.sender: Optional[asyncio.Task] = None

    def post(self, messages: list) -> None:
        """Replace what waits to be sent: a client that fell behind skips to the latest."""
        self.outbox = messages
        self.wake.set()


def stream_messages(snapshot: tuple) -> list:
    """Return the stream messages for a bridge snapshot."""
    _, joints, points, diagnostics = snapshot
    messages = []
    if joints is not None:
        messages.append({'type': 'state', 'joints': joints, 'points': points})
    if diagnostics is not None:
        messages.append(diagnostics)
    return messages


def build_app(config: dict, model_path: Optional[Path], robot: RobotFiles,
              bridge: Optional[Bridge], stream_rate_hz: float,
              policy: Optional[AccessPolicy] = None,
              goal_rate_hz: float = 10.0,
              log: Optional[Callable[[str], None]] = None) -> web.Application:
    """
    Return the aiohttp application serving the page, the model, the robot and the WebSocket.

    The robot is its URDF (/robot/robot.urdf), the meshes it names relative to its file
    (/robot/...) and those it names by package:// (/package/NAME/...).

    ``policy`` decides who may open the live socket (by default: the page's own origin on
    loopback, no token); ``goal_rate_hz`` caps the goals all clients together publish;
    refusals and cut-off clients are reported through ``log``, throttled.
    """
    policy = policy or AccessPolicy(None)
    share = share_directory()
    static = share / 'web' / 'static'
    vendor = vendor_packages(share)
    clients: set = set()
    goals = GoalQueue()
    goal_waiting = asyncio.Event()
    report = ThrottledLog(log or (lambda text: print(f'web: {text}', file=sys.stderr,
                                                     flush=True)))

    @web.middleware
    async def isolation(request: web.Request, handler):
        response = await handler(request)
        response.headers.update(ISOLATION_HEADERS)
        return response

    def file_response(path: Path) -> web.StreamResponse:
        if not path.is_file():
            raise web.HTTPNotFound(text=f'{path.name} not found')
        return web.FileResponse(path, headers={
            'Content-Type': CONTENT_TYPES.get(path.suffix, 'application/octet-stream'),
            'Cache-Control': 'no-cache'})

    async def index(request: web.Request) -> web.StreamResponse:
        return file_response(static / 'index.html')

    async def static_file(request: web.Request) -> web.StreamResponse:
        name = request.match_info['name']
        if name not in {p.name for p in static.iterdir()}:
            raise web.HTTPNotFound()
        return file_response(static / name)

    async def vendor_file(request: web.Request) -> web.StreamResponse:
        package, path = request.match_info['package'], request.match_info['path']
        folder, paths = vendor.get(package, (None, frozenset()))
        if path not in paths:
            raise web.HTTPNotFound(text=f'{package}/{path} is not served')
        if folder is None:
            raise web.HTTPNotFound(text=f'{package} is not installed: run npm ci in web/')
        return file_response(folder / path)

    async def model(request: web.Request) -> web.StreamResponse:
        if model_path is None:
            raise web.HTTPNotFound(text='no model: this view runs damped least squares alone')
        return file_response(model_path)

    async def robot_description(request: web.Request) -> web.Response:
        return web.Response(text=robot.urdf, content_type='application/xml',
                            headers={'Cache-Control': 'no-store'})

    def mesh_response(path: Path) -> web.StreamResponse:
        return web.FileResponse(path, headers={'Content-Type': MESH_TYPES[path.suffix.lower()],
                                               'Cache-Control': 'no-cache'})

    async def robot_mesh(request: web.Request) -> web.StreamResponse:
        return mesh_response(mesh_file(robot.directory, request.match_info['path']))

    async def package_mesh(request: web.Request) -> web.StreamResponse:
        return mesh_response(mesh_file(package_share(request.match_info['package']),
                                       request.match_info['path']))

    async def config_json(request: web.Request) -> web.Response:
        return web.json_response(config, headers={'Cache-Control': 'no-store'})

    def refusal(request: web.Request) -> tuple:
        """Return (kind, reason) for a refused request, (None, None) for an admitted one."""
        sockname = request.transport.get_extra_info('sockname') if request.transport else None
        reason = policy.origin_refusal(request.headers.get('Origin'),
                                       request.headers.get('Host'),
                                       sockname[1] if sockname else None)
        if reason is not None:
            return 'origin', reason
        reason = policy.token_refusal(request.query.get('token'))
        return ('token', reason) if reason is not None else (None, None)

    async def access(request: web.Request) -> web.Response:
        # A browser cannot read why a WebSocket handshake failed; the page asks here.
        _, reason = refusal(request)
        body = ({'ok': False, 'reason': reason} if reason else
                {'ok': True, 'read_only': policy.read_only, 'live': bridge is not None})
        return web.json_response(body, status=403 if reason else 200,
                                 headers={'Cache-Control': 'no-store'})

    async def cut_off(client: Client, problem: MessageError) -> None:
        goals.drop(client)
        report(f'closed-{problem.code}', f'closed the live connection from {client.peer}: '
               f'{problem.reason}')
        await client.ws.close(code=problem.code, message=problem.reason.encode('utf-8'))

    async def receive(client: Client) -> None:
        async for message in client.ws:
            problem = None
            if not client.messages.take(time.monotonic()):
                problem = MessageError(POLICY_VIOLATION, 'too many messages (more than '
                                       f'{MESSAGE_RATE_HZ:g} per second)')
            elif message.type == WSMsgType.TEXT:
                try:
                    goal = parse_goal(message.data)
                except MessageError as err:
                    problem = err
                else:
                    if not policy.token_matches(goal.token):
                        problem = MessageError(POLICY_VIOLATION, 'goal without the right '
                                               'access token')
            elif message.type == WSMsgType.ERROR:
                # aiohttp has closed the socket already (a frame over FRAME_LIMIT_BYTES).
                report('closed-error', f'closed the live connection from {client.peer}: '
                       f'{client.ws.exception()}')
                return
            else:
                problem = MessageError(UNSUPPORTED_DATA, 'only JSON text messages are taken')
            if problem is not None:
                await cut_off(client, problem)
                return
            if policy.read_only:
                try:
                    await client.ws.send_json({'type': 'error', 'message':
                                               'read-only view: goals are not accepted'})
                except ConnectionError:
                    return
                continue
            goals.offer(client, goal)
            goal_waiting.set()

    async def send(client: Client) -> None:
        while True:
            await client.wake.wait()
            client.wake.clear()
            for payload in client.outbox:
                try:
                    await asyncio.wait_for(client.ws.send_json(payload), SEND_TIMEOUT_S)
                except asyncio.TimeoutError:
                    report('slow', f'cut off {client.peer}: it stopped reading the stream')
                    client.transport.abort()
                    return
                except ConnectionError:
                    return

    async def live_socket(request: web.Request) -> web.StreamResponse:
        # Refused before the upgrade: a refused page never gets a socket to send on.
        kind, reason = refusal(request)
        if reason is not None:
            report(f'refused-{kind}', f'refused a live connection from '
                   f"{request.remote} (Origin: {request.headers.get('Origin', 'none')}): "
                   f'{reason}')
            raise web.HTTPForbidden(text=f'iknn_ros web: refused: {reason}\n')
        # timeout: a client cut off gets this long to answer the close before its
        # connection is dropped (a flooder that does not read would be read for longer).
        ws = web.WebSocketResponse(heartbeat=10.0, timeout=CLOSE_TIMEOUT_S,
                                   max_msg_size=FRAME_LIMIT_BYTES, compress=False)
        await ws.prepare(request)
        if bridge is None:
            await ws.close(message=b'live mode needs ROS')
            return ws
        client = Client(ws, request)
        clients.add(client)
        client.sender = asyncio.create_task(send(client))
        try:
            await ws.send_json({'type': 'hello', 'goals': not policy.read_only})
            client.post(stream_messages(bridge.snapshot()))
            await receive(client)
        finally:
            clients.discard(client)
            goals.leave(client)
            client.sender.cancel()
        return ws

    async def stream(app: web.Application) -> None:
        last = -1
        period = 1.0 / stream_rate_hz
        while True:
            await asyncio.sleep(period)
            snapshot = bridge.snapshot()
            if snapshot[0] == last or not clients:
                continue
            last = snapshot[0]
            messages = stream_messages(snapshot)
            for client in list(clients):
                client.post(messages)

    async def publish_goals(app: web.Application) -> None:
        # One goal per period, whoever sent it: /goal_pose never sees more than
        # goal_rate_hz from this node, however many clients send how fast.
        period = 1.0 / goal_rate_hz
        while True:
            await goal_waiting.wait()
            item = goals.pop()
            if item is None:
                goal_waiting.clear()
                continue
            goal = item[1]
            try:
                bridge.publish_goal(goal.x, goal.y, goal.z, goal.orientation)
            except RuntimeError as err:
                # rclpy shutting down under us: this goal is lost, the task lives on.
                report('publish', f'could not publish a goal: {err}')
            await asyncio.sleep(period)

    async def start_stream(app: web.Application) -> None:
        if bridge is not None:
            app['stream'] = asyncio.create_task(stream(app))
            app['goals'] = asyncio.create_task(publish_goals(app))

    async def stop_stream(app: web.Application) -> None:
        await asyncio.gather(*(client.ws.close(message=b'web node stopping')
                               for client in list(clients)), return_exceptions=True)
        for task in (app.get('stream'), app.get('goals')):
            if task is not None:
                task.cancel()

    app = web.Application(middlewares=[isolation])
    app.add_routes([web.get('/', index), web.get('/config.json', config_json),
                    web.get('/model.onnx', model), web.get('/ws', live_socket),
                    web.get('/access', access),
                    web.get('/robot/robot.urdf', robot_description),
                    web.get('/robot/{path:.+}', robot_mesh),
                    web.get('/package/{package}/{path:.+}', package_mesh),
                    web.get('/vendor/{package}/{path:.+}', vendor_file),
                    web.get('/{name}', static_file)])
    app.on_startup.append(start_stream)
    app.on_shutdown.append(stop_stream)
    return app


async def serve(app: web.Application, host: str, port: int,
                token: Optional[str] = None) -> None:
    """Serve until SIGINT or SIGTERM; print the page's URL (with its token) once listening."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1] if runner.addresses else port
    print(f'iknn_ros web: serving {page_url(host, bound, token)}', flush=True)
    if is_wildcard(host):
        print(f'iknn_ros web: listening on every interface; from another machine open '
              f'{page_url(socket.gethostname(), bound, token)} (or by its address)',
              flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if stop_requested():  # a signal came while the process was still starting
        stop.set()
    await stop.wait()
    await runner.cleanup()


def view_solver(urdf: str, model_path: str = '', target_mode: str = '',
                base_link: Optional[str] = None, tip_link: Optional[str] = None) -> tuple:
    """
    Return (the solver the page's tick mirrors, its model file or None, the URDF's files).

    ``target_mode`` empty: pose where the chain holds one, else position. ``model_path``
    empty: the shipped model of that mode, or none (damped least squares alone, as the IK
    node's ``model_path: none``) when no model is shipped for the arm.
    """
    chain = KinematicChain.from_urdf(urdf, base_link, tip_link)
    robot = RobotFiles.read(urdf)
    mode = target_mode or (TargetMode.POSE.value if TargetMode.POSE in modes_for(chain)
                           else TargetMode.POSITION.value)
    check_mode(chain, mode)
    if is_no_model(model_path):
        model = None
    elif model_path:
        model = Path(model_path)
    else:
        model = shipped_model_for(chain.fingerprint(), chain.robot_name, mode)
    network = None if model is None else OnnxIKNetwork(model)
    if network is not None:
        network.card.check_chain(chain, f"model '{model}'")
    config = SolverConfig(target_mode=mode, use_network=network is not None)
    return IKSolver(chain, network, config), model, robot


def _arguments(argv: list) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog='web', description='Serve the iknn_ros web view. The live node takes the same '
        'settings as ROS parameters (--ros-args -p NAME:=VALUE), which win over these.')
    parser.add_argument('--standalone', action='store_true',
                        help='serve the page without ROS (in-browser model only)')
    parser.add_argument('--host', default=None,
                        help='listen address (default 127.0.0.1; any other requires the '
                        'access token)')
    parser.add_argument('--port', type=int, default=None, help='port (default 8080; 0: any)')
    parser.add_argument('--token', default=None,
                        help='access token (16+ characters of A-Z a-z 0-9 . _ ~ -); default: '
                        'generated at start when the host is not loopback')
    parser.add_argument('--allow-origin', action='append', default=None,
                        metavar='ORIGIN', help='admit pages from this origin too, such as '
                        'http://tablet.local:8080 (repeatable)')
    parser.add_argument('--read-only', action='store_true', default=None,
                        help='serve the view and its stream, accept no goals')
    parser.add_argument('--goal-rate', type=float, default=None, metavar='HZ',
                        help='goals per second published on /goal_pose, all clients '
                        'together (default 10)')
    parser.add_argument('--model', default=None,
                        help="standalone: ONNX model ('none': damped least squares alone)")
    parser.add_argument('--urdf', type=Path, default=None, help='standalone: URDF')
    parser.add_argument('--target-mode', default=None,
                        help='standalone: position or pose (default: pose where the arm holds '
                        'one)')
    from rclpy.utilities import remove_ros_args
    return parser.parse_args(remove_ros_args(argv)[1:])


def _or(value, default):
    return default if value is None else value


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Serve the page; with ROS unless --standalone."""
    argv = list(sys.argv if argv is None else argv)
    args = _arguments(argv)
    if args.standalone:
        host, port = _or(args.host, '127.0.0.1'), _or(args.port, 8080)
        try:
            policy = make_policy(host, _or(args.token, ''), args.allow_origin or (),
                                 bool(args.read_only))
            solver, model, robot = view_solver(str(args.urdf or default_urdf_path()),
                                               args.model or '', args.target_mode or '')
            config = page_config(solver, list(default_start(solver.chain)), live=False)
        except Exception as err:  # noqa: B902 - any load error is reported the same way
            print(f'web: cannot start: {err}', file=sys.stderr)
            return 1
        app = build_app(config, model, robot, None, 30.0, policy)
        asyncio.run(serve(app, host, port, policy.token))
        ignore_stop_signals()  # asyncio left SIGINT/SIGTERM at their defaults
        return 0
    return _main_ros(argv, args)


def _main_ros(argv: list, args: argparse.Namespace) -> int:
    from rcl_interfaces.msg import FloatingPointRange
    from rcl_interfaces.msg import IntegerRange
    from rcl_interfaces.msg import ParameterDescriptor
    import rclpy
    from rclpy.executors import ExternalShutdownException
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.parameter import Parameter
    from rclpy.signals import SignalHandlerOptions

    def describe(description: str, floating: Optional[tuple] = None,
                 integer: Optional[tuple] = None) -> ParameterDescriptor:
        # Read once at start: a later change would do nothing, so it is refused.
        descriptor = ParameterDescriptor(description=description, read_only=True)
        if floating is not None:
            descriptor.floating_point_range = [FloatingPointRange(
                from_value=floating[0], to_value=floating[1], step=0.0)]
        if integer is not None:
            descriptor.integer_range = [IntegerRange(from_value=integer[0],
                                                     to_value=integer[1], step=1)]
        return descriptor

    parameters = (
        ('host', _or(args.host, '127.0.0.1'), describe(
            'listen address; loopback (127.0.0.1) needs no token, any other address (0.0.0.0: '
            'every interface) requires the access token')),
        ('port', _or(args.port, 8080), describe('port; 0: any free port', integer=(0, 65535))),
        ('token', _or(args.token, ''), describe(
            'access token the page and its goals must carry (16+ characters of A-Z a-z 0-9 '
            '. _ ~ -); empty: generated at start when host is not loopback, printed in the '
            'URL')),
        ('allow_origins', ','.join(args.allow_origin or ()), describe(
            "comma-separated origins admitted besides the page's own, such as "
            'http://tablet.local:8080 (a proxy or another name for this machine)')),
        ('read_only', bool(args.read_only), describe(
            'serve the view and its stream but accept no goals (no /goal_pose publisher)')),
        ('goal_rate_hz', float(_or(args.goal_rate, 10.0)), describe(
            'goals per second published on /goal_pose, all clients together; meanwhile the '
            'latest goal of each client waits its turn', floating=(0.1, 100.0))),
        ('stream_rate_hz', 30.0, describe('joint states and status sent to the page per '
                                          'second', floating=(1.0, 200.0))),
        ('model_path', '', describe('ONNX model for the standalone view; empty: the shipped '
                                    'model of target_mode (none shipped: no network); none: '
                                    'damped least squares alone')),
        ('target_mode', '', describe('position or pose, as the IK node; empty: pose where the '
                                     'arm holds one, else position')),
        ('robot_description', '', describe('URDF text; empty: read urdf_path')),
        ('urdf_path', '', describe('URDF file; empty: the shipped arm')),
        ('base_link', '', describe("chain base link; empty: the URDF's root link")),
        ('tip_link', '', describe("chain tip link; empty: the URDF's only leaf link")))

    # asyncio owns SIGINT; rclpy is shut down when the server stops.
    rclpy.init(args=argv, signal_handler_options=SignalHandlerOptions.NO)
    node = rclpy.create_node('web')
    executor = SingleThreadedExecutor()
    try:
        p = {name: node.declare_parameter(name, default, descriptor).value
             for name, default, descriptor in parameters}
        start = node.declare_parameter('initial_positions', Parameter.Type.DOUBLE_ARRAY,
                                       describe('start pose drawn before the first joint '
                                                'state (rad); unset: the default start')).value
        policy = make_policy(p['host'], p['token'], p['allow_origins'], p['read_only'])
        urdf = p['robot_description'] or p['urdf_path'] or str(default_urdf_path())
        solver, model, robot = view_solver(urdf, p['model_path'], p['target_mode'],
                                           p['base_link'] or None, p['tip_link'] or None)
        chain = solver.chain
        config = page_config(solver, list(start) if start else list(default_start(chain)), True)
        bridge = Bridge(node, chain, read_only=policy.read_only)
    except Exception as err:  # noqa: B902 - any load error is reported the same way
        print(f'web: cannot start: {err}', file=sys.stderr)
        node.destroy_node()
        rclpy.try_shutdown()
        return 1
    executor.add_node(node)

    def spin() -> None:
        try:
            executor.spin()
        except ExternalShutdownException:
            pass

    thread = threading.Thread(target=spin, daemon=True)
    thread.start()
    logger = node.get_logger()
    try:
        app = build_app(config, model, robot, bridge, p['stream_rate_hz'], policy,
                        p['goal_rate_hz'], logger.warning)
        asyncio.run(serve(app, p['host'], p['port'], policy.token))
    finally:
        # asyncio leaves SIGINT/SIGTERM at their defaults when it closes: a late signal
        # during the teardown below would kill the process with -2 or -15.
        install_stop_handlers()
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
        thread.join(timeout=5)
        ignore_stop_signals()
    return 0


if __name__ == '__main__':
    sys.exit(main())
