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

"""The web view's access rules: origins, tokens, messages and rates (test_web.py: served)."""

import hmac
import json

from iknn_ros.nodes import web_access
from iknn_ros.nodes.web_access import AccessPolicy
from iknn_ros.nodes.web_access import GoalQueue
from iknn_ros.nodes.web_access import is_loopback
from iknn_ros.nodes.web_access import make_policy
from iknn_ros.nodes.web_access import MessageError
from iknn_ros.nodes.web_access import page_url
from iknn_ros.nodes.web_access import parse_goal
from iknn_ros.nodes.web_access import parse_origin
from iknn_ros.nodes.web_access import ThrottledLog
from iknn_ros.nodes.web_access import TokenBucket
import pytest

TOKEN = 'abcdefghijklmnopqrstuvwxyz012345'


def test_loopback_names_and_addresses():
    for host in ('127.0.0.1', '127.3.4.5', '::1', '[::1]', 'localhost', 'LocalHost.',
                 'app.localhost'):
        assert is_loopback(host), host
    for host in ('0.0.0.0', '::', '', '192.168.1.5', 'example.com', 'localhost.evil.com',
                 '127.0.0.1.nip.io'):
        assert not is_loopback(host), host


def test_origins_are_parsed_and_normalised():
    assert parse_origin('http://127.0.0.1:8080') == ('http', '127.0.0.1', 8080)
    assert parse_origin('HTTP://Tablet.Local') == ('http', 'tablet.local', 80)
    assert parse_origin('https://[::1]') == ('https', '::1', 443)
    for bad in ('null', 'file://', 'ws://127.0.0.1:8080', 'http://127.0.0.1:99999',
                'http://user@127.0.0.1', 'http://127.0.0.1/path', '', 'http://'):
        assert parse_origin(bad) is None, bad


def test_without_a_token_only_the_page_on_loopback_is_admitted():
    policy = AccessPolicy(None)
    own = ('http://127.0.0.1:8080', '127.0.0.1:8080', 8080)
    assert policy.origin_refusal(*own) is None
    assert policy.origin_refusal('http://localhost:8080', 'localhost:8080', 8080) is None
    assert policy.origin_refusal('http://[::1]:8080', '[::1]:8080', 8080) is None
    refused = [
        ('http://evil.example.com', '127.0.0.1:8080', 8080),         # another site
        ('http://127.0.0.1:9000', '127.0.0.1:8080', 8080),           # another local port
        ('https://127.0.0.1:8080', '127.0.0.1:8080', 8080),          # not what is served
        ('http://127.0.0.1:8080', '127.0.0.1:8080', 9999),           # arrived elsewhere
        ('null', '127.0.0.1:8080', 8080),                            # sandboxed or file page
        # A DNS name rebound to 127.0.0.1: Origin and Host agree, but it is no loopback name.
        ('http://evil.example.com:8080', 'evil.example.com:8080', 8080)]
    for origin, host, port in refused:
        reason = policy.origin_refusal(origin, host, port)
        assert reason is not None and 'origin' in reason, (origin, host, port)
    # No browser sends a WebSocket handshake without an Origin: a local script.
    assert policy.refusal(None, '127.0.0.1:8080', 8080, None) is None


def test_with_a_token_the_page_needs_it_whatever_its_name():
    policy = AccessPolicy(TOKEN)
    page = ('http://robot.local:8080', 'robot.local:8080', 8080)
    assert policy.refusal(*page, TOKEN) is None
    assert 'needs its access token' in policy.refusal(*page, None)
    assert 'wrong access token' in policy.refusal(*page, TOKEN[:-1] + 'X')
    assert 'wrong access token' in policy.refusal(*page, TOKEN + 'X')
    # A script without an Origin needs the token too.
    assert policy.refusal(None, 'robot.local:8080', 8080, None) is not None
    assert policy.refusal(None, 'robot.local:8080', 8080, TOKEN) is None
    # The token does not excuse another origin.
    assert 'origin' in policy.refusal('http://evil.example.com', 'robot.local:8080', 8080,
                                      TOKEN)


def test_listed_origins_are_admitted_as_given():
    policy = make_policy('127.0.0.1', allow_origins='http://tablet.local:8080, https://x.org')
    assert policy.token is None
    for origin in ('http://tablet.local:8080', 'https://x.org:443'):
        assert policy.origin_refusal(origin, '127.0.0.1:8080', 8080) is None
    assert policy.origin_refusal('http://tablet.local:8081', '127.0.0.1:8080', 8080)
    with pytest.raises(ValueError, match='allow_origins'):
        make_policy('127.0.0.1', allow_origins=['null'])


def test_a_token_is_generated_beyond_loopback_and_a_given_one_checked():
    for host in ('0.0.0.0', '::', '192.168.1.5', 'robot.local'):
        first, second = make_policy(host).token, make_policy(host).token
        assert first and len(first) >= 40 and first != second
    assert make_policy('127.0.0.1').token is None
    assert make_policy('localhost', token=TOKEN).token == TOKEN
    for weak in ('short', 'sixteen chars ok', 'x' * 257, 'a&b=cdefghijklmnop'):
        with pytest.raises(ValueError, match='token must be'):
            make_policy('0.0.0.0', token=weak)


