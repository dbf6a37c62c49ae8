# Two commands do all set-up on a fresh machine (Python 3.11, pip, make; run as root for apt):
#   make run    installs, builds the demo release, serves the dashboard on http://localhost:8501
#   make test   installs (including Debian's Chromium), runs the layer contracts and every test
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.8
UV := $(PYTHON) -m uv
PORT ?= 8501
LCP_DATA_DIR ?= $(CURDIR)/data
export LCP_DATA_DIR
export UV_PYTHON_DOWNLOADS := never
export UV_LINK_MODE := copy
RUN := $(UV) run --frozen --python $(PYTHON)

.PHONY: install chromium demo release run serve test lint clean screenshots walk bench

install:
	@$(PYTHON) -m uv --version 2>/dev/null | grep -q "$(UV_VERSION)" || $(PYTHON) -m pip install --quiet "uv==$(UV_VERSION)"
	$(UV) sync --frozen --python $(PYTHON)

chromium:
	@{ command -v chromium && command -v pdftoppm && test -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf; } >/dev/null 2>&1 || { \
		echo "installing Debian's chromium, poppler-utils and fonts (browser tests, chart export, briefs)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium poppler-utils fonts-dejavu-core fonts-liberation; }

release: install
	$(RUN) lcp demo --out $(LCP_DATA_DIR)/demo_supplies
	$(RUN) lcp ingest $(LCP_DATA_DIR)/demo_supplies
	$(RUN) lcp build

run: chromium release serve

serve:
	$(RUN) lcp serve --port $(PORT)

lint: install
	$(RUN) lint-imports

test: install chromium lint
	$(RUN) pytest

clean:
	rm -rf $(LCP_DATA_DIR)/restricted $(LCP_DATA_DIR)/published $(LCP_DATA_DIR)/demo_supplies

screenshots: release chromium
	$(RUN) python scripts/screenshots.py

# Every page for the county and every partnership area (and each map level, every indicator's detail)
# in Chromium on the release: exit 1 naming any view with an exception, a traceback or an outside fetch.
walk: release chromium
	$(RUN) python scripts/walk.py

# Figures for docs and reviews (README "Figures"; scripts/bench.py). Every section, about 10 minutes on
# 2 CPUs; `make bench BENCH_ARGS="--only ingest --rows 200000"` runs one section, smaller.
# Issue 10 (scale): `make bench BENCH_ARGS="--only scale --scale 10x"` (about half an hour) or
# `--scale national` (7,000 wards, ~47 million rows: hours; needs ~10 GB of disk; add --workdir DIR to keep it).
bench: install
	$(RUN) python scripts/bench.py $(BENCH_ARGS)
