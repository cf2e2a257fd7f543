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
 * The 2D view (plan.html): a top view of the arm, click (or arrow keys) to set a target.
 *
 * Standalone: the shipped ONNX model runs here with onnxruntime-web inside the same tick
 * as the Python solver (tick.js). Live: the page shows the running ROS graph through the
 * web node's WebSocket (joint states, target, diagnostics) and a click publishes
 * /goal_pose. Whatever fails (the model, the connection, a refusal by the web node) is said
 * on the page, which keeps drawing what it last knew. The live link is live.js.
 */

import {LiveLink} from './live.js';
import {loadNetwork, PlanarTick, Status, withInfiniteLimits} from './tick.js';

const NUDGE_M = 0.02;
const PATH_POINTS = 600;
const DT = 1 / 60;

const canvas = document.getElementById('view');
const context = canvas.getContext('2d');
const messageBox = document.getElementById('message');
const fields = Object.fromEntries(
  [...document.querySelectorAll('[data-field]')].map((e) => [e.dataset.field, e]));

const view = {
  config: null, mode: null, joints: null, points: null, target: null, goal: null,
  targetZ: 0,
  status: 'WAITING', tipError: NaN, goalError: NaN, branch: null, path: [], tick: null,
  ticks: 0, tickWindowStart: performance.now(),
  ticksPerSecond: 0, firstFrameMs: null, busy: false,
};

// ---- messages ---------------------------------------------------------------------------

function say(text, kind = 'info') {
  messageBox.textContent = text;
  messageBox.dataset.kind = kind;
  messageBox.hidden = !text;
}

const errors = [];
function fail(text) {
  errors.push(text);
  say(text, 'error');
}

// ---- configuration and model ------------------------------------------------------------

async function loadConfig() {
  const response = await fetch('config.json');
  if (!response.ok) {
    throw new Error(`config.json: HTTP ${response.status}`);
  }
  const c = await response.json();
  return c.kind === 'planar' ? withInfiniteLimits(c) : c;
}

// ---- drawing ------------------------------------------------------------------------------

function worldToCanvas(x, y) {
  const scale = canvas.width / (2.3 * view.config.reach);
  return [canvas.width / 2 + x * scale, canvas.height / 2 - y * scale];
}

function canvasToWorld(px, py) {
  const scale = canvas.width / (2.3 * view.config.reach);
  return [(px - canvas.width / 2) / scale, (canvas.height / 2 - py) / scale];
}

function ring(center, radius, color) {
  const [cx, cy] = worldToCanvas(center[0], center[1]);
  const scale = canvas.width / (2.3 * view.config.reach);
  context.beginPath();
  context.arc(cx, cy, radius * scale, 0, 2 * Math.PI);
  context.strokeStyle = color;
  context.stroke();
}

function dot([x, y], radius, color) {
  const [px, py] = worldToCanvas(x, y);
  context.beginPath();
  context.arc(px, py, radius, 0, 2 * Math.PI);
  context.fillStyle = color;
  context.fill();
}

function jointPoints(q) {
  const c = view.config;
  if (c.kind !== 'planar') {
    return view.points || c.start_points;
  }
  const points = [[c.base[0], c.base[1]]];
  let [x, y] = c.base;
  let phi = 0;
  for (let i = 0; i < c.n_joints; i++) {
    phi += c.yaws[i] + c.signs[i] * q[i];
    x += Math.cos(phi) * c.link_x[i] - Math.sin(phi) * c.link_y[i];
    y += Math.sin(phi) * c.link_x[i] + Math.cos(phi) * c.link_y[i];
    points.push([x, y]);
  }
  return points;
}

function grid() {
  // A line every 0.25 m, the axes a little brighter.
  const extent = 1.15 * view.config.reach;
  for (let v = -Math.floor(extent / 0.25) * 0.25; v <= extent; v += 0.25) {
    context.strokeStyle = Math.abs(v) < 1e-9 ? '#3a4048' : '#262a30';
    const [x0, y0] = worldToCanvas(v, -extent);
    const [x1, y1] = worldToCanvas(v, extent);
    const [x2, y2] = worldToCanvas(-extent, v);
    const [x3, y3] = worldToCanvas(extent, v);
    context.beginPath();
    context.moveTo(x0, y0);
    context.lineTo(x1, y1);
    context.moveTo(x2, y2);
    context.lineTo(x3, y3);
    context.stroke();
  }
}

