# AidPort: `make run` starts everything on this machine, `make test` runs the whole suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
JARS   := .cache/kafka/libs/kafka_2.13-4.1.1.jar
MVN_COPY := org.apache.maven.plugins:maven-dependency-plugin:3.7.1:copy-dependencies

.PHONY: run test lint fmt venv kafka-jars rebuild bench clean distclean

run: $(STAMP) $(JARS)
	$(BIN)/python -m shared.devstack

test: $(STAMP) $(JARS) lint
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

kafka-jars: $(JARS)

$(JARS): deploy/kafka/pom.xml
	mvn -q -f deploy/kafka/pom.xml $(MVN_COPY) -DincludeScope=runtime \
		-DoutputDirectory=$(CURDIR)/.cache/kafka/libs
	touch $@

# Rebuild one service's projections from its event store: make rebuild SERVICE=intake
rebuild: $(STAMP)
	$(BIN)/python -m shared.rebuild $(SERVICE)

bench: $(STAMP) $(JARS)
	$(BIN)/python -m bench.relay_throughput

clean:
	rm -rf .data .pytest_cache .mypy_cache .ruff_cache .hypothesis

distclean: clean
	rm -rf $(VENV) .cache
