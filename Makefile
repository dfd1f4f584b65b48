# The commands: `make run` (the service with a demo course), `make test` (the whole suite) and
# `make lint` (style, types and layers; zero findings).
PYTHON ?= $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || echo python3)
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: install test run bench lint lint-imports clean

# Debian's interpreter, not one under /root: the sandbox's unprivileged uid must read the stdlib.
$(STAMP): pyproject.toml scripts/ensure-chromium.sh
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -e '.[test]'
	bash scripts/ensure-chromium.sh
	touch $(STAMP)

install: $(STAMP)

# Bytecode is written even where PYTHONDONTWRITEBYTECODE is set: the suite starts dozens of
# interpreters (workers, fork servers, servers, commands) that import the same modules, and each
# would compile them all again.
test: install
	env -u PYTHONDONTWRITEBYTECODE $(VENV)/bin/python -m pytest -q

# pyproject.toml's [tool.ruff] over the whole repository, [tool.mypy] strict on grader/ and workers/,
# and the layers.
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# The layers of pyproject.toml [tool.importlinter]: each package imports only those below it.
lint-imports: install
	$(VENV)/bin/lint-imports

# Another port: `make run GRADER_PORT=8001` (a busy port is refused before anything starts).
run: install
	$(VENV)/bin/python -m grader.devserver

bench: install
	$(VENV)/bin/python -m benchmarks

clean:
	rm -rf $(VENV) var build *.egg-info .bench
