# CRM retention suite: the two commands of the quick start are `make run` and
# `make test`; everything else is a building block or a developer's tool.
ODOO_SRC ?= /opt/odoo/18.0
export ODOO_SRC
PY := .venv/bin/python
SUITE := $(PY) tools/suite.py

.PHONY: setup run test lint i18n readme wheels template bench clean

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

# README.rst and static/description/index.html of each addon from readme/*.md
# (needs pandoc: apt-get install pandoc)
readme:
	$(PY) tools/gen_readme.py

# one wheel per addon (pip install-able, the OCA way) into dist/
wheels: setup
	rm -rf dist && $(PY) -m pip wheel --quiet --no-deps --no-build-isolation -w dist addons/*/

lint: setup
	[ -x node_modules/.bin/prettier ] || npm install --no-audit --no-fund --silent
	.venv/bin/pre-commit run --all-files

bench: setup
	$(PY) bench/lifecycle_recompute.py

clean:
	rm -rf .cache
