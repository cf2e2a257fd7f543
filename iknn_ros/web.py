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
    python -m iknn_ros.web --standalone         # the page only, no ROS (in-browser model)

The page (web/static) runs the shipped model with onnxruntime-web (served from the npm
package, never a CDN) in the same control tick as the Python solver. In live mode this node
streams the arm's joint states and the IK node's status to the page, and publishes the
page's clicks as geometry_msgs/PoseStamped on /goal_pose, as RViz's tool does. Every
response carries the cross-origin isolation headers the WASM runtime needs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
from pathlib import Path
import signal
import sys
import threading
from typing import Optional, Sequence

from aiohttp import web
from iknn_ros.evaluate import default_start
from iknn_ros.kinematics import KinematicChain
from iknn_ros.resources import default_urdf_path
from iknn_ros.resources import model_for
from iknn_ros.resources import share_directory
from iknn_ros.solver import IKSolver
from iknn_ros.solver import OnnxIKNetwork
from iknn_ros.solver import SolverConfig
import numpy as np

ORT_FILES = ('ort.wasm.min.mjs', 'ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm')
ISOLATION_HEADERS = {'Cross-Origin-Opener-Policy': 'same-origin',
                     'Cross-Origin-Embedder-Policy': 'require-corp',
                     'Cross-Origin-Resource-Policy': 'same-origin'}
CONTENT_TYPES = {'.mjs': 'text/javascript', '.js': 'text/javascript', '.wasm': 'application/wasm',
                 '.html': 'text/html', '.css': 'text/css', '.json': 'application/json',
                 '.onnx': 'application/octet-stream'}


def web_directories() -> tuple:
    """Return the page's folder and onnxruntime-web's files folder (installed or source)."""
    share = share_directory()
    static = share / 'web' / 'static'
    for vendor in (share / 'web' / 'vendor' / 'onnxruntime-web',
                   share / 'web' / 'node_modules' / 'onnxruntime-web' / 'dist'):
        if all((vendor / name).is_file() for name in ORT_FILES):
            return static, vendor
    return static, None


def page_config(solver: IKSolver, start: Sequence[float], live: bool) -> dict:
    """
    Return /config.json: what the page draws and, for planar arms, the tick's constants.

    Planar arms whose first joint turns freely run standalone in the page (the tick is
    ported for them); other arms are shown live, drawn from joint positions the server
    computes.
    """
    chain = solver.chain
    common = {'start': list(start), 'live': live, 'model_url': 'model.onnx',
              'joint_names': list(chain.joint_names), 'n_joints': chain.n_joints,
              'reach': float(chain.reach), 'shoulder': chain.shoulder().tolist()}
    constants = solver.planar_constants()
    if constants is not None:
        return {**constants, **common, 'kind': 'planar'}
    return {**common, 'kind': 'spatial' if chain.target_dim == 3 else 'planar_general',
            'start_points': chain.joint_positions(np.asarray(start)).tolist()}


class Bridge:
    """The ROS side: latest joint state and IK status in, goals out (rclpy in a thread)."""

    def __init__(self, node, chain: KinematicChain) -> None:
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
        self.goal_publisher = node.create_publisher(PoseStamped, '/goal_pose', 10)
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
                    'goal': point('goal'), 'target': point('target')}
                self.version += 1

    def publish_goal(self, x: float, y: float, z: Optional[float] = None) -> None:
        msg = self.pose_type()
        msg.header.frame_id = self.chain.base_link
        msg.header.stamp = self.node.get_clock().now().to_msg()
        msg.pose.position.x, msg.pose.position.y = float(x), float(y)
        if self.chain.planar is not None:
            msg.pose.position.z = float(self.chain.planar.height)
        elif z is not None:
            msg.pose.position.z = float(z)
        msg.pose.orientation.w = 1.0
        self.goal_publisher.publish(msg)

    def snapshot(self) -> tuple:
        with self.lock:
            return self.version, self.joints, self.points, self.diagnostics


