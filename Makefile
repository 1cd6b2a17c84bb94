# The README's two commands: `make run` and `make test`. Both set up first (idempotent).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
JARS_DIR := .jars
JARS_STAMP := $(JARS_DIR)/.complete

export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export GX_ANALYTICS_ENABLED := false
export FEAST_USAGE := False
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup system-packages run test bench lint clean

setup: $(STAMP) $(JARS_STAMP) system-packages

# Debian packages: chromium checks the Data Docs page headless; BLAS and LAPACK let MLlib's
# ALS use native linear algebra (without them it falls back to Java and says so on stderr).
DEBIAN_PACKAGES := chromium libblas3 liblapack3
system-packages:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages: $$missing"; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e '.[dev,bench]'
	@touch $@

# The Delta jars that match the installed delta-spark (and pyspark's Spark minor version),
# fetched once with Maven into a git-ignored folder; no run downloads anything.
$(JARS_STAMP): $(STAMP)
	@set -euo pipefail; \
	delta=$$($(BIN)/python -c 'import importlib.metadata as m; print(m.version("delta-spark"))'); \
	spark=$$($(BIN)/python -c 'import importlib.metadata as m; print(".".join(m.version("pyspark").split(".")[:2]))'); \
	if [ "$$(cat $@ 2>/dev/null)" = "$$delta" ]; then touch $@; exit 0; fi; \
	echo "fetching Delta Lake $$delta jars for Spark $$spark into $(JARS_DIR)/"; \
	rm -rf $(JARS_DIR) && mkdir -p $(JARS_DIR); \
	for artifact in io.delta:delta-spark_$${spark}_2.13:$$delta io.delta:delta-storage:$$delta; do \
	  mvn -q -B -Dstyle.color=never org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy \
	    -Dartifact=$$artifact -DoutputDirectory=$(JARS_DIR) -Dmdep.useBaseVersion=true > $(JARS_DIR)/.maven.log 2>&1 \
	    || { cat $(JARS_DIR)/.maven.log; echo "Maven could not fetch $$artifact"; exit 1; }; \
	done; \
	echo "$$delta" > $@

run: setup
	$(BIN)/tastegraph run --demo

# Two pytest workers (pytest-xdist), each with its own SparkSession, each running whole test
# files so that a module's shared lake is built once; TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= 2
test: setup
	@[[ "$(TEST_WORKERS)" =~ ^[0-9]+$$ ]] || { echo "TEST_WORKERS must be a whole number (0 runs in one process), got '$(TEST_WORKERS)'"; exit 2; }
	@set -o pipefail; $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "no tests were collected"; exit 1; fi; exit $$rc

bench: setup
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)

lint: setup
	$(BIN)/ruff check .

clean:
	rm -rf lake bench-out spark-warehouse
