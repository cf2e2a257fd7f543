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
Who may drive the arm through the web view, and how fast (no I/O: web.py applies it).

A browser lets any web page open a WebSocket to any address, 127.0.0.1 included, and says
which page did in the Origin header. So the live view's socket admits only:

- its own page: the Origin names the host the request was sent to (its Host header) and
  the port the connection arrived on, over http. Without an access token (loopback only)
  that host must also be a loopback name, so a page whose DNS name is rebound to
  127.0.0.1 is still refused; a name listed in ``allow_origins`` is admitted as given.
- beyond loopback, the holder of the access token (generated at start unless given),
  compared in constant time.
- a client that sends no Origin: no browser sends a WebSocket handshake without one, so no
  web page is behind it. On loopback it is admitted (any process on this machine can
  publish /goal_pose over DDS anyway); beyond loopback it needs the token like a page.

Goals pass a ``GoalQueue`` drained at a fixed rate (the latest goal of each client waits,
clients take turns), and each connection's messages a ``TokenBucket``, so a flooding
client is cut off and can neither flood /goal_pose nor crowd out the others.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import math
import re
import secrets
import time
from typing import Callable, Iterable, NamedTuple, Optional, Union
from urllib.parse import quote
from urllib.parse import urlsplit

from iknn_ros.log_throttle import LogThrottle

# WebSocket close codes (RFC 6455, 7.4.1).
UNSUPPORTED_DATA = 1003
INVALID_PAYLOAD = 1007
POLICY_VIOLATION = 1008
MESSAGE_TOO_BIG = 1009

# The page's goal message is about 150 bytes with a token; a kilobyte leaves room.
MAX_MESSAGE_BYTES = 1024
# Holding an arrow key repeats at about 30 Hz; twice that, sustained, is no person.
MESSAGE_RATE_HZ = 60.0
MESSAGE_BURST = 120

TOKEN_PATTERN = re.compile(r'[A-Za-z0-9._~-]{16,256}')
DEFAULT_PORTS = {'http': 80, 'https': 443}
WILDCARD_HOSTS = ('', '0.0.0.0', '::')


class Goal(NamedTuple):
    """A validated goal from a client."""

    x: float
    y: float
    z: Optional[float]
    token: Optional[str]
    # The unit quaternion (qx, qy, qz, qw) of the goal's orientation; None: identity.
    orientation: Optional[tuple] = None


