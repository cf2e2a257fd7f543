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
Serial chains read from URDF: joints, limits, forward kinematics and Jacobians.

The chain is the single source of truth for joint names, limits and link geometry: the
training data, the model card, the solver and the nodes all take it from here, so what the
network learns is exactly what RViz draws. Everything is batched numpy: functions take
joint vectors of shape ``(..., n)`` and return arrays with the same leading shape.

Angles follow the URDF: a joint rotates its child frame about its axis by ``q`` radians
(a prismatic joint moves it along its axis by ``q`` metres). Continuous joints have infinite
limits; their angles are wrapped to ``[-pi, pi)`` only where a canonical value is needed (the
arm itself may turn any number of times). A joint that mimics another one of the chain
follows it (``multiplier * q + offset``) and is not a joint vector entry.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import os
from pathlib import Path
from typing import Iterator, Optional, Sequence, Union
import xml.etree.ElementTree as ElementTree

from iknn_ros.kinematics.angles import wrap_to_pi
import numpy as np
from numpy.typing import ArrayLike, NDArray
from urdf_parser_py import urdf as urdf_model
from urdf_parser_py.xml_reflection import core as urdf_reflection

FloatArray = NDArray[np.float64]

SUPPORTED_JOINT_TYPES = ('revolute', 'continuous', 'prismatic')


class UrdfError(ValueError):
    """A robot description that cannot be turned into a supported kinematic chain."""


# --------------------------------------------------------------------------------------
# Small geometry helpers
# --------------------------------------------------------------------------------------

def rpy_to_matrix(roll: float, pitch: float, yaw: float) -> FloatArray:
    """Return the rotation matrix of URDF fixed-axis roll, pitch, yaw (``Rz @ Ry @ Rx``)."""
    cr, sr = math.cos(roll), math.sin(roll)
    cp, sp = math.cos(pitch), math.sin(pitch)
    cy, sy = math.cos(yaw), math.sin(yaw)
    return np.array([
        [cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
        [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
        [-sp, cp * sr, cp * cr],
    ])


def homogeneous(rotation: ArrayLike, translation: ArrayLike) -> FloatArray:
    """Return the 4x4 transform with the given rotation and translation."""
    t = np.eye(4)
    t[:3, :3] = np.asarray(rotation, dtype=np.float64)
    t[:3, 3] = np.asarray(translation, dtype=np.float64)
    return t


def axis_angle_matrices(axis: FloatArray, angles: FloatArray) -> FloatArray:
    """Return rotation matrices ``(..., 3, 3)`` about a unit axis by each angle (Rodrigues)."""
    x, y, z = axis
    k = np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])
    c = np.cos(angles)[..., None, None]
    s = np.sin(angles)[..., None, None]
    return np.eye(3) + s * k + (1.0 - c) * (k @ k)


# --------------------------------------------------------------------------------------
# The chain
# --------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class JointSpec:
    """
    One moving joint of a chain, as the URDF describes it.

    ``origin`` maps the frame of the previous moving joint (after its motion) to this
    joint's frame, with every fixed joint in between folded in. A joint with ``mimic`` set
    follows the actuated joint of that name: its position is ``multiplier * q + offset``
    (mimics of mimics composed), so it is not an entry of the joint vector.
    """

    name: str
    joint_type: str
    parent_link: str
    child_link: str
    origin: FloatArray
    axis: FloatArray
    lower: float
    upper: float
    velocity: float
    mimic: Optional[str] = None
    multiplier: float = 1.0
    offset: float = 0.0

    @property
    def is_continuous(self) -> bool:
        """Return whether the joint may turn without bound."""
        return self.joint_type == 'continuous'

    @property
    def is_prismatic(self) -> bool:
        """Return whether the joint slides (metres) rather than turns (radians)."""
        return self.joint_type == 'prismatic'


@dataclasses.dataclass(frozen=True)
class PlanarGeometry:
    """
    A chain whose joint axes are all parallel to the base z axis, described in its plane.

    In base coordinates, with ``phi`` the accumulated in-plane rotation: for each joint,
    ``p += R(phi) @ offsets[i]``, then ``phi += yaw_offsets[i] + axis_signs[i] * q[i]``;
    finally ``p += R(phi) @ tip_offset``. The plane lies at height ``height``.
    """

    offsets: FloatArray
    yaw_offsets: FloatArray
    axis_signs: FloatArray
    tip_offset: FloatArray
    height: float


