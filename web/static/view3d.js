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
 * The 3D view (index.html): the URDF as RViz draws it (three.js and urdf-loader), the
 * tool frame, the target as a pose gizmo to drag and turn, the projected goal and the
 * tool path, with orbit, pan and zoom.
 *
 * Standalone: the tick runs in the page, in a worker (tick_worker.js: tick.js for planar
 * arms, pose_tick.js for every other chain) with the shipped network in onnxruntime-web,
 * so that drawing never waits for it. Live: joint states and the IK
 * node's diagnostics come over the web node's WebSocket (live.js) and the gizmo publishes
 * /goal_pose, with its orientation where the IK node takes full poses. Whatever fails (the
 * robot, a mesh, the model, the connection) is said on the page, which keeps drawing.
 */

import * as THREE from 'three';
import {OrbitControls} from 'three/examples/jsm/controls/OrbitControls.js';
import {TransformControls} from 'three/examples/jsm/controls/TransformControls.js';
import URDFLoader from 'urdf-loader';
import {LiveLink} from './live.js';
import {Status, withInfiniteLimits} from './tick.js';

const PATH_POINTS = 600;
const PANEL_PERIOD_MS = 100;
const DT = 1 / 60;
// Goals from a drag go out at most this often (the web node publishes 10 per second).
const GOAL_PERIOD_MS = 50;
const PLACEHOLDER_COLOUR = 0xff00ff;

// ROS frames are z-up; so is this scene.
THREE.Object3D.DEFAULT_UP.set(0, 0, 1);

const stage = document.getElementById('stage');
const messageBox = document.getElementById('message');
const fields = Object.fromEntries(
  [...document.querySelectorAll('[data-field]')].map((e) => [e.dataset.field, e]));

const view = {
  config: null, mode: null, joints: null, target: null, goal: null, status: 'WAITING',
  tipError: NaN, turnError: NaN, goalError: NaN, projected: false, branch: null,
  tick: null, busy: false, ticks: 0, ticksPerSecond: 0, frames: 0, framesPerSecond: 0,
  windowStart: performance.now(), firstFrameMs: null, robotLoaded: false,
  // This page's own work per frame and the gaps between frames, over the last window (ms):
  // what is left of a frame the browser's compositor and rasteriser have.
  frameWork: [], frameGaps: [], lastFrameAt: null, frameWorkMs: null, frameGapMs: null,
  missingMeshes: [], targetMode: 'position', dragging: false, lastGoalSent: 0,
  pendingGoal: null, shownJoints: null, panelAt: -Infinity,
};

// ---- messages ---------------------------------------------------------------------------

const errors = [];

function say(text, kind = 'info') {
  messageBox.textContent = text;
  messageBox.dataset.kind = kind;
  messageBox.hidden = !text;
}

function fail(text) {
  errors.push(text);
  say(text, 'error');
}

// ---- the scene ------------------------------------------------------------------------------

// No multisampling: without a GPU (SwiftShader) it halves the frame rate; FXAA is not needed
// for lines this thin.
const renderer = new THREE.WebGLRenderer({antialias: false});
renderer.setPixelRatio(Math.min(window.devicePixelRatio, 2));
stage.appendChild(renderer.domElement);
const scene = new THREE.Scene();
scene.background = new THREE.Color(0x1d2024);
const camera = new THREE.PerspectiveCamera(45, 1, 0.01, 100);
scene.add(new THREE.HemisphereLight(0xffffff, 0x404048, 2.2));
const sun = new THREE.DirectionalLight(0xffffff, 2.0);
sun.position.set(2, -3, 4);
scene.add(sun);
const orbit = new OrbitControls(camera, renderer.domElement);
orbit.enableDamping = false;

// Targets, goals and the path are in the chain's base frame: a child of its base link.
const baseFrame = new THREE.Group();
scene.add(baseFrame);
const targetObject = new THREE.Group();
const goalObject = new THREE.Group();
let pathLine = null;
let robot = null;
let toolAxes = null;
let gizmo = null;

