# Two commands for a newcomer on a fresh machine:
#   make demo   - create .venv, install thalweg, run the main job
#   make test   - create .venv, install thalweg with the test extras, run the tests
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test bench venv dev-venv clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

venv: $(BIN)/python
	$(BIN)/pip install -q -e '.[plot]'

dev-venv: $(BIN)/python
	$(BIN)/pip install -q -e '.[dev,plot]'

demo: venv
	$(BIN)/thalweg train

test: dev-venv
	$(BIN)/python -m pytest -n 2 tests

bench: dev-venv
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
