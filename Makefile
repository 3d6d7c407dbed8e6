# Two entry points: `make demo` and `make test`. Both create .venv and install igs on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(CURDIR)/$(VENV)/bin
STAMP  := $(VENV)/.installed
export PATH := $(BIN):$(PATH)
DEBIAN_PACKAGES := plink2 plink1.9 postgresql chromium

.PHONY: demo test lint install system-deps clean test-slurm test-spark

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,hail]'
	touch $(STAMP)

# Debian packages the tests use as oracles; installed only when a command is missing.
system-deps:
	@missing=""; \
	command -v plink2 >/dev/null || missing="$$missing plink2"; \
	command -v plink1.9 >/dev/null || missing="$$missing plink1.9"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

demo: $(STAMP)
	snakemake --profile workflow/profiles/local --configfile config/config.yaml
	@echo ""
	@echo "Done. Results are under $(CURDIR)/results/ (one folder per biobank), logs under $(CURDIR)/logs/."

lint: $(STAMP)
	ruff check .
	ruff format --check igs tests benchmarks

test: $(STAMP) system-deps lint
	pytest

# A real one-node SLURM cluster and a real Spark standalone cluster on this machine (slow; not
# part of `make test`). See README "Running on a cluster".
test-slurm: $(STAMP)
	scripts/test-slurm.sh

test-spark: $(STAMP)
	scripts/test-spark.sh

clean:
	rm -rf results logs .snakemake
