# Casebook: `make run` starts it on embedded defaults with demo data; `make test` runs the tests.
# Each target creates its own virtual environment in .venv on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA_DIR ?= .casebook
export CASEBOOK_QUEUES_FILE ?= demo/queues.toml
SHARED ?= ../shared/data
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: install run demo test test-fast lint format typecheck check eval-retrieval eval-gate bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## create .venv and install Casebook with its dev tools

run: $(STAMP) ## load the demo data, train the router, start the API with the demo's new cases triaged
	CASEBOOK_DATA_DIR=$(DATA_DIR) $(BIN)/casebook demo
	CASEBOOK_DATA_DIR=$(DATA_DIR) $(BIN)/casebook router train
	CASEBOOK_DATA_DIR=$(DATA_DIR) $(BIN)/casebook serve --demo --host $(HOST) --port $(PORT)

demo: $(STAMP) ## the command-line tour: demo data, router, one triage, stats (no server)
	CASEBOOK_DATA_DIR=$(DATA_DIR) $(BIN)/casebook demo
	CASEBOOK_DATA_DIR=$(DATA_DIR) $(BIN)/casebook router train
	CASEBOOK_DATA_DIR=$(DATA_DIR) $(BIN)/casebook triage --text "$$(printf 'Checkout payments failing for EU cards\nSince this morning about 30%% of our EU card payments fail with card_declined: do_not_honor. Nothing changed on our side.')"
	CASEBOOK_DATA_DIR=$(DATA_DIR) $(BIN)/casebook stats

test: $(STAMP) ## the whole test suite (what CI runs)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP) ## tests without the slow ones
	$(BIN)/python -m pytest -q -m 'not slow'

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

worker: $(STAMP) ## run jobs in a separate process (with a shared database)
	CASEBOOK_DATA_DIR=$(DATA_DIR) $(BIN)/casebook worker

typecheck: $(STAMP)
	$(BIN)/mypy core casetext retrieval kb_ingest triage storage service kb_coverage api evals cli

check: lint typecheck test

eval-retrieval: $(STAMP) ## retrieval evals on the shared real data
	$(BIN)/casebook eval similar-cases --bugs $(SHARED)/gitbugs-hadoop/bugs.csv --duplicates $(SHARED)/gitbugs-hadoop/duplicates.csv
	$(BIN)/casebook eval runbooks --alerts $(SHARED)/prometheus-runbooks/alerts.json

eval-gate: $(STAMP) ## the fast eval suite against the committed baseline; exit 1 on a regression
	CASEBOOK_DATA_DIR=$(DATA_DIR) CASEBOOK_SHARED_DATA=$(SHARED) $(BIN)/casebook eval gate --baseline evals/baselines/ci.json

bench: $(STAMP) ## speed benchmarks (minutes)
	$(BIN)/python -m benchmarks.ingest_search_speed
	$(BIN)/python -m benchmarks.triage_speed

clean:
	rm -rf $(VENV) $(DATA_DIR) .pytest_cache .mypy_cache .ruff_cache
