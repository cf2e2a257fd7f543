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
 * The iknn_ros control tick for a planar arm, ported once from iknn_ros/solver.py
 * (_ScalarPlanarTick) and held to it by a parity test (test/test_web.py): the same
 * waypoint, network step, damped-Newton refinement, projection and safety clamps, so the
 * browser shows exactly what the node would command. The constants come from the server's
 * /config.json, computed from the same Python objects.
 */

const TWO_PI = 2 * Math.PI;

/** Python's float modulo (the result takes the divisor's sign), as CPython computes it. */
export function pyMod(a, m) {
  const r = a % m;
  if (r !== 0 && (r < 0) !== (m < 0)) {
    return r + m;
  }
  return r === 0 ? 0 : r;
}

/** Wrap an angle to [-pi, pi). */
export function wrap(angle) {
  return pyMod(angle + Math.PI, TWO_PI) - Math.PI;
}

/**
 * Return the configuration `c` with its joints' limits unbounded where JSON could not say
 * so: a continuous joint's bounds come as null.
 */
export function withInfiniteLimits(c) {
  const out = {...c};
  for (const [keys, sign] of [[['lo', 'hard_lo'], -1], [['hi', 'hard_hi'], 1]]) {
    for (const key of keys) {
      if (Array.isArray(out[key])) {
        out[key] = out[key].map((v) => (v === null ? sign * Infinity : v));
      }
    }
  }
  return out;
}

export const Status = Object.freeze({
  REACHED: 'REACHED',
  MOVING: 'MOVING',
  JOINT_LIMIT: 'JOINT_LIMIT',
  RECONFIGURING: 'RECONFIGURING',
  FALLBACK: 'FALLBACK',
  OUT_OF_REACH: 'OUT_OF_REACH',
  INVALID_TARGET: 'INVALID_TARGET',
  INVALID_STATE: 'INVALID_STATE',
});

/** The damped least-norm joint step for a planar error (ex, ey): J^T (J J^T + damping I)^-1 e. */
function leastNorm(cols, ex, ey, damping) {
  let a = damping;
  let d = damping;
  let b = 0;
  for (const [jx, jy] of cols) {
    a += jx * jx;
    b += jx * jy;
    d += jy * jy;
  }
  const det = a * d - b * b;
  const ux = (d * ex - b * ey) / det;
  const uy = (a * ey - b * ex) / det;
  return cols.map(([jx, jy]) => jx * ux + jy * uy);
}

// ---- safety (ik/safety.py) ----------------------------------------------------------------------

/** The moves toward `solution`, whether a limit held a joint, and their velocity scaling. */
export function boundedMoves(q, solution, dt, lo, hi, velocity, continuous) {
  let positionLimited = false;
  let biggest = 0;
  const moves = q.map((v, i) => {
    const target = solution[i];
    let move;
    if (continuous[i]) {
      move = pyMod(target - v + Math.PI, TWO_PI) - Math.PI;
    } else if (target > hi[i] || target < lo[i]) {
      const bounded = target > hi[i] ? hi[i] : lo[i];
      if (Math.abs(bounded - target) > 1e-12) {
        positionLimited = true;
      }
      move = bounded - v;
    } else {
      move = target - v;
    }
    const ratio = Math.abs(move) / (velocity[i] * dt);
    if (ratio > biggest) {
      biggest = ratio;
    }
    return move;
  });
  return [moves, positionLimited, biggest];
}

/** The command toward `solution`: wrapped increments, position and velocity limits. */
export function safeCommand(q, solution, dt, lo, hi, velocity, continuous) {
  const [moves, positionLimited, biggest] = boundedMoves(q, solution, dt, lo, hi, velocity,
                                                         continuous);
  if (biggest > 1) {
    const scale = 1 / biggest;
    return [q.map((v, i) => v + moves[i] * scale), positionLimited, true];
  }
  return [q.map((v, i) => v + moves[i]), positionLimited, false];
}

/** The tick for one planar arm; `network.step(joints, [x, y, branch])` gives increments. */
export class PlanarTick {
  constructor(config, network) {
    this.c = config;
    this.network = network;
    this.n = config.n_joints;
  }

  fk(q) {
    const c = this.c;
    let x = c.base[0];
    let y = c.base[1];
    let phi = 0;
    for (let i = 0; i < this.n; i++) {
      phi += c.yaws[i] + c.signs[i] * q[i];
      const cs = Math.cos(phi);
      const sn = Math.sin(phi);
      x += cs * c.link_x[i] - sn * c.link_y[i];
      y += sn * c.link_x[i] + cs * c.link_y[i];
    }
    return [x, y];
  }

