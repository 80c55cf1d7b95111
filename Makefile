# Two commands matter: `make book` and `make test` (see README.md).
PYTHON  ?= python3
VENV    ?= .venv
PY      := $(VENV)/bin/python
PROFILE ?= demo
DEVICE  ?= auto
# The project's offline data copy, only where it exists (book/data.md); else nnrnn.data downloads.
NNRNN_DATA_DIR ?= $(abspath $(wildcard ../shared/data))
ifneq ($(NNRNN_DATA_DIR),)
export NNRNN_DATA_DIR
endif

MATHJAX_VERSION := 3.2.2
MATHJAX_SHA256  := 1b9c0a1c44df864e915690558e72adb9cc5203360daefd385084ced3b6c64c09
MATHJAX_JS      := book/_mathjax/mathjax/tex-svg-full.js

.PHONY: book test verify bench bench-quick gpu-check venv mathjax clean lock

## book: execute every chapter on PROFILE (smoke|demo|replicate|paper) and build _build/html;
## FRESH=1 recomputes everything into a fresh, empty results root (nothing stored is reused)
book: venv mathjax
	$(if $(FRESH),NNRNN_RESULTS_DIR=$$(mktemp -d -t nnrnn-fresh-XXXXXX)) $(PY) -m nnrnn.book --profile $(PROFILE) --device $(DEVICE)

## verify: the archive against its manifest, final numbers recomputed from weights (EVIDENCE runs, default all),
## SAMPLE (default 2) runs retrained up to their first validation point in two summation orders; then
## protocol v2's runs (data/v2) against their own manifest, V2_EVIDENCE (default 3) of them from weights
verify: venv
	$(PY) -m nnrnn.verify --sample $(or $(SAMPLE),2) $(if $(EVIDENCE),--evidence $(EVIDENCE)) $(if $(MAX_UPDATES),--max-updates $(MAX_UPDATES))
	@# protocol v2 (data/v2, its own manifest): every file, and V2_EVIDENCE random runs' final numbers from weights
	if [ -f data/v2/MANIFEST.json ]; then $(PY) -m nnrnn.verify --root data/v2 --sample 0 --evidence $(or $(V2_EVIDENCE),3); fi

## test: unit tests, smoke execution of every chapter, the book build, a browser check
test: venv mathjax
	$(PY) -m pytest

## bench: the RNN engine against torch.nn.RNN and the fused step against today's, at one torch thread as a
## sweep worker trains (last line: "... (one thread)"), then sweep throughput (process pool vs lockstep); on a quiet machine
bench: venv
	$(PY) -m nnrnn.bench rnn --threads 1 --json data/bench/rnn.json
	$(PY) -m nnrnn.bench sweep --json data/bench/sweep.json

## bench-quick: both on tiny sizes (about a minute; checks that the benchmarks run)
bench-quick: venv
	$(PY) -m nnrnn.bench rnn --quick
	$(PY) -m nnrnn.bench sweep --quick

## gpu-check: lockstep on one GPU (within 8 minutes): equivalence, time per update up to K = 2,112, JSON in data/bench/
gpu-check: venv
	$(PY) tools/gpu-check $(GPU_CHECK_ARGS)

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

## mathjax: fetch MathJax from the npm registry (checksummed) so the book typesets offline
mathjax: $(MATHJAX_JS)

$(MATHJAX_JS):
	mkdir -p .cache $(dir $@)
	cd .cache && test -f mathjax-$(MATHJAX_VERSION).tgz || npm pack --silent mathjax@$(MATHJAX_VERSION) >/dev/null
	echo "$(MATHJAX_SHA256)  .cache/mathjax-$(MATHJAX_VERSION).tgz" | sha256sum -c --quiet -
	tar -xzf .cache/mathjax-$(MATHJAX_VERSION).tgz -C .cache package/es5/tex-svg-full.js
	cp .cache/package/es5/tex-svg-full.js $@

## lock: regenerate requirements.lock from the current virtual environment, and environment.yml from it
lock:
	$(PY) -m pip freeze --exclude-editable | sed 's/^torch==\([0-9.]*\)+cpu$$/torch==\1/' > requirements.lock
	$(PY) tools/environment.py

clean:
	rm -rf _build .pytest_cache
