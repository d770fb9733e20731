# The README's quick start: `make demo` serves the example app through prod-entry; `make test` runs the tests.
.PHONY: demo test

demo:
	bash scripts/demo.sh

test:
	bash scripts/test.sh -v
