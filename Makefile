# Everyday commands; they use the .venv the README creates.
.PHONY: install check test lint types lock lock-check

install:
	python3 -m venv .venv && .venv/bin/pip install -e '.[dev]'

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

types:
	.venv/bin/mypy && .venv/bin/lint-imports

test:
	.venv/bin/pytest

# requirements.txt, the lock file, from pyproject.toml (see docs/operations.md).
lock:
	bash .ci/lock

lock-check:
	bash .ci/lock --check

check: lint types lock-check test
