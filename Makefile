# iknn_ros: one-command set-up on a fresh machine (Debian/Ubuntu, Python 3.11, no ROS).
#   make demo   set up, then run the demo
#   make test   set up, then run the whole test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.iknn-setup-stamp
PYTEST_ARGS ?=

.PHONY: all setup chromium demo test lint bench bench-arms bench-network-value bench-venv models \
	model-default model-seed1 model-three-link model-spatial model-six-dof model-seven-dof clean

all: test

WEB_STAMP := web/node_modules/.iknn-setup-stamp
# Debian's Chromium for the browser tests; sudo only when not already root.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo -n)

$(STAMP): requirements.txt requirements-dev.txt setup.py package.xml
	@echo '== iknn_ros set-up: Python venv in $(VENV) =='
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -r requirements-dev.txt
	$(BIN)/pip install --disable-pip-version-check -q --no-deps -e .
	touch $@

# Front-end packages from the npm registry, exactly as package-lock.json pins them.
$(WEB_STAMP): web/package.json web/package-lock.json
	@echo '== iknn_ros set-up: npm ci in web/ =='
	cd web && npm ci --no-audit --no-fund --loglevel=error
	touch $@

chromium:
	@command -v chromium >/dev/null || { \
		echo '== iknn_ros set-up: Debian chromium (browser tests) =='; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

setup: $(STAMP) $(WEB_STAMP) chromium

demo: setup
	$(BIN)/python -m iknn_ros.nodes.demo

test: setup
	@rc=0; $(BIN)/python -m pytest $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo 'make test: pytest collected no tests' >&2; fi; \
	exit $$rc

# Rebuild the shipped models from their saved configurations (deterministic per seed).
models: model-default model-seed1 model-three-link model-spatial model-six-dof model-seven-dof

model-default: setup
	$(BIN)/python -m iknn_ros.training --config models/two_link_arm_default/config.yaml \
		--out models/two_link_arm_default

model-seed1: setup
	$(BIN)/python -m iknn_ros.training --config models/two_link_arm_seed1/config.yaml \
		--out models/two_link_arm_seed1
	$(BIN)/python -m iknn_ros.training --config models/two_link_arm_seed1_code/config.yaml \
		--out models/two_link_arm_seed1_code

model-three-link: setup
	$(BIN)/python -m iknn_ros.training --config models/three_link_arm_default/config.yaml \
		--out models/three_link_arm_default

model-spatial: setup
	$(BIN)/python -m iknn_ros.training --config models/spatial_arm_default/config.yaml \
		--out models/spatial_arm_default

model-six-dof: setup
	$(BIN)/python -m iknn_ros.training --config models/six_dof_arm_pose/config.yaml \
		--out models/six_dof_arm_pose

model-seven-dof: setup
	$(BIN)/python -m iknn_ros.training --config models/seven_dof_arm_pose/config.yaml \
		--out models/seven_dof_arm_pose

# Latency, accuracy and robustness against the baselines; writes docs/benchmarks*.md and
# docs/network_value.md (the network against the same tick without it).
bench: setup
	$(BIN)/python bench/bench_ik.py
	$(BIN)/python bench/bench_node.py
	$(BIN)/python bench/bench_web.py
	$(BIN)/python bench/compare_seed2.py
	$(MAKE) bench-network-value
	$(MAKE) bench-arms

# The comparison page runs the PyPI peers on its own targets in the benchmark venv.
bench-network-value: setup bench-venv
	$(BIN)/python bench/bench_network_value.py

# The real-size arms against the PyPI peers, in a venv of their own: placo and pytracik
# pin their own Pinocchio and Boost; the runtime's venv does not take them. Pinned: placo
# 0.9.3 (what an unpinned install picked) needs a Boost that pin 3.8 and 4.1 do not bring.
BENCH_VENV ?= .venv-bench
bench-venv:
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --disable-pip-version-check -q numpy onnxruntime \
		urdf-parser-py==0.0.4 PyYAML numba pin==3.8.0 placo==0.10.2 pytracik==0.0.3 || \
		$(BENCH_VENV)/bin/pip install --disable-pip-version-check -q numpy onnxruntime \
		urdf-parser-py==0.0.4 PyYAML numba 'pin>=3.3'

bench-arms: bench-venv
	$(BENCH_VENV)/bin/python bench/bench_arms.py

lint: setup
	$(BIN)/python -m pytest test/test_flake8.py test/test_pep257.py test/test_copyright.py

clean:
	rm -rf $(VENV) build install log *.egg-info .pytest_cache artifacts web/node_modules
