"""The money model: assumptions, hardware and API catalogs, hourly cost, $/M tokens, input/output split,
roofline, and records priced into tables. Imports bench only; never analysis, gate, publish or cli."""
