# AidPort: `make run` starts everything on this machine, `make test` runs the whole suite.
# Needs Python 3.11+, a JDK 17+ and Maven (for the Kafka broker jars, fetched once).
PYTHON   ?= python3
VENV     := .venv
BIN      := $(VENV)/bin
STAMP    := $(VENV)/.installed
LIBS     := .cache/kafka/libs
JARS     := $(LIBS)/kafka_2.13-4.1.1.jar
MVN_COPY := org.apache.maven.plugins:maven-dependency-plugin:3.7.1:copy-dependencies

.PHONY: run test lint fmt venv kafka-jars rebuild bench demo clean distclean

run: $(STAMP) $(JARS)
	$(BIN)/python -m shared.devstack

test: $(STAMP) $(JARS) lint
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy services shared demo

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

venv: $(STAMP)

# Runs once, and again when the dependencies change.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

kafka-jars: $(JARS)

# The broker's runtime jars from Maven Central (deploy/kafka/pom.xml). The folder is emptied
# first so that a version change cannot leave two Kafka versions on the classpath.
$(JARS): deploy/kafka/pom.xml
	rm -rf $(LIBS)
	mvn -q -f deploy/kafka/pom.xml $(MVN_COPY) -DincludeScope=runtime \
		-DoutputDirectory=$(CURDIR)/$(LIBS)
	@test -s $@ || { echo "$@ missing after the Maven download (version in pom.xml?)" >&2; exit 1; }
	touch $@

# Rebuild one service's projections from its event store: make rebuild SERVICE=intake
rebuild: $(STAMP)
	$(BIN)/python -m shared.rebuild $(SERVICE)

bench: $(STAMP) $(JARS)
	$(BIN)/python -m bench

# Replays the 2021 consignments into a running `make run` (another terminal), through the
# public HTTP APIs; a second run changes nothing. Options: make demo DEMO_ARGS="--scale 10"
demo: $(STAMP)
	$(BIN)/python -m demo $(DEMO_ARGS)

# The local data (.data: PostgreSQL, Kafka, service logs) and the tool caches; the Kafka jars
# in .cache and the virtualenv stay (distclean removes them too).
clean:
	rm -rf .data .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -path ./$(VENV) -prune -o -path ./.cache -prune -o -type d -name __pycache__ -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) .cache
