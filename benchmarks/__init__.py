"""Speed targets, measured: each module prints its figures as ratios against a baseline
measured in the same run. `make bench` runs them all (`python -m benchmarks [NAME...]`)."""
