# The two set-up commands of the README: `make demo` and `make test`.
# Both create the virtual environment and install upgrader into it first.
# `make test-nova` (not yet in .ci/run) runs the same scenarios against a
# real Nova brought up by tests/integration, in a virtual environment of its
# own.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
WORK ?= .work

.PHONY: demo test test-nova venv docs clean

# The nova lab's own virtual environment (never the project's).
NOVA_VENV ?= $(WORK)/nova-venv
NOVA_STAMP := $(NOVA_VENV)/.installed

$(STAMP): requirements.txt test-requirements.txt setup.cfg setup.py
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt -r test-requirements.txt
	$(BIN)/pip install -q --no-deps -e .
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/python tools/demo.py --workdir $(WORK)/demo

test: $(STAMP)
	tools/install-test-deps.sh
	$(BIN)/python -m pytest -n 2 -q -p no:cacheprovider --durations=25 tests \
		--ignore=tests/integration

$(NOVA_STAMP): tests/integration/lab/requirements.txt
	@test -x $(NOVA_VENV)/bin/python || $(PYTHON) -m venv $(NOVA_VENV)
	$(NOVA_VENV)/bin/pip install -q -r tests/integration/lab/requirements.txt
	@touch $(NOVA_STAMP)

test-nova: $(STAMP) $(NOVA_STAMP)
	NOVA_LAB_VENV=$(abspath $(NOVA_VENV)) $(BIN)/python -m pytest -q -rs \
		-p no:cacheprovider tests/integration

# Not a set-up command: builds doc/source into doc/build/html.
docs: $(STAMP)
	$(BIN)/sphinx-build -W --keep-going -b html doc/source doc/build/html

clean:
	rm -rf $(VENV) $(WORK)