class KinematicChain:
    """
    A serial chain of revolute, continuous and prismatic joints between a base and a tip.

    Build it with :meth:`from_urdf`. Position targets are 2D (x, y) for planar chains and
    3D otherwise; :attr:`target_dim` says which. :attr:`joints` are the actuated joints (the
    joint vector); :attr:`followers` the mimic joints between them, which move with them.
    """

    def __init__(self, robot_name: str, base_link: str, tip_link: str,
                 joints: Sequence[JointSpec], tip_offset: FloatArray) -> None:
        """
        Build a chain from its moving joints, base to tip (followers among them).

        ``tip_offset`` maps the frame of the last moving joint to the tip link.
        """
        motions = tuple(joints)
        actuated = tuple(j for j in motions if j.mimic is None)
        if not actuated:
            raise UrdfError(
                f"the chain from '{base_link}' to '{tip_link}' has no revolute, continuous or "
                'prismatic joint to move')
        index = {j.name: i for i, j in enumerate(actuated)}
        for j in motions:
            if j.mimic is not None and j.mimic not in index:
                raise UrdfError(f"joint '{j.name}' mimics '{j.mimic}', which is not an actuated "
                                f"joint of the chain from '{base_link}' to '{tip_link}'")
        self.robot_name = robot_name
        self.base_link = base_link
        self.tip_link = tip_link
        self.joints: tuple[JointSpec, ...] = actuated
        self.followers: tuple[JointSpec, ...] = tuple(j for j in motions if j.mimic is not None)
        self.tip_offset = np.array(tip_offset, dtype=np.float64)
        # Every moving joint in chain order, and the joint vector entry that drives each.
        self._motions = motions
        self._drivers = tuple(index[j.name if j.mimic is None else j.mimic] for j in motions)
        # Rows of the motion frames that are the actuated joints' (plus base and tip).
        self._frame_rows = [0] + [i + 1 for i, j in enumerate(motions) if j.mimic is None] \
            + [len(motions) + 1]
        self._elbows: dict = {}
        self.planar: Optional[PlanarGeometry] = _planar_geometry(self)

    # ---- construction ------------------------------------------------------------------

    @classmethod
    def from_urdf(cls, source: Union[str, os.PathLike], base_link: Optional[str] = None,
                  tip_link: Optional[str] = None) -> 'KinematicChain':
        """
        Build the chain from a URDF file path or URDF XML text.

        ``source`` is XML when it starts with ``<`` (as the ``robot_description`` parameter
        does), otherwise a file path. ``base_link`` defaults to the URDF's root link and
        ``tip_link`` to its only leaf link (with several, the error names the candidates).
        Fixed joints are folded in, and so are revolute and prismatic joints whose limits
        hold them still (``lower == upper``).
        """
        xml, origin = _read_urdf_source(source)
        robot = _parse_urdf(xml, origin)
        links = {link.name for link in robot.links}
        if not links:
            raise UrdfError(f'{origin}: the robot has no links')
        joints_by_child = {}
        for joint in robot.joints:
            for role, link in (('parent', joint.parent), ('child', joint.child)):
                if link not in links:
                    raise UrdfError(
                        f"{origin}: joint '{joint.name}' names {role} link '{link}', "
                        'which the URDF does not define')
            if joint.child in joints_by_child:
                raise UrdfError(f"{origin}: link '{joint.child}' has two parent joints")
            joints_by_child[joint.child] = joint
        parents = {j.parent for j in robot.joints}
        roots = sorted(links - set(joints_by_child))
        if base_link is None:
            if len(roots) != 1:
                raise UrdfError(f'{origin}: expected one root link, found {roots}; name the '
                                'base link explicitly')
            base_link = roots[0]
        if tip_link is None:
            leaves = sorted(links - parents)
            if len(leaves) != 1:
                raise UrdfError(f'{origin}: the URDF has several leaf links; name the tip link. '
                                + _tip_candidates(leaves, base_link, joints_by_child,
                                                  {j.name: j for j in robot.joints}))
            tip_link = leaves[0]
        for role, link in (('base', base_link), ('tip', tip_link)):
            if link not in links:
                raise UrdfError(f"{origin}: {role} link '{link}' is not a link of robot "
                                f"'{robot.name}' (links: {sorted(links)})")

        path = []
        link = tip_link
        while link != base_link:
            joint = joints_by_child.get(link)
            # A joint met twice is a loop above the tip (urdfdom refuses those too).
            if joint is None or joint in path:
                raise UrdfError(f"{origin}: there is no chain from base link '{base_link}' to "
                                f"tip link '{tip_link}' ('{base_link}' is not an ancestor of "
                                f"'{tip_link}')")
            path.append(joint)
            link = joint.parent
        path.reverse()

        joints_by_name = {joint.name: joint for joint in robot.joints}
        on_path = {joint.name for joint in path}
        specs = []
        held: dict = {}
        for joint in path:
            if joint.type == 'fixed':
                continue
            if joint.type not in SUPPORTED_JOINT_TYPES:
                raise UrdfError(
                    f"joint '{joint.name}' has type '{joint.type}'; iknn_ros supports "
                    'revolute, continuous and prismatic joints (fixed joints are folded in)')
            master, multiplier, offset = _mimic_source(joint, joints_by_name, on_path)
            spec = _joint_spec(joint, np.eye(4), master, multiplier, offset)
            if master is None and spec.lower == spec.upper:
                held[spec.name] = spec.lower
            specs.append(spec)
        # A second pass: a follower may come before the joint that holds its master still.
        spec_of = {spec.name: spec for spec in specs}
        moving = []
        pending = np.eye(4)
        for joint in path:
            pending = pending @ _joint_origin(joint)
            spec = spec_of.get(joint.name)
            if spec is None:
                continue
            driver = spec.name if spec.mimic is None else spec.mimic
            if driver in held:
                # Limits that hold a joint still (or its master) make it a fixed joint.
                value = held[driver] if spec.mimic is None else \
                    spec.multiplier * held[driver] + spec.offset
                pending = pending @ _motion_transform(spec, value)
                continue
            moving.append(dataclasses.replace(spec, origin=pending))
            pending = np.eye(4)
        return cls(robot.name, base_link, tip_link, moving, pending)

    # ---- properties --------------------------------------------------------------------

    @property
    def n_joints(self) -> int:
        """Return the number of actuated joints."""
        return len(self.joints)

    @property
    def joint_names(self) -> tuple[str, ...]:
        """Return the actuated joint names, base to tip."""
        return tuple(j.name for j in self.joints)

    @property
    def motions(self) -> tuple[JointSpec, ...]:
        """Return every moving joint base to tip, followers among the actuated joints."""
        return self._motions

    @property
    def drivers(self) -> tuple[int, ...]:
        """Return, per entry of :attr:`motions`, the joint vector entry that drives it."""
        return self._drivers

    @property
    def prismatic(self) -> NDArray[np.bool_]:
        """Return a mask of the prismatic joints (their positions and limits are metres)."""
        return np.array([j.is_prismatic for j in self.joints])

    @property
    def lower(self) -> FloatArray:
        """Return lower position limits (``-inf`` for continuous joints)."""
        return np.array([j.lower for j in self.joints])

    @property
    def upper(self) -> FloatArray:
        """Return upper position limits (``+inf`` for continuous joints)."""
        return np.array([j.upper for j in self.joints])

    @property
    def velocity_limits(self) -> FloatArray:
        """Return velocity limits in rad/s, m/s if prismatic (``inf`` where none is given)."""
        return np.array([j.velocity for j in self.joints])

    @property
    def continuous(self) -> NDArray[np.bool_]:
        """Return a mask of the continuous joints."""
        return np.array([j.is_continuous for j in self.joints])

    @property
    def target_dim(self) -> int:
        """Return 2 for planar chains (targets are x, y) and 3 for spatial ones."""
        return 2 if self.planar is not None else 3

    @property
    def reach(self) -> float:
        """Return an upper bound of the distance from the first joint axis to the tip."""
        lengths = [np.linalg.norm(j.origin[:3, 3]) for j in self._motions[1:]]
        reach = sum(lengths) + np.linalg.norm(self.tip_offset[:3, 3])
        for j, driver in zip(self._motions, self._drivers):
            if j.is_prismatic:
                # The farthest the slide reaches within its driver's limits.
                ends = j.multiplier * np.array([self.lower[driver], self.upper[driver]])
                reach += float(np.max(np.abs(ends + j.offset)))
        return float(reach)

    def with_limit_margin(self, margin: float) -> 'KinematicChain':
        """
        Return a copy whose limited joints keep ``margin`` from their limits.

        The margin is radians, and metres for prismatic joints; followers are left alone
        (they are where their masters put them).
        """
        if margin < 0.0 or not math.isfinite(margin):
            raise ValueError(f'limit margin must be finite and >= 0, got {margin}')
        joints = []
        for j in self._motions:
            if j.is_continuous or j.mimic is not None:
                joints.append(j)
                continue
            if j.upper - j.lower <= 2.0 * margin:
                raise ValueError(f"joint '{j.name}' range [{j.lower}, {j.upper}] is narrower "
                                 f'than twice the limit margin {margin}')
            joints.append(dataclasses.replace(j, lower=j.lower + margin,
                                              upper=j.upper - margin))
        return KinematicChain(self.robot_name, self.base_link, self.tip_link, joints,
                              self.tip_offset)

    # ---- kinematics --------------------------------------------------------------------

    def frames(self, q: ArrayLike) -> FloatArray:
        """
        Return every frame of the chain, shape ``(..., n + 2, 4, 4)``.

        Frame 0 is the base, frame ``i + 1`` the frame of joint ``i`` after its motion
        (the child link of the joint), and the last frame is the tip link. Followers' frames
        are left out (they are in between).
        """
        out = self._motion_frames(self._as_joint_array(q))
        return out[..., self._frame_rows, :, :] if self.followers else out

    def _motion_frames(self, q: FloatArray) -> FloatArray:
        """Return base, every moving joint's frame (followers too) and tip, like frames."""
        lead = q.shape[:-1]
        out = np.empty(lead + (len(self._motions) + 2, 4, 4))
        current = np.broadcast_to(np.eye(4), lead + (4, 4)).copy()
        out[..., 0, :, :] = current
        for i, (joint, driver) in enumerate(zip(self._motions, self._drivers)):
            current = current @ joint.origin
            value = q[..., driver]
            if joint.mimic is not None:
                value = joint.multiplier * value + joint.offset
            if joint.is_prismatic:
                current[..., :3, 3] += (current[..., :3, :3] @ joint.axis) * value[..., None]
            else:
                rot = axis_angle_matrices(joint.axis, value)
                current[..., :3, :3] = current[..., :3, :3] @ rot
            out[..., i + 1, :, :] = current
        out[..., -1, :, :] = current @ self.tip_offset
        return out

    def joint_positions(self, q: ArrayLike) -> FloatArray:
        """Return base, joint and tip positions ``(..., n + 2, 3)`` for drawing the arm."""
        return self.frames(q)[..., :3, 3]

    def tip_position_3d(self, q: ArrayLike) -> FloatArray:
        """Return the tip position in base coordinates, shape ``(..., 3)``."""
        return self.frames(q)[..., -1, :3, 3]

    def fk(self, q: ArrayLike) -> FloatArray:
        """Return the tip position in target coordinates: ``(..., 2)`` planar, else 3."""
        if self.planar is not None:
            return _planar_fk(self.planar, self._as_joint_array(q))
        return self.tip_position_3d(q)

    def jacobian(self, q: ArrayLike) -> FloatArray:
        """Return d fk / d q, shape ``(..., target_dim, n)``."""
        q = self._as_joint_array(q)
        if self.planar is not None:
            return _planar_jacobian(self.planar, q)
        return self._spatial_jacobian(q, angular=False)

    def tool_frames(self, q: ArrayLike) -> FloatArray:
        """Return the tip link's frame in base coordinates, shape ``(..., 4, 4)``."""
        return self._motion_frames(self._as_joint_array(q))[..., -1, :, :]

    def pose_jacobian(self, q: ArrayLike) -> FloatArray:
        """
        Return the tool's velocity Jacobian in base axes, shape ``(..., 6, n)``.

        Rows: the tip's linear velocity, then the tool's angular velocity, both in base
        coordinates (Pinocchio's LOCAL_WORLD_ALIGNED frame), for any chain.
        """
        return self._spatial_jacobian(self._as_joint_array(q), angular=True)

    def _spatial_jacobian(self, q: FloatArray, angular: bool) -> FloatArray:
        frames = self._motion_frames(q)
        tip = frames[..., -1, :3, 3]
        jac = np.zeros(q.shape[:-1] + (6 if angular else 3, self.n_joints))
        # Actuated joints first, then followers add to their masters' columns (chain rule).
        order = sorted(range(len(self._motions)), key=lambda i: self._motions[i].mimic is not None)
        for i in order:
            joint, frame = self._motions[i], frames[..., i + 1, :, :]
            axis_world = frame[..., :3, :3] @ joint.axis
            column = axis_world if joint.is_prismatic else \
                np.cross(axis_world, tip - frame[..., :3, 3])
            scale = 1.0 if joint.mimic is None else joint.multiplier
            jac[..., :3, self._drivers[i]] += scale * column
            if angular and not joint.is_prismatic:
                jac[..., 3:, self._drivers[i]] += scale * axis_world
        return jac

    # ---- limits ------------------------------------------------------------------------

    def wrap_and_clamp(self, q: ArrayLike) -> FloatArray:
        """Return ``q`` with continuous joints wrapped to [-pi, pi) and others clamped."""
        q = self._as_joint_array(q)
        cont = self.continuous
        return np.where(cont, wrap_to_pi(q), np.clip(q, self.lower, self.upper))

    def within_limits(self, q: ArrayLike, tolerance: float = 0.0) -> NDArray[np.bool_]:
        """Return, per joint vector, whether every limited joint is inside its limits."""
        q = self._as_joint_array(q)
        inside = (q >= self.lower - tolerance) & (q <= self.upper + tolerance)
        return np.all(inside | self.continuous, axis=-1)

    def shoulder(self) -> FloatArray:
        """Return where reach is measured from: the first joint's axis, in target coordinates."""
        if self.planar is not None:
            return self.planar.offsets[0].copy()
        return self.joint_positions(np.zeros(self.n_joints))[1]

    def elbow_joints(self, samples: int = 64, seed: int = 0) -> tuple[int, ...]:
        """
        Return the limited joints at whose zero the arm is stretched (its Jacobian singular).

        Crossing such a joint's zero changes the arm's branch (elbow up or down): these are
        the joints whose sign the evaluation watches for branch flips.
        """
        # Searches out of traps ask on every call, and the chain never changes.
        if (samples, seed) in self._elbows:
            return self._elbows[samples, seed]
        rng = np.random.default_rng(seed)
        found = []
        for j in np.flatnonzero(~self.continuous & ~self.prismatic):
            if not self.lower[j] < 0.0 < self.upper[j]:
                continue
            q = self.random_configurations(rng, samples)
            q[:, j] = 0.0
            singular = np.linalg.svd(self.jacobian(q), compute_uv=False)
            if np.mean(singular[:, -1] < 1e-9 * singular[:, 0]) > 0.9:
                found.append(int(j))
        self._elbows[samples, seed] = tuple(found)
        return self._elbows[samples, seed]

    def random_configurations(self, rng: np.random.Generator, count: int) -> FloatArray:
        """Return ``count`` joint vectors drawn uniformly within limits (continuous: +-pi)."""
        lo = np.where(self.continuous, -math.pi, self.lower)
        hi = np.where(self.continuous, math.pi, self.upper)
        return rng.uniform(lo, hi, size=(count, self.n_joints))

    # ---- identity ----------------------------------------------------------------------

    def description(self) -> dict:
        """Return a JSON-ready description of everything that defines the chain's motion."""
        def r(values: ArrayLike) -> list:
            return [round(float(v), 9) + 0.0 for v in np.ravel(values)]

        def limit(value: float) -> Optional[float]:
            return round(value, 9) if math.isfinite(value) else None

        desc = {
            'robot_name': self.robot_name,
            'base_link': self.base_link,
            'tip_link': self.tip_link,
            'joints': [{
                'name': j.name,
                'type': j.joint_type,
                'origin': r(j.origin[:3, :]),
                'axis': r(j.axis),
                'lower': limit(j.lower),
                'upper': limit(j.upper),
                'velocity': limit(j.velocity),
            } for j in self.joints],
            'tip_offset': r(self.tip_offset[:3, :]),
        }
        if self.followers:
            # Only when there are any, so chains without keep their fingerprints.
            desc['followers'] = [{
                'name': j.name,
                'type': j.joint_type,
                'position': i,
                'origin': r(j.origin[:3, :]),
                'axis': r(j.axis),
                'mimic': j.mimic,
                'multiplier': round(j.multiplier, 9) + 0.0,
                'offset': round(j.offset, 9) + 0.0,
            } for i, j in enumerate(self._motions) if j.mimic is not None]
        return desc

    def fingerprint(self) -> str:
        """
        Return a SHA-256 over the geometry, joint names, types and position limits.

        The robot name and velocity limits are left out: neither changes where the tip is,
        so a model trained on the chain stays valid when they change.
        """
        desc = self.description()
        desc.pop('robot_name')
        for joint_desc in desc['joints']:
            joint_desc.pop('velocity')
        text = json.dumps(desc, sort_keys=True, separators=(',', ':'))
        return hashlib.sha256(text.encode()).hexdigest()

    def _as_joint_array(self, q: ArrayLike) -> FloatArray:
        q = np.asarray(q, dtype=np.float64)
        if q.shape[-1:] != (self.n_joints,):
            raise ValueError(f'expected joint vectors of length {self.n_joints} '
                             f'{self.joint_names}, got shape {q.shape}')
        return q

    def __repr__(self) -> str:
        followers = f', followers={[j.name for j in self.followers]}' if self.followers else ''
        return (f'KinematicChain({self.robot_name!r}, {self.base_link!r} -> {self.tip_link!r}, '
                f'joints={list(self.joint_names)}{followers}, '
                f'planar={self.planar is not None})')


