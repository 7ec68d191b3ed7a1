"""Pricing and publishing: turns bench's records into per-million-token costs, analyses and reports.

Rooms, each importing only rooms listed after it: `cli`, `publish` (reports,
plots, the web page, results/ index), `gate` (the CI comparison),
`analysis` (pairs, claims, sensitivity, projections, API comparison),
`imports` (other tools' result files as records), `pricing` (the money
model, catalogs, priced tables), then `bench` for records and model cards.
"""
