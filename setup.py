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

from glob import glob
import json
import os

from setuptools import find_packages
from setuptools import setup

package_name = 'iknn_ros'


def share_files(folder, patterns=('*',)):
    """Return a data_files entry installing folder/ (recursively) into share/iknn_ros."""
    entries = {}
    for pattern in patterns:
        for path in glob(os.path.join(folder, '**', pattern), recursive=True):
            if os.path.isfile(path):
                target = os.path.join('share', package_name, os.path.dirname(path))
                entries.setdefault(target, []).append(path)
    return sorted(entries.items())


def vendored_web_packages():
    """Return the npm files the page loads (web/vendor.json), when `npm ci` has fetched them."""
    with open(os.path.join('web', 'vendor.json'), encoding='utf-8') as f:
        packages = json.load(f)['packages']
    entries = {}
    for package, paths in packages.items():
        files = [os.path.join('web', 'node_modules', package, p) for p in paths]
        if not all(os.path.isfile(f) for f in files):
            continue  # not fetched: the web node says so when the page asks for them
        for path, source in zip(paths, files):
            target = os.path.join('share', package_name, 'web', 'vendor', package,
                                  os.path.dirname(path))
            entries.setdefault(target, []).append(source)
    return sorted(entries.items())


setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*', 'bench', 'bench.*']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        *share_files('launch', ('*.launch.py',)),
        *share_files('config', ('*.yaml',)),
        *share_files('urdf', ('*.urdf',)),
        *share_files('rviz', ('*.rviz',)),
        *share_files('models', ('*.onnx', '*.json', '*.yaml', '*.png', '*.md')),
        *share_files('web/static', ('*.html', '*.js', '*.css')),
        ('share/' + package_name + '/web', ['web/vendor.json']),
        *vendored_web_packages(),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='iknn_ros maintainers',
    maintainer_email='maintainers@iknn-ros.dev',
    description='Learned inverse kinematics for ROS 2 arms, exact when refined and safe.',
    license='Apache-2.0',
    tests_require=['pytest'],
    entry_points={
        'console_scripts': [
            'chain_info = iknn_ros.kinematics.chain_info:main',
            'demo = iknn_ros.nodes.demo:main',
            'evaluate = iknn_ros.evaluation.evaluate:main',
            'ik_node = iknn_ros.nodes.node_main:ik_node',
            'sim_arm = iknn_ros.nodes.node_main:sim_arm',
            'solve = iknn_ros.ik.solve:main',
            'train = iknn_ros.training.cli:main',
            'web = iknn_ros.nodes.node_main:web',
        ],
    },
)