# --------------------------------------------------------------------------------------
# URDF reading
# --------------------------------------------------------------------------------------

def _read_urdf_source(source: Union[str, os.PathLike]) -> tuple[str, str]:
    if isinstance(source, str) and source.lstrip().startswith('<'):
        return source, 'robot_description'
    path = Path(source)
    if not path.is_file():
        raise UrdfError(f"URDF file '{path}' does not exist")
    try:
        return path.read_text(encoding='utf-8'), str(path)
    except (OSError, UnicodeDecodeError) as err:
        raise UrdfError(f"cannot read URDF file '{path}': {err}") from err


@contextlib.contextmanager
def _collected_parser_warnings(sink: list) -> Iterator[None]:
    # urdf_parser_py prints unknown attributes to stderr; keep them quiet.
    previous = urdf_reflection.on_error
    urdf_reflection.on_error = sink.append
    try:
        yield
    finally:
        urdf_reflection.on_error = previous


# The elements of a joint that place its child link, as urdfdom reads them.
_KINEMATIC_JOINT_ELEMENTS = ('parent', 'child', 'origin', 'axis', 'limit', 'mimic')


def _kinematic_xml(xml: str, origin: str) -> str:
    """
    Return the URDF reduced to what places the links: link names, joints' kinematic parts.

    urdf_parser_py 0.0.4 is stricter than urdfdom about elements that never move a link,
    and fails on URDFs that ROS loads: a ``<transmission>`` whose ``<mechanicalReduction>``
    is not a number (UFactory's xArm6 as pybullet ships it), ros2_control-style ones
    (``<mechanical_reduction>``, no ``<hardwareInterface>``), a visual ``<color>`` without
    ``rgba``. So the parser sees only link names and each joint's attributes and its first
    parent, child, origin, axis, limit and mimic (the first, as urdfdom reads them; no axis
    on fixed and floating joints, which urdfdom does not read either). Visuals, collisions,
    inertials, dynamics, safety controllers, transmissions, gazebo and ros2_control tags
    are not checked here: robot_state_publisher and the controllers read them.
    """
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError as err:
        raise UrdfError(f'{origin}: malformed URDF: {err}') from err
    if root.tag != 'robot':
        raise UrdfError(f'{origin}: malformed URDF: no <robot> element (the document is a '
                        f'<{root.tag}>)')
    robot = ElementTree.Element('robot', _plain_attributes(root))
    for element in root:
        if element.tag == 'link':
            name = {key: value for key, value in element.attrib.items() if key == 'name'}
            ElementTree.SubElement(robot, 'link', name)
        elif element.tag == 'joint':
            joint = ElementTree.SubElement(robot, 'joint', _plain_attributes(element))
            for tag in _KINEMATIC_JOINT_ELEMENTS:
                part = element.find(tag)
                if part is None or (tag == 'axis' and element.get('type') in ('fixed',
                                                                              'floating')):
                    continue
                ElementTree.SubElement(joint, tag, _plain_attributes(part))
    return ElementTree.tostring(robot, encoding='unicode')


