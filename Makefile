# AidPort: `make run` starts everything on this machine, `make test` runs the whole suite.
# Needs Python 3.11+, a JDK 17+ and Maven (for the Kafka broker jars, fetched once).
PYTHON   ?= python3
VENV     := .venv
BIN      := $(VENV)/bin
STAMP    := $(VENV)/.installed
LIBS     := .cache/kafka/libs
JARS     := $(LIBS)/kafka_2.13-4.1.1.jar
MVN_COPY := org.apache.maven.plugins:maven-dependency-plugin:3.7.1:copy-dependencies

.PHONY: run test lint fmt venv tools kafka-jars rebuild bench demo screenshots clean distclean

run: $(STAMP) $(JARS)
	$(BIN)/python -m shared.devstack

test: $(STAMP) $(JARS) tools lint
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

# Programs from Debian's packages that the tests need: chromium (the browser tests, driven by
# Playwright: browser downloads are not possible) and promtool (package prometheus: checks the
# monitoring files). Installed with apt when missing and the machine allows it (root and
# apt-get); otherwise the tests that need them fail and say so.
# Each entry: program:packages (joined by +); chromium gets a font for readable screenshots.
TOOLS := chromium:chromium+fonts-dejavu-core promtool:prometheus
tools:
	@missing=""; for pair in $(TOOLS); do \
		command -v $${pair%%:*} >/dev/null || missing="$$missing $$(echo $${pair#*:} | tr + ' ')"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing$$missing with apt-get"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends $$missing; \
	else \
		echo "missing:$$missing (install them, or set AIDPORT_ALLOW_MISSING_TOOLS=1)" >&2; \
	fi

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

# The browser tests, writing the pages' screenshots into docs/screenshots/ (committed).
screenshots: $(STAMP) $(JARS) tools
	AIDPORT_SCREENSHOTS=docs/screenshots $(BIN)/pytest -q tests/browser

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
