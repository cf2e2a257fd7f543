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
 * The standalone tick in a worker: the network (onnxruntime-web) and the tick run here, so
 * the page's main thread only draws, and a tick that takes long (a cold solve for a new
 * target, a detour search) never holds a frame back.
 *
 * Messages {id, type, ...} are answered {id, ok, value} or {id, ok: false, message}, one at
 * a time in the order they came: 'model' (load the network of a configuration), 'tick'
 * (one tick of the page's arm), 'script' (a target sequence on a fresh tick, the parity
 * tests' entry), 'solve' (cold solves of targets on a fresh tick, as IKSolver.solve).
 */

import {makeTick} from './pose_tick.js';
import {loadNetwork} from './tick.js';

let config = null;
let network = null;
let tick = null;

/**
 * Run a target sequence on a fresh tick (a fresh node) from `joints`; with `states` (one
 * joint vector per target), each tick starts from its state instead of the last command.
 */
async function runScript({targets, joints, dt, states}) {
  const fresh = makeTick(config, network);
  let q = joints.slice();
  let branch = null;
  const results = [];
  for (let i = 0; i < targets.length; i++) {
    if (states) {
      q = states[i].slice();
    }
    const result = await fresh.tick(q, targets[i], dt, branch);
    if (result.command) {
      q = result.command;
    }
    branch = result.branch;
    results.push({joints: q.slice(), status: result.status, goal: result.goal,
                  goalError: result.goalError,
                  goalErrorRad: result.goalErrorRad === undefined ? null : result.goalErrorRad,
                  fallback: result.fallback});
  }
  return results;
}

async function handle(message) {
  if (message.type === 'model') {
    config = message.config;
    network = config.model_url ? await loadNetwork(config) : null;
    return null;
  }
  if (message.type === 'start') {
    // Refused (a target mode the port does not run) with the reason, as an error.
    tick = makeTick(config, network);
    return null;
  }
  if (message.type === 'tick') {
    return tick.tick(message.joints, message.target, message.dt, message.branch);
  }
  if (message.type === 'script') {
    return runScript(message);
  }
  if (message.type === 'solve') {
    const fresh = makeTick(config, null).tick_;
    if (!fresh.solve) {
      throw new Error('the planar tick has no cold solve');
    }
    return message.targets.map((target) => fresh.solve(target, message.seed || null));
  }
  throw new Error(`unknown message ${message.type}`);
}

let queue = Promise.resolve();
self.onmessage = ({data}) => {
  queue = queue.then(async () => {
    try {
      self.postMessage({id: data.id, ok: true, value: await handle(data)});
    } catch (error) {
      self.postMessage({id: data.id, ok: false, message: String(error && error.message
        ? error.message : error)});
    }
  });
};