def _plain_attributes(element: ElementTree.Element) -> dict:
    # Namespaced attributes (xacro leftovers) are no part of URDF.
    return {key: value for key, value in element.attrib.items() if not key.startswith('{')}


def _parse_urdf(xml: str, origin: str) -> 'urdf_model.Robot':
    xml = _kinematic_xml(xml, origin)
    warnings: list = []
    try:
        with _collected_parser_warnings(warnings):
            robot = urdf_model.URDF.from_xml_string(xml)
    except Exception as err:  # noqa: B902 - the parser raises lxml, ParseError and ValueError
        message = str(err).strip() or type(err).__name__
        raise UrdfError(f'{origin}: malformed URDF: {message}') from err
    if robot is None or not isinstance(robot, urdf_model.Robot):
        raise UrdfError(f'{origin}: malformed URDF: no <robot> element')
    return robot


def _joint_origin(joint: 'urdf_model.Joint') -> FloatArray:
    if joint.origin is None:
        return np.eye(4)
    xyz = joint.origin.xyz if joint.origin.xyz is not None else [0.0, 0.0, 0.0]
    rpy = joint.origin.rpy if joint.origin.rpy is not None else [0.0, 0.0, 0.0]
    values = [float(v) for v in list(xyz) + list(rpy)]
    if not all(math.isfinite(v) for v in values):
        raise UrdfError(f"joint '{joint.name}' has a non-finite origin {values}")
    return homogeneous(rpy_to_matrix(*values[3:]), values[:3])


