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

"""One spelling of the chain flags in every command: --urdf, --base-link, --tip-link."""

from pathlib import Path

from iknn_ros.kinematics import chain_info
from iknn_ros.training import cli as training_cli
import pytest

REPO = Path(__file__).resolve().parent.parent
URDF = str(REPO / 'urdf' / 'three_link_arm.urdf')


@pytest.mark.parametrize('flags', [['--base-link', 'link1', '--tip-link', 'tool0'],
                                   ['--base', 'link1', '--tip', 'tool0']])
def test_chain_info_takes_base_link_and_tip_link_and_the_old_spelling(capsys, flags):
    assert chain_info.main(['--urdf', URDF, *flags, '--samples', '1']) == 0
    report = capsys.readouterr().out
    assert 'link1 -> tool0' in report
    assert 'joint1' not in report  # the chain starts after joint1: two joints


def test_chain_info_names_a_tip_link_that_is_not_there(capsys):
    assert chain_info.main(['--urdf', URDF, '--tip-link', 'no_such_link']) == 2
    assert 'no_such_link' in capsys.readouterr().err


def test_training_takes_the_chain_flags_as_the_robot_settings(capsys):
    # Refused before training starts, which shows the flags reached robot.urdf/tip_link.
    assert training_cli.main(['--urdf', '/no/such/arm.urdf', '--quick', '--no-eval']) == 2
    assert '/no/such/arm.urdf' in capsys.readouterr().err
    assert training_cli.main(['--urdf', URDF, '--tip-link', 'no_such_link', '--quick',
                              '--no-eval']) == 2
    assert 'no_such_link' in capsys.readouterr().err
