# qianwen-ops-auth development tasks. The scripts need only python3; these targets are for maintainers.
PYTHON ?= python3
VENV ?= .venv
# The oldest and newest interpreters we promise (macOS still ships 3.9). Override on other machines.
PY_OLDEST ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.9*/bin/python3))
PY_NEWEST ?= $(lastword $(sort $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3)))
PYTEST_ARGS ?= -q

.PHONY: test test-versions bench dist install-check clean

## make test: create .venv from requirements-dev.txt and run the whole suite.
test: $(VENV)/.installed
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

$(VENV)/.installed: requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

## make test-versions: the same suite under the oldest and the newest supported Python.
test-versions:
	@test -n "$(PY_OLDEST)" || { echo "no Python 3.9 found; set PY_OLDEST=/path/to/python3.9"; exit 1; }
	@test -n "$(PY_NEWEST)" || { echo "no Python 3.13 found; set PY_NEWEST=/path/to/python3.13"; exit 1; }
	$(MAKE) test PYTHON=$(PY_OLDEST) VENV=.venv-oldest
	$(MAKE) test PYTHON=$(PY_NEWEST) VENV=.venv-newest

## make bench: speed figures as ratios (start-up, time to verdict, wrong-region round trips, black hole).
bench: $(VENV)/.installed
	$(VENV)/bin/python benchmarks/bench_verify.py

## make dist: dist/qianwen-ops-auth/ with only what an agent needs.
dist:
	$(PYTHON) tools/build_dist.py

## make install-check: install dist/ with the real skills installer (npx, from the npm registry)
## into a scratch project and run verify.py --help from there. Skips cleanly without npx.
install-check: $(VENV)/.installed
	QIANWEN_INSTALL_CHECK=1 $(VENV)/bin/python -m pytest $(PYTEST_ARGS) tests/test_package.py -k install

clean:
	rm -rf $(VENV) .venv-oldest .venv-newest dist .pytest_cache
