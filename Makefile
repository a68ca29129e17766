# The two commands of the README: `make run` and `make test`. Both set up .venv first.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXTRAS := llm,api,server,ui,test

.PHONY: run test setup ingest browser clean

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

# The web app on http://127.0.0.1:8501 (first answer loads the local model).
run: ingest
	$(BIN)/streamlit run ui/app.py --server.address 127.0.0.1 --server.port 8501

# The browser tests drive Debian's Chromium (Playwright cannot download browsers here).
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

test: setup browser
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) .pytest_cache
