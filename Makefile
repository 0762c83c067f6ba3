# CRM retention suite: the two commands of the quick start are `make run` and
# `make test`; everything else is a building block or a developer's tool.
ODOO_SRC ?= /opt/odoo/18.0
export ODOO_SRC
PY := .venv/bin/python
SUITE := $(PY) tools/suite.py

.PHONY: setup run test lint i18n template bench clean

setup:
	bash tools/setup.sh all

run: setup
	$(SUITE) run

test: setup
	$(SUITE) test

template: setup
	$(SUITE) template

i18n: setup
	$(SUITE) i18n

lint: setup
	.venv/bin/pre-commit run --all-files

bench: setup
	$(PY) bench/lifecycle_recompute.py

clean:
	rm -rf .cache
