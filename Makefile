# `make demo` runs the main job, `make test` the test suite; both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench docs clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch first, pinned: it resolves to the local CPU wheel, and the package's torch>=2.2 is then met
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	rm -rf runs/demo
	$(BIN)/thermogan train configs/ring8_vanilla.yaml --out runs/demo/vanilla
	$(BIN)/thermogan train configs/ring8_betagan.yaml --out runs/demo/betagan
	$(BIN)/thermogan train configs/ring8_betagan.yaml --out runs/demo/betagan_cold \
		name=ring8_betagan_cold tempering.cold_std=2
	$(BIN)/thermogan report runs/demo/vanilla runs/demo/betagan runs/demo/betagan_cold \
		--out runs/demo/compare.png --html runs/demo/report.html

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/python -m pytest -n 2 --dist worksteal -q

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve

bench: $(STAMP)
	$(BIN)/python benchmarks/step_overhead.py

clean:
	rm -rf runs bench-out