  /** One damped Newton step toward (gx, gy); returns [next joints, error before it]. */
  lmStep(q, gx, gy) {
    const c = this.c;
    let phi = 0;
    const arms = [];
    for (let i = 0; i < this.n; i++) {
      phi += c.yaws[i] + c.signs[i] * q[i];
      const cs = Math.cos(phi);
      const sn = Math.sin(phi);
      arms.push([cs * c.link_x[i] - sn * c.link_y[i], sn * c.link_x[i] + cs * c.link_y[i]]);
    }
    let rx = 0;
    let ry = 0;
    const cols = new Array(this.n);
    for (let i = this.n - 1; i >= 0; i--) {
      rx += arms[i][0];
      ry += arms[i][1];
      cols[i] = [-c.signs[i] * ry, c.signs[i] * rx];
    }
    const ex = gx - c.base[0] - rx;
    const ey = gy - c.base[1] - ry;
    const error2 = ex * ex + ey * ey;
    const damping = error2 + c.damping_floor;
    let step = leastNorm(cols, ex, ey, damping);
    // A joint the step would carry past its limit stops there and the others take up the
    // rest of the error (one active-set pass), as IKSolver's _bounded_step does.
    const fixed = new Array(this.n).fill(null);
    let anyFixed = false;
    for (let i = 0; i < this.n; i++) {
      const hi = c.hi[i] === null ? Infinity : c.hi[i];
      const lo = c.lo[i] === null ? -Infinity : c.lo[i];
      if (q[i] + step[i] > hi) {
        fixed[i] = hi - q[i];
        anyFixed = true;
      } else if (q[i] + step[i] < lo) {
        fixed[i] = lo - q[i];
        anyFixed = true;
      }
    }
    if (anyFixed) {
      let restX = ex;
      let restY = ey;
      for (let i = 0; i < this.n; i++) {
        if (fixed[i] !== null) {
          restX -= cols[i][0] * fixed[i];
          restY -= cols[i][1] * fixed[i];
        }
      }
      const free = leastNorm(cols.map((col, i) => (fixed[i] !== null ? [0, 0] : col)),
          restX, restY, damping);
      step = step.map((_, i) => (fixed[i] !== null ? fixed[i] : free[i]));
    }
    return [q.map((v, i) => v + step[i]), Math.sqrt(error2)];
  }

  // What the Tracker (web/static/pose_tick.js) reads of a tick: the joints' limits.
  get continuous() {
    return this.c.continuous;
  }

  get velocity() {
    return this.c.velocity;
  }

  get lo() {
    return this.c.lo;
  }

  get hi() {
    return this.c.hi;
  }

  /** _ScalarPlanarTick.way_left: the route's length from the tip at q to the goal. */
  wayLeft(q, goal) {
    const [gx, gy] = goal;
    const [tipX, tipY] = this.fk(q);
    const w = this.c.route;
    if (w.radius > 0) {
      const ax = tipX - w.center[0];
      const ay = tipY - w.center[1];
      const bx = gx - w.center[0];
      const by = gy - w.center[1];
      if (this.entersDisk(ax, ay, bx, by, w.radius)) {
        const ra = Math.hypot(ax, ay);
        const rb = Math.hypot(bx, by);
        const sweep = wrap(Math.atan2(by, bx) - Math.atan2(ay, ax));
        return Math.hypot(rb - ra, 0.5 * (ra + rb) * sweep);
      }
    }
    return Math.hypot(gx - tipX, gy - tipY);
  }

  /** IKSolver.describe: the goal of `target` and how far the tip at `joints` is from both. */
  describe(joints, target) {
    const [tipX, tipY] = this.fk(joints);
    const [gx, gy, projected] = this.project(target[0], target[1], tipX, tipY);
    return [[gx, gy], Math.hypot(tipX - gx, tipY - gy),
            Math.hypot(tipX - target[0], tipY - target[1]), NaN, NaN, projected];
  }

  /** IKSolver.nearest_solution, by the search the page gives this tick (`this.search`). */
  nearestSolution(goal, joints) {
    return this.search.nearestSolution(goal, joints);
  }

