.PHONY: install test lint bench demo

install:
	pip install -e '.[dev]'

test:
	pytest

lint:
	ruff check src tests bench
	ruff format --check src tests bench
	mypy
	lint-imports

bench:
	python bench/engine.py
	python bench/expr.py

demo:
	makegood demo
