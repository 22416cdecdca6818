# The two set-up commands of the README: `make demo` and `make test`.
# Both create the virtual environment and install upgrader into it first.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
WORK ?= .work

.PHONY: demo test venv docs clean

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
	$(BIN)/python -m pytest -n 2 -q -p no:cacheprovider tests

# Not a set-up command: builds doc/source into doc/build/html.
docs: $(STAMP)
	$(BIN)/sphinx-build -W --keep-going -b html doc/source doc/build/html

clean:
	rm -rf $(VENV) $(WORK)
