"""An engine stand-in for the sweep's bookkeeping tests: it describes itself and closes, and measures nothing."""


class FakeEngine:
    name = "vllm"

    def describe(self) -> dict:
        return {"name": self.name, "mode": "offline", "version": "fake"}

    def close(self):
        pass


def measured_record(run, engine, card, key, **fields):
    """An ok record of a point the stand-in engine 'measured': 16 prompt and 8 output tokens in 10 s, 50 J, unless
    `fields` say otherwise."""
    from bench.run.record import EnergyInfo

    energy = EnergyInfo(
        method="estimated", boundary="cpu", energy_j=50.0, avg_power_w=5.0, basis="test", measured=False
    )
    figures = {"input_tokens": 16, "output_tokens": 8, "duration_s": 10.0, "output_tok_s": 100.0} | fields
    return run.record(card, key, "ok", engine=engine.describe(), energy=energy, **figures)