function marker(colour, radius, axes) {
  const group = new THREE.Group();
  group.add(new THREE.Mesh(new THREE.SphereGeometry(radius, 20, 12),
                           // Phong, as urdf-loader's links: one shader program fewer to
                           // compile before the first frame.
                           new THREE.MeshPhongMaterial({color: colour, transparent: true,
                                                        opacity: 0.85})));
  if (axes) {
    group.add(new THREE.AxesHelper(axes));
  }
  return group;
}

function resize() {
  const width = stage.clientWidth;
  const height = stage.clientHeight;
  renderer.setSize(width, height, false);
  camera.aspect = width / Math.max(height, 1);
  camera.updateProjectionMatrix();
}
window.addEventListener('resize', resize);

function buildScene(c) {
  const reach = c.reach;
  const size = Math.max(0.5, Math.ceil(2.4 * reach * 4) / 4);
  const grid = new THREE.GridHelper(size, Math.round(size / 0.1), 0x4a525c, 0x2c3138);
  grid.rotation.x = Math.PI / 2;  // GridHelper lies in x-z; ROS's floor is x-y
  scene.add(grid);
  scene.add(new THREE.AxesHelper(0.25 * reach));
  const [sx, sy, sz] = c.shoulder.length > 2 ? c.shoulder : [...c.shoulder, 0];
  orbit.target.set(sx, sy, sz * 0.7);
  camera.position.set(sx + 1.6 * reach, sy - 1.9 * reach, sz + 1.3 * reach);
  camera.lookAt(orbit.target);
  const radius = Math.max(0.012, 0.025 * reach);
  targetObject.add(marker(0x33cc55, radius, 2.4 * radius));
  goalObject.add(marker(0xff8c1a, 0.8 * radius, 2 * radius));
  goalObject.visible = false;
  pathLine = new THREE.Line(new THREE.BufferGeometry(),
                            new THREE.LineBasicMaterial({color: 0x4aa3df}));
  pathLine.geometry.setAttribute('position', new THREE.BufferAttribute(
    new Float32Array(3 * PATH_POINTS), 3));
  pathLine.geometry.setDrawRange(0, 0);
  pathLine.frustumCulled = false;
  baseFrame.add(targetObject, goalObject, pathLine);
  gizmo = new TransformControls(camera, renderer.domElement);
  gizmo.setSize(0.9);
  gizmo.attach(targetObject);
  scene.add(gizmo.getHelper());
  gizmo.addEventListener('dragging-changed', (event) => {
    orbit.enabled = !event.value;
    view.dragging = event.value;
    if (!event.value) {
      targetFromGizmo(true);
    }
  });
  gizmo.addEventListener('objectChange', () => view.dragging && targetFromGizmo(false));
  resize();
}

// ---- the robot ------------------------------------------------------------------------------

function placeholder(material) {
  const box = new THREE.Mesh(new THREE.BoxGeometry(0.05, 0.05, 0.05),
                             new THREE.MeshBasicMaterial({color: PLACEHOLDER_COLOUR,
                                                          wireframe: true}));
  box.userData.placeholder = true;
  return box;
}

function missingMesh(path, why) {
  view.missingMeshes.push(path);
  fail(`Mesh ${path} could not be loaded (${why}): drawn as a magenta box. ` +
       (view.missingMeshes.length > 1 ? `${view.missingMeshes.length} meshes are missing.` : ''));
}

/** The robot from its URDF text (fetched beside the configuration); meshes load after. */
function loadRobot(c, urdfText) {
  return new Promise((resolve) => {
    const manager = new THREE.LoadingManager();
    const loader = new URDFLoader(manager);
    // package://NAME/... is served by the web node from that package's share folder.
    loader.packages = (name) => `/package/${name}`;
    loader.loadMeshCb = (path, meshManager, material, done) => {
      if (!/\.(stl|dae)$/i.test(path)) {
        missingMesh(path, 'no loader for this file type; use STL or COLLADA');
        done(placeholder(material));
        return;
      }
      loader.defaultMeshLoader(path, meshManager, material, (mesh, error) => {
        if (error || !mesh) {
          missingMesh(path, error && error.message ? error.message : 'unreadable');
          done(placeholder(material));
        } else {
          done(mesh);
        }
      });
    };
    let pending = 0;
    manager.onStart = () => {
      pending += 1;
    };
    const robotModel = loader.parse(urdfText, THREE.LoaderUtils.extractUrlBase(c.urdf_url));
    // With meshes, the robot is shown once they have come (or failed, as placeholders).
    if (pending === 0) {
      resolve(robotModel);
    } else {
      manager.onLoad = () => resolve(robotModel);
    }
  });
}