def _joint_spec(joint: 'urdf_model.Joint', origin: FloatArray, mimic: Optional[str] = None,
                multiplier: float = 1.0, offset: float = 0.0) -> JointSpec:
    axis = np.array(joint.axis if joint.axis is not None else [1.0, 0.0, 0.0], dtype=float)
    norm = float(np.linalg.norm(axis))
    if not math.isfinite(norm) or norm < 1e-9:
        raise UrdfError(f"joint '{joint.name}' has a zero or invalid axis {axis.tolist()}")
    limit = joint.limit
    velocity = math.inf
    if limit is not None and limit.velocity is not None and float(limit.velocity) > 0.0:
        velocity = float(limit.velocity)
    if joint.type in ('revolute', 'prismatic'):
        if limit is None or limit.lower is None or limit.upper is None:
            hint = 'make it continuous' if joint.type == 'revolute' else 'bound its travel'
            raise UrdfError(f"{joint.type} joint '{joint.name}' has no <limit lower upper>; "
                            f'give its limits or {hint}')
        lower, upper = float(limit.lower), float(limit.upper)
        # lower == upper is a joint held still (urdfdom's default limits are 0 and 0).
        if not (math.isfinite(lower) and math.isfinite(upper) and lower <= upper):
            raise UrdfError(f"joint '{joint.name}' has invalid limits [{lower}, {upper}]")
    else:
        lower, upper = -math.inf, math.inf
    return JointSpec(name=joint.name, joint_type=joint.type, parent_link=joint.parent,
                     child_link=joint.child, origin=origin, axis=axis / norm,
                     lower=lower, upper=upper, velocity=velocity, mimic=mimic,
                     multiplier=multiplier, offset=offset)