function draw() {
  const c = view.config;
  context.fillStyle = '#1d2024';
  context.fillRect(0, 0, canvas.width, canvas.height);
  context.lineWidth = 1;
  grid();
  if (c.annulus) {
    ring(c.annulus.center, c.annulus.r_max, '#5a6068');
    if (c.annulus.r_min > 0) {
      ring(c.annulus.center, c.annulus.r_min, '#5a6068');
    }
  } else {
    ring(c.shoulder, c.reach, '#3f454d');
  }
  if (view.path.length > 1) {
    context.beginPath();
    view.path.forEach(([x, y], i) => {
      const [px, py] = worldToCanvas(x, y);
      if (i === 0) {
        context.moveTo(px, py);
      } else {
        context.lineTo(px, py);
      }
    });
    context.strokeStyle = '#4aa3df';
    context.stroke();
  }
  if (view.target) {
    dot(view.target, 7, '#33cc55');
  }
  if (view.goal && view.target &&
      Math.hypot(view.goal[0] - view.target[0], view.goal[1] - view.target[1]) > 1e-9) {
    dot(view.goal, 6, '#ff8c1a');
  }
  if (view.joints) {
    const points = jointPoints(view.joints);
    const colors = ['#2f74cc', '#ee8522', '#9b59b6', '#16a085'];
    for (let i = 1; i < points.length; i++) {
      const [ax, ay] = worldToCanvas(...points[i - 1]);
      const [bx, by] = worldToCanvas(...points[i]);
      context.beginPath();
      context.moveTo(ax, ay);
      context.lineTo(bx, by);
      context.lineWidth = 9 - i;
      context.strokeStyle = colors[(i - 1) % colors.length];
      context.lineCap = 'round';
      context.stroke();
    }
    context.lineWidth = 1;
    points.slice(0, -1).forEach((p) => dot(p, 6, '#111'));
    dot(points[points.length - 1], 5, '#d93636');
  }
  if (c.kind === 'spatial') {
    sideView();
  }
  if (view.firstFrameMs === null && view.joints) {
    view.firstFrameMs = performance.now();
  }
  fields.mode.textContent = view.mode || '-';
  fields.status.textContent = view.status;
  fields.status.dataset.status = view.status;
  fields.error.textContent = Number.isFinite(view.tipError)
    ? `${(view.tipError * 1000).toFixed(4)} mm` : '-';
  fields.target.textContent = view.target
    ? view.target.map((v) => v.toFixed(3)).join(', ') : '-';
  fields.joints.textContent = view.joints
    ? view.joints.map((v) => v.toFixed(3)).join(', ') : '-';
  fields.rate.textContent = view.mode === 'standalone'
    ? `${view.ticksPerSecond.toFixed(0)} ticks/s` : (live.connected ? 'live' : 'offline');
}

/** A side view (x right, z up) of a spatial arm, inset in the lower right corner. */
function sideView() {
  const c = view.config;
  const size = canvas.width * 0.34;
  const left = canvas.width - size - 8;
  const top = canvas.height - size - 8;
  const scale = size / (2.3 * c.reach);
  const toInset = (x, z) => [left + size / 2 + (x - c.shoulder[0]) * scale,
                             top + size / 2 - (z - c.shoulder[2]) * scale];
  context.fillStyle = 'rgba(18, 20, 23, 0.92)';
  context.fillRect(left, top, size, size);
  context.strokeStyle = '#3a4048';
  context.strokeRect(left, top, size, size);
  context.fillStyle = '#9aa3ad';
  context.font = '12px system-ui, sans-serif';
  context.fillText('side view (x, z)', left + 6, top + 16);
  const [, gy] = toInset(0, 0);
  context.beginPath();
  context.moveTo(left, gy);
  context.lineTo(left + size, gy);
  context.stroke();
  const points = jointPoints(view.joints);
  context.beginPath();
  points.forEach((p, i) => {
    const [px, py] = toInset(p[0], p[2]);
    if (i === 0) {
      context.moveTo(px, py);
    } else {
      context.lineTo(px, py);
    }
  });
  context.strokeStyle = '#2f74cc';
  context.lineWidth = 3;
  context.stroke();
  context.lineWidth = 1;
  if (view.target && view.target.length > 2) {
    const [tx, ty] = toInset(view.target[0], view.target[2]);
    context.beginPath();
    context.arc(tx, ty, 5, 0, 2 * Math.PI);
    context.fillStyle = '#33cc55';
    context.fill();
  }
}