async function fetchText(url) {
  const response = await fetch(url);
  if (!response.ok) {
    throw new Error(`${url}: HTTP ${response.status}`);
  }
  return response.text();
}

function attachRobot(c, loaded) {
  robot = loaded;
  scene.add(robot);
  const base = robot.links[c.base_link];
  const tip = robot.links[c.tip_link];
  if (!base || !tip) {
    throw new Error(`the URDF has no link ${base ? c.tip_link : c.base_link}`);
  }
  base.add(baseFrame);
  toolAxes = new THREE.AxesHelper(Math.max(0.05, 0.12 * c.reach));
  tip.add(toolAxes);
  view.robotLoaded = true;
}

function showJoints(q) {
  if (robot) {
    view.config.joint_names.forEach((name, i) => robot.setJointValue(name, q[i]));
    robot.updateMatrixWorld(true);
  }
}

/** The tool's pose in the base frame: [position Vector3, Quaternion]. */
function toolPose() {
  const relative = new THREE.Matrix4().copy(baseFrame.matrixWorld).invert()
    .multiply(robot.links[view.config.tip_link].matrixWorld);
  const position = new THREE.Vector3();
  const quaternion = new THREE.Quaternion();
  relative.decompose(position, quaternion, new THREE.Vector3());
  return [position, quaternion];
}

/** Put the gizmo on the tool; its orientation is kept for arms that take positions only. */
function placeGizmoOnTool() {
  const [position, quaternion] = toolPose();
  view.planeZ = position.z;
  view.targetQuaternion = quaternion.clone();
  targetObject.position.copy(position);
  targetObject.quaternion.copy(quaternion);
}

function recordPath() {
  if (!robot) {
    return;
  }
  const [p] = toolPose();
  const attribute = pathLine.geometry.getAttribute('position');
  let count = pathLine.geometry.drawRange.count;
  if (count === PATH_POINTS) {
    attribute.array.copyWithin(0, 3);
    count -= 1;
  }
  attribute.array.set([p.x, p.y, p.z], 3 * count);
  attribute.needsUpdate = true;
  pathLine.geometry.setDrawRange(0, count + 1);
}

function clearPath() {
  if (pathLine) {
    pathLine.geometry.setDrawRange(0, 0);
  }
  // The next frame starts the path where the arm is.
  view.shownJoints = null;
}

// ---- targets ----------------------------------------------------------------------------------

function takesOrientation() {
  return view.targetMode === 'pose';
}

/** The target the tick takes, from the gizmo's pose in the base frame. */
function tickTarget(position, quaternion) {
  const c = view.config;
  if (c.kind === 'planar') {
    return [position.x, position.y];
  }
  if (view.targetMode === 'pose') {
    return [position.x, position.y, position.z, quaternion.x, quaternion.y, quaternion.z,
            quaternion.w];
  }
  return c.kind === 'spatial' ? [position.x, position.y, position.z]
    : [position.x, position.y];
}

function targetFromGizmo(final) {
  if (view.config.kind === 'planar' || view.config.kind === 'planar_general') {
    // A planar arm's tool stays in its plane: the gizmo's height is the plane's.
    targetObject.position.z = view.planeZ;
  }
  setTarget(targetObject.position.clone(), targetObject.quaternion.clone(), final);
}

/** Set the target (base frame); live mode sends it as a goal, at most every GOAL_PERIOD_MS. */
function setTarget(position, quaternion, final = true) {
  if (!takesOrientation()) {
    quaternion = view.targetQuaternion || quaternion;
  }
  targetObject.position.copy(position);
  targetObject.quaternion.copy(quaternion);
  view.target = tickTarget(position, quaternion);
  if (view.mode === 'live') {
    const goal = {x: position.x, y: position.y, z: position.z};
    if (takesOrientation()) {
      goal.orientation = {qx: quaternion.x, qy: quaternion.y, qz: quaternion.z,
                          qw: quaternion.w};
    }
    view.pendingGoal = goal;
    sendPendingGoal(final);
    return;
  }
  view.status = Status.MOVING;
}