  branchOf(q, previous) {
    const e = this.c.elbow;
    if (!e) {
      return 1;
    }
    const s = Math.sin(e.sign2 * q[1] + e.psi_offset);
    if (Math.abs(s) >= this.c.sin_hysteresis) {
      return s > 0 ? 1 : -1;
    }
    return previous < 0 ? -1 : 1;
  }

  project(tx, ty, tipX, tipY) {
    const w = this.c.annulus;
    const ux = tx - w.center[0];
    const uy = ty - w.center[1];
    const r = Math.hypot(ux, uy);
    if (w.r_min <= r && r <= w.r_max) {
      return [tx, ty, false];
    }
    let dx;
    let dy;
    if (r > 0) {
      dx = ux / r;
      dy = uy / r;
    } else {
      const hx = tipX - w.center[0];
      const hy = tipY - w.center[1];
      const h = Math.hypot(hx, hy);
      [dx, dy] = h > 0 ? [hx / h, hy / h] : [1, 0];
    }
    const radius = Math.min(Math.max(r, w.r_min), w.r_max);
    const gx = w.center[0] + dx * radius;
    const gy = w.center[1] + dy * radius;
    return [gx, gy, Math.hypot(gx - tx, gy - ty) > 1e-12];
  }

  waypoint(tipX, tipY, gx, gy, maxStep) {
    const dx = gx - tipX;
    const dy = gy - tipY;
    const dist = Math.hypot(dx, dy);
    if (dist <= maxStep) {
      return [gx, gy];
    }
    // Around the workspace's hole, or for a redundant arm the keep-out disk.
    const w = this.c.route;
    if (w.radius > 0) {
      const ax = tipX - w.center[0];
      const ay = tipY - w.center[1];
      const bx = gx - w.center[0];
      const by = gy - w.center[1];
      if (Math.hypot(ax, ay) - dist < w.radius && this.entersDisk(ax, ay, bx, by, w.radius)) {
        const [px, py] = this.polarWaypoint(ax, ay, bx, by, maxStep);
        return [px + w.center[0], py + w.center[1]];
      }
    }
    const ratio = maxStep / dist;
    return [tipX + dx * ratio, tipY + dy * ratio];
  }

  entersDisk(ax, ay, bx, by, radius) {
    const abx = bx - ax;
    const aby = by - ay;
    const length2 = abx * abx + aby * aby;
    let t = length2 > 0 ? -(ax * abx + ay * aby) / length2 : 0;
    t = Math.min(Math.max(t, 0), 1);
    return Math.hypot(ax + abx * t, ay + aby * t) < radius - this.c.disk_touch_tolerance;
  }

  polarWaypoint(ax, ay, bx, by, maxStep) {
    const ra = Math.hypot(ax, ay);
    const rb = Math.hypot(bx, by);
    const ta = Math.atan2(ay, ax);
    const tb = Math.atan2(by, bx);
    const sweep = wrap(tb - ta);
    const length = Math.hypot(rb - ra, 0.5 * (ra + rb) * sweep);
    const s = Math.min(Math.max(length > 0 ? maxStep / length : 1, 0), 1);
    const r = ra + s * (rb - ra);
    const theta = ta + s * sweep;
    const cx = r * Math.cos(theta) - ax;
    const cy = r * Math.sin(theta) - ay;
    const chord = Math.hypot(cx, cy);
    const fit = chord > maxStep ? maxStep / chord : 1;
    return [ax + cx * fit, ay + cy * fit];
  }

  safety(q, solution, dt, validTarget) {
    const c = this.c;
    if (!validTarget) {
      return [q.map((v, i) => {
        const move = c.continuous[i] ? 0 : Math.min(Math.max(v, c.lo[i]), c.hi[i]) - v;
        const allowance = c.velocity[i] * dt;
        return v + Math.min(Math.max(move, -allowance), allowance);
      }), false, false];
    }
    return safeCommand(q, solution, dt, c.lo, c.hi, c.velocity, c.continuous);
  }

