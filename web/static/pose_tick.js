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
 * The iknn_ros control tick for any serial chain, ported once from iknn_ros/ik/pose_tick.py
 * (PoseTick) and held to it by parity tests (test/test_web_3d.py): the same goal check and
 * projection, waypoint, network step, bounded damped least squares, safety clamps and
 * statuses, so the page commands what the node would. The kinematics are the chain's own
 * joint frames and axes, and every constant comes from the server's /config.json
 * (PoseTick.browser_constants), computed from the same Python objects.
 *
 * Position and pose targets run here (every shipped arm); a chain configured for another
 * target mode is refused with a message.
 */

import {boundedMoves, PlanarTick, pyMod, safeCommand, Status} from './tick.js';

const TWO_PI = 2 * Math.PI;
const MIN_QUATERNION_NORM = 1e-6;

// ---- small linear algebra: 3-vectors, 3 x 3 matrices as arrays of rows --------------------

const dot = (a, b) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const transpose = (m) => [[m[0][0], m[1][0], m[2][0]], [m[0][1], m[1][1], m[2][1]],
                          [m[0][2], m[1][2], m[2][2]]];

function matMul(a, b) {
  const out = [[0, 0, 0], [0, 0, 0], [0, 0, 0]];
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      out[i][j] = a[i][0] * b[0][j] + a[i][1] * b[1][j] + a[i][2] * b[2][j];
    }
  }
  return out;
}

/** Python's math.dist over the first `k` coordinates. */
function dist(a, b, k = a.length) {
  let sum = 0;
  for (let i = 0; i < k; i++) {
    sum += (a[i] - b[i]) * (a[i] - b[i]);
  }
  return Math.sqrt(sum);
}

/**
 * J^T (J J^T + damping I)^-1 e into `out`: least_squares.damped_least_norm for one problem,
 * written once. `jac` is row-major m x n; the columns `drop` marks (when given) are left
 * out; `s` holds the m x m normal matrix and two m-vectors (Cholesky, m <= 6, in place).
 */
function dampedLeastNormInto(jac, m, n, error, damping, drop, out, s) {
  const {normal, x, y} = s;
  for (let r = 0; r < m; r++) {
    for (let c = 0; c < m; c++) {
      let sum = 0;
      for (let k = 0; k < n; k++) {
        if (!drop || !drop[k]) {
          sum += jac[r * n + k] * jac[c * n + k];
        }
      }
      normal[r * m + c] = r === c ? sum + damping : sum;
    }
  }
  for (let c = 0; c < m; c++) {
    let d = normal[c * m + c];
    for (let k = 0; k < c; k++) {
      d -= normal[c * m + k] * normal[c * m + k];
    }
    d = Math.sqrt(d);
    normal[c * m + c] = d;
    for (let r = c + 1; r < m; r++) {
      let sum = normal[r * m + c];
      for (let k = 0; k < c; k++) {
        sum -= normal[r * m + k] * normal[c * m + k];
      }
      normal[r * m + c] = sum / d;
    }
  }
  for (let r = 0; r < m; r++) {
    let sum = error[r];
    for (let k = 0; k < r; k++) {
      sum -= normal[r * m + k] * y[k];
    }
    y[r] = sum / normal[r * m + r];
  }
  for (let r = m - 1; r >= 0; r--) {
    let sum = y[r];
    for (let k = r + 1; k < m; k++) {
      sum -= normal[k * m + r] * x[k];
    }
    x[r] = sum / normal[r * m + r];
  }
  for (let k = 0; k < n; k++) {
    let sum = 0;
    for (let r = 0; r < m; r++) {
      sum += (drop && drop[k] ? 0 : jac[r * n + k]) * x[r];
    }
    out[k] = sum;
  }
}

// Buffers per problem size for the array-of-rows form: a typed array costs more to
// allocate than the whole solve of a 6 x 7 problem.
const leastNormBuffers = new Map();

/** dampedLeastNormInto for a Jacobian as an array of rows; returns the step. */
function dampedLeastNorm(jac, error, damping) {
  const m = jac.length;
  const n = jac[0].length;
  const key = m * 64 + n;
  let b = leastNormBuffers.get(key);
  if (!b) {
    b = {jac: new Float64Array(m * n), step: new Float64Array(n),
         normal: new Float64Array(m * m), x: new Float64Array(m), y: new Float64Array(m)};
    leastNormBuffers.set(key, b);
  }
  for (let r = 0; r < m; r++) {
    const row = jac[r];
    for (let k = 0; k < n; k++) {
      b.jac[r * n + k] = row[k];
    }
  }
  dampedLeastNormInto(b.jac, m, n, error, damping, null, b.step, b);
  const step = new Array(n);
  for (let k = 0; k < n; k++) {
    step[k] = b.step[k];
  }
  return step;
}

const withoutColumns = (jac, drop) => jac.map((row) => row.map((v, k) => (drop[k] ? 0 : v)));

function jacTimes(jac, v) {
  return jac.map((row) => row.reduce((s, x, k) => s + x * v[k], 0));
}

/** least_squares.stop_at_limits: joints the step would carry past a limit stop there. */
function stopAtLimits(q, step, jac, error, lo, hi, solve) {
  const over = q.map((v, i) => v + step[i] > hi[i]);
  const under = q.map((v, i) => v + step[i] < lo[i]);
  const fixed = over.map((o, i) => o || under[i]);
  if (!fixed.some(Boolean)) {
    return step;
  }
  const fixedStep = q.map((v, i) => (over[i] ? hi[i] - v : (under[i] ? lo[i] - v : 0)));
  const moved = jacTimes(jac, fixedStep);
  const rest = error.map((e, r) => e - moved[r]);
  const free = solve(withoutColumns(jac, fixed), rest);
  return fixed.map((f, i) => (f ? fixedStep[i] : free[i]));
}

/** least_squares.leave_blocked_joints: joints pressed against a limit leave the step. */
function leaveBlockedJoints(q, step, jac, error, lo, hi, solve) {
  const blocked = q.map((v, i) => (v <= lo[i] && step[i] < 0) || (v >= hi[i] && step[i] > 0));
  if (!blocked.some(Boolean)) {
    return step;
  }
  const free = solve(withoutColumns(jac, blocked), error);
  return blocked.map((b, i) => (b ? 0 : free[i]));
}

const clip = (q, lo, hi) => q.map((v, i) => Math.min(Math.max(v, lo[i]), hi[i]));

// ---- rotations (chain_kernels' log3 and exp3, targets.py's quaternions) -------------------

// Within this of a half turn, log3 takes the axis from the symmetric part (_NEAR_PI).
const NEAR_PI = 1e-2;

/**
 * The rotation vector of a rotation matrix (chain_kernels._log3).
 *
 * The angle is atan2 of the antisymmetric part and the trace, exact to rounding at any
 * angle; within NEAR_PI of a half turn, where the antisymmetric part vanishes, the axis is
 * the column of the symmetric part with the largest diagonal, its sign from the
 * antisymmetric part.
 */
