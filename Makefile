# The two commands of the README: `make demo` and `make test`.
.PHONY: demo test lint setup-demo setup-test bench

VENV := .venv/bin

demo: setup-demo
	$(VENV)/locmap demo

test: setup-test lint
	$(VENV)/python -m pytest

lint:
	$(VENV)/ruff check locmap tests bench migrations geodata
	$(VENV)/mypy locmap

setup-demo:
	bash scripts/setup.sh demo

setup-test:
	bash scripts/setup.sh test

bench: setup-test
	for b in bench/bench_*.py; do $(VENV)/python $$b || exit 1; done