// ---- standalone simulation ----------------------------------------------------------------

async function standaloneStep() {
  if (!view.tick || !view.target || view.busy) {
    return;
  }
  view.busy = true;
  try {
    const result = await view.tick.tick(view.joints, view.target, DT, view.branch);
    if (result.command) {
      view.joints = result.command;
      view.branch = result.branch;
      view.path.push(view.tick.fk(view.joints));
      if (view.path.length > PATH_POINTS) {
        view.path.shift();
      }
    }
    view.status = result.status;
    view.goal = result.goal;
    view.tipError = result.targetError;
    view.goalError = result.goalError;
    view.ticks += 1;
  } catch (error) {
    fail(`The tick failed: ${error.message}`);
    view.tick = null;
  } finally {
    view.busy = false;
  }
}

function frame() {
  const now = performance.now();
  if (now - view.tickWindowStart >= 1000) {
    view.ticksPerSecond = (view.ticks * 1000) / (now - view.tickWindowStart);
    view.ticks = 0;
    view.tickWindowStart = now;
  }
  if (view.mode === 'standalone') {
    standaloneStep();
  }
  draw();
  requestAnimationFrame(frame);
}

// ---- live mode ----------------------------------------------------------------------------

const live = new LiveLink({
  connectedText: 'Live: connected to the ROS graph. Click to send a goal to ik_node.',
  say, fail, hasErrors: () => errors.length > 0, active: () => view.mode === 'live',
  onMessage(msg) {
    if (msg.type === 'state') {
      view.joints = msg.joints;
      view.points = msg.points || null;
      view.path.push(jointPoints(msg.joints).at(-1));
      if (view.path.length > PATH_POINTS) {
        view.path.shift();
      }
    } else if (msg.type === 'diagnostics') {
      view.status = msg.status || 'WAITING';
      view.tipError = Number.isFinite(msg.tip_error_m) ? msg.tip_error_m : NaN;
      view.goalError = Number.isFinite(msg.goal_error_m) ? msg.goal_error_m : NaN;
      view.goal = msg.goal || null;
      if (msg.target) {
        view.target = msg.target;
      }
    }
  },
});

// ---- input ----------------------------------------------------------------------------------

function setTarget(x, y) {
  const spatial = view.config.kind === 'spatial';
  if (view.mode === 'live') {
    const goal = spatial ? {x, y, z: view.targetZ} : {x, y};
    if (!live.refused && !live.readOnly) {
      view.target = spatial ? [x, y, view.targetZ] : [x, y];
    }
    live.sendGoal(goal);
    return;
  }
  view.target = spatial ? [x, y, view.targetZ] : [x, y];
  view.status = Status.MOVING;
  if (!errors.length) {
    say('');
  }
}

document.addEventListener('click', (event) => {
  if (!view.config) {
    return;
  }
  if (event.target !== canvas) {
    if (!event.target.closest('button, a')) {
      say('Click inside the arm view to set a target (arrow keys nudge it).', 'hint');
    }
    return;
  }
  const box = canvas.getBoundingClientRect();
  const px = ((event.clientX - box.left) * canvas.width) / box.width;
  const py = ((event.clientY - box.top) * canvas.height) / box.height;
  setTarget(...canvasToWorld(px, py));
});

