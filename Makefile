# The BVNK partner portal. `make help` lists the recipes.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: help run logins test lint format worker bench bench-tools clean browser clamav

help:  ## List the recipes
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(INSTALLED): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

run: $(INSTALLED)  ## Start portal, worker and BVNK emulator on embedded defaults
	$(BIN)/python scripts/run_dev.py

logins:  ## Print the demo logins `make run` printed last
	@cat var/demo-logins.txt 2>/dev/null || echo "No demo logins yet: start the portal with make run."

browser:  ## Install Debian's Chromium for the browser tests, if it is missing
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

clamav:  ## Install ClamAV's clamd for the malware-scanning tests, if it is missing
	@sh scripts/install_clamav.sh

test: $(INSTALLED) browser clamav  ## Run the whole test suite (DATABASE_URL / CELERY_BROKER_URL pick the services)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(INSTALLED)  ## ruff lint and format check, import contracts, mypy, missing migrations
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy customers bvnk_emulator portal
	$(BIN)/python manage.py makemigrations --check --dry-run

format: $(INSTALLED)  ## Format the code with ruff
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

worker: $(INSTALLED)  ## Run a Celery worker with beat alone (default queue and the "bvnk" sends)
	$(BIN)/celery -A portal worker --beat --schedule var/celerybeat-schedule -Q celery,bvnk --pool threads --concurrency 12 --loglevel INFO

bench-tools:  ## Install wrk and redis-server for the benchmarks, if they are missing
	@command -v wrk >/dev/null && command -v redis-server >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk redis-server; }

bench: $(INSTALLED) bench-tools  ## Run every benchmark under bench/ (PostgreSQL and Redis; bench/README.md)
	@status=0; for script in bench/[!_]*.py; do echo "==> $$script"; $(BIN)/python $$script || status=1; done; exit $$status

clean:  ## Remove local state (SQLite database, broker folder, uploaded files)
	rm -rf var