export function log3(r) {
  const cosine = Math.min(Math.max(0.5 * (r[0][0] + r[1][1] + r[2][2] - 1), -1), 1);
  const skew = [0.5 * (r[2][1] - r[1][2]), 0.5 * (r[0][2] - r[2][0]), 0.5 * (r[1][0] - r[0][1])];
  if (cosine > Math.cos(Math.PI - NEAR_PI)) {
    const sine = Math.sqrt(skew[0] * skew[0] + skew[1] * skew[1] + skew[2] * skew[2]);
    const theta = Math.atan2(sine, cosine);
    const scale = theta > 1e-8 ? theta / sine : 1;
    return skew.map((v) => scale * v);
  }
  let k = 0;
  if (r[1][1] > r[k][k]) {
    k = 1;
  }
  if (r[2][2] > r[k][k]) {
    k = 2;
  }
  let column = [0, 1, 2].map((i) => 0.5 * (r[i][k] + r[k][i]) - (i === k ? cosine : 0));
  const norm = Math.sqrt(column[0] ** 2 + column[1] ** 2 + column[2] ** 2);
  column = column.map((v) => v / norm);
  let sine = skew[0] * column[0] + skew[1] * column[1] + skew[2] * column[2];
  if (sine < 0) {
    column = column.map((v) => -v);
    sine = -sine;
  }
  const theta = Math.atan2(sine, cosine);
  return column.map((v) => theta * v);
}

/** The rotation matrix of a rotation vector (chain_kernels._exp3). */
export function exp3(v) {
  const theta2 = dot(v, v);
  const theta = Math.sqrt(theta2);
  let a;
  let b;
  if (theta2 > 1e-8) {
    a = Math.sin(theta) / theta;
    b = (1 - Math.cos(theta)) / theta2;
  } else {
    a = 1 - theta2 / 6;
    b = 0.5 - theta2 / 24;
  }
  const [x, y, z] = v;
  return [[1 + b * (-z * z - y * y), -a * z + b * x * y, a * y + b * x * z],
          [a * z + b * x * y, 1 + b * (-z * z - x * x), -a * x + b * y * z],
          [-a * y + b * x * z, a * x + b * y * z, 1 + b * (-y * y - x * x)]];
}

