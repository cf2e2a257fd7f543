// Copyright 2026 The iknn_ros Authors
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//     http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

/**
 * Drives the page in headless Chromium (Debian's, through playwright-core) for the pytest
 * suite (test/test_web.py), which asserts on the JSON this prints last on stdout.
 *
 *   node browser.mjs <scenario> <url> [argument JSON, or @file holding it] [screenshot path]
 *
 * Scenarios: click (with {waitForLive}, wait for the IK node first; click a world point, wait for
 * REACHED), steps (damped Newton steps from given joints toward given points), parity (run a
 * target script through the in-browser tick), solve (cold solves of given targets), error
 * (load and report the visible message), outside (click outside the canvas), lost (connect
 * live, wait for "GO" on stdin, then wait for the page to report the lost connection), bench
 * (first frame, animation rate, tick throughput; bench/bench_web.py), send (live: wait until connected, or until refused with {waitFor:
 * 'refused'}, click a world point, report), attack (open a page of another origin that tries the
 * live socket itself and frames the view; wait for its window.attack.done, click where the framed
 * view is, report what got through), drag (the 3D view: drag the gizmo, wait for the arm to
 * arrive).
 */

import {chromium} from 'playwright-core';
import {readFileSync} from 'node:fs';
import {createInterface} from 'node:readline';

/**
 * The 3D view: for each of `options.moves` ([gizmo mode, [dx, dy] pixels, handle name]),
 * drag that handle of the gizmo ('XY': the plane handle, 'XYZE': the turning ball) as a
 * user does with the mouse; then wait for the arm to arrive (REACHED, or OUT_OF_REACH at
 * its goal) and settle.
 */
/** Wait until the page is live, has the arm's joints and has heard from the IK node. */
async function waitForIkNode(page) {
  await page.waitForFunction(() => {
    const s = window.iknn.state();
    return s.live && s.ikNode && s.joints;
  }, null, {timeout: 30000});
}

async function drag(page, options) {
  if (options.waitForLive) {
    await waitForIkNode(page);
  }
  result.drags = [];
  for (const [mode, [dx, dy], handle] of options.moves) {
    await page.evaluate((m) => window.iknn.setGizmoMode(m), mode);
    await page.waitForTimeout(200);
    const before = await page.evaluate(() => window.iknn.state().gizmoTarget);
    if (await page.evaluate(() => window.iknn.state().gizmoMode) !== mode) {
      // The page refused the mode (turning, for an arm that takes positions).
      result.drags.push({mode, before, after: before, refused: true});
      continue;
    }
    const [px, py] = await page.evaluate((h) => window.iknn.handleToPage(h), handle);
    await page.mouse.move(px, py);
    await page.waitForTimeout(100);
    await page.mouse.down();
    for (let i = 1; i <= 12; i++) {
      await page.mouse.move(px + (dx * i) / 12, py + (dy * i) / 12);
      await page.waitForTimeout(30);
    }
    await page.mouse.up();
    const after = await page.evaluate(() => window.iknn.state().gizmoTarget);
    result.drags.push({mode, before, after});
  }
  await page.waitForFunction(
    (tolerance) => {
      const s = window.iknn.state();
      return ['REACHED', 'OUT_OF_REACH'].includes(s.status) && s.goalError <= tolerance &&
        !s.dragging;
    }, options.tolerance || 1e-6, {timeout: options.timeout || 60000});
  await page.waitForTimeout(options.settle || 300);
}

/** Ends a scenario that reports through `result` without the page's own checks. */
class Done extends Error {}

/**
 * The attacker's page (`url`, another origin) runs its own attempt on the live socket and
 * sets window.attack; meanwhile the operator, fooled, clicks where the framed view is.
 */