function sendPendingGoal(force) {
  const now = performance.now();
  if (!view.pendingGoal || (!force && now - view.lastGoalSent < GOAL_PERIOD_MS)) {
    return;
  }
  live.sendGoal(view.pendingGoal);
  view.pendingGoal = null;
  view.lastGoalSent = now;
}

function placeTarget(values) {
  // A target from the IK node's diagnostics (another view, RViz): shown, not sent back.
  // The diagnostics round to a micrometre: a target this page sent stays as it was sent.
  if (view.dragging || !values || values.length < 2) {
    return;
  }
  const z = values.length > 2 ? values[2] : view.planeZ;
  const shown = [...targetObject.position.toArray(), ...targetObject.quaternion.toArray()];
  const same = values.every((v, i) => Math.abs(v - (i === 2 && values.length === 2
    ? z : shown[i])) <= 2e-6);
  if (same) {
    return;
  }
  targetObject.position.set(values[0], values[1], z);
  if (values.length === 7) {
    targetObject.quaternion.set(values[3], values[4], values[5], values[6]);
  }
}

function placeGoal(values, projected) {
  goalObject.visible = Boolean(projected && values && values.length >= 2);
  if (goalObject.visible) {
    goalObject.position.set(values[0], values[1], values.length > 2 ? values[2] : view.planeZ);
    if (values.length === 7) {
      goalObject.quaternion.set(values[3], values[4], values[5], values[6]);
    } else {
      goalObject.quaternion.copy(targetObject.quaternion);
    }
  }
}

function setGizmoMode(mode) {
  if (mode === 'rotate' && !takesOrientation()) {
    say(`This arm takes ${view.targetMode} targets: the gizmo moves, it does not turn.`,
        'hint');
    mode = 'translate';
  }
  gizmo.setMode(mode);
  const planar = view.config.kind !== 'spatial';
  gizmo.showZ = !planar || mode === 'rotate';
  document.querySelectorAll('[data-gizmo]').forEach(
    (b) => b.setAttribute('aria-pressed', String(b.dataset.gizmo === mode)));
}

document.querySelectorAll('[data-gizmo]').forEach(
  (b) => b.addEventListener('click', () => setGizmoMode(b.dataset.gizmo)));
document.addEventListener('keydown', (event) => {
  if (!gizmo) {
    return;
  }
  if (event.key === 'w' || event.key === 'W') {
    setGizmoMode('translate');
  } else if (event.key === 'e' || event.key === 'E') {
    setGizmoMode('rotate');
  }
});

// ---- standalone ------------------------------------------------------------------------------

/** The tick worker (tick_worker.js): each call answers with a promise. */
class TickWorker {
  constructor() {
    this.worker = new Worker('tick_worker.js', {type: 'module'});
    this.pending = new Map();
    this.next = 0;
    this.worker.onmessage = ({data}) => {
      const call = this.pending.get(data.id);
      this.pending.delete(data.id);
      if (data.ok) {
        call.resolve(data.value);
      } else {
        call.reject(new Error(data.message));
      }
    };
    this.worker.onerror = (event) => {
      event.preventDefault();
      const error = new Error(`the tick worker failed: ${event.message || 'no reason given'}`);
      this.pending.forEach((call) => call.reject(error));
      this.pending.clear();
    };
  }

  call(type, payload = {}) {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, {resolve, reject});
      this.worker.postMessage({id, type, ...payload});
    });
  }
}

async function standaloneStep() {
  if (!view.tick || !view.target || view.busy) {
    return;
  }
  view.busy = true;
  try {
    const result = await view.tick.call('tick', {joints: view.joints, target: view.target,
                                                 dt: DT, branch: view.branch});
    if (result.command) {
      view.joints = result.command;
      view.branch = result.branch;
    }
    view.status = result.status;
    view.goal = result.goal;
    view.projected = result.projected;
    view.tipError = result.targetError;
    view.turnError = result.targetErrorRad === undefined ? NaN : result.targetErrorRad;
    view.goalError = result.goalError;
    view.ticks += 1;
  } catch (error) {
    fail(`The tick failed: ${error.message}`);
    view.tick = null;
  } finally {
    view.busy = false;
  }
}