export function quaternionToMatrix(qx, qy, qz, qw) {
  const norm = Math.sqrt(qx * qx + qy * qy + qz * qz + qw * qw);
  const [x, y, z, w] = [qx / norm, qy / norm, qz / norm, qw / norm];
  return [[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
          [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
          [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]];
}

/** (qx, qy, qz, qw) of a rotation matrix with qw >= 0 (Shepperd's method). */
export function matrixToQuaternion(r) {
  const trace = r[0][0] + r[1][1] + r[2][2];
  const candidates = [trace, r[0][0], r[1][1], r[2][2]];
  let k = 0;
  for (let i = 1; i < 4; i++) {
    if (candidates[i] > candidates[k]) {
      k = i;
    }
  }
  let s;
  let q;
  if (k === 0) {
    s = 2 * Math.sqrt(Math.max(1 + trace, 0));
    q = [(r[2][1] - r[1][2]) / s, (r[0][2] - r[2][0]) / s, (r[1][0] - r[0][1]) / s, 0.25 * s];
  } else if (k === 1) {
    s = 2 * Math.sqrt(Math.max(1 + r[0][0] - r[1][1] - r[2][2], 0));
    q = [0.25 * s, (r[0][1] + r[1][0]) / s, (r[0][2] + r[2][0]) / s, (r[2][1] - r[1][2]) / s];
  } else if (k === 2) {
    s = 2 * Math.sqrt(Math.max(1 + r[1][1] - r[0][0] - r[2][2], 0));
    q = [(r[0][1] + r[1][0]) / s, 0.25 * s, (r[1][2] + r[2][1]) / s, (r[0][2] - r[2][0]) / s];
  } else {
    s = 2 * Math.sqrt(Math.max(1 + r[2][2] - r[0][0] - r[1][1], 0));
    q = [(r[0][2] + r[2][0]) / s, (r[1][2] + r[2][1]) / s, 0.25 * s, (r[1][0] - r[0][1]) / s];
  }
  const sign = q[3] < 0 ? -1 : 1;
  return q.map((v) => sign * v);
}

// ---- kinematics: the chain's joint frames (rigid_body.RigidBodyModel) -----------------------

/** The rotation of a joint about its unit `axis` by `angle` (Pinocchio's joint models). */
function jointRotation(axis, angle) {
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  const aligned = axis.filter((v) => v !== 0).length === 1 && axis.indexOf(1) >= 0;
  if (aligned) {
    const i = axis.indexOf(1);
    if (i === 0) {
      return [[1, 0, 0], [0, c, -s], [0, s, c]];
    }
    if (i === 1) {
      return [[c, 0, s], [0, 1, 0], [-s, 0, c]];
    }
    return [[c, -s, 0], [s, c, 0], [0, 0, 1]];
  }
  const c1 = 1 - c;
  const r = [0, 1, 2].map((i) => [0, 1, 2].map((j) => c1 * axis[i] * axis[j]));
  for (let i = 0; i < 3; i++) {
    r[i][i] += c;
  }
  const [sx, sy, sz] = axis.map((v) => s * v);
  r[0][1] -= sz;
  r[1][0] += sz;
  r[0][2] += sy;
  r[2][0] -= sy;
  r[1][2] -= sx;
  r[2][1] += sx;
  return r;
}

function transformOf(m) {
  return {r: [m[0].slice(0, 3), m[1].slice(0, 3), m[2].slice(0, 3)],
          p: [m[0][3], m[1][3], m[2][3]]};
}

class ChainKinematics {
  constructor(c) {
    this.motions = c.motions.map((m) => ({...m, origin: transformOf(m.origin)}));
    this.tip = transformOf(c.tip_offset);
    this.n = c.n_joints;
  }

  /** The tip's [position, rotation, 6 x n Jacobian (LOCAL_WORLD_ALIGNED)] at q. */
  placementAndJacobian(q, withJacobian = true) {
    const n = this.n;
    const out = this.placed || (this.placed = {position: new Float64Array(3),
                                               rotation: new Float64Array(9),
                                               jac: new Float64Array(6 * n)});
    this.walkInto(q, withJacobian ? 6 : 0, out.position, out.rotation, out.jac);
    // Copied out as arrays of rows: the buffers are used again by the next call.
    const rows = (flat, m, width) => {
      const result = new Array(m);
      for (let r = 0; r < m; r++) {
        const row = new Array(width);
        for (let c = 0; c < width; c++) {
          row[c] = flat[r * width + c];
        }
        result[r] = row;
      }
      return result;
    };
    const p = out.position;
    return [[p[0], p[1], p[2]], rows(out.rotation, 3, 3), withJacobian ? rows(out.jac, 6, n)
      : null];
  }

  placement(q) {
    return this.placementAndJacobian(q, false);
  }

  /**
   * The tip's position into `position` and the first `rows` rows of its linear Jacobian
   * into `jac` (row-major, rows x n), without an allocation: the workspace search calls it
   * some 10^5 times per target.
   */
  positionAndJacobianInto(q, rows, position, jac) {
    this.walkInto(q, rows, position, null, jac);
  }

  /**
   * The chain walked once, into flat buffers: the tip's position, its rotation (row-major,
   * when `rotation` is given) and the first `rows` rows of the 6 x n Jacobian
   * (LOCAL_WORLD_ALIGNED; rows 3-5 angular), `jac` row-major.
   */
  walkInto(q, rows, position, rotation, jac) {
    const f = this.scratch || (this.scratch = {
      r: new Float64Array(9), p: new Float64Array(3), local: new Float64Array(9),
      next: new Float64Array(9), z: new Float64Array(3 * this.motions.length),
      o: new Float64Array(3 * this.motions.length)});
    const {r, p, local, next, z, o} = f;
    r.fill(0);
    r[0] = r[4] = r[8] = 1;
    p.fill(0);
    this.motions.forEach((m, j) => {
      const value = m.multiplier * q[m.driver] + m.offset;
      const or = m.origin.r;
      let lx = m.origin.p[0];
      let ly = m.origin.p[1];
      let lz = m.origin.p[2];
      if (m.prismatic) {
        const a = m.axis.map((v) => v * value);
        lx = dot(or[0], a) + lx;
        ly = dot(or[1], a) + ly;
        lz = dot(or[2], a) + lz;
        for (let i = 0; i < 3; i++) {
          for (let c = 0; c < 3; c++) {
            local[3 * i + c] = or[i][c];
          }
        }
      } else {
        const turn = jointRotation(m.axis, value);
        for (let i = 0; i < 3; i++) {
          for (let c = 0; c < 3; c++) {
            local[3 * i + c] = or[i][0] * turn[0][c] + or[i][1] * turn[1][c] +
              or[i][2] * turn[2][c];
          }
        }
      }
      const px = r[0] * lx + r[1] * ly + r[2] * lz;
      const py = r[3] * lx + r[4] * ly + r[5] * lz;
      const pz = r[6] * lx + r[7] * ly + r[8] * lz;
      p[0] = px + p[0];
      p[1] = py + p[1];
      p[2] = pz + p[2];
      for (let i = 0; i < 3; i++) {
        for (let c = 0; c < 3; c++) {
          next[3 * i + c] = r[3 * i] * local[c] + r[3 * i + 1] * local[3 + c] +
            r[3 * i + 2] * local[6 + c];
        }
      }
      r.set(next);
      for (let i = 0; i < 3; i++) {
        z[3 * j + i] = r[3 * i] * m.axis[0] + r[3 * i + 1] * m.axis[1] + r[3 * i + 2] * m.axis[2];
        o[3 * j + i] = p[i];
      }
    });
    const t = this.tip.p;
    for (let i = 0; i < 3; i++) {
      position[i] = (r[3 * i] * t[0] + r[3 * i + 1] * t[1] + r[3 * i + 2] * t[2]) + p[i];
    }
    if (rotation) {
      const tr = this.tip.r;
      for (let i = 0; i < 3; i++) {
        for (let c = 0; c < 3; c++) {
          rotation[3 * i + c] = r[3 * i] * tr[0][c] + r[3 * i + 1] * tr[1][c] +
            r[3 * i + 2] * tr[2][c];
        }
      }
    }
    if (!rows) {
      return;
    }
    const n = this.n;
    jac.fill(0, 0, rows * n);
    this.motions.forEach((m, j) => {
      const zx = z[3 * j];
      const zy = z[3 * j + 1];
      const zz = z[3 * j + 2];
      let linear;
      let angular;
      if (m.prismatic) {
        linear = [zx, zy, zz];
        angular = [0, 0, 0];
      } else {
        const dx = position[0] - o[3 * j];
        const dy = position[1] - o[3 * j + 1];
        const dz = position[2] - o[3 * j + 2];
        linear = [zy * dz - zz * dy, zz * dx - zx * dz, zx * dy - zy * dx];
        angular = [zx, zy, zz];
      }
      for (let i = 0; i < rows; i++) {
        jac[i * n + m.driver] += m.multiplier * (i < 3 ? linear[i] : angular[i - 3]);
      }
    });
  }
}

// ---- routes (ik/routes.py, the float twins) ---------------------------------------------------

function segmentEntersBall(a, b, radius, touch) {
  const ab = b.map((v, i) => v - a[i]);
  const length2 = dot(ab, ab);
  let t = length2 > 0 ? -dot(a, ab) / length2 : 0;
  t = Math.min(Math.max(t, 0), 1);
  return Math.hypot(...a.map((u, i) => u + ab[i] * t)) < radius - touch;
}

function sphericalWaypoint(a, b, maxStep) {
  const ra = Math.hypot(...a);
  const rb = Math.hypot(...b);
  const ua = a.map((v) => v / Math.max(ra, 1e-12));
  const ub = b.map((v) => v / Math.max(rb, 1e-12));
  const cosSweep = dot(ua, ub);
  const sweep = Math.acos(Math.min(Math.max(cosSweep, -1), 1));
  let side = ub.map((v, i) => v - ua[i] * cosSweep);
  if (Math.hypot(...side) <= 1e-9) {
    side = [-ua[0] * ua[2], -ua[1] * ua[2], 1 - ua[2] * ua[2]];
  }
  const norm = Math.max(Math.hypot(...side), 1e-12);
  side = side.map((v) => v / norm);
  const length = Math.hypot(rb - ra, 0.5 * (ra + rb) * sweep);
  const s = Math.min(Math.max(length > 0 ? maxStep / length : 1, 0), 1);
  const r = ra + s * (rb - ra);
  const c = Math.cos(s * sweep);
  const sn = Math.sin(s * sweep);
  const chord = ua.map((u, i) => r * (c * u + sn * side[i]) - a[i]);
  const lengthChord = Math.hypot(...chord);
  const fit = lengthChord > maxStep ? maxStep / lengthChord : 1;
  return a.map((v, i) => v + chord[i] * fit);
}

const unbounded = (values, sign) => values.map((v) => (v === null ? sign * Infinity : v));
const sameTarget = (a, b) => a !== null && a.length === b.length && a.every((v, i) => v === b[i]);

// ---- the tick -----------------------------------------------------------------------------------

/** The tick for one arm of any serial chain; `network.step(joints, [...target, branch])`. */
export class GeneralTick {
  constructor(config, network) {
    if (config.mode !== 'position' && config.mode !== 'pose') {
      throw new Error(`the page runs position and pose targets; this arm is set up for ` +
                      `${config.mode}`);
    }
    this.c = config;
    this.network = network;
    this.n = config.n_joints;
    this.kin = new ChainKinematics(config);
    this.k = config.position_rows;
    this.weight = config.weight;
    this.pose = config.mode === 'pose';
    this.lo = unbounded(config.lo, -1);
    this.hi = unbounded(config.hi, 1);
    this.hardLo = unbounded(config.hard_lo, -1);
    this.hardHi = unbounded(config.hard_hi, 1);
    this.velocity = config.velocity;
    this.continuous = config.continuous;
    this.stepRad = config.step_rad === null ? Infinity : config.step_rad;
    this.k0 = config.constants;
    this.lastTarget = null;
    this.goal = null;
    this.goalTuple = null;
    this.projected = false;
    this.unreachable = '';
    this.verified = false;
    this.projection = null;
    this.projections = new Map();
  }

  // ---- targets ----

  parseTarget(target) {
    const length = this.pose ? 7 : this.c.target_dim;
    if (target.length !== length) {
      throw new Error(`expected a ${this.c.mode} target of ${length} values, got ` +
                      `${target.length}`);
    }
    if (!target.every(Number.isFinite)) {
      return null;
    }
    if (this.pose) {
      if (Math.sqrt(dot(target.slice(3, 6), target.slice(3, 6)) + target[6] * target[6]) <
          MIN_QUATERNION_NORM) {
        return null;
      }
      return {position: target.slice(0, 3), rotation: quaternionToMatrix(...target.slice(3))};
    }
    if (this.c.planar_height !== null) {
      return {position: [target[0], target[1], this.c.planar_height], rotation: null};
    }
    return {position: target.slice(0, 3), rotation: null};
  }

  formatTarget(position, rotation) {
    if (this.pose) {
      return [...position, ...matrixToQuaternion(rotation)];
    }
    return position.slice(0, this.c.target_dim);
  }

  /** [weighted residual, position error, angle (NaN for positions)] toward `aim`. */
  residual(position, rotation, aim, positionOnly = false) {
    const dp = [];
    for (let i = 0; i < this.k; i++) {
      dp.push(aim.position[i] - position[i]);
    }
    const positionError = Math.sqrt(dp.reduce((s, v) => s + v * v, 0));
    if (!this.pose || positionOnly) {
      return [dp, positionError, NaN];
    }
    const turn = log3(matMul(aim.rotation, transpose(rotation)));
    return [[...dp, ...turn.map((v) => this.weight * v)], positionError,
            Math.sqrt(dot(turn, turn))];
  }

  errors(q, aim) {
    const [position, rotation] = this.kin.placement(q);
    return this.residual(position, rotation, aim).slice(1);
  }

  exact(positionError, angle, gap) {
    return positionError <= gap && !(angle > gap);
  }

  taskJacobian(jac6, positionOnly = false) {
    if (!this.pose || positionOnly) {
      return jac6.slice(0, this.k);
    }
    return [...jac6.slice(0, 3), ...jac6.slice(3).map((row) => row.map((v) => v * this.weight))];
  }

  leastNorm(jac, residual, damping) {
    return dampedLeastNorm(jac, residual, damping);
  }

  /** One bounded damped Newton step: [next joints, position error, angle before it]. */
  lmStep(q, aim, evaluated = null, stopGap = -1) {
    const [position, rotation, jac6] = evaluated || this.kin.placementAndJacobian(q);
    const [residual, positionError, angle] = this.residual(position, rotation, aim);
    if (this.exact(positionError, angle, stopGap)) {
      return [q, positionError, angle];
    }
    const jac = this.taskJacobian(jac6);
    const damping = residual.reduce((s, v) => s + v * v, 0) + this.c.damping_floor;
    let step = this.leastNorm(jac, residual, damping);
    step = stopAtLimits(q, step, jac, residual, this.lo, this.hi,
                        (free, rest) => this.leastNorm(free, rest, damping));
    return [q.map((v, i) => v + step[i]), positionError, angle];
  }

  // ---- goals ----

  /** The starting poses, the one whose tool is nearest `aim` first (PoseTick._starts_nearest). */
  startsNearest(aim) {
    if (!this.startTools) {
      this.startTools = this.c.start_poses.map((q) => this.kin.placement(q));
    }
    const w2 = this.weight ** 2;
    const gaps = this.startTools.map(([position, rotation]) => {
      let gap = 0;
      for (let i = 0; i < this.k; i++) {
        gap += (position[i] - aim.position[i]) ** 2;
      }
      if (this.pose) {
        // The turn as 2 (1 - cos angle), about its square: no logarithm per pose.
        let trace = 0;
        for (let i = 0; i < 3; i++) {
          for (let j = 0; j < 3; j++) {
            trace += rotation[i][j] * aim.rotation[i][j];
          }
        }
        gap += w2 * (3 - trace);
      }
      return gap;
    });
    return gaps.map((gap, i) => [gap, i]).sort((a, b) => a[0] - b[0] || a[1] - b[1])
      .map(([, i]) => this.c.start_poses[i]);
  }

  /**
   * Levenberg-Marquardt within the margin: [joints, position error, angle, iterations].
   * No joint moves more than `maxStep` in one step; with `stall`, it stops once that many
   * iterations neither cut the cost to the stall share nor moved a joint the stall motion
   * (PoseTick.minimise).
   */
  minimise(q0, aim, iterations = this.k0.solve_iterations, gap = this.k0.refined_gap,
           positionOnly = false, maxStep = Infinity, stall = 0) {
    let q = clip(q0, this.lo, this.hi);
    let [position, rotation, jac6] = this.kin.placementAndJacobian(q);
    let [residual, positionError, angle] = this.residual(position, rotation, aim, positionOnly);
    let cost = residual.reduce((s, v) => s + v * v, 0);
    const costs = [cost];
    const path = [q];
    let damping = this.k0.initial_damping;
    let used = 0;
    for (used = 1; used <= iterations; used++) {
      if (this.exact(positionError, angle, gap) ||
          (stall && used > stall && cost > this.k0.stall_share * costs[costs.length - stall] &&
           Math.max(...q.map((v, i) => Math.abs(v - path[path.length - stall][i]))) <
             this.k0.stall_motion)) {
        used -= 1;
        break;
      }
      const jac = this.taskJacobian(jac6, positionOnly);
      let step = leaveBlockedJoints(q, this.leastNorm(jac, residual, damping), jac, residual,
                                    this.lo, this.hi,
                                    (free, rest) => this.leastNorm(free, rest, damping));
      const largest = Math.max(...step.map(Math.abs));
      if (largest > maxStep) {
        step = step.map((v) => v * (maxStep / largest));
      }
      const trial = clip(q.map((v, i) => v + step[i]), this.lo, this.hi);
      const [tPosition, tRotation, tJac6] = this.kin.placementAndJacobian(trial);
      const [tResidual, tPositionError, tAngle] = this.residual(tPosition, tRotation, aim,
                                                                positionOnly);
      const tCost = tResidual.reduce((s, v) => s + v * v, 0);
      if (tCost < cost) {
        const settled = cost - tCost <= this.k0.settled * cost;
        [q, jac6, residual, cost, rotation] = [trial, tJac6, tResidual, tCost, tRotation];
        [positionError, angle] = [tPositionError, tAngle];
        damping = Math.max(damping * 0.3, 1e-12);
        if (settled) {
          break;
        }
      } else {
        if (damping >= this.k0.max_damping) {
          break;
        }
        damping = Math.min(damping * 10, this.k0.max_damping);
      }
      if (stall) {
        costs.push(cost);
        path.push(q);
      }
    }
    if (used > iterations) {
      used = iterations;
    }
    return [q, positionError, angle, used];
  }

  /** The cold solve (PoseTick.solve): joints within the margin, no velocity bound. */
  solve(target, seed = null, maxStarts = this.c.start_poses.length) {
    const aim = this.parseTarget(target);
    if (aim === null) {
      throw new Error(`target ${target} is not finite (or its quaternion is zero)`);
    }
    const start = seed === null
      ? this.lo.map((v, i) => 0.5 * ((this.continuous[i] ? 0 : v) +
                                     (this.continuous[i] ? 0 : this.hi[i])))
      : seed.slice();
    const starts = [start];
    if (maxStarts > 0) {
      starts.push(...this.startsNearest(aim).slice(0, maxStarts));
    }
    const k0 = this.k0;
    let total = 0;
    let best = null;
    // A quick pass (trust region, stuck starts given up), then, when none reached the
    // target, every start again to its end.
    for (const thorough of [false, true]) {
      for (let count = 1; count <= starts.length; count++) {
        const [q, positionError, angle, used] = thorough
          ? this.minimise(starts[count - 1], aim)
          : this.minimise(starts[count - 1], aim, k0.solve_iterations, k0.refined_gap, false,
                          k0.solve_step, k0.stall_iterations);
        total += used;
        if (this.exact(positionError, angle, k0.refined_gap)) {
          return {joints: this.reportJoints(q), status: Status.REACHED, positionError, angle,
                  unreachable: '', iterations: total,
                  starts: count + (thorough ? starts.length : 0)};
        }
        const cost = this.cost(positionError, angle);
        if (thorough && (best === null || cost < best[0])) {
          best = [cost, q, positionError, angle];
        }
      }
    }
    const [, q, positionError, angle] = best;
    return {joints: this.reportJoints(q), status: Status.OUT_OF_REACH, positionError, angle,
            unreachable: this.unreachablePart(aim, q), iterations: total,
            starts: 2 * starts.length};
  }

  cost(positionError, angle) {
    return positionError ** 2 + (Number.isNaN(angle) ? 0 : (this.weight * angle) ** 2);
  }

  reportJoints(q) {
    return q.map((v, i) => (this.continuous[i] ? pyMod(v + Math.PI, TWO_PI) - Math.PI : v));
  }

  unreachablePart(aim, q) {
    if (!this.pose) {
      return 'position';
    }
    for (const q0 of [q, ...this.c.start_poses.slice(0, 8)]) {
      if (this.minimise(q0, aim, this.k0.solve_iterations, this.k0.refined_gap, true)[1] <=
          this.k0.exact_gap_m) {
        return 'orientation';
      }
    }
    return 'position';
  }

  newGoal(target, aim) {
    this.lastTarget = target;
    [this.goal, this.goalTuple] = [aim, target];
    [this.projected, this.verified] = [false, false];
    if (this.projection === null) {
      this.unreachable = '';
    }
  }

  /** The nearest reachable position (IKSolver.project through its NumericWorkspace). */
  projectPosition(target, q) {
    const point = target.slice(0, this.k);
    // Remembered per target, as IKSolver.project does (its key: the point to 1e-12).
    const key = point.map((v) => Math.round(v * 1e12)).join(',');
    if (!this.projections.has(key)) {
      if (this.projections.size > 4096) {
        this.projections.clear();
      }
      const [best, gap] = this.workspaceSolve(point, q);
      this.projections.set(key, gap <= this.k0.exact_gap_m ? point
        : this.kin.placement(best)[0].slice(0, this.k));
    }
    return this.projections.get(key);
  }

  /** NumericWorkspace.solve: the joints whose tip is nearest `point`, and that gap. */
  workspaceSolve(point, seed) {
    const w = this.c.workspace;
    const gapOf = (q) => dist(this.kin.placement(q)[0], point, this.k);
    const tried = this.boundedLeastSquares(seed, point, Math.floor(w.polish_iterations / 4),
                                           this.k0.exact_gap_m);
    if (gapOf(tried) <= this.k0.exact_gap_m) {
      return [tried, gapOf(tried)];
    }
    const coarse = [seed, ...this.c.workspace_starts].map(
      (q) => this.boundedLeastSquares(q, point, w.coarse_iterations, 0));
    const ranked = coarse.map((q) => [gapOf(q), q]).sort((a, b) => a[0] - b[0])
      .slice(0, w.polished)
      .map(([, q]) => this.boundedLeastSquares(q, point, w.polish_iterations, 0));
    let winner = 0;
    const gaps = ranked.map(gapOf);
    for (let i = 1; i < gaps.length; i++) {
      if (gaps[i] < gaps[winner]) {
        winner = i;
      }
    }
    return [ranked[winner], gaps[winner]];
  }

  /**
   * workspace._bounded_least_squares for one row: tip distance within the limits.
   *
   * On flat buffers, with no allocation per iteration: the workspace search runs it from
   * every grid start, some 10^5 iterations per target.
   */
  boundedLeastSquares(q0, point, iterations, enoughGap) {
    const n = this.n;
    const k = this.k;
    const b = this.lsBuffers || (this.lsBuffers = {
      q: new Float64Array(n), trial: new Float64Array(n), step: new Float64Array(n),
      error: new Float64Array(3), trialError: new Float64Array(3),
      jac: new Float64Array(3 * n), trialJac: new Float64Array(3 * n),
      free: new Float64Array(3 * n), position: new Float64Array(3),
      normal: new Float64Array(9), x: new Float64Array(3), y: new Float64Array(3),
      blocked: new Uint8Array(n)});
    const lo = this.lo;
    const hi = this.hi;
    let q = b.q;
    let trial = b.trial;
    let error = b.error;
    let trialError = b.trialError;
    let jac = b.jac;
    let trialJac = b.trialJac;
    for (let i = 0; i < n; i++) {
      q[i] = Math.min(Math.max(q0[i], lo[i]), hi[i]);
    }
    const errorAt = (joints, e, j) => {
      this.kin.positionAndJacobianInto(joints, k, b.position, j);
      let cost = 0;
      for (let i = 0; i < k; i++) {
        e[i] = point[i] - b.position[i];
        cost += e[i] * e[i];
      }
      return cost;
    };
    const leastNorm = (j, e, damping, drop, out) => dampedLeastNormInto(j, k, n, e, damping,
                                                                         drop, out, b);
    let damping = 1e-3;
    let cost = errorAt(q, error, jac);
    for (let it = 0; it < iterations; it++) {
      if (cost <= enoughGap * enoughGap) {
        break;
      }
      const step = b.step;
      leastNorm(jac, error, damping, null, step);
      // leave_blocked_joints: joints pressed against a limit leave the step.
      let anyBlocked = false;
      for (let i = 0; i < n; i++) {
        b.blocked[i] = (q[i] <= lo[i] && step[i] < 0) || (q[i] >= hi[i] && step[i] > 0);
        anyBlocked = anyBlocked || b.blocked[i] === 1;
      }
      if (anyBlocked) {
        leastNorm(jac, error, damping, b.blocked, b.free);
        for (let i = 0; i < n; i++) {
          step[i] = b.blocked[i] ? 0 : b.free[i];
        }
      }
      for (let i = 0; i < n; i++) {
        trial[i] = Math.min(Math.max(q[i] + step[i], lo[i]), hi[i]);
      }
      const trialCost = errorAt(trial, trialError, trialJac);
      const better = trialCost < cost;
      if (!better && damping >= this.k0.max_damping) {
        break;
      }
      if (better) {
        [q, trial] = [trial, q];
        [error, trialError] = [trialError, error];
        [jac, trialJac] = [trialJac, jac];
        cost = trialCost;
      }
      damping = Math.min(Math.max(better ? damping * 0.3 : damping * 10, 1e-12),
                         this.k0.max_damping);
    }
    // The buffers may have swapped: keep them for the next call.
    [b.q, b.trial, b.error, b.trialError, b.jac, b.trialJac] =
      [q, trial, error, trialError, jac, trialJac];
    return Array.from(q);
  }

  /** Check that the goal is reachable from near q; project it where it is not. */
  verify(q) {
    const aim = this.goal;
    this.verified = true;
    let trial = clip(q, this.lo, this.hi);
    for (let i = 0; i < this.k0.quick_reach_iterations; i++) {
      let positionError;
      let angle;
      [trial, positionError, angle] = this.lmStep(trial, aim);
      if (this.exact(positionError, angle, this.k0.exact_gap_m)) {
        return;
      }
    }
    if (this.exact(...this.errors(trial, aim), this.k0.exact_gap_m)) {
      return;
    }
    let goal;
    let joints = null;
    let part = 'position';
    if (!this.pose && this.c.workspace) {
      goal = this.projectPosition(this.goalTuple, q);
      if (dist(goal, this.goalTuple) <= 1e-12) {
        return;
      }
    } else if (this.continuesProjection(aim)) {
      let positionError;
      let angle;
      [joints, positionError, angle] = this.minimise(this.projection[1], aim);
      if (this.exact(positionError, angle, this.k0.exact_gap_m)) {
        return;
      }
      const [position, rotation] = this.kin.placement(joints);
      goal = this.formatTarget(position, rotation);
      part = this.unreachable || 'position';
    } else {
      const result = this.solve(this.goalTuple, clip(q, this.lo, this.hi), 16);
      if (result.status === Status.REACHED) {
        return;
      }
      joints = result.joints;
      const [position, rotation] = this.kin.placement(joints);
      goal = this.formatTarget(position, rotation);
      part = this.unreachablePart(aim, joints);
    }
    [this.goal, this.goalTuple] = [this.parseTarget(goal), goal];
    this.projected = true;
    this.unreachable = joints === null ? 'position' : part;
    if (joints !== null) {
      this.projection = [aim, joints, part];
    }
  }

  continuesProjection(aim) {
    if (this.projection === null) {
      return false;
    }
    const previous = this.projection[0];
    if (dist(previous.position, aim.position) > this.c.step_m) {
      return false;
    }
    if (this.pose) {
      const turn = log3(matMul(aim.rotation, transpose(previous.rotation)));
      return Math.sqrt(dot(turn, turn)) * this.weight <= this.c.step_m;
    }
    return true;
  }

  // ---- waypoints ----

  /** [the aim of this tick, whether it is the goal itself]. */
  waypoint(position, rotation, goal, dt) {
    const s = this.c.solver;
    const maxStep = Math.min(this.c.step_m, s.max_cartesian_speed * dt);
    const maxTurn = Math.min(this.stepRad, s.max_angular_speed * dt);
    const distance = dist(position, goal.position, this.k);
    let share = distance <= maxStep ? 1 : maxStep / distance;
    let turn = null;
    let angle = 0;
    if (this.pose) {
      turn = log3(matMul(goal.rotation, transpose(rotation)));
      angle = Math.sqrt(dot(turn, turn));
    }
    if (angle > maxTurn) {
      share = Math.min(share, maxTurn / angle);
    }
    if (share >= 1) {
      return [goal, true];
    }
    const aimPosition = distance > 0
      ? this.positionWaypoint(position, goal.position, share * distance) : goal.position;
    if (this.pose) {
      return [{position: aimPosition, rotation: matMul(exp3(turn.map((v) => share * v)),
                                                       rotation)}, false];
    }
    return [{position: aimPosition, rotation: null}, false];
  }

  positionWaypoint(tip, goal, maxStep) {
    const d = dist(tip, goal);
    if (d <= maxStep) {
      return goal;
    }
    if (this.c.route_radius > 0 && this.k === 3) {
      const center = this.c.route_center;
      const a = tip.map((v, i) => v - center[i]);
      const b = goal.map((v, i) => v - center[i]);
      if (Math.hypot(...a) - d < this.c.route_radius &&
          segmentEntersBall(a, b, this.c.route_radius, this.k0.disk_touch_tolerance_m)) {
        return sphericalWaypoint(a, b, maxStep).map((v, i) => v + center[i]);
      }
    }
    return tip.map((v, i) => v + (goal[i] - v) * (maxStep / d));
  }

  // ---- the tick ----

  /**
   * The network's step refined (or least squares alone), fell back, error (PoseTick._refine):
   * a velocity-limited network step gives way to the damped step from `q` if that is scaled
   * clearly less (damped_step_scaling_share) and turns no elbow through its stretch.
   */
  async refine(q, aim, branch, stepLength, evaluated, dt) {
    const s = this.c.solver;
    let iterations = s.refine_iterations;
    let fallback = false;
    let networkError = NaN;
    let start = q;
    const atStart = evaluated;
    if (this.network) {
      let networkTarget = aim.position.slice(0, this.k);
      if (this.c.pose_network) {
        networkTarget = networkTarget.concat(aim.rotation.flat());
      }
      const delta = await this.network.step(q, [...networkTarget, branch]);
      start = q.map((v, i) => v + delta[i]);
      evaluated = this.kin.placementAndJacobian(start);
      if (this.c.pose_network) {
        const [, positionError, angle] = this.residual(evaluated[0], evaluated[1], aim);
        networkError = positionError + this.weight * angle;
      } else {
        networkError = dist(evaluated[0], aim.position, this.k);
      }
      const limit = s.fallback ? s.fallback_ratio * stepLength + s.fallback_floor_m : Infinity;
      if (!(networkError <= limit)) {
        [fallback, start, evaluated] = [true, q, atStart];
        if (s.fallback) {
          iterations = Math.max(iterations, this.k0.fallback_iterations);
        }
      }
    }
    let refined = this.leastSquares(start, aim, iterations, evaluated);
    if (this.network && !fallback && s.fallback && iterations > 0 && dt > 0) {
      const scaling = this.velocityScaling(q, refined[0], dt);
      if (scaling > 1) {
        const damped = this.leastSquares(q, aim, iterations, atStart);
        if (this.velocityScaling(q, damped[0], dt) <=
            this.k0.damped_step_scaling_share * scaling && this.keepsElbows(q, damped[0])) {
          [fallback, refined] = [true, damped];
        }
      }
    }
    return [refined[0], fallback, networkError, refined[1], refined[2]];
  }

  /** [joints, the first step's error, the final errors or null] (PoseTick._least_squares). */
  leastSquares(start, aim, iterations, evaluated) {
    let solution = start;
    let first = NaN;
    let final = null;
    for (let k = 0; k < iterations; k++) {
      const previous = solution;
      let positionError;
      let angle;
      [solution, positionError, angle] = this.lmStep(solution, aim, evaluated,
                                                     this.k0.refined_gap);
      evaluated = null;
      if (k === 0) {
        first = positionError + (Number.isNaN(angle) ? 0 : this.weight * angle);
      }
      if (solution === previous) {
        final = [positionError, angle];
        break;
      }
    }
    return [solution, first, final];
  }

  /** Whether no elbow joint changes sign from `q` to `solution` (PoseTick._keeps_elbows). */
  keepsElbows(q, solution) {
    return this.c.elbow_joints.every((e) => q[e] * solution[e] > 0 || q[e] === 0);
  }

  /** How far past its velocity limit the move to `solution` goes (<= 1: not). */
  velocityScaling(q, solution, dt) {
    return boundedMoves(q, solution, dt, this.lo, this.hi, this.velocity, this.continuous)[2];
  }

  hold(q, dt) {
    return q.map((v, i) => {
      const allowance = this.velocity[i] * dt;
      const move = Math.min(Math.max(v, this.lo[i]), this.hi[i]) - v;
      return v + Math.min(Math.max(move, -allowance), allowance);
    });
  }

  fk(q) {
    return this.kin.placement(q)[0];
  }

  /** How far the tool is from `goal`: metres (along the waypoints' way) plus weighted rad. */
  wayLeft(joints, goal) {
    const aim = this.parseTarget(goal);
    const [position, rotation] = this.kin.placement(joints);
    let [, positionError, angle] = this.residual(position, rotation, aim);
    if (this.c.route_radius > 0 && this.k === 3) {
      const center = this.c.route_center;
      const a = position.map((v, i) => v - center[i]);
      const b = aim.position.map((v, i) => v - center[i]);
      if (segmentEntersBall(a, b, this.c.route_radius, this.k0.disk_touch_tolerance_m)) {
        const ra = Math.hypot(...a);
        const rb = Math.hypot(...b);
        const cosSweep = dot(a, b) / Math.max(ra * rb, 1e-24);
        const sweep = Math.acos(Math.min(Math.max(cosSweep, -1), 1));
        positionError = Math.hypot(rb - ra, 0.5 * (ra + rb) * sweep);
      }
    }
    return positionError + (Number.isNaN(angle) ? 0 : this.weight * angle);
  }

  /** [goal, goal error, target error, goal angle, target angle, projected] (describe). */
  describe(joints, target) {
    const key = target.map(Number);
    const aim = this.parseTarget(key);
    if (!sameTarget(this.lastTarget, key)) {
      this.newGoal(key, aim);
      this.verify(joints);
    }
    const [goalError, goalAngle] = this.errors(joints, this.goal);
    const [targetError, targetAngle] = this.errors(joints, aim);
    return [this.goalTuple, goalError, targetError, goalAngle, targetAngle, this.projected];
  }

  /** The joints reaching `goal` nearest `joints`, keeping the elbows (null: none found). */
  nearestSolution(goal, joints) {
    let reached = [];
    if (this.pose) {
      const aim = this.parseTarget(goal);
      for (const q0 of [joints, ...this.c.start_poses]) {
        const [solution, positionError, angle] = this.minimise(q0, aim);
        if (this.exact(positionError, angle, this.k0.exact_gap_m)) {
          reached.push(solution);
        }
      }
    } else {
      // NumericWorkspace.nearest_solution: every start, then the closest polished (exact
      // gaps equal; then the ends that keep the bent elbows, then the least joint motion).
      const w = this.c.workspace;
      const point = goal.slice(0, this.k);
      const exact = this.k0.exact_gap_m;
      const gapOf = (q) => dist(this.kin.placement(q)[0], point, this.k);
      const ends = [joints, ...this.c.workspace_starts]
        .map((q) => this.boundedLeastSquares(q, point, w.coarse_iterations, 0));
      const [, motions, flips] = this.motionAndFlips(ends, joints);
      reached = ends.map((q, i) => [Math.max(gapOf(q), exact), flips[i] ? 1 : 0, motions[i], q])
        .sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]).slice(0, 4 * w.polished)
        .map(([, , , q]) => this.boundedLeastSquares(q, point, w.polish_iterations, 0))
        .filter((q) => gapOf(q) <= exact);
    }
    return reached.length ? this.nearestKeepingElbows(reached, joints) : null;
  }

  /** workspace.motion_and_flips: each candidate's move, its squared length, elbow flips. */
  motionAndFlips(candidates, joints, bentRad = 0.05) {
    const elbows = this.c.elbow_joints;
    const moves = candidates.map((q) => q.map((v, i) => (this.continuous[i]
      ? pyMod(v - joints[i] + Math.PI, TWO_PI) - Math.PI : v - joints[i])));
    const motions = moves.map((move) => move.reduce((sum, v) => sum + v * v, 0));
    const flips = candidates.map((q) => elbows.some(
      (e) => Math.abs(joints[e]) > bentRad && Math.sign(q[e]) !== Math.sign(joints[e])));
    return [moves, motions, flips];
  }

  /** workspace.nearest_keeping_elbows: the least joint motion that flips no bent elbow. */
  nearestKeepingElbows(candidates, joints, bentRad = 0.05) {
    const [moves, motions, flips] = this.motionAndFlips(candidates, joints, bentRad);
    const pool = flips.some((f) => !f) ? flips.map((f) => !f) : flips.map(() => true);
    let best = -1;
    let bestCost = Infinity;
    motions.forEach((motion, i) => {
      const cost = pool[i] ? motion : Infinity;
      if (cost < bestCost) {
        [best, bestCost] = [i, cost];
      }
    });
    return joints.map((v, i) => v + moves[best][i]);
  }

  /** The next command for joints `q` toward `target` over `dt` seconds. */
  async tick(joints, target, dt, branch) {
    if (!(dt > 0 && dt < Infinity)) {
      throw new Error(`tick duration must be a finite number > 0, got ${dt}`);
    }
    if (joints.length !== this.n) {
      throw new Error(`expected ${this.n} joint positions, got ${joints.length}`);
    }
    const key = target.map(Number);
    const aim = this.parseTarget(key);
    const valid = joints.every((v, i) => this.hardLo[i] <= v && v <= this.hardHi[i] &&
                               Number.isFinite(v));
    const none = {projected: false, fallback: false, positionLimited: false,
                  velocityLimited: false, branch: 1, networkError: NaN, reached: false,
                  goalErrorRad: NaN, targetErrorRad: NaN, unreachable: ''};
    if (!valid) {
      return {...none, command: null, status: Status.INVALID_STATE, goal: key,
              goalError: NaN, targetError: NaN};
    }
    const q = joints.slice();
    const br = branch === null || branch === undefined || branch >= 0 ? 1 : -1;
    let evaluated = this.kin.placementAndJacobian(q);
    if (aim === null) {
      const command = this.hold(q, dt);
      const here = this.formatTarget(evaluated[0], evaluated[1]);
      const [goalError, goalAngle] = this.errors(command, this.parseTarget(here));
      return {...none, command, status: Status.INVALID_TARGET, goal: here, goalError,
              targetError: NaN, goalErrorRad: goalAngle};
    }
    if (!sameTarget(this.lastTarget, key)) {
      this.newGoal(key, aim);
    }
    const [position, rotation] = evaluated;
    let [aimNow, atGoal] = this.waypoint(position, rotation, this.goal, dt);
    if (!this.verified && !atGoal) {
      this.verify(q);
      [aimNow, atGoal] = this.waypoint(position, rotation, this.goal, dt);
    }
    let command;
    let positionLimited;
    let velocityLimited;
    let fallback;
    let networkError;
    let goalPositionError;
    let goalAngle;
    for (;;) {
      let stepLength;
      if (this.c.pose_network) {
        const [, stepPosition, stepAngle] = this.residual(position, rotation, aimNow);
        stepLength = stepPosition + this.weight * stepAngle;
      } else {
        stepLength = dist(aimNow.position, position, this.k);
      }
      let solution;
      let before;
      let final;
      [solution, fallback, networkError, before, final] = await this.refine(
        q, aimNow, br, stepLength, evaluated, dt);
      [command, positionLimited, velocityLimited] = safeCommand(
        q, solution, dt, this.lo, this.hi, this.velocity, this.continuous);
      if (atGoal && final !== null && !(positionLimited || velocityLimited)) {
        [goalPositionError, goalAngle] = final;
      } else {
        [goalPositionError, goalAngle] = this.errors(command, this.goal);
      }
      if (this.verified || this.exact(goalPositionError, goalAngle, this.k0.exact_gap_m)) {
        this.verified = true;
        break;
      }
      const after = goalPositionError + (Number.isNaN(goalAngle) ? 0 : this.weight * goalAngle);
      if (atGoal && !velocityLimited && after <= this.k0.converging * before) {
        break;
      }
      this.verify(solution);
      if (!this.projected) {
        break;
      }
      [aimNow, atGoal] = this.waypoint(position, rotation, this.goal, dt);
    }
    let targetPositionError = goalPositionError;
    let targetAngle = goalAngle;
    if (this.projected) {
      [targetPositionError, targetAngle] = this.errors(command, aim);
    }
    const s = this.c.solver;
    const reached = goalPositionError <= s.goal_tolerance_m && !(goalAngle > s.goal_tolerance_rad);
    let status;
    if (this.projected) {
      status = Status.OUT_OF_REACH;
    } else if (fallback) {
      status = Status.FALLBACK;
    } else if (positionLimited) {
      status = Status.JOINT_LIMIT;
    } else if (reached) {
      status = Status.REACHED;
    } else {
      status = Status.MOVING;
    }
    return {command, status, goal: this.goalTuple, goalError: goalPositionError,
            targetError: targetPositionError, projected: this.projected, fallback,
            positionLimited, velocityLimited, branch: 1, networkError, reached,
            goalErrorRad: goalAngle, targetErrorRad: targetAngle,
            unreachable: this.projected ? this.unreachable : ''};
  }
}

