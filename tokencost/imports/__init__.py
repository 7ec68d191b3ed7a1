"""Result files written by other tools, read as records (schema of bench.run.record) so they price like ours."""