document.addEventListener('keydown', (event) => {
  const moves = {ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1]};
  if (!view.config || !view.joints) {
    return;
  }
  if (view.config.kind === 'spatial' && ['PageUp', 'PageDown'].includes(event.key)) {
    // The height of the next target (the top view shows x and y only).
    event.preventDefault();
    view.targetZ += event.key === 'PageUp' ? NUDGE_M : -NUDGE_M;
    if (view.target) {
      setTarget(view.target[0], view.target[1]);
    }
    return;
  }
  const move = moves[event.key];
  if (!move) {
    return;
  }
  event.preventDefault();
  const base = view.target || jointPoints(view.joints).at(-1);
  setTarget(base[0] + move[0] * NUDGE_M, base[1] + move[1] * NUDGE_M);
});

function setMode(mode) {
  if (mode === view.mode && (mode !== 'live' || live.socket)) {
    return;
  }
  if (mode !== 'live' && mode !== 'standalone') {
    fail(`Unknown mode '${mode}': use standalone or live.`);
    mode = 'standalone';
  }
  view.mode = mode;
  view.path = [];
  document.querySelectorAll('[data-mode]').forEach(
    (b) => b.setAttribute('aria-pressed', String(b.dataset.mode === mode)));
  if (mode === 'live') {
    if (!view.config.live) {
      fail('Live mode needs the web node running with ROS (python -m iknn_ros.web).');
      return;
    }
    live.connect();
  } else {
    if (view.config.kind !== 'planar') {
      fail('The 2D view runs planar arms standalone; the 3D view runs every arm standalone ' +
           '(open ./?mode=standalone). This arm is shown live from ROS here.');
      setMode('live');
      return;
    }
    live.close();
    view.joints = view.joints || view.config.start.slice();
    say(view.tick ? 'Standalone: the network runs in this page. Click to set a target.'
      : messageBox.textContent, view.tick ? 'info' : messageBox.dataset.kind);
  }
}

document.querySelectorAll('[data-mode]').forEach(
  (b) => b.addEventListener('click', () => setMode(b.dataset.mode)));

// ---- start ----------------------------------------------------------------------------------

async function start() {
  try {
    view.config = await loadConfig();
  } catch (error) {
    fail(`Cannot load the arm description: ${error.message}`);
    return;
  }
  view.joints = view.config.start.slice();
  view.targetZ = view.config.shoulder.length > 2
    ? view.config.shoulder[2] + 0.3 * view.config.reach : 0;
  requestAnimationFrame(frame);
  const requested = new URLSearchParams(location.search).get('mode');
  if (view.config.kind === 'planar') {
    try {
      const network = await loadNetwork(view.config);
      view.tick = new PlanarTick(view.config, network);
    } catch (error) {
      fail(`The model could not be loaded in the browser (${error.message || error}). ` +
           'Standalone mode is unavailable; live mode still works.');
    }
  }
  setMode(requested || (view.config.live ? 'live' : 'standalone'));
  window.iknn.ready = true;
}

/** Run a target sequence through the in-browser tick (for the parity test). */
async function runScript(targets, start, dt) {
  if (!view.tick) {
    throw new Error('no model loaded');
  }
  let q = start.slice();
  let branch = null;
  const joints = [];
  for (const target of targets) {
    const result = await view.tick.tick(q, target, dt, branch);
    q = result.command;
    branch = result.branch;
    joints.push(q.slice());
  }
  return joints;
}

window.iknn = {
  ready: false,
  errors,
  runScript,
  // Refinement steps alone, [q, [gx, gy]] each -> [next q, error before] (parity test).
  lmSteps: (cases) => cases.map(([q, [gx, gy]]) => view.tick.lmStep(q, gx, gy)),
  setTarget: (x, y) => setTarget(x, y),
  setMode,
  worldToPage(x, y) {
    const [px, py] = worldToCanvas(x, y);
    const box = canvas.getBoundingClientRect();
    return [box.left + (px * box.width) / canvas.width, box.top + (py * box.height) / canvas.height];
  },
  state: () => ({
    mode: view.mode, joints: view.joints, target: view.target, goal: view.goal,
    status: view.status, tipError: view.tipError, goalError: view.goalError,
    live: live.connected, ikNode: live.heardIkNode, readOnly: live.readOnly,
    refused: live.refused,
    ticksPerSecond: view.ticksPerSecond, firstFrameMs: view.firstFrameMs,
    message: messageBox.hidden ? '' : messageBox.textContent,
  }),
};

start();