function dot3(v) {
  return v.reduce((s, x) => s + x * x, 0);
}

// ---- the tracker (ik/solver.py Tracker) -----------------------------------------------------------

const crept = (start, error, allowance) => error > 0.5 * start && start - error < allowance;

/**
 * The state a stream of ticks needs, as the IK node keeps it: a way out of traps. When the
 * way left to a reachable goal stops shrinking (or creeps, held at a limit), the tracker
 * finds the exact solution nearest the joints and moves there in joint space
 * (RECONFIGURING), within the limits and velocity limits, then resumes ordinary ticks.
 */
export class Tracker {
  constructor(tick) {
    this.tick_ = tick;
    const t = tick.c.tracker;
    this.stallTicks = t.stall_ticks;
    this.crawlWindowStalls = t.crawl_window_stalls;
    this.heldCreepStepShare = t.held_creep_step_share;
    this.crawlStepShare = t.crawl_step_share;
    this.progressFloor = 1e-9 * tick.c.reach;
    this.branch = null;
    this.target = null;
    this.reset();
  }

  reset() {
    this.best = Infinity;
    this.sinceBest = 0;
    this.heldTicks = 0;
    this.heldFrom = Infinity;
    this.windowTicks = 0;
    this.windowFrom = Infinity;
    this.searched = false;
    this.detour = null;
  }