class MessageError(ValueError):
    """A message the socket does not take: its close code and the reason sent with it."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def is_loopback(host: str) -> bool:
    """Return whether a host name or address can only be reached from this machine."""
    host = host.strip('[]').lower().rstrip('.')
    if host == 'localhost' or host.endswith('.localhost'):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_wildcard(host: str) -> bool:
    """Return whether a listen address means every interface."""
    return host.strip('[]') in WILDCARD_HOSTS


def parse_origin(text: str) -> Optional[tuple]:
    """Return an origin as (scheme, host, port), or None if it is not an http(s) origin."""
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        return None
    if (parts.scheme not in DEFAULT_PORTS or not parts.hostname or parts.path not in ('', '/')
            or parts.query or parts.fragment or parts.username or parts.password):
        return None
    return parts.scheme, parts.hostname.lower().rstrip('.'), port or DEFAULT_PORTS[parts.scheme]


def parse_host_header(text: str) -> Optional[tuple]:
    """Return an HTTP Host header as (host, port), the port defaulting to 80."""
    try:
        parts = urlsplit('//' + text.strip())
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname or parts.path or parts.username:
        return None
    return parts.hostname.lower().rstrip('.'), port or DEFAULT_PORTS['http']


def format_origin(origin: tuple) -> str:
    """Return (scheme, host, port) as text, IPv6 hosts in brackets."""
    scheme, host, port = origin
    host = f'[{host}]' if ':' in host else host
    return f'{scheme}://{host}' + ('' if port == DEFAULT_PORTS[scheme] else f':{port}')


def page_url(host: str, port: int, token: Optional[str]) -> str:
    """Return the address to open the page at, carrying the token when there is one."""
    if is_wildcard(host):
        # Every interface includes loopback, the one address sure to work here.
        host = '::1' if ':' in host else '127.0.0.1'
    host = f'[{host}]' if ':' in host else host
    return f'http://{host}:{port}/' + (f'?token={quote(token, safe="")}' if token else '')


class AccessPolicy:
    """Decides which requests may open the live socket and which goals may be sent."""

    def __init__(self, token: Optional[str], allow_origins: Iterable[tuple] = (),
                 read_only: bool = False) -> None:
        self.token = token
        self.allow_origins = frozenset(allow_origins)
        self.read_only = read_only

    def token_matches(self, given: Optional[str]) -> bool:
        """Return whether a presented token is this one, in time independent of its value."""
        if self.token is None:
            return True
        if not isinstance(given, str):
            return False
        return hmac.compare_digest(given.encode('utf-8'), self.token.encode('utf-8'))

    def origin_refusal(self, origin: Optional[str], host_header: Optional[str],
                       local_port: Optional[int]) -> Optional[str]:
        """Return why a request with this Origin is refused, or None if it is admitted."""
        if origin is None:
            return None
        parsed = parse_origin(origin)
        if parsed is None:
            return f'origin {origin[:80]!r} is not a web page this view serves'
        if parsed in self.allow_origins:
            return None
        served = parse_host_header(host_header or '')
        scheme, host, port = parsed
        own = (served is not None and scheme == 'http' and (host, port) == served
               and port == local_port)
        if own and (self.token is not None or is_loopback(host)):
            return None
        return (f'origin {format_origin(parsed)} is not the origin of this page and not in '
                'allow_origins')

    def token_refusal(self, given: Optional[str]) -> Optional[str]:
        """Return why a request with this token is refused, or None if it is admitted."""
        if self.token is None:
            return None
        if not given:
            return ('this view needs its access token: open the address the web node '
                    'printed (it ends in ?token=...)')
        if not self.token_matches(given):
            return 'wrong access token: open the address the web node printed'
        return None

    def refusal(self, origin: Optional[str], host_header: Optional[str],
                local_port: Optional[int], token: Optional[str]) -> Optional[str]:
        """Return why a request to the live socket is refused, or None if it is admitted."""
        return (self.origin_refusal(origin, host_header, local_port)
                or self.token_refusal(token))


def make_policy(host: str, token: str = '', allow_origins: Union[str, Iterable[str]] = '',
                read_only: bool = False) -> AccessPolicy:
    """
    Return the access policy for a server listening on ``host``.

    ``token``: empty generates one unless the host is loopback; any other value is used
    (and required) as given. ``allow_origins``: origins admitted besides the page's own
    (a list or a comma-separated string). Raises ValueError with the reason for a token
    or an origin that cannot be used.
    """
    if token and not TOKEN_PATTERN.fullmatch(token):
        raise ValueError('token must be 16 to 256 characters from A-Z a-z 0-9 . _ ~ - '
                         '(it is printed in a URL); leave it empty to generate one')
    if not token and not is_loopback(host):
        token = secrets.token_urlsafe(32)
    entries = allow_origins.split(',') if isinstance(allow_origins, str) else allow_origins
    origins = []
    for entry in (e.strip() for e in entries):
        if not entry:
            continue
        parsed = parse_origin(entry)
        if parsed is None:
            raise ValueError(f'allow_origins: {entry!r} is not an origin such as '
                             'http://tablet.local:8080')
        origins.append(parsed)
    return AccessPolicy(token or None, origins, read_only)


def _finite(data: dict, key: str, required: bool) -> Optional[float]:
    value = data.get(key)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MessageError(INVALID_PAYLOAD, f'malformed goal: {key} must be a number')
    value = float(value)
    if not math.isfinite(value):
        raise MessageError(INVALID_PAYLOAD, f'malformed goal: {key} must be finite')
    return value


def _no_constants(name: str):
    raise MessageError(INVALID_PAYLOAD, f'malformed message: {name} is not JSON')


def parse_goal(text: str) -> Goal:
    """Return the goal a text message carries, or raise MessageError with why not."""
    size = len(text.encode('utf-8'))
    if size > MAX_MESSAGE_BYTES:
        raise MessageError(MESSAGE_TOO_BIG,
                           f'message too big: {size} bytes (limit {MAX_MESSAGE_BYTES})')
    try:
        data = json.loads(text, parse_constant=_no_constants)
    except MessageError:
        raise
    except (ValueError, RecursionError):
        raise MessageError(INVALID_PAYLOAD, 'malformed message: not JSON') from None
    if not isinstance(data, dict):
        raise MessageError(INVALID_PAYLOAD, 'malformed message: not a JSON object')
    if data.get('type') != 'goal':
        raise MessageError(INVALID_PAYLOAD, 'malformed message: type must be "goal"')
    token = data.get('token')
    if token is not None and not isinstance(token, str):
        raise MessageError(INVALID_PAYLOAD, 'malformed goal: token must be a string')
    orientation = None
    if data.get('orientation') is not None:
        parts = data['orientation']
        if not isinstance(parts, dict):
            raise MessageError(INVALID_PAYLOAD, 'malformed goal: orientation must be an '
                               'object {qx, qy, qz, qw}')
        q = tuple(_finite(parts, key, True) for key in ('qx', 'qy', 'qz', 'qw'))
        norm = math.sqrt(sum(v * v for v in q))
        if not norm > 1e-9:
            raise MessageError(INVALID_PAYLOAD, 'malformed goal: orientation is a zero '
                               'quaternion')
        orientation = tuple(v / norm for v in q)
    return Goal(_finite(data, 'x', True), _finite(data, 'y', True), _finite(data, 'z', False),
                token, orientation)


class TokenBucket:
    """At most ``burst`` events at once and ``rate_hz`` per second on average."""

    def __init__(self, rate_hz: float, burst: float, now: float) -> None:
        self.rate_hz = rate_hz
        self.burst = burst
        self.level = burst
        self.updated = now

    def take(self, now: float) -> bool:
        """Spend one event if there is one to spend; return whether there was."""
        self.level = min(self.burst, self.level + (now - self.updated) * self.rate_hz)
        self.updated = now
        if self.level < 1.0:
            return False
        self.level -= 1.0
        return True


class GoalQueue:
    """
    The latest goal of each client, handed out one client at a time, oldest waiting first.

    A newer goal replaces its client's waiting one in place, so a client that sends faster
    than goals are published keeps its turn and loses only goals already overtaken, and
    one that floods cannot push the others' goals back.
    """

    LEFT = object()

    def __init__(self) -> None:
        self._waiting: dict = {}

    def offer(self, client, goal) -> None:
        """Make ``goal`` the one ``client`` waits to have published."""
        self._waiting[client] = goal

    def drop(self, client):
        """Forget a client's waiting goal (it was cut off, say); return it, or None."""
        return self._waiting.pop(client, None)

    def leave(self, client) -> None:
        """
        Keep the waiting goal of a client that closed its socket, without the client.

        A script sends a goal and closes at once; its goal should still go out. The goals
        of every client that left share one place, the latest kept, so clients that come
        and go cannot pile up goals to be published long after.
        """
        goal = self.drop(client)
        if goal is not None:
            self._waiting[GoalQueue.LEFT] = goal

    def pop(self) -> Optional[tuple]:
        """Return (client, goal) for the client waiting longest, or None."""
        if not self._waiting:
            return None
        client = next(iter(self._waiting))
        return client, self._waiting.pop(client)

    def __len__(self) -> int:
        """Return how many clients have a goal waiting."""
        return len(self._waiting)


class ThrottledLog:
    """
    Writes at most one line per kind of event every ``period`` seconds, counting the rest.

    A page that retries a refused connection, or a hostile one that loops, must not fill
    the log (or a pipe read by nobody, which would stall the server).
    """

    def __init__(self, write: Callable[[str], None], period: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.write = write
        self.period = period
        self.clock = clock
        self._kinds: dict = {}

    def __call__(self, kind: str, text: str) -> bool:
        """Log ``text`` unless a line of this kind went out recently; return whether it did."""
        throttle = self._kinds.setdefault(kind, LogThrottle(self.period))
        out = throttle.event(self.clock())
        if out is None:
            return False
        held = out.held_back
        self.write(text + (f' ({held} more like it not logged)' if held else ''))
        return True