async function attack(page, options) {
  await page.goto(url);
  await page.waitForFunction(() => window.attack && window.attack.done, null,
                             {timeout: 20000});
  // Give a framed view time to load, connect and draw before the clicks land on it.
  await page.waitForTimeout(options.frameWait || 3000);
  const frame = await page.$('iframe');
  if (frame) {
    const box = await frame.boundingBox();
    for (const [fx, fy] of [[0.3, 0.3], [0.5, 0.6], [0.7, 0.4]]) {
      await page.mouse.click(box.x + fx * box.width, box.y + fy * box.height);
      await page.waitForTimeout(300);
    }
  }
  result.attack = await page.evaluate(() => window.attack);
  result.frames = [];
  for (const child of page.frames().slice(1)) {
    let framedView = false;
    try {
      framedView = await child.evaluate(() => Boolean(window.iknn && window.iknn.ready));
    } catch (error) {
      // A frame the browser refused to render holds an error page with no scripts.
    }
    result.frames.push({url: child.url(), framedView});
  }
}

const [scenario, url, argument = '{}', screenshot = ''] = process.argv.slice(2);
// '@file': the options are in that file (a long target script exceeds the command line).
const options = JSON.parse(argument.startsWith('@') ? readFileSync(argument.slice(1), 'utf8')
  : argument);
