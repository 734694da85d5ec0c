# RFC Counseling knowledge base. `make` alone prints this help.
#
# Every target bootstraps what it needs: a virtual environment in .venv with the pinned
# requirements (site build: requirements.txt; writer tools: requirements-writer.txt; tests:
# requirements-test.txt). A requirements file newer than its stamp reinstalls.

PYTHON     ?= python3
VENV       ?= .venv
BIN        := $(VENV)/bin
SOURCEDIR  := docs
BUILDDIR   ?= _build
# Nitpicky, warnings are errors, and every problem is listed before the non-zero exit.
# Read the Docs runs the same command as `make html` with the same flags
# (.readthedocs.yaml, build.jobs.build.html; tests/test_hosting.py keeps them equal).
SPHINXOPTS ?= -n -W --keep-going
# Processes for `make html` (Sphinx's -j): every CPU. The pages are the same byte for byte
# as with one process (tests/test_parallel_build.py, tests/test_parallel_write.py); a
# build of fewer than 40 pages (an edit) runs in one process anyway. JOBS=1 for one.
JOBS       ?= auto
SPHINXBUILD = $(BIN)/sphinx-build
STAGING    := $(BUILDDIR)/staging/html
DOCTREES   := $(BUILDDIR)/doctrees
LIVE_HOST  ?= 127.0.0.1
LIVE_PORT  ?= 8000

.DEFAULT_GOAL := help
.PHONY: help html epub livehtml new check linkcheck test bench clean

help:
	@echo "RFC Counseling knowledge base"
	@echo ""
	@echo "  make html        build the site into $(BUILDDIR)/html (creates .venv on first use)"
	@echo "  make epub        build the whole library as one EPUB book into $(BUILDDIR)/epub"
	@echo "  make livehtml    live preview at http://127.0.0.1:8000, reloads as you write (drafts shown;"
	@echo "                   LIVE_PORT=8001 for another port)"
	@echo "  make new TITLE=\"...\" TOPICS=\"grief,...\"   start a new article (asks if run without TITLE)"
	@echo "  make check       the writer's checks: front matter, citations, readability, spelling, links"
	@echo "  make linkcheck   check external links (needs the network)"
	@echo "  make test        run the test suite"
	@echo "  make bench       measure build time and memory on a generated corpus"
	@echo "  make clean       remove build output (never touches docs/ or references.bib)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.stamp-build: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install -q -r requirements.txt
	@touch $@

$(VENV)/.stamp-writer: requirements-writer.txt $(VENV)/.stamp-build
	$(BIN)/python -m pip install -q -r requirements-writer.txt
	@touch $@

$(VENV)/.stamp-test: requirements-test.txt $(VENV)/.stamp-writer
	$(BIN)/python -m pip install -q -r requirements-test.txt
	@touch $@

# Build into a staging folder; only a successful build replaces $(BUILDDIR)/html, in one
# step, so a failed, killed or interrupted build never leaves a half-written site where the
# last good one was. One build at a time per checkout (a second one waits). After a build
# that failed or did not finish, the next one reads every page again and shows every
# problem again. New page addresses are added to docs/_data/published-urls.txt (commit it).
# When nothing a build reads has changed since the last published one, Sphinx is not
# started. All of it in docs/_ext/kb/build.py.
html: $(VENV)/.stamp-build
	@$(BIN)/python $(SOURCEDIR)/_ext/kb/build.py html $(BUILDDIR) $(SOURCEDIR) -- \
	  -j $(JOBS) $(SPHINXOPTS) $(O)

# The library as one EPUB (docs/_ext/kb/epub.py), with the same flags. Built from scratch
# in its own staging folder (a book lists every file in its folder, so nothing left from an
# earlier build may be there); only a book that built is copied to $(BUILDDIR)/epub.
EPUB_STAGING := $(BUILDDIR)/staging/epub
epub: $(VENV)/.stamp-build
	@rm -rf $(EPUB_STAGING)
	@$(SPHINXBUILD) -b epub $(SPHINXOPTS) -d $(BUILDDIR)/epub-doctrees $(SOURCEDIR) $(EPUB_STAGING) $(O) \
	  || { rm -f $(BUILDDIR)/epub-doctrees/environment.pickle; echo "Build failed: the last book in $(BUILDDIR)/epub is unchanged."; exit 1; }
	@mkdir -p $(BUILDDIR)/epub
	@cp $(EPUB_STAGING)/*.epub $(BUILDDIR)/epub/
	@echo "Built: $$(ls $(BUILDDIR)/epub/*.epub)"

# KB_LIVE_RELOAD: the pages' Content-Security-Policy allows sphinx-autobuild's reload
# script for this address (docs/_ext/kb/csp.py). KB_SEARCH_INDEX=background: an edit shows
# as soon as its page is written; the search index follows (docs/_ext/kb/search.py).
livehtml: $(VENV)/.stamp-writer
	KB_DRAFTS=1 KB_SEARCH_INDEX=background KB_LIVE_RELOAD=$(LIVE_HOST):$(LIVE_PORT) \
	  $(BIN)/python $(SOURCEDIR)/_ext/kb/build.py live $(BUILDDIR) -- \
	  $(BIN)/sphinx-autobuild -b html \
	  $(SPHINXOPTS) -d $(BUILDDIR)/live-doctrees --host $(LIVE_HOST) --port $(LIVE_PORT) \
	  --watch references.bib $(SOURCEDIR) $(BUILDDIR)/live $(O)

new: $(VENV)/.stamp-writer
	@PYTHONPATH=$(SOURCEDIR)/_ext $(BIN)/python -m kb.cli new --title "$(TITLE)" --topics "$(TOPICS)"

check: $(VENV)/.stamp-writer
	@PYTHONPATH=$(SOURCEDIR)/_ext $(BIN)/python -m kb.cli check

linkcheck: $(VENV)/.stamp-build
	$(SPHINXBUILD) -b linkcheck $(SPHINXOPTS) -d $(DOCTREES) $(SOURCEDIR) $(BUILDDIR)/linkcheck $(O)

# The APA oracle (citeproc-js with the APA CSL style) is a test-only npm package set in
# tests/oracle, installed from its lock file; the site build never uses it.
ORACLE_STAMP := tests/oracle/node_modules/.package-lock.json
$(ORACLE_STAMP): tests/oracle/package-lock.json
	@command -v npm >/dev/null || { echo "make test needs Node.js and npm (for the APA oracle in tests/oracle)"; exit 1; }
	npm ci --prefix tests/oracle --no-audit --no-fund --loglevel=error
	@touch $@

test: $(VENV)/.stamp-test $(ORACLE_STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The peers of `make bench` (MkDocs Material, Hugo) live in their own environment, so
# their dependencies never move the site's pins (benchmarks/requirements-peers.txt).
PEERS_VENV := .venv-peers
$(PEERS_VENV)/.stamp: benchmarks/requirements-peers.txt
	$(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -m pip install -q -r benchmarks/requirements-peers.txt
	@touch $@

bench: $(VENV)/.stamp-test $(PEERS_VENV)/.stamp
	$(BIN)/python benchmarks/bench.py $(BENCH_ARGS)

clean:
	rm -rf $(BUILDDIR) .pytest_cache benchmarks/_corpus