  fk(q) {
    return this.tick_.fk(q);
  }

  async tick(joints, target, dt) {
    const key = target.map(Number);
    if (!sameTarget(this.target, key)) {
      this.target = key;
      this.reset();
    }
    let result;
    if (this.detour !== null) {
      result = this.detourTick(joints, key, dt);
    } else {
      result = await this.tick_.tick(joints, key, dt, this.branch);
      this.watch(result, joints, dt);
    }
    if (result.command) {
      this.branch = result.branch;
    }
    return result;
  }

  watch(result, joints, dt) {
    if (!result.command || result.reached || this.searched) {
      this.sinceBest = 0;
      return;
    }
    const t = this.tick_;
    const error = t.wayLeft(result.command, result.goal);
    if (result.positionLimited) {
      if (this.heldTicks === 0) {
        this.heldFrom = error;
      }
      this.heldTicks += 1;
    } else {
      this.heldTicks = 0;
    }
    const fullStep = Math.min(t.c.step_m, t.c.solver.max_cartesian_speed * dt);
    let held = false;
    if (this.heldTicks >= this.stallTicks) {
      held = crept(this.heldFrom, error, this.heldCreepStepShare * fullStep * this.heldTicks);
      this.heldTicks = 0;
    }
    if (this.windowTicks === 0) {
      this.windowFrom = error;
    }
    this.windowTicks += 1;
    if (this.windowTicks > this.crawlWindowStalls * this.stallTicks) {
      held = held || crept(this.windowFrom, error,
                           this.crawlStepShare * fullStep * this.windowTicks);
      this.windowTicks = 0;
    }
    if (error < this.best - this.progressFloor) {
      this.best = error;
      this.sinceBest = 0;
    } else {
      this.sinceBest += 1;
    }
    if (this.sinceBest >= this.stallTicks || held) {
      this.sinceBest = 0;
      this.heldTicks = 0;
      this.windowTicks = 0;
      this.searched = true;
      this.detour = t.nearestSolution(result.goal, joints);
    }
  }

