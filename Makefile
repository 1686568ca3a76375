# The project's tasks. Every target uses the virtualenv that `make install` makes in .venv.
.PHONY: install lint typecheck test-fast test check

VENV := .venv/bin

install:
	python3 -m venv .venv && $(VENV)/pip install -e ".[test]" && npm ci

# Style, formatting and the import boundaries between services and inside shared/.
lint:
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	$(VENV)/lint-imports

typecheck:
	$(VENV)/mypy

# Everything that starts no ideahub process: unit, contract and architecture tests, and the integration
# tests that call the code in-process (on SQLite with the embedded Redis, and on the real servers when
# they answer). Under a minute on two cores.
test-fast:
	IDEAHUB_TEST_STACKS=sqlite-embedded $(VENV)/python -m pytest -m "not e2e and not processes"

# The whole suite: what CI runs, as the README says.
test:
	$(VENV)/python -m pytest

check: lint typecheck test
