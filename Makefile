# TradAI Serverless. `make demo` runs the main job on the local stack; `make test` runs every check.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
STAND_INS := tests/stand-ins/stand-ins
VENV := .stand-ins/venv

# Local runs never reach AWS: dummy credentials, a fixed region, no instance-metadata lookups.
export AWS_EC2_METADATA_DISABLED := true
export AWS_REGION := us-east-1
export AWS_ACCESS_KEY_ID := testing
export AWS_SECRET_ACCESS_KEY := testing
export CARGO_TERM_COLOR := never

.PHONY: help demo up down test stand-ins stand-ins-up stand-ins-down lint fmt clippy unit-and-integration bench package

help:
	@echo "make demo        tradai up, register the sample strategy, push sample candles, submit and watch a backtest with real Freqtrade, tradai down"
	@echo "make up          start the local stack (tradai up --detach) and leave it running; make down stops it"
	@echo "make test        formatting, clippy, every test against the stand-ins, cfn-lint"
	@echo "make lint        cfn-lint with the serverless rules, sam validate --lint, checkov (offline), asl-validator, openapi-spec-validator, hadolint"
	@echo "make stand-ins   install the pinned local stand-ins into $(VENV)"
	@echo "make package     sam build of every function (cargo lambda, x86_64 provided.al2023) into .package/, each binary's architecture, glibc needs and zip size checked (bench/package)"
	@echo "make bench       cold-start, TransformResults, orphan-scan, queue-consumer, orchestration, CLI start-up, sweep and reproducibility benchmarks (bench/RESULTS.md)"

stand-ins:
	@$(STAND_INS) install

stand-ins-up: stand-ins
	@$(STAND_INS) start >/dev/null

stand-ins-down:
	@$(STAND_INS) stop

# The demo is what a person would type (scripts/demo): the local stack detached, the sample strategy registered,
# sample candles pushed, a backtest submitted and watched through the local HTTP API, its result, the stack stopped.
demo: stand-ins
	cargo build --quiet --workspace --bins
	scripts/demo

# The local stack for exploring: its API and MLflow UI are printed; `tradai` finds it through .tradai/.
up: stand-ins
	cargo build --quiet --workspace --bins
	$${CARGO_TARGET_DIR:-target}/debug/tradai up --detach

down:
	$${CARGO_TARGET_DIR:-target}/debug/tradai down

fmt:
	cargo fmt --all -- --check

clippy:
	@echo "cargo clippy --workspace --all-targets -- -D warnings"
	@cargo clippy --workspace --all-targets -- -D warnings

# cfn-lint checks the template as written, with AWS's serverless rules (cfn-lint-serverless: the -a path goes after
# the template, since -a takes every name that follows it), `sam validate --lint` after the SAM transform; Checkov
# runs its CloudFormation policies offline (.checkov.yaml: no Prisma Cloud download, the checks it skips and why; the
# variable stops its PyPI version check); none looks inside DefinitionUri: asl-validator checks every state machine
# definition.
lint: stand-ins
	$(VENV)/bin/cfn-lint template.yaml templates/*.yaml -a cfn_lint_serverless.rules
	for template in template.yaml templates/*.yaml; do \
	  SAM_CLI_TELEMETRY=0 __SAM_CLI_APP_DIR=$(CURDIR)/.stand-ins/sam/config .stand-ins/sam/bin/sam validate --lint --template $$template || exit 1; \
	done
	CKV_SKIP_PACKAGE_UPDATE_CHECK=true .stand-ins/checkov/bin/checkov --config-file .checkov.yaml --file template.yaml $(addprefix --file ,$(wildcard templates/*.yaml))
	.stand-ins/node/node_modules/.bin/asl-validator $(addprefix --json-path ,$(wildcard statemachine/*.asl.json))
	$(VENV)/bin/openapi-spec-validator openapi.yaml
	$(VENV)/bin/hadolint container/Dockerfile container/engine/Dockerfile mlflow/Dockerfile

# Every binary is built first: the workflow tests run the functions under `cargo lambda watch` (which then finds
# them fresh) and the entrypoint as the local ECS task; a test sends the entrypoint a real SIGTERM. Every AWS call a
# function or strategy task makes on a local deployment is written under TRADAI_CALLS_DIR; after the suite, one more
# test (ignored in the suite) checks all of them against their callers' roles.
CALLS_DIR := $(CURDIR)/.stand-ins/calls
unit-and-integration: stand-ins-up
	cargo build --quiet --workspace --bins
	rm -rf $(CALLS_DIR)
	@trap '$(STAND_INS) stop' EXIT; \
	  export AWS_ENDPOINT_URL=$$($(STAND_INS) endpoint) MLFLOW_TRACKING_URI=$$($(STAND_INS) mlflow) TRADAI_CALLS_DIR=$(CALLS_DIR); \
	  cargo test --workspace && \
	  cargo test --quiet -p tradai-tests --test integration calls::every_call_of_the_whole_suite_is_allowed_by_its_role -- --ignored --exact --nocapture

# The stand-ins start first: MLflow migrates its store (20-40 s) while clippy builds.
test: stand-ins-up fmt lint clippy unit-and-integration

# Packaging as deployed (sam build, fat LTO): minutes per function, so not part of make test; figures in bench/RESULTS.md.
package: stand-ins
	bench/package

bench: stand-ins
	bench/cold-start
	bench/transform
	bench/queue
	bench/orchestration
	bench/cli
	bench/sweep
	bench/reproducibility
