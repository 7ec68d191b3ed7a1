"""An engine stand-in for the sweep's bookkeeping tests: it describes itself and closes, and measures nothing."""


class FakeEngine:
    name = "vllm"

    def describe(self) -> dict:
        return {"name": self.name, "mode": "offline", "version": "fake"}

    def close(self):
        pass