// ---- live -----------------------------------------------------------------------------------

const live = new LiveLink({
  connectedText: 'Live: connected to the ROS graph. Drag the gizmo to send goals to ik_node.',
  say, fail, hasErrors: () => errors.length > 0, active: () => view.mode === 'live',
  onMessage(msg) {
    if (msg.type === 'state') {
      view.joints = msg.joints;
      if (!view.target && !view.dragging && robot) {
        // No goal yet: the gizmo starts on the tool where the arm really is, and the path
        // there (from the pose drawn before the first state) is no path.
        showJoints(view.joints);
        placeGizmoOnTool();
        clearPath();
      }
    } else if (msg.type === 'diagnostics') {
      view.status = msg.status || 'WAITING';
      view.tipError = Number.isFinite(msg.tip_error_m) ? msg.tip_error_m : NaN;
      view.turnError = Number.isFinite(msg.tip_error_rad) ? msg.tip_error_rad : NaN;
      view.goalError = Number.isFinite(msg.goal_error_m) ? msg.goal_error_m : NaN;
      if (msg.target_mode && msg.target_mode !== view.targetMode) {
        view.targetMode = msg.target_mode;
        setGizmoMode(gizmo.mode);
      }
      view.goal = msg.goal || null;
      view.projected = msg.status === 'OUT_OF_REACH';
      if (msg.target) {
        view.target = msg.target;
        placeTarget(msg.target);
      }
    }
  },
});

// ---- modes ----------------------------------------------------------------------------------

function setMode(mode) {
  if (mode === view.mode && (mode !== 'live' || live.socket)) {
    return;
  }
  if (mode !== 'live' && mode !== 'standalone') {
    fail(`Unknown mode '${mode}': use standalone or live.`);
    mode = 'standalone';
  }
  view.mode = mode;
  clearPath();
  view.targetMode = view.config.target_mode;
  document.querySelectorAll('[data-mode]').forEach(
    (b) => b.setAttribute('aria-pressed', String(b.dataset.mode === mode)));
  if (mode === 'live') {
    if (!view.config.live) {
      fail('Live mode needs the web node running with ROS (ros2 run iknn_ros web).');
      return;
    }
    live.connect();
    return;
  }
  live.close();
  view.joints = view.joints || view.config.start.slice();
  if (view.tick && !errors.length) {
    say(view.config.model_url ? 'Standalone: the network runs in this page. Drag the gizmo.'
      : 'Standalone without a model: damped least squares alone (the IK node\'s ' +
        'model_path: none). Drag the gizmo.', view.config.model_url ? 'info' : 'hint');
  }
}

document.querySelectorAll('[data-mode]').forEach(
  (b) => b.addEventListener('click', () => setMode(b.dataset.mode)));
document.querySelectorAll('[data-keep-query]').forEach((a) => {
  a.href += location.search;
});

// ---- drawing ----------------------------------------------------------------------------------

function formatErrors() {
  setText(fields.error, Number.isFinite(view.tipError)
    ? `${(view.tipError * 1000).toFixed(4)} mm` : '-');
  setText(fields.turn, Number.isFinite(view.turnError)
    ? `${(view.turnError * 180 / Math.PI).toFixed(4)} deg` : '-');
}

function spread(values) {
  const sorted = values.slice().sort((a, b) => a - b);
  return sorted.length ? {median: sorted[Math.floor(sorted.length / 2)],
                          max: sorted[sorted.length - 1]} : null;
}