  /** The next command for joints `q` toward `target` over `dt` seconds. */
  async tick(q, target, dt, branch) {
    const c = this.c;
    const s = c.solver;
    for (let i = 0; i < this.n; i++) {
      const v = q[i];
      if (!(c.hard_lo[i] <= v && v <= c.hard_hi[i]) || !Number.isFinite(v)) {
        return {command: null, status: Status.INVALID_STATE, goal: target, goalError: NaN,
                targetError: NaN, projected: false, fallback: false, branch: 1};
      }
    }
    let [tx, ty] = target;
    const validTarget = Number.isFinite(tx) && Number.isFinite(ty);
    const br = branch === null || branch === undefined ? this.branchOf(q, 1)
      : (branch < 0 ? -1 : 1);
    const [tipX, tipY] = this.fk(q);
    if (!validTarget) {
      [tx, ty] = [tipX, tipY];
    }
    let [gx, gy, projected] = this.project(tx, ty, tipX, tipY);
    projected = validTarget && projected;
    let maxStep = c.step_m;
    if (s.max_cartesian_speed * dt < maxStep) {
      maxStep = s.max_cartesian_speed * dt;
    }
    const [wx, wy] = this.waypoint(tipX, tipY, gx, gy, maxStep);

    let fallback = false;
    let networkError = NaN;
    let iterations = s.refine_iterations;
    let solution = q;
    if (this.network) {
      const delta = await this.network.step(q, [wx, wy, br]);
      solution = q.map((v, i) => v + delta[i]);
      let refined = null;
      if (iterations > 0) {
        [refined, networkError] = this.lmStep(solution, wx, wy);
      } else {
        const [sx, sy] = this.fk(solution);
        networkError = Math.hypot(sx - wx, sy - wy);
      }
      const limit = s.fallback ? s.fallback_ratio * Math.hypot(wx - tipX, wy - tipY)
        + s.fallback_floor_m : Infinity;
      if (!(networkError <= limit)) {
        fallback = true;
        solution = q;
        if (s.fallback) {
          iterations = Math.max(iterations, c.fallback_iterations);
        }
      } else if (iterations > 0) {
        solution = refined;
        iterations -= 1;
      }
    }
    for (let k = 0; k < iterations; k++) {
      solution = this.lmStep(solution, wx, wy)[0];
    }
    const [command, positionLimited, velocityLimited] = this.safety(q, solution, dt,
                                                                    validTarget);
    const [cx, cy] = this.fk(command);
    const goalError = Math.hypot(cx - gx, cy - gy);
    let status;
    if (!validTarget) {
      status = Status.INVALID_TARGET;
    } else if (projected) {
      status = Status.OUT_OF_REACH;
    } else if (fallback) {
      status = Status.FALLBACK;
    } else if (positionLimited) {
      status = Status.JOINT_LIMIT;
    } else if (goalError <= s.goal_tolerance_m) {
      status = Status.REACHED;
    } else {
      status = Status.MOVING;
    }
    return {
      command, status, goal: [gx, gy], goalError,
      targetError: validTarget ? Math.hypot(cx - tx, cy - ty) : NaN, projected, fallback,
      positionLimited, velocityLimited, branch: this.branchOf(command, br), networkError,
      reached: validTarget && goalError <= s.goal_tolerance_m,
    };
  }
}

/** The network through onnxruntime-web, with the model card's joint convention. */
export class OrtNetwork {
  constructor(ort, session, config) {
    this.ort = ort;
    this.session = session;
    this.c = config;
  }

  async step(joints, targetAndBranch) {
    const c = this.c;
    const inputs = joints.map((v, i) => {
      if (c.joint_input === 'wrap_all_0_2pi') {
        return pyMod(v, TWO_PI);
      }
      return c.continuous[i] ? wrap(v) : v;
    });
    const n = joints.length;
    // The target's coordinates (2, 3, or a pose model's 12), then the branch.
    const target = targetAndBranch.slice(0, -1);
    const feeds = {
      joint_positions: new this.ort.Tensor('float32', Float32Array.from(inputs), [1, n]),
      target: new this.ort.Tensor('float32', Float32Array.from(target), [1, target.length]),
      branch: new this.ort.Tensor('float32', Float32Array.from(targetAndBranch.slice(-1)),
                                  [1, 1]),
    };
    const out = await this.session.run(feeds);
    return Array.from(out.joint_delta.data, Number);
  }
}

/** The shipped network of `config` in onnxruntime-web (WASM, one thread), from the server. */
export async function loadNetwork(config) {
  const ort = await import('/vendor/onnxruntime-web/dist/ort.wasm.min.mjs');
  ort.env.wasm.wasmPaths = '/vendor/onnxruntime-web/dist/';
  ort.env.wasm.numThreads = 1;
  const session = await ort.InferenceSession.create(config.model_url,
                                                    {executionProviders: ['wasm']});
  return new OrtNetwork(ort, session, config);
}
