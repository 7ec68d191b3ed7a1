"""Pricing and reporting: turns bench records into per-million-token costs."""
