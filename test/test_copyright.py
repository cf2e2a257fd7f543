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

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LICENSE_LINE = '# Licensed under the Apache License, Version 2.0 (the "License");'
# .venv-bench: the benchmark venv of make bench-venv.
SKIPPED_DIRS = {'.venv', '.venv-bench', 'build', 'install', 'log', 'node_modules', '.git', 'web'}


@pytest.mark.copyright
@pytest.mark.linter
def test_copyright():
    ament_copyright = pytest.importorskip(
        'ament_copyright.main',
        reason='ament_copyright is not installable here (no PyPI wheel); '
               'test_apache_headers checks the headers instead')
    rc = ament_copyright.main(argv=['.', 'test'])
    assert rc == 0, 'Found errors'


@pytest.mark.linter
def test_apache_headers():
    """Every Python source carries the Apache-2.0 header, whether or not ament runs."""
    missing = []
    for path in sorted(ROOT.rglob('*.py')):
        if SKIPPED_DIRS & set(path.relative_to(ROOT).parts):
            continue
        lines = path.read_text(encoding='utf-8').splitlines()
        head = lines[1:4] if lines and lines[0].startswith('#!') else lines[:3]
        if len(head) < 3 or not head[0].startswith('# Copyright ') or head[2] != LICENSE_LINE:
            missing.append(str(path.relative_to(ROOT)))
    assert not missing, f'files without the Apache-2.0 header: {missing}'
