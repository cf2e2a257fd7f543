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
Benchmark the web view in headless Chromium (Debian's, through playwright-core).

    .venv/bin/python bench/bench_web.py

Reports, over a few page loads: time from navigation to the first frame of the arm, the
animation's ticks per second in standalone mode (one network tick per frame), and the
in-browser tick's throughput when run back to back (onnxruntime-web, WASM, one thread).
"""

import datetime
import json
from pathlib import Path
import re
import signal
import subprocess
import sys
import time

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    """Measure, print and write JSON and the docs page."""
    from bench_ik import machine
    server = subprocess.Popen([sys.executable, '-m', 'iknn_ros.nodes.web', '--standalone',
                               '--port', '0'], stdout=subprocess.PIPE, text=True, cwd=REPO)
    url = None
    deadline = time.monotonic() + 30
    while url is None and time.monotonic() < deadline:
        match = re.search(r'serving (http://\S+)', server.stdout.readline())
        url = match.group(1) if match else None
    runs = []
    try:
        for _ in range(3):
            done = subprocess.run(['node', str(REPO / 'web' / 'tests' / 'browser.mjs'), 'bench',
                                   url + 'plan.html?mode=standalone', '{}'], capture_output=True,
                                  text=True, timeout=300, cwd=REPO / 'web')
            runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
            if 'error' in runs[-1]:
                raise RuntimeError(runs[-1]['error'])
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=15)
    first = [r['firstFrameMs'] for r in runs]
    animation = [r['animationTicksPerSecond'] for r in runs]
    throughput = [r['throughput']['ticksPerSecond'] for r in runs]
    results = {'date': datetime.datetime.now(datetime.timezone.utc).isoformat(
        timespec='seconds'), 'machine': machine(), 'runs': runs,
        'first_frame_ms': {'median': float(np.median(first)), 'max': float(max(first))},
        'animation_ticks_per_s': {'median': float(np.median(animation)),
                                  'min': float(min(animation))},
        'tick_throughput_per_s': {'median': float(np.median(throughput))}}
    text = (f"first frame after load: median {results['first_frame_ms']['median']:.0f} ms, "
            f"max {results['first_frame_ms']['max']:.0f} ms ({len(runs)} loads)\n"
            f"standalone animation: median {results['animation_ticks_per_s']['median']:.1f} "
            f"ticks/s, min {results['animation_ticks_per_s']['min']:.1f} (one tick per "
            'frame)\n'
            f"in-browser tick back to back: {results['tick_throughput_per_s']['median']:.0f} "
            'ticks/s (onnxruntime-web WASM, 1 thread, network + 1 refinement + safety)\n'
            f"browser: Debian chromium headless; machine: {results['machine']['cpu']}, "
            f"{results['machine']['cores']} cores")
    print(text)
    out = REPO / 'bench' / 'results'
    out.mkdir(parents=True, exist_ok=True)
    (out / 'web.json').write_text(json.dumps(results, indent=2) + '\n')
    (REPO / 'docs' / 'benchmarks_web.md').write_text(
        '# Web view benchmarks\n\nWritten by `make bench` (`bench/bench_web.py`) on '
        f"{results['date']}. Raw numbers: `bench/results/web.json`.\n\n```text\n{text}\n```\n")
    return 0


if __name__ == '__main__':
    sys.exit(main())
