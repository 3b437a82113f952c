# Two commands do all the setup; each builds .venv when it is missing.
VENV ?= .venv
OUT ?= runs/demo
# Two pytest-xdist workers, whole files each (module fixtures train once); WORKERS=0 runs in one process.
WORKERS ?= 2
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False

.PHONY: demo test env

env:
	@bash scripts/bootstrap.sh

demo: env
	$(VENV)/bin/hearme demo --out $(OUT)

test: env
	@bash scripts/ensure_browser.sh
	$(VENV)/bin/python -m pytest -q $(if $(filter 0,$(WORKERS)),,-n $(WORKERS) --dist loadfile) $(PYTEST_ARGS)