def _mimic_source(joint: 'urdf_model.Joint', joints_by_name: dict,
                  on_path: set) -> tuple[Optional[str], float, float]:
    """
    Return the actuated joint that ``joint`` follows, with the composed multiplier and offset.

    ``(None, 1, 0)`` for a joint that mimics none. The followed joint must be on the chain
    (``on_path``): the chain moves nothing else, so it could not know where the follower is.
    """
    if joint.mimic is None:
        return None, 1.0, 0.0
    multiplier, offset = 1.0, 0.0
    current, seen = joint, [joint.name]
    while current.mimic is not None:
        mimic = current.mimic
        # position(joint) = multiplier * position(current) + offset, and urdfdom's defaults.
        k = 1.0 if mimic.multiplier is None else float(mimic.multiplier)
        c = 0.0 if mimic.offset is None else float(mimic.offset)
        if not (math.isfinite(k) and math.isfinite(c)):
            raise UrdfError(f"joint '{current.name}' has a non-finite mimic multiplier or "
                            f'offset ({k}, {c})')
        multiplier, offset = multiplier * k, multiplier * c + offset
        master = joints_by_name.get(mimic.joint)
        if master is None:
            raise UrdfError(f"joint '{current.name}' mimics '{mimic.joint}', which the URDF "
                            'does not define')
        if master.name in seen:
            raise UrdfError(f'mimic joints {seen + [master.name]} follow each other in a loop')
        seen.append(master.name)
        current = master
    if current.name not in on_path:
        raise UrdfError(
            f"joint '{joint.name}' mimics '{current.name}', which is not between the base and "
            f"tip links: iknn_ros moves only the chain's joints, so it cannot know where "
            f"'{joint.name}' is (choose a base and tip whose chain holds '{current.name}')")
    if current.type not in SUPPORTED_JOINT_TYPES:
        raise UrdfError(f"joint '{joint.name}' mimics '{current.name}', of type "
                        f"'{current.type}'; only revolute, continuous and prismatic joints "
                        'can be followed')
    return current.name, multiplier, offset


