"""Reports: the document model, its sections, plots, Markdown and the web page, provenance, and the
index of results/. Imports analysis, pricing and bench; never gate or cli."""
