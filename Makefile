# The two commands of the README: `make run` and `make test`. Both set up .venv first.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXTRAS := llm,api,server,ui,test

.PHONY: run test setup ingest clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11 or run make PYTHON=python3"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# CPU torch first: a plain torch requirement would pull a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	# llama-cpp-python compiles from source the first time (~10 min on 2 cores).
	$(BIN)/pip install -q -e '.[$(EXTRAS)]'
	touch $(STAMP)

ingest: setup
	$(BIN)/rag ingest

run: ingest
	$(BIN)/rag ask "How can the vanishing gradient problem be mitigated?"

test: setup
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) .pytest_cache
