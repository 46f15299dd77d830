# fpkit task runner. `make book` builds the book, `make test` runs the whole test suite;
# both create or reuse the virtual environment .venv and install the pinned set themselves.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.fpkit-installed

.PHONY: all book test test-unit test-chapters test-nbval bench bench-quick info clean clean-book

all: test

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev,book]"
	@touch $(STAMP)

## Build the whole book to _build/html, executing every chapter at full size (warnings are errors).
book: $(STAMP)
	$(PY) tools/build_book.py

## Run the whole test suite: unit tests, every chapter at quick size (papermill), then nbval on the results.
test: test-unit test-nbval

# Two pytest workers on two cores: one BLAS thread each (oversubscribed OpenBLAS threads spin
# and made the suite several times slower).
test-unit: $(STAMP)
	rm -rf _build/quick
	OPENBLAS_NUM_THREADS=1 $(PY) -m pytest -n 2 --dist loadgroup tests

# nbval re-runs the notebooks that the chapter tests executed and compares every output.
test-nbval: test-unit
	OPENBLAS_NUM_THREADS=1 $(PY) -m pytest -n 2 --dist loadfile -p no:cacheprovider --nbval \
	    --nbval-sanitize-with tests/nbval_sanitize.cfg _build/quick -o testpaths=

## Benchmarks: prints each speed ratio next to its target (add --gpu on a CUDA machine).
bench: $(STAMP)
	$(PY) benchmarks/run.py

bench-quick: $(STAMP)
	$(PY) benchmarks/run.py --quick

info: $(STAMP)
	$(VENV)/bin/fpkit info

clean-book:
	rm -rf _build

clean: clean-book
	rm -rf $(VENV) .pytest_cache .hypothesis
