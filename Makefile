# Every target sets up what it needs: a fresh clone runs `make demo` or `make test` directly.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
DATA ?= $(if $(wildcard ../shared/data/rakuten/X_train.csv),../shared/data/rakuten,)

.PHONY: install browser demo test lint bench cv synth images clean
CDK_ENV := AWS_EC2_METADATA_DISABLED=true CDK_DISABLE_CLI_TELEMETRY=true JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 AWS_ACCESS_KEY_ID=dummy AWS_SECRET_ACCESS_KEY=dummy AWS_REGION=eu-west-3 AWS_DEFAULT_REGION=eu-west-3

$(STAMP): pyproject.toml
	@echo "Setting up $(VENV) from pyproject.toml (first run, or after it changes): 1.5-15 min"
	@echo "(idle to busy 2-core machine) and 2.2 GB: torch, scikit-learn, CDK, moto. pip prints only errors."
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[serving,training,lambdas,local,infra,dev]"
	rm -f $(VENV)/.installed-* && touch $@

node_modules/.installed: package-lock.json
	@echo "Installing the pinned npm tools (CDK CLI, asl-validator) into node_modules/"
	npm ci --no-audit --no-fund --loglevel=error && touch $@

install: $(STAMP) node_modules/.installed

## The main job: sample catalog -> train -> evaluate -> serve on 127.0.0.1 -> three predictions.
demo: install
	$(PY) -m scripts.demo

test: install browser
	$(PY) -m pytest -q

## Debian's chromium for the browser tests (tests/integration/test_web_page.py): Playwright drives
## it through `executable_path`, as it cannot download its own browsers here. Pinned like podman
## in scripts/images.py (a version Debian has replaced fails loudly: update the pin). Skipped
## where PRODCAT_CHROMIUM names another Chromium (GitHub's runners have Google Chrome).
CHROMIUM_VERSION := 150.0.7871.100-1~deb12u1
browser:
ifeq ($(PRODCAT_CHROMIUM),)
	@dpkg-query --show --showformat='$${Status} $${Version}' chromium 2>/dev/null \
	  | grep -qxF 'install ok installed $(CHROMIUM_VERSION)' || { \
	  export DEBIAN_FRONTEND=noninteractive; pkg='chromium=$(CHROMIUM_VERSION)'; \
	  echo "apt: installing $$pkg for the browser tests"; \
	  apt-get install --yes --no-install-recommends "$$pkg" >/dev/null || \
	  { apt-get update >/dev/null && apt-get install --yes --no-install-recommends "$$pkg" >/dev/null; }; }
endif

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy prodcat prodcat_contracts prodcat_cli inference sagemaker_jobs scripts infra step_functions lambdas local_runtime
	$(VENV)/bin/lint-imports

## Accuracy, training time, load time, size, latency and throughput as one JSON document.
bench: install
	$(PY) -m scripts.bench $(if $(DATA),--data $(DATA),)

## K-fold cross-validation of the whole training, per input mode (top-1, top-3, macro-F1, ECE,
## the fusion's gain on the same rows, top confusions). HP='text_c=0.3 folds=5' overrides.
cv: install
	$(PY) -m scripts.cv --confusions $(if $(DATA),--data $(DATA),) $(foreach kv,$(HP),--hp $(kv))

## The CloudFormation templates, offline, with the pinned CDK CLI (no credentials, no telemetry).
## Exits non-zero on any unacknowledged cdk-nag finding. CDK_ARGS passes CLI options through,
## e.g. `make synth CDK_ARGS='-c stage=dev'`; a real account/region come from CDK_DEFAULT_*.
CDK_OUT ?= cdk.out
synth: install
	$(CDK_ENV) npx --no-install cdk synth --no-notices --quiet -o $(CDK_OUT) $(CDK_ARGS)

## Both images built and run as SageMaker runs them (scripts/images.py; ENGINE=podman|docker,
## default: docker where a Docker engine answers, else podman, set up on the spot).
images: install
	JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 $(PY) -m scripts.images $(if $(ENGINE),--engine $(ENGINE),)

clean:
	rm -rf .work .pytest_cache .mypy_cache .ruff_cache