function frame() {
  const now = performance.now();
  if (view.lastFrameAt !== null) {
    view.frameGaps.push(now - view.lastFrameAt);
  }
  view.lastFrameAt = now;
  if (now - view.windowStart >= 1000) {
    const seconds = (now - view.windowStart) / 1000;
    view.ticksPerSecond = view.ticks / seconds;
    view.framesPerSecond = view.frames / seconds;
    view.frameWorkMs = spread(view.frameWork);
    view.frameGapMs = spread(view.frameGaps);
    view.ticks = 0;
    view.frames = 0;
    view.frameWork = [];
    view.frameGaps = [];
    view.windowStart = now;
  }
  if (view.mode === 'standalone') {
    standaloneStep();
  } else if (view.mode === 'live') {
    sendPendingGoal(false);
  }
  // The arm and its path change only when the joints do (the matrices, and the path's
  // buffer upload, are the frame's work on a machine that renders in software).
  if (view.joints && !sameJoints(view.joints, view.shownJoints)) {
    showJoints(view.joints);
    recordPath();
    view.shownJoints = view.joints;
  }
  placeGoal(view.goal, view.projected);
  renderer.render(scene, camera);
  view.frames += 1;
  if (view.firstFrameMs === null && view.robotLoaded) {
    view.firstFrameMs = performance.now();
    performance.mark('iknn-first-frame');
  }
  // Text is laid out and painted by the page on every change: ten times a second is
  // as fast as it can be read.
  if (now - view.panelAt >= PANEL_PERIOD_MS) {
    view.panelAt = now;
    showPanel();
  }
  view.frameWork.push(performance.now() - now);
  requestAnimationFrame(frame);
}

function sameJoints(a, b) {
  return Boolean(b) && a.length === b.length && a.every((v, i) => v === b[i]);
}

function setText(element, text) {
  if (element.textContent !== text) {
    element.textContent = text;
  }
}

function showPanel() {
  setText(fields.mode, view.mode || '-');
  setText(fields.status, view.status);
  if (fields.status.dataset.status !== view.status) {
    fields.status.dataset.status = view.status;
  }
  formatErrors();
  setText(fields.target, view.target
    ? view.target.slice(0, 3).map((v) => v.toFixed(3)).join(', ') : '-');
  setText(fields.joints, view.joints ? view.joints.map((v) => v.toFixed(3)).join(', ') : '-');
  setText(fields.rate, view.mode === 'standalone'
    ? `${view.ticksPerSecond.toFixed(0)} ticks/s, ${view.framesPerSecond.toFixed(0)} fps`
    : `${live.connected ? 'live' : 'offline'}, ${view.framesPerSecond.toFixed(0)} fps`);
}

// ---- start ------------------------------------------------------------------------------------

async function loadConfig() {
  const response = await fetch('config.json');
  if (!response.ok) {
    throw new Error(`config.json: HTTP ${response.status}`);
  }
  return withInfiniteLimits(await response.json());
}

async function start() {
  // The URDF comes beside the configuration: the first frame waits for both, not in turn.
  const urdfText = fetchText('robot/robot.urdf');
  urdfText.catch(() => {});
  try {
    view.config = await loadConfig();
  } catch (error) {
    fail(`Cannot load the arm description: ${error.message}`);
    return;
  }
  performance.mark('iknn-config');
  const c = view.config;
  fields.robot.textContent = `${c.robot_name} (${c.n_joints} joints, ${c.target_mode})`;
  view.targetMode = c.target_mode;
  buildScene(c);
  view.joints = c.start.slice();
  try {
    attachRobot(c, await loadRobot(c, await urdfText));
    performance.mark('iknn-robot');
  } catch (error) {
    fail(`Cannot load the robot description ${c.urdf_url}: ${error.message || error}`);
  }
  // The first frame draws the robot (or, failing that, the scene and the message).
  requestAnimationFrame(frame);
  if (robot) {
    showJoints(view.joints);
    placeGizmoOnTool();
  }
  setGizmoMode('translate');
  const worker = new TickWorker();
  let loaded = false;
  try {
    await worker.call('model', {config: c});
    loaded = true;
  } catch (error) {
    fail(`The model could not be loaded in the browser (${error.message}). ` +
         'Standalone mode is unavailable; live mode still works.');
  }
  if (loaded) {
    try {
      await worker.call('start');
      view.tick = worker;
    } catch (error) {
      fail(`Standalone mode is unavailable for this arm: ${error.message}. Live mode works.`);
    }
  }
  setMode(new URLSearchParams(location.search).get('mode') || (c.live ? 'live' : 'standalone'));
  window.iknn.ready = true;
}

/**
 * Run a target sequence through the in-browser tick (the parity tests), from `joints`, on a
 * fresh tick in the worker. With `states` (one joint vector per target), each tick starts
 * from its state instead of the last command.
 */
async function runScript(targets, joints, dt, states = null) {
  if (!view.tick) {
    throw new Error('no tick: the model did not load');
  }
  return view.tick.call('script', {targets, joints, dt, states});
}

