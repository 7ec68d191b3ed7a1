"""One run directory, whatever the mode: the record schema, records on disk, run.json and resume, the
measurement windows every point shares, and progress. Imports inputs, energy and the kernel; never engines."""