def test_tokens_are_compared_in_constant_time(monkeypatch):
    calls = []
    original = hmac.compare_digest

    def compare(a, b):
        calls.append((a, b))
        return original(a, b)

    monkeypatch.setattr(web_access.hmac, 'compare_digest', compare)
    policy = AccessPolicy(TOKEN)
    assert policy.token_matches(TOKEN) and not policy.token_matches('x' * 32)
    assert not policy.token_matches(None) and not policy.token_matches(5)
    assert calls == [(TOKEN.encode(), TOKEN.encode()), (b'x' * 32, TOKEN.encode())]


def test_the_printed_address_carries_the_token():
    assert page_url('127.0.0.1', 8080, None) == 'http://127.0.0.1:8080/'
    assert page_url('0.0.0.0', 8080, TOKEN) == f'http://127.0.0.1:8080/?token={TOKEN}'
    assert page_url('::', 81, TOKEN) == f'http://[::1]:81/?token={TOKEN}'
    assert page_url('robot.local', 8080, 'a.b~c') == 'http://robot.local:8080/?token=a.b~c'


def test_goal_messages_are_validated():
    assert parse_goal('{"type": "goal", "x": 0.4, "y": -0.3}') == (0.4, -0.3, None, None, None)
    assert parse_goal(json.dumps({'type': 'goal', 'x': 1, 'y': 2, 'z': 0.5,
                                  'token': TOKEN})) == (1.0, 2.0, 0.5, TOKEN, None)
    # The 3D view's gizmo sends an orientation: normalised on the way in.
    turned = parse_goal(json.dumps({'type': 'goal', 'x': 1, 'y': 2, 'z': 0.5, 'orientation':
                                    {'qx': 0.0, 'qy': 0.0, 'qz': 2.0, 'qw': 2.0}}))
    assert turned.orientation == pytest.approx((0.0, 0.0, 2 ** -0.5, 2 ** -0.5), abs=1e-15)
    malformed = ['not json', '[1, 2]', '"goal"', '{"type": "teleport"}',
                 '{"type": "goal", "y": 0}', '{"type": "goal", "x": "1", "y": 0}',
                 '{"type": "goal", "x": true, "y": 0}', '{"type": "goal", "x": NaN, "y": 0}',
                 '{"type": "goal", "x": 1e999, "y": 0}', '{"type": "goal", "x": 0, "y": 0, '
                 '"z": Infinity}', '{"type": "goal", "x": 0, "y": 0, "token": 7}',
                 '[' * 500 + ']' * 500]
    for text in malformed:
        with pytest.raises(MessageError) as refused:
            parse_goal(text)
        assert refused.value.code == web_access.INVALID_PAYLOAD, text
        assert refused.value.reason.startswith('malformed'), text
    with pytest.raises(MessageError, match='NaN is not JSON'):
        parse_goal('{"type": "goal", "x": NaN, "y": 0}')
    with pytest.raises(MessageError) as refused:
        parse_goal(json.dumps({'type': 'goal', 'x': 0, 'y': 0, 'pad': 'x' * 2000}))
    assert refused.value.code == web_access.MESSAGE_TOO_BIG
    assert 'too big' in refused.value.reason and len(refused.value.reason.encode()) <= 123


def test_token_bucket_allows_bursts_and_the_average_rate():
    bucket = TokenBucket(rate_hz=10.0, burst=3, now=0.0)
    assert [bucket.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert not bucket.take(0.05) and bucket.take(0.1)
    # A thousand takes over ten seconds: the burst plus ten a second.
    taken = sum(bucket.take(1.0 + i * 0.01) for i in range(1000))
    assert taken == pytest.approx(3 + 100, abs=1)


def test_goal_queue_keeps_each_clients_latest_and_takes_turns():
    queue = GoalQueue()
    assert queue.pop() is None
    for i in range(100):
        queue.offer('flooder', i)
        if i == 10:
            queue.offer('operator', 'click')
    assert len(queue) == 2
    assert queue.pop() == ('flooder', 99)
    assert queue.pop() == ('operator', 'click')
    queue.offer('flooder', 100)
    queue.offer('operator', 'again')
    queue.offer('flooder', 101)
    assert queue.drop('flooder') == 101 and queue.drop('flooder') is None
    assert queue.pop() == ('operator', 'again') and queue.pop() is None


def test_goals_of_clients_that_left_still_go_out_but_do_not_pile_up():
    queue = GoalQueue()
    queue.offer('operator', 'click')
    for i in range(100):
        queue.offer(f'script {i}', i)
        queue.leave(f'script {i}')
    queue.leave('nobody')
    assert len(queue) == 2
    assert queue.pop() == ('operator', 'click')
    assert queue.pop() == (GoalQueue.LEFT, 99) and queue.pop() is None


def test_throttled_log_counts_what_it_holds_back():
    lines, now = [], [0.0]
    log = ThrottledLog(lines.append, period=5.0, clock=lambda: now[0])
    assert log('origin', 'refused 1')
    for i in range(50):
        now[0] = i * 0.01
        log('origin', 'refused again')
    assert log('token', 'refused for the token')
    now[0] = 6.0
    log('origin', 'refused later')
    assert lines == ['refused 1', 'refused for the token',
                     'refused later (50 more like it not logged)']
