"""Beyond one machine, on Ray: fleet sweeps (one Ray task per group of points that must share a machine) and
the meters of an engine that spans nodes."""
