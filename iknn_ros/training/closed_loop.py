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
States the network visits in its own closed loop, labelled by the exact answers (DAgger).

A network trained on states drawn uniformly within the limits is imitated well where its
teacher goes, but in closed loop its small errors take a redundant arm where the teacher
never goes: folded against two joint limits, where no local step helps. Rolling the
network out, labelling the states it visits with the exact least-motion answers and
training on them as well teaches it to keep out of those places (Ross et al., 2011).

The rollout is the solver's loop in its network-only form, in batch: a waypoint at most
one trained step toward a reachable goal (around the hole about the shoulder, as the
solver routes it), the network's step, the position limits less the
margin and the velocity limits. For pose models the goal is a reachable pose and the
waypoint turns toward it as the solver's does: position and orientation the same share of
the way each, neither beyond its trained step.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Optional

from iknn_ros.ik.routes import pose_waypoints
from iknn_ros.ik.solver import route_disk
from iknn_ros.ik.solver import route_waypoint
from iknn_ros.ik.solver import SolverConfig
from iknn_ros.kinematics import KinematicChain
from iknn_ros.kinematics import workspace_of
from iknn_ros.kinematics.angles import wrap_to_pi
from iknn_ros.kinematics.sampling import least_motion_labels
from iknn_ros.kinematics.sampling import reachable_targets
from iknn_ros.kinematics.targets import pose_targets
import numpy as np
from numpy.typing import NDArray
import torch
from torch import nn

# The control period the velocity limits are applied over, as in the evaluation.
ROLLOUT_DT_S = 0.01
# A state is recorded when some joint moved more than this since the arm's last record,
# so an arm held against a limit is recorded once, not for every tick it stays there.
RECORD_MOTION_RAD = 1e-4


@dataclasses.dataclass(frozen=True)
class RolloutSettings:
    """How many arms run, and for how long; ``step_rad`` set: pose targets."""

    arms: int
    targets_per_arm: int
    ticks_per_target: int
    step_m: float
    tolerance_m: float
    step_rad: Optional[float] = None
    tolerance_rad: float = 0.0


def visited_states(model: nn.Module, chain: KinematicChain, settings: RolloutSettings,
                   rng: np.random.Generator) -> tuple:
    """
    Run the network in closed loop from random states to random targets.

    Returns the (joints, waypoint) pairs it was asked about, and the share of targets
    reached within ``tolerance_m``. ``chain`` carries the limits the commands respect.
    """
    lower = np.where(chain.continuous, -np.inf, chain.lower)
    upper = np.where(chain.continuous, np.inf, chain.upper)
    allowance = chain.velocity_limits * ROLLOUT_DT_S
    q = chain.random_configurations(rng, settings.arms)
    # The paths the solver takes, around the hole about the shoulder.
    center, radius = route_disk(chain, workspace_of(chain), SolverConfig().keep_out_fraction)
    joints_seen, waypoints_seen = [], []
    reached = 0
    model.eval()
    for _ in range(settings.targets_per_arm):
        if settings.step_rad is None:
            goal = reachable_targets(chain, rng, settings.arms)
        else:
            goal = pose_targets(chain.tool_frames(chain.random_configurations(
                rng, settings.arms)))
        last = np.full_like(q, np.inf)
        done = np.zeros(settings.arms, dtype=bool)
        for _ in range(settings.ticks_per_target):
            waypoint, at_goal = _waypoint(chain, q, goal, settings, center, radius)
            done |= at_goal
            if done.all():
                break
            record = ~done & (np.max(np.abs(q - last), axis=-1) > RECORD_MOTION_RAD)
            joints_seen.append(q[record])
            waypoints_seen.append(waypoint[record])
            last = np.where(record[:, None], q, last)
            delta = _network_step(model, chain, q, waypoint)
            move = np.clip(q + delta, lower, upper) - q
            scale = np.max(np.abs(move) / allowance, axis=-1, keepdims=True)
            q = np.where(done[:, None], q, q + move / np.maximum(scale, 1.0))
        reached += int(done.sum())
    model.train()
    share = reached / float(settings.arms * settings.targets_per_arm)
    return np.concatenate(joints_seen), np.concatenate(waypoints_seen), share


def _waypoint(chain: KinematicChain, q: NDArray[np.float64], goal: NDArray[np.float64],
              settings: RolloutSettings, center: NDArray[np.float64], radius: float) -> tuple:
    """Return this tick's waypoint toward each goal, and which arms are within tolerance."""
    if settings.step_rad is None:
        tip = chain.fk(q)
        distance = np.linalg.norm(goal - tip, axis=-1)
        return (route_waypoint(tip, goal, np.full(len(q), settings.step_m), center, radius),
                distance <= settings.tolerance_m)
    waypoint, distance, angle = pose_waypoints(chain.tool_frames(q), goal, settings.step_m,
                                               settings.step_rad, center, radius)
    return (waypoint, (distance <= settings.tolerance_m) & (angle <= settings.tolerance_rad))


def _network_step(model: nn.Module, chain: KinematicChain, joints: NDArray[np.float64],
                  waypoint: NDArray[np.float64]) -> NDArray[np.float64]:
    # The network takes continuous joints wrapped to [-pi, pi), as the runtime feeds them.
    inputs = np.where(chain.continuous, wrap_to_pi(joints), joints)
    device = next(model.parameters()).device
    with torch.no_grad():
        delta = model(torch.tensor(inputs, dtype=torch.float32, device=device),
                      torch.tensor(waypoint, dtype=torch.float32, device=device),
                      torch.ones((len(joints), 1), dtype=torch.float32, device=device))
    return delta.double().cpu().numpy()


def closed_loop_samples(model: nn.Module, chain: KinematicChain, settings: RolloutSettings,
                        comfort_gain: float, count: int, rng: np.random.Generator,
                        active_set: bool = True) -> tuple:
    """
    Return up to ``count`` visited states with their exact labels, and the rollout's success.

    States are drawn without replacement from everything the rollout visited.
    """
    joints, waypoints, share = visited_states(model, chain, settings, rng)
    pick = rng.permutation(len(joints))[:count]
    labelled = least_motion_labels(chain, joints[pick], waypoints[pick], settings.step_m,
                                   comfort_gain, active_set,
                                   math.inf if settings.step_rad is None else settings.step_rad)
    return labelled, share, len(joints)