def _motion_transform(joint: JointSpec, value: float) -> FloatArray:
    """Return the transform of a joint moved by ``value`` (radians, or metres if prismatic)."""
    if joint.is_prismatic:
        return homogeneous(np.eye(3), joint.axis * value)
    return homogeneous(axis_angle_matrices(joint.axis, np.float64(value)), np.zeros(3))


def _moves_by_itself(joint: 'urdf_model.Joint') -> bool:
    """Return whether a URDF joint is an actuated one: moving, following none, not held."""
    if joint.type == 'fixed' or joint.mimic is not None:
        return False
    limit = joint.limit
    return not (joint.type in ('revolute', 'prismatic') and limit is not None
                and limit.lower == limit.upper)


def _tip_candidates(leaves: Sequence[str], base_link: str, joints_by_child: dict,
                    joints_by_name: dict) -> str:
    """Return a sentence naming the leaf links below the base that would make a chain."""
    found = []
    for leaf in leaves:
        link, path = leaf, []
        while link != base_link and link in joints_by_child and len(path) <= len(joints_by_child):
            path.append(joints_by_child[link])
            link = path[-1].parent
        if link != base_link:
            continue
        try:
            # A leaf behind a floating joint or a follower of another branch makes no chain.
            on_path = {joint.name for joint in path}
            for joint in path:
                if joint.type not in SUPPORTED_JOINT_TYPES + ('fixed',):
                    raise UrdfError(joint.type)
                _mimic_source(joint, joints_by_name, on_path)
        except UrdfError:
            continue
        actuated = sum(1 for joint in path if _moves_by_itself(joint))
        if actuated:
            found.append((leaf, actuated))
    if not found:
        return f"No leaf link below '{base_link}' has a joint to move (leaf links: {leaves})."
    found.sort(key=lambda item: (-item[1], item[0]))
    named = ', '.join(f"'{leaf}' ({n} joint{'s' if n != 1 else ''})" for leaf, n in found)
    return f"Candidate tip links below '{base_link}' (actuated joints from it): {named}."