const result = {scenario, consoleErrors: []};

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  // WebGL (the 3D view) through SwiftShader: no GPU on these machines.
  args: ['--no-sandbox', '--disable-gpu', '--enable-unsafe-swiftshader', '--disable-quic',
         '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage({viewport: {width: 1200, height: 900}});
  page.on('console', (m) => {
    if (m.type() === 'error') {
      result.consoleErrors.push(m.text());
    }
  });
  page.on('pageerror', (e) => result.consoleErrors.push(String(e)));
  if (options.breakModel) {
    // The browser receives a corrupt model file, as from a broken download.
    await page.route('**/model.onnx', (route) => route.fulfill({
      status: 200, contentType: 'application/octet-stream', body: 'not an onnx model',
      headers: {'Cross-Origin-Resource-Policy': 'same-origin'}}));
  }
  if (scenario === 'attack') {
    await attack(page, options);
    throw new Done();
  }
  const started = Date.now();
  await page.goto(url);
  await page.waitForFunction(() => window.iknn && window.iknn.ready, null, {timeout: 30000});
  result.readyMs = Date.now() - started;
  result.crossOriginIsolated = await page.evaluate(() => window.crossOriginIsolated);

  if (scenario === 'click') {
    if (options.waitForLive) {
      // A goal sent before the IK node is up is lost, as from rviz: wait for it.
      await waitForIkNode(page);
    }
    const [px, py] = await page.evaluate(([x, y]) => window.iknn.worldToPage(x, y),
                                         options.target);
    await page.mouse.click(px, py);
    // Arrived: at the target, or at its nearest reachable point when it is out of reach.
    await page.waitForFunction(
      (tolerance) => {
        const s = window.iknn.state();
        return ['REACHED', 'OUT_OF_REACH'].includes(s.status) && s.goal &&
          s.goalError <= tolerance;
      }, options.tolerance || 1e-6, {timeout: options.timeout || 30000});
    // Let the arm settle, then read the page's state.
    await page.waitForTimeout(options.settle || 300);
    result.state = await page.evaluate(() => window.iknn.state());
  } else if (scenario === 'parity') {
    result.joints = await page.evaluate(
      ([targets, start, dt, states]) => window.iknn.runScript(targets, start, dt, states),
      [options.targets, options.start, options.dt, options.states || null]);
  } else if (scenario === 'solve') {
    result.solves = await page.evaluate(([targets, seed]) => window.iknn.solve(targets, seed),
                                        [options.targets, options.seed || null]);
  } else if (scenario === 'steps') {
    result.steps = await page.evaluate((cases) => window.iknn.lmSteps(cases), options.cases);
  } else if (scenario === 'outside') {
    await page.mouse.click(5, 5);
    await page.waitForTimeout(200);
    result.state = await page.evaluate(() => window.iknn.state());
  } else if (scenario === 'lost') {
    await page.waitForFunction(() => window.iknn.state().live, null, {timeout: 20000});
    process.stdout.write('CONNECTED\n');
    const lines = createInterface({input: process.stdin});
    for await (const line of lines) {
      if (line.trim() === 'GO') {
        break;
      }
    }
    await page.waitForFunction(() => /connection .* lost/.test(window.iknn.state().message),
                               null, {timeout: 20000});
    result.state = await page.evaluate(() => window.iknn.state());
  } else if (scenario === 'bench') {
    result.firstFrameMs = await page.evaluate(() => window.iknn.state().firstFrameMs);
    const [px, py] = await page.evaluate(() => window.iknn.worldToPage(-0.6, -0.5));
    await page.mouse.click(px, py);
    await page.waitForTimeout(3000);
    result.animationTicksPerSecond = await page.evaluate(
      () => window.iknn.state().ticksPerSecond);
    result.throughput = await page.evaluate(async (count) => {
      const targets = [];
      for (let i = 0; i < count; i++) {
        const a = (2 * Math.PI * i) / 400;
        targets.push([0.45 + 0.25 * Math.cos(a), 0.2 + 0.25 * Math.sin(a)]);
      }
      const start = performance.now();
      await window.iknn.runScript(targets, [0.2, 1.1], 0.01);
      const seconds = (performance.now() - start) / 1000;
      return {ticks: count, seconds, ticksPerSecond: count / seconds};
    }, options.ticks || 2000);
  } else if (scenario === 'send') {
    const waitFor = options.waitFor || 'live';
    await page.waitForFunction(
      (w) => (w === 'live' ? window.iknn.state().live : window.iknn.state().refused !== null),
      waitFor, {timeout: 20000});
    const [px, py] = await page.evaluate(([x, y]) => window.iknn.worldToPage(x, y),
                                         options.target);
    await page.mouse.click(px, py);
    await page.waitForTimeout(options.settle || 500);
    result.state = await page.evaluate(() => window.iknn.state());
  } else if (scenario === 'bench3d') {
    // The 3D view: frames per second idle and while tracking a far target, then the
    // in-browser tick back to back over the given script.
    await page.waitForTimeout(1500);
    const rate = async () => {
      await page.waitForTimeout(2500);
      return page.evaluate(() => window.iknn.state().framesPerSecond);
    };
    result.idle = await rate();
    // Tracking: the target moves on a circle (5 cm) as a drag would, for 4 s; then the
    // same outside the reachable set (every new target is projected).
    const track = async (centre) => {
      const samples = [];
      for (let i = 0; i < 80; i++) {
        await page.evaluate(([t, a]) => {
          const p = t.slice();
          p[0] += 0.05 * (Math.cos(a) - 1);
          p[1] += 0.05 * Math.sin(a);
          window.iknn.setTarget(p);
        }, [centre, (2 * Math.PI * i) / 80]);
        await page.waitForTimeout(50);
        if (i % 20 === 19) {
          samples.push(await page.evaluate(() => {
            const s = window.iknn.state();
            return {fps: s.framesPerSecond, ticks: s.ticksPerSecond, status: s.status,
                    work: s.frameWorkMs, gap: s.frameGapMs};
          }));
        }
      }
      return samples;
    };
    result.tracking = await track(options.target);
    result.trackingOutOfReach = options.farTarget ? await track(options.farTarget) : [];
    result.throughput = await page.evaluate(async ([targets, start, dt]) => {
      const began = performance.now();
      await window.iknn.runScript(targets, start, dt);
      const seconds = (performance.now() - began) / 1000;
      return {ticks: targets.length, seconds, ticksPerSecond: targets.length / seconds};
    }, [options.targets, options.start, options.dt]);
  } else if (scenario === 'drag') {
    await drag(page, options);
    result.state = await page.evaluate(() => window.iknn.state());
  } else if (scenario !== 'error') {
    throw new Error(`unknown scenario ${scenario}`);
  }
  result.state = result.state || await page.evaluate(() => window.iknn.state());
  // The view is never blank: count distinct colours in a downsampled read-back.
  result.canvasColours = await page.evaluate(() => {
    if (window.iknn.colours) {
      return window.iknn.colours();  // the 3D view's WebGL frame
    }
    const canvas = document.getElementById('view');
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    const colours = new Set();
    for (let i = 0; i < data.length; i += 4 * 97) {
      colours.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
    }
    return colours.size;
  });
  if (screenshot) {
    await page.screenshot({path: screenshot});
    result.screenshot = screenshot;
  }
} catch (error) {
  if (!(error instanceof Done)) {
    result.error = String(error && error.stack ? error.stack : error);
  }
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(result) + '\n');