  detourTick(joints, target, dt) {
    const t = this.tick_;
    const move = this.detour.map((v, i) => (t.continuous[i]
      ? pyMod(v - joints[i] + Math.PI, TWO_PI) - Math.PI : v - joints[i]));
    let biggest = 0;
    move.forEach((m, i) => {
      biggest = Math.max(biggest, Math.abs(m) / (t.velocity[i] * dt));
    });
    const command = joints.map((v, i) => {
      const next = v + move[i] / Math.max(1, biggest);
      return t.continuous[i] ? next : Math.min(Math.max(next, t.lo[i]), t.hi[i]);
    });
    const [goal, goalError, targetError, goalAngle, targetAngle, projected] =
      t.describe(command, target);
    let status = Status.RECONFIGURING;
    if (biggest <= 1) {
      this.detour = null;
      this.reset();
      const s = t.c.solver;
      if (goalError <= s.goal_tolerance_m && !(goalAngle > s.goal_tolerance_rad)) {
        status = projected ? Status.OUT_OF_REACH : Status.REACHED;
      }
    }
    return {command, status, goal, goalError, targetError, projected, fallback: false,
            positionLimited: false, velocityLimited: biggest > 1,
            branch: t.branchOf ? t.branchOf(command, this.branch) : 1,
            networkError: NaN, reached: status !== Status.RECONFIGURING, detour: true,
            goalErrorRad: goalAngle, targetErrorRad: targetAngle, unreachable: ''};
  }
}

/**
 * The page's tick for a configuration, in a Tracker as the IK node runs it: the planar port
 * (its detour search by the general tick's port of the same chain), or the general tick.
 */
export function makeTick(config, network) {
  if (config.kind === 'planar') {
    const planar = new PlanarTick(config, network);
    planar.search = new GeneralTick(config.search, null);
    return new Tracker(planar);
  }
  return new Tracker(new GeneralTick(config, network));
}
