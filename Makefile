# make bench  - benchmark the engines on the shipped programs
# make test   - run the test suite
# Both create .venv on first use (scripts/bootstrap.sh).

VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.bootstrapped

.PHONY: bench test clean

$(STAMP): pyproject.toml scripts/bootstrap.sh
	./scripts/bootstrap.sh
	touch $(STAMP)

bench: $(STAMP)
	$(VENV)/bin/bpfjit bench-suite

test: $(STAMP)
	$(PY) -m pytest

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
