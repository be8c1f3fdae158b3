# The two commands of the README: `make demo` and `make test`.
.PHONY: demo test lint setup-demo setup-test bench lock

VENV := .venv/bin
AHEAD := 2031-06-30

demo: setup-demo
	$(VENV)/locmap demo

# The second run moves the clock years ahead (locmap/clock.py) for every test whose outcome
# depends on the date: none may pass only on the day it was written.
# pytest-xdist: one process per core, a file's tests in one process (README, Development).
TEST_WORKERS ?= auto
PYTEST := $(VENV)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

test: setup-test lint
	$(PYTEST) --durations=15
	LOCMAP_CLOCK=$(AHEAD) $(PYTEST) -m dated -q

lint:
	$(VENV)/ruff check locmap tests bench migrations geodata
	$(VENV)/mypy locmap
	$(VENV)/lint-imports --no-cache

setup-demo:
	bash scripts/setup.sh demo

setup-test:
	bash scripts/setup.sh test

bench: setup-test
	for b in bench/bench_*.py; do $(VENV)/python $$b || exit 1; done

# Refresh the lock files from setup.cfg (needs uv: `pip install uv`). The development lock
# is constrained by the runtime one, so both setups share every runtime version.
lock:
	uv pip compile setup.cfg --python-version 3.11 --annotation-style line --no-header \
		--upgrade -o requirements/runtime.txt
	uv pip compile setup.cfg --extra dev -c requirements/runtime.txt --python-version 3.11 \
		--annotation-style line --no-header --upgrade -o requirements/dev.txt
