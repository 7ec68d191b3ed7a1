"""The CI gate (`tokencost compare`): a new run's priced points against a baseline's, and pytest-benchmark
JSON. Imports pricing and bench only."""
