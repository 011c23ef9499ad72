# Everyday commands; they use the .venv the README creates.
.PHONY: install check test lint types

install:
	python3 -m venv .venv && .venv/bin/pip install -e '.[dev]'

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

types:
	.venv/bin/mypy && .venv/bin/lint-imports

test:
	.venv/bin/pytest

check: lint types test