/** Cold solves of `targets` from `seed` (null: the middle of the limits), as IKSolver.solve. */
async function solve(targets, seed = null) {
  if (!view.tick) {
    throw new Error('no tick: the model did not load');
  }
  return view.tick.call('solve', {targets, seed});
}

/** Distinct colours in the rendered frame (a blank view has one or two). */
function colours() {
  renderer.render(scene, camera);
  const gl = renderer.getContext();
  const width = gl.drawingBufferWidth;
  const height = gl.drawingBufferHeight;
  const pixels = new Uint8Array(width * height * 4);
  gl.readPixels(0, 0, width, height, gl.RGBA, gl.UNSIGNED_BYTE, pixels);
  const seen = new Set();
  for (let i = 0; i < pixels.length; i += 4 * 61) {
    seen.add((pixels[i] << 16) | (pixels[i + 1] << 8) | pixels[i + 2]);
  }
  return seen.size;
}

window.iknn = {
  ready: false,
  errors,
  runScript,
  solve,
  setMode,
  setGizmoMode,
  colours,
  /** The page coordinates of the gizmo's handle `name` ('XY', 'XYZ', 'XYZE', ...). */
  handleToPage(name) {
    gizmo.getHelper().updateMatrixWorld(true);
    let found = null;
    gizmo.getHelper().traverse((o) => {
      if (!found && o.picker) {
        found = o.picker[gizmo.mode].children.find((c) => c.name === name) || null;
      }
    });
    if (!found) {
      throw new Error(`the ${gizmo.mode} gizmo has no handle ${name}`);
    }
    found.geometry.computeBoundingSphere();
    const point = found.localToWorld(found.geometry.boundingSphere.center.clone())
      .project(camera);
    const box = renderer.domElement.getBoundingClientRect();
    return [box.left + (point.x + 1) * box.width / 2, box.top + (1 - point.y) * box.height / 2];
  },
  /** The page coordinates of a point in the base frame. */
  worldToPage(x, y, z) {
    const point = baseFrame.localToWorld(new THREE.Vector3(x, y, z)).project(camera);
    const box = renderer.domElement.getBoundingClientRect();
    return [box.left + (point.x + 1) * box.width / 2, box.top + (1 - point.y) * box.height / 2];
  },
  setTarget(values) {
    const q = values.length === 7 ? new THREE.Quaternion(values[3], values[4], values[5],
                                                         values[6])
      : targetObject.quaternion.clone();
    setTarget(new THREE.Vector3(values[0], values[1], values.length > 2 ? values[2] : view.planeZ),
              q);
  },
  state: () => {
    const tool = robot ? toolPose() : null;
    return {
      mode: view.mode, joints: view.joints, target: view.target, goal: view.goal,
      status: view.status, tipError: view.tipError, turnError: view.turnError,
      goalError: view.goalError, projected: view.projected, targetMode: view.targetMode,
      gizmoMode: gizmo ? gizmo.mode : null, dragging: view.dragging,
      gizmoTarget: [...targetObject.position.toArray(), ...targetObject.quaternion.toArray()],
      tool: tool ? [...tool[0].toArray(), ...tool[1].toArray()] : null,
      live: live.connected, ikNode: live.heardIkNode, readOnly: live.readOnly,
      refused: live.refused,
      ticksPerSecond: view.ticksPerSecond, framesPerSecond: view.framesPerSecond,
      frameWorkMs: view.frameWorkMs, frameGapMs: view.frameGapMs, firstFrameMs: view.firstFrameMs, robotLoaded: view.robotLoaded,
      marks: Object.fromEntries(performance.getEntriesByType('mark')
        .map((m) => [m.name, m.startTime])),
      loadEventMs: performance.getEntriesByType('navigation')[0]?.loadEventEnd || null,
      missingMeshes: view.missingMeshes.slice(),
      placeholders: robot ? robot.children.length && countPlaceholders() : 0,
      message: messageBox.hidden ? '' : messageBox.textContent,
    };
  },
};

function countPlaceholders() {
  let count = 0;
  robot.traverse((o) => {
    count += o.userData.placeholder ? 1 : 0;
  });
  return count;
}

start();
