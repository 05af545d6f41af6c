# Model Gatekeeper — `make run` starts the gate, `make test` installs what is missing and tests.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TOOLS := .tools/bin
OPA := $(TOOLS)/opa
REGAL := $(TOOLS)/regal

.PHONY: run test install tools venv policy-test layers python-test bench e2e kube clean deploy corpus screenshots

PORT ?= 8443

run: install
	@echo "Model Gatekeeper: http://127.0.0.1:$(PORT)  (OPA on loopback, evidence examples/evidence, decision log .gatekeeper/audit.db)"
	@echo "In another terminal, one admitted and one denied review:"
	@echo "  curl -s -H 'content-type: application/json' --data @examples/admission/admitted.json http://127.0.0.1:$(PORT)/validate/production"
	@echo "  curl -s -H 'content-type: application/json' --data @examples/admission/denied.json http://127.0.0.1:$(PORT)/validate/production"
	@echo "  $(VENV)/bin/gatekeeper audit list    # the decision log"
	@echo "  GATEKEEPER_CONSOLE_TOKEN=<16+ chars> $(VENV)/bin/gatekeeper console    # the read-only web console, http://127.0.0.1:8444"
	$(VENV)/bin/gatekeeper serve --port $(PORT)

test: install policy-test layers python-test

install: venv tools

venv: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

tools:
	bash scripts/install-opa.sh
	bash scripts/install-tool.sh kustomize
	bash scripts/install-tool.sh litewitness
	bash scripts/install-tool.sh witnessctl
	bash scripts/install-postgres.sh
	bash scripts/install-openssh.sh
	# Debian's Chromium for the console's browser tests (Playwright drives it; no browser download).
	bash scripts/install-chromium.sh
	# Helm for charts/ (helm lint / template in the tests): ~4 min cold from source, then a no-op.
	bash scripts/install-tool.sh helm

deploy: tools
	bash deploy/sync-policies.sh
	$(TOOLS)/kustomize build deploy/overlays/cert-manager

policy-test: tools
	$(OPA) fmt --list --fail policies
	$(OPA) check --strict policies
	# A file of its own per run: worktrees share .tools/, and two runs must not mix reports.
	coverage=$$(mktemp) && trap 'rm -f "$$coverage"' EXIT && \
	  { $(OPA) test policies --coverage --format=json > "$$coverage" || $(OPA) test policies -v; } && \
	  $(PY) scripts/coverage-gate.py "$$coverage" 90
	$(REGAL) lint policies
	# every matrix family has a module, every requirement ID a remediation text (one line each)
	$(OPA) eval --fail-defined --format pretty --data policies 'data.gatekeeper.lint.problems[_]'

# The import layers of pyproject.toml's [tool.importlinter]: front doors -> pipeline -> components -> types.
layers: venv
	$(VENV)/bin/lint-imports

# The e2e tests (tests/e2e) are part of the suite: a fresh machine builds kube-apiserver
# and kine first (~15 min cold on 2 cores, well inside CI's 90; a no-op when cached).
python-test: venv tools kube
	$(PY) -m pytest -q

# A real kube-apiserver (+ kine/SQLite) built by scripts/build-kube.sh (cached under
# .tools/kube/<version>/: ~12-25 min cold, a no-op warm) calls the real gate over HTTPS.
e2e: install kube
	$(PY) -m pytest -q -m e2e tests/e2e

kube:
	bash scripts/build-kube.sh

# Each writes bench-results/<name>.json; run them on an otherwise idle machine.
# auditor_bench runs the auditor against the real kube-apiserver (hence `kube`).
bench: install kube
	bash scripts/install-tool.sh conftest
	$(PY) -m bench.check_bench
	$(PY) -m bench.conftest_bench
	$(PY) -m bench.webhook_bench
	$(PY) -m bench.mlflow_bench
	$(PY) -m bench.producers_bench
	$(PY) -m bench.replay_bench
	$(PY) -m bench.auditor_bench
	$(PY) -m bench.impact_bench
	$(PY) -m bench.report_bench
	$(PY) -m bench.console_bench

# The gate over published model-serving manifests (not part of `make test`: the corpus
# lives outside the repository). Per kind: judged / skipped (reason) / unreadable.
CORPUS ?= ../shared/corpus
corpus: install
	$(PY) scripts/corpus.py $(CORPUS)

# The README's console screenshots (docs/console-*.png), taken by the browser scenario that
# shows the overview and a model version's page (tests/browser), on the real kube-apiserver.
screenshots: install kube
	GATEKEEPER_README_SCREENSHOTS=docs $(PY) -m pytest -q tests/browser -k readme

clean:
	rm -rf .gatekeeper bench-results
