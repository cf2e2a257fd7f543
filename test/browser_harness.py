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
The pieces the browser tests share: the web node as a process, and the page in Chromium.

``browse`` runs one scenario of web/tests/browser.mjs (playwright-core driving Debian's
Chromium) and returns the JSON it reports. Long options go through a file (a 500-tick
target script does not fit on a command line).
"""

import json
import os
from pathlib import Path
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

REPO = Path(__file__).resolve().parent.parent
WEB = REPO / 'web'
DRIVER = WEB / 'tests' / 'browser.mjs'
ARTIFACTS = REPO / 'artifacts'
CHROMIUM = os.environ.get('CHROMIUM', '/usr/bin/chromium')

needs_browser = pytest.mark.skipif(
    not (Path(CHROMIUM).is_file() and shutil.which('node')
         and (WEB / 'node_modules' / 'playwright-core').is_dir()
         and (WEB / 'node_modules' / 'onnxruntime-web').is_dir()
         and (WEB / 'node_modules' / 'three').is_dir()),
    reason='needs Debian chromium, node and `npm ci` in web/ (make test installs them)')


def start_process(*args, env=None):
    """Start ``python -m *args`` from the repository, its output piped (``env``: added)."""
    return subprocess.Popen([sys.executable, '-m', *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=REPO,
                            env=None if env is None else {**os.environ, **env})


def start_web(*args, env=None):
    """Start the web server on a free port; return the process and its URL."""
    process = start_process('iknn_ros.nodes.web', *args, env=env)
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
    """Stop a process with SIGINT (as Ctrl-C), killing it only when it hangs."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
    return process


def browse(scenario, url, options=None, screenshot=None, timeout=120):
    """Run one browser.mjs scenario on ``url``; return its report (failing on its error)."""
    with tempfile.NamedTemporaryFile('w', suffix='.json', delete=False) as f:
        json.dump(options or {}, f)
    try:
        done = subprocess.run(['node', str(DRIVER), scenario, url, '@' + f.name,
                               str(screenshot or '')], capture_output=True, text=True,
                              timeout=timeout, cwd=WEB)
    finally:
        os.unlink(f.name)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert 'error' not in result, result['error']
    return result