# --------------------------------------------------------------------------------------
# Planar chains
# --------------------------------------------------------------------------------------

_PLANAR_TOLERANCE = 1e-12


def _planar_geometry(chain: KinematicChain) -> Optional[PlanarGeometry]:
    # The planar model turns every joint in the plane, once: no slides, no followers.
    if chain.followers or chain.prismatic.any():
        return None
    offsets, yaws, signs = [], [], []
    height = 0.0
    for joint in chain.joints:
        rot = joint.origin[:3, :3]
        if abs(rot[2, 2] - 1.0) > _PLANAR_TOLERANCE or abs(abs(joint.axis[2]) - 1.0) > 1e-12:
            return None
        offsets.append(joint.origin[:2, 3])
        yaws.append(math.atan2(rot[1, 0], rot[0, 0]))
        signs.append(1.0 if joint.axis[2] > 0 else -1.0)
        height += joint.origin[2, 3]
    return PlanarGeometry(offsets=np.array(offsets), yaw_offsets=np.array(yaws),
                          axis_signs=np.array(signs), tip_offset=chain.tip_offset[:2, 3].copy(),
                          height=height + float(chain.tip_offset[2, 3]))


def _planar_angles(planar: PlanarGeometry, q: FloatArray) -> FloatArray:
    """Return the accumulated in-plane angle after each joint, shape ``(..., n)``."""
    return np.cumsum(planar.yaw_offsets + planar.axis_signs * q, axis=-1)


def _rotate(angle: FloatArray, vec: FloatArray) -> FloatArray:
    c, s = np.cos(angle), np.sin(angle)
    return np.stack([c * vec[0] - s * vec[1], s * vec[0] + c * vec[1]], axis=-1)


def _planar_fk(planar: PlanarGeometry, q: FloatArray) -> FloatArray:
    phis = _planar_angles(planar, q)
    pos = np.broadcast_to(planar.offsets[0], q.shape[:-1] + (2,)).copy()
    for i in range(1, q.shape[-1]):
        pos += _rotate(phis[..., i - 1], planar.offsets[i])
    return pos + _rotate(phis[..., -1], planar.tip_offset)


def _planar_jacobian(planar: PlanarGeometry, q: FloatArray) -> FloatArray:
    phis = _planar_angles(planar, q)
    n = q.shape[-1]
    # Position of the tip relative to each joint axis, accumulated from the tip backwards.
    rel = _rotate(phis[..., -1], planar.tip_offset)
    jac = np.empty(q.shape[:-1] + (2, n))
    for i in range(n - 1, -1, -1):
        jac[..., 0, i] = -planar.axis_signs[i] * rel[..., 1]
        jac[..., 1, i] = planar.axis_signs[i] * rel[..., 0]
        if i > 0:
            rel = rel + _rotate(phis[..., i - 1], planar.offsets[i])
    return jac
