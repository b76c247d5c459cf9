# The two commands of README.md: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install demo test lint bench clean

install: $(VENV)/.installed

# torch first and pinned: a CPU build of 2.13.0 lies on this machine's disk; a looser
# requirement would pull a several-GB CUDA build.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev,cluster]'
	touch $@

# System packages, as root from Debian's: Tesseract reads scanned pages and picture slides
# (OCR, with the offices' languages); the web page's tests drive Chromium (Playwright, with
# executable_path: no browser download from elsewhere).
OCR_PACKAGES := tesseract-ocr tesseract-ocr-eng tesseract-ocr-fra tesseract-ocr-deu tesseract-ocr-spa

/usr/bin/tesseract:
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(OCR_PACKAGES)

/usr/bin/chromium:
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

# A laptop demo: read access is open to this machine (loopback) without a key; uploads,
# re-indexing, admin routes and every other client still need an API key.
demo: install /usr/bin/tesseract
	$(BIN)/bridge ingest corpus/
	@echo "demo: reading is open to this machine without an API key (BRIDGE_OPEN_READ_ON_LOOPBACK=1);"
	@echo "      everything else needs one: $(BIN)/bridge keys create NAME --scope read --scope ingest --scope admin"
	BRIDGE_OPEN_READ_ON_LOOPBACK=1 $(BIN)/bridge serve --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check .

test: lint /usr/bin/tesseract /usr/bin/chromium
	$(BIN)/python -m pytest

bench: install
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python -m bench.ingest_throughput
	$(BIN)/python -m bench.query_latency --sample

clean:
	rm -rf $(VENV) data
