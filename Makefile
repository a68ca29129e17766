# The two commands of the README: `make run` and `make test`. Both set up .venv first.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXTRAS := llm,api,server,ui,test
# llama.cpp's native build uses AMX tiles where the CPU lists them, and a virtual machine
# that does not grant them kills the process at the first prompt of more than one token
# (a general protection fault on ldtilecfg, seen on a Xeon guest). So it is built without
# AMX, once per CPU type, into a wheel folder of our own: pip's wheel cache would hand
# back whatever build it holds, whatever CMAKE_ARGS say.
LLAMA := llama-cpp-python==0.3.36
NO_AMX := -mno-amx-tile -mno-amx-int8 -mno-amx-bf16
LLAMA_CMAKE := -DCMAKE_C_FLAGS="$(NO_AMX)" -DCMAKE_CXX_FLAGS="$(NO_AMX)"
LLAMA_KEY := $(shell (grep -m1 '^flags' /proc/cpuinfo; echo '$(LLAMA) $(LLAMA_CMAKE)') | sha256sum | cut -c1-12)
WHEELS := $(HOME)/.cache/rag-dlqa/wheels/$(LLAMA_KEY)
LLAMA_STAMP := $(VENV)/.llama-$(LLAMA_KEY)

.PHONY: run test setup ingest browser clean

setup: $(STAMP)

# The llama.cpp wheel goes in first, so the editable install finds its pin satisfied.
$(STAMP): pyproject.toml $(LLAMA_STAMP)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# CPU torch first: a plain torch requirement would pull a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[$(EXTRAS)]'
	touch $(STAMP)

# llama-cpp-python compiles from source the first time (3-10 min on 2 cores).
$(LLAMA_STAMP):
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11 or run make PYTHON=python3"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	ls $(WHEELS)/llama_cpp_python-*.whl >/dev/null 2>&1 || \
	  CMAKE_ARGS='$(LLAMA_CMAKE)' $(BIN)/pip wheel -q --no-deps --no-cache-dir -w $(WHEELS) '$(LLAMA)'
	$(BIN)/pip install -q --force-reinstall --no-deps $(WHEELS)/llama_cpp_python-*.whl
	rm -f $(VENV)/.llama-*
	touch $@

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
