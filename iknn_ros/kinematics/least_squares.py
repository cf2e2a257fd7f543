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
Damped least squares, written once: the step every solver of the package takes.

Batched numpy: ``jac`` is ``(..., m, n)``, ``error`` ``(..., m)``, joints ``(..., n)``; a
single problem is the same call without the leading axes. The one-arm ticks that run in
Python floats (the planar fast path, the browser's port in web/static/tick.js) and the general
tick's Eigen solve are the same step, held equal to these by tests.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]
LeastNorm = Callable[[FloatArray, FloatArray], FloatArray]


def damped_least_norm(jac: FloatArray, error: FloatArray, damping: ArrayLike) -> FloatArray:
    """
    Return ``J^T (J J^T + damping I)^-1 error``: the damped least-norm step of each row.

    ``damping`` is one number or one per row. It equals ``(J^T J + damping I)^-1 J^T error``
    (Levenberg-Marquardt's step) at the cost of an m x m solve instead of n x n.
    """
    jt = np.swapaxes(jac, -1, -2)
    lhs = jac @ jt + np.asarray(damping, dtype=np.float64)[..., None, None] * np.eye(
        jac.shape[-2])
    return (jt @ np.linalg.solve(lhs, error[..., None]))[..., 0]


def least_norm(jac: FloatArray, error: FloatArray) -> FloatArray:
    """Return ``pinv(J) error``: the undamped least-norm step (exact labels, no singularity)."""
    return (np.linalg.pinv(jac) @ error[..., None])[..., 0]


def stop_at_limits(joints: FloatArray, step: FloatArray, jac: FloatArray, error: FloatArray,
                   lower: FloatArray, upper: FloatArray, solve: LeastNorm) -> FloatArray:
    """
    Return ``step`` with every joint it would carry past a limit stopped at that limit.

    The other joints take up the rest of the error (``solve(free jac, rest)``: one
    active-set pass), so a redundant arm works around a limit instead of stalling on it,
    where clipping the step would undo it.
    """
    trial = joints + step
    over, under = trial > upper, trial < lower
    fixed = over | under
    # count_nonzero, not any(): a microsecond less per call on one arm (measured).
    if not np.count_nonzero(fixed):
        return step
    fixed_step = np.where(over, upper - joints, np.where(under, lower - joints, 0.0))
    rest = error - (jac @ fixed_step[..., None])[..., 0]
    free_step = solve(np.where(fixed[..., None, :], 0.0, jac), rest)
    return np.where(fixed, fixed_step, free_step)


def leave_blocked_joints(joints: FloatArray, step: FloatArray, jac: FloatArray,
                         error: FloatArray, lower: FloatArray, upper: FloatArray,
                         solve: LeastNorm) -> FloatArray:
    """
    Return the step again without the joints pressed against a limit it pushes them into.

    For a minimisation that clips its trial points: a joint at its limit leaves the problem,
    so the others take the exact constrained step instead of a clipped unconstrained one.
    """
    blocked = ((joints <= lower) & (step < 0.0)) | ((joints >= upper) & (step > 0.0))
    if not np.count_nonzero(blocked):
        return step
    return np.where(blocked, 0.0, solve(np.where(blocked[..., None, :], 0.0, jac), error))
