"""prod-entry's benchmark: each figure measured side by side with its peers (tini, dumb-init, plain gunicorn,
django-webserver) in the same run, reported as ratios. `make bench` runs it; `python -m bench.run --smoke`
runs every figure once, briefly, so that the harness is tested with the rest of the suite."""
