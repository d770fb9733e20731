# The README's quick start: `make demo` serves the example app through prod-entry; `make test` runs the tests.
.PHONY: demo test fuzz bench

demo:
	bash scripts/demo.sh

test:
	bash scripts/test.sh -v

# Property tests with 10,000 examples each (the normal run uses 200).
fuzz:
	HYPOTHESIS_PROFILE=slow .venv/bin/python -m pytest -q tests/unit/test_fuzz.py

# The benchmark against tini, dumb-init, plain gunicorn and django-webserver (installs them; ~10 minutes).
# Writes bench/results/latest.json, latest.md and figN.png.
bench:
	bash scripts/bench.sh
