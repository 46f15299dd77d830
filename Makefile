# fpkit task runner. `make book` builds the book, `make test` runs the whole test suite;
# both create or reuse the virtual environment .venv and install the pinned set themselves.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.fpkit-installed

.PHONY: all book test test-unit test-book test-book-full test-nbval bench bench-quick info clean clean-book

all: test

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev,book]"
	@touch $(STAMP)

## Build the whole book to _build/html, executing every chapter at full size (warnings are errors).
book: $(STAMP)
	$(PY) tools/build_book.py

## Run the whole test suite: unit tests and every chapter at quick size (papermill), the HTML book
## built from those executed notebooks and checked in headless chromium, then nbval on the notebooks.
test: test-unit test-book test-nbval

# Two pytest workers on two cores: one BLAS thread each (oversubscribed OpenBLAS threads spin
# and made the suite several times slower).
test-unit: $(STAMP)
	rm -rf _build/quick
	OPENBLAS_NUM_THREADS=1 $(PY) -m pytest -n 2 --dist loadgroup -m "not browser" tests

# The quick book: HTML built (-W, like `make book`) from the notebooks test-unit executed into
# _build/quick, nothing executed twice; then every page is checked offline in headless chromium
# (tests/test_browser.py). Without chromium and chromium-driver this fails; FPKIT_ALLOW_NO_BROWSER=1
# turns that into a skip on a developer's machine.
QUICK_HTML := _build/quick-book/_build/html
test-book: test-unit
	$(PY) tools/build_book.py --quick
	FPKIT_BOOK_HTML=$(CURDIR)/$(QUICK_HTML) $(PY) -m pytest -p no:cacheprovider -m browser tests/test_browser.py

# nbval re-runs the notebooks that the chapter tests executed and compares every output
# (on NumPy, like the chapter tests: tests/conftest.py pins FPKIT_BACKEND=numpy).
test-nbval: test-book
	FPKIT_BACKEND=numpy OPENBLAS_NUM_THREADS=1 $(PY) -m pytest -n 2 --dist loadfile -p no:cacheprovider --nbval \
	    --nbval-sanitize-with tests/nbval_sanitize.cfg _build/quick -o testpaths=

## The browser test on the full book of `make book` (_build/html).
test-book-full: $(STAMP)
	FPKIT_BOOK_HTML=$(CURDIR)/_build/html $(PY) -m pytest -p no:cacheprovider -m browser tests/test_browser.py

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
