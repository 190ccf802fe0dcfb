# sessionlens: `make run` starts the server with the demo shop; `make test` runs every test.
# Every install step is here, idempotent, and skipped when already done.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMPS := .stamps
BUILD := src/sessionlens/console/static/build
CLIENT_SRC := $(shell find client/src -type f 2>/dev/null) client/build.mjs
PYTEST_ARGS ?=
SMALL_SEED := /tmp/sessionlens-seed-20k.db
NATS_UP := $(PYTHON) -c "import socket; socket.create_connection(('127.0.0.1', 4222), 2)" 2>/dev/null

.PHONY: run test check fmt build install chromium services bench bench-size bench-load clean

run: install build
	$(BIN)/sessionlens serve

test: install build chromium services
	cd client && node --test test/
	$(BIN)/pytest -n 2 $(PYTEST_ARGS)

check: install
	$(BIN)/ruff check src tests $(wildcard bench)
	$(BIN)/ruff format --check src tests $(wildcard bench)
	$(BIN)/mypy

fmt: install
	$(BIN)/ruff format src tests $(wildcard bench)
	$(BIN)/ruff check --fix src tests $(wildcard bench)

install: $(STAMPS)/venv

$(STAMPS)/venv: pyproject.toml
	@mkdir -p $(STAMPS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

build: $(BUILD)/sessionlens.js

$(STAMPS)/npm: client/package.json client/package-lock.json
	@mkdir -p $(STAMPS)
	cd client && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(BUILD)/sessionlens.js: $(STAMPS)/npm $(CLIENT_SRC)
	cd client && node build.mjs

# Debian's chromium for the browser tests; playwright cannot download browsers here.
chromium:
	@test -x /usr/bin/chromium || (apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

# PostgreSQL and NATS for the tests: start them when they are not answering.
services:
	@pg_isready -q -h 127.0.0.1 -p 5432 || \
		(pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start && sleep 2)
	@pg_isready -h 127.0.0.1 -p 5432
	@$(NATS_UP) || (start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server \
		-- -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log && \
		for i in 1 2 3 4 5 6 7 8 9 10; do $(NATS_UP) && break; sleep 0.5; done)
	@$(NATS_UP) || (echo "NATS is not answering on 127.0.0.1:4222" && exit 1)

bench: install build
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/guard.py
	$(BIN)/python bench/seed.py --sessions 20000 --database-url sqlite:///$(SMALL_SEED) --replace
	$(BIN)/python bench/reports.py --database-url sqlite:///$(SMALL_SEED)

# Reports and search over a project of 1M sessions and 5M pageviews: about 15 minutes.
bench-size: install
	$(BIN)/python bench/seed.py --replace
	$(BIN)/python bench/reports.py

# Codecs, 500 recorders against a real server (embedded log, then NATS on 127.0.0.1:4222),
# capture-to-playable and first frame: about 6 minutes (docs/benchmarks.md).
bench-load: install
	$(BIN)/python bench/compression.py
	$(BIN)/python bench/load.py
	@if $(NATS_UP); then $(BIN)/python bench/load.py --queue nats; \
	else echo "bench-load: no NATS on 127.0.0.1:4222, NATS mode skipped"; fi
	$(BIN)/python bench/playable.py

clean:
	rm -rf $(STAMPS) $(BUILD) client/node_modules
