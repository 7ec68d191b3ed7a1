"""What tests share: simulated NVML, records made through the schema, the CLI as a user runs it, fixtures."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