def build_app(config: dict, model_path: Path, bridge: Optional[Bridge],
              stream_rate_hz: float) -> web.Application:
    """Return the aiohttp application serving the page, the model and the WebSocket."""
    static, vendor = web_directories()
    clients: set = set()

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
        name = request.match_info['name']
        if vendor is None or name not in ORT_FILES:
            raise web.HTTPNotFound(text='onnxruntime-web is not installed: run npm ci in web/')
        return file_response(vendor / name)

    async def model(request: web.Request) -> web.StreamResponse:
        return file_response(model_path)

    async def config_json(request: web.Request) -> web.Response:
        return web.json_response(config, headers={'Cache-Control': 'no-store'})

    async def socket(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=10.0)
        await ws.prepare(request)
        if bridge is None:
            await ws.close(message=b'live mode needs ROS')
            return ws
        clients.add(ws)
        try:
            async for message in ws:
                try:
                    data = json.loads(message.data)
                    if data.get('type') == 'goal':
                        x, y = float(data['x']), float(data['y'])
                        z = float(data['z']) if data.get('z') is not None else None
                        given = (x, y) if z is None else (x, y, z)
                        if all(math.isfinite(v) for v in given):
                            bridge.publish_goal(x, y, z)
                except (ValueError, KeyError, TypeError, AttributeError):
                    await ws.send_json({'type': 'error', 'message': 'bad goal message'})
        finally:
            clients.discard(ws)
        return ws

    async def stream(app: web.Application) -> None:
        last = -1
        period = 1.0 / stream_rate_hz
        while True:
            await asyncio.sleep(period)
            version, joints, points, diagnostics = bridge.snapshot()
            if version == last or not clients:
                continue
            last = version
            messages = []
            if joints is not None:
                messages.append({'type': 'state', 'joints': joints, 'points': points})
            if diagnostics is not None:
                messages.append(diagnostics)
            for ws in list(clients):
                for payload in messages:
                    try:
                        await ws.send_json(payload)
                    except ConnectionError:
                        clients.discard(ws)

    async def start_stream(app: web.Application) -> None:
        if bridge is not None:
            app['stream'] = asyncio.create_task(stream(app))

    async def stop_stream(app: web.Application) -> None:
        for ws in list(clients):
            await ws.close()
        task = app.get('stream')
        if task is not None:
            task.cancel()

    app = web.Application(middlewares=[isolation])
    app.add_routes([web.get('/', index), web.get('/config.json', config_json),
                    web.get('/model.onnx', model), web.get('/ws', socket),
                    web.get('/vendor/onnxruntime-web/{name}', vendor_file),
                    web.get('/{name}', static_file)])
    app.on_startup.append(start_stream)
    app.on_shutdown.append(stop_stream)
    return app


async def serve(app: web.Application, host: str, port: int) -> None:
    """Serve until SIGINT or SIGTERM; print the URL once listening."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1] if runner.addresses else port
    print(f'iknn_ros web: serving http://{host}:{bound}/', flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Serve the page; with ROS unless --standalone."""
    argv = list(sys.argv if argv is None else argv)
    from rclpy.utilities import remove_ros_args
    parser = argparse.ArgumentParser(prog='web', description='Serve the iknn_ros web view.')
    parser.add_argument('--standalone', action='store_true',
                        help='serve the page without ROS (in-browser model only)')
    parser.add_argument('--host', default='127.0.0.1', help='standalone: listen address')
    parser.add_argument('--port', type=int, default=8080, help='standalone: port (0: any)')
    parser.add_argument('--model', type=Path, default=None, help='standalone: ONNX model')
    parser.add_argument('--urdf', type=Path, default=None, help='standalone: URDF')
    args = parser.parse_args(remove_ros_args(argv)[1:])
    if args.standalone:
        try:
            urdf = args.urdf or default_urdf_path()
            model = args.model or model_for(KinematicChain.from_urdf(urdf))
            solver = IKSolver.from_files(model, urdf)
            config = page_config(solver, list(default_start(solver.chain)), live=False)
        except Exception as err:  # noqa: B902 - any load error is reported the same way
            print(f'web: cannot start: {err}', file=sys.stderr)
            return 1
        asyncio.run(serve(build_app(config, Path(model), None, 30.0), args.host, args.port))
        return 0
    return _main_ros(argv)


def _main_ros(argv: list) -> int:
    import rclpy
    from rclpy.executors import ExternalShutdownException
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.parameter import Parameter
    from rclpy.signals import SignalHandlerOptions

    # asyncio owns SIGINT; rclpy is shut down when the server stops.
    rclpy.init(args=argv, signal_handler_options=SignalHandlerOptions.NO)
    node = rclpy.create_node('web')
    executor = SingleThreadedExecutor()
    try:
        p = {name: node.declare_parameter(name, default).value for name, default in (
            ('host', '127.0.0.1'), ('port', 8080), ('model_path', ''),
            ('robot_description', ''), ('urdf_path', ''), ('base_link', ''), ('tip_link', ''),
            ('stream_rate_hz', 30.0))}
        start = node.declare_parameter('initial_positions', Parameter.Type.DOUBLE_ARRAY).value
        urdf = p['robot_description'] or p['urdf_path'] or str(default_urdf_path())
        chain = KinematicChain.from_urdf(urdf, p['base_link'] or None, p['tip_link'] or None)
        model = Path(p['model_path'] or model_for(chain))
        solver = IKSolver(chain, OnnxIKNetwork(model), SolverConfig())
        config = page_config(solver, list(start) if start else list(default_start(chain)), True)
        bridge = Bridge(node, chain)
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
    try:
        asyncio.run(serve(build_app(config, model, bridge, p['stream_rate_hz']), p['host'],
                          p['port']))
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
        thread.join(timeout=5)
    return 0


if __name__ == '__main__':
    sys.exit(main())
