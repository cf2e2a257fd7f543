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
Locate the files iknn_ros installs (URDF, models, configs, web page).

Three layouts are supported, tried in order: a colcon/ament install (the ament index),
a pip install (``<prefix>/share/iknn_ros``), and a source checkout (the repository root,
for editable installs and tests). Nothing here imports ROS unless it is installed.
"""

from __future__ import annotations

from pathlib import Path
import sys
from typing import Optional


PACKAGE_NAME = 'iknn_ros'
DEFAULT_URDF = Path('urdf') / 'two_link_arm.urdf'
DEFAULT_MODEL = Path('models') / 'two_link_arm_default' / 'model.onnx'
# model_path that asks for no network: the same tick runs on damped least squares alone.
NO_MODEL = 'none'


def is_no_model(model_path: str) -> bool:
    """Return whether a model_path value asks to run without a network."""
    return str(model_path).strip().lower() == NO_MODEL


def _from_ament_index(package: str = PACKAGE_NAME) -> Optional[Path]:
    try:
        from ament_index_python.packages import get_package_share_directory
        from ament_index_python.packages import PackageNotFoundError
    except ImportError:
        return None
    try:
        return Path(get_package_share_directory(package))
    except (PackageNotFoundError, OSError, KeyError, ValueError):
        return None


def package_share(package: str) -> Optional[Path]:
    """
    Return the share directory ``package://package/...`` names, or None when unknown.

    Any package the ament index knows; without ROS, this package's own share directory.
    """
    found = _from_ament_index(package)
    if found is None and package == PACKAGE_NAME:
        try:
            found = share_directory()
        except FileNotFoundError:
            return None
    return found


def share_directory() -> Path:
    """Return the directory holding urdf/, models/, config/ and web/ for this install."""
    candidates = [
        _from_ament_index(),
        Path(sys.prefix) / 'share' / PACKAGE_NAME,
        Path(__file__).resolve().parent.parent,
    ]
    for candidate in candidates:
        if candidate is not None and (candidate / 'package.xml').is_file():
            return candidate
    raise FileNotFoundError(
        f'cannot find the {PACKAGE_NAME} share directory (looked in the ament index, '
        f'{sys.prefix}/share/{PACKAGE_NAME} and the source tree)')


def share_path(relative: Path | str) -> Path:
    """Return the absolute path of a file shipped with the package."""
    return share_directory() / relative


def default_urdf_path() -> Path:
    """Return the shipped planar two-link arm URDF."""
    return share_path(DEFAULT_URDF)


def default_model_path() -> Path:
    """Return the shipped default ONNX model for the two-link arm."""
    return share_path(DEFAULT_MODEL)


def shipped_models() -> list:
    """Return the shipped models' files, the default preset of each arm first."""
    models = sorted(share_path('models').glob('*/model.onnx'))
    return sorted(models, key=lambda p: (not p.parent.name.endswith('_default'), str(p)))
