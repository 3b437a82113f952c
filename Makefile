# Two commands do all the setup; each builds .venv when it is missing.
VENV ?= .venv
OUT ?= runs/demo
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
	$(VENV)/bin/python -m pytest -q $(PYTEST_ARGS)
