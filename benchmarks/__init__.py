"""The grading benchmark (`make bench`, `python -m benchmarks`): floor, engine, naive baseline,
service and memory, measured side by side on one machine; see benchmarks/__main__.py."""
