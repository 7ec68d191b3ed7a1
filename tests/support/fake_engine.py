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


class BlockingEngine:
    """A stand-in for vLLM's offline engine whose engine core hangs, at start or in a step.

    Its "engine core" is a child process leading its own process group, with a grandchild (a worker) in that
    group; it never answers. Started for a model named in `HANG_AT_START`, the engine waits for the core's
    READY on a pipe, as vLLM's `wait_for_engine_startup` does (no deadline; it leaves only when the core exits);
    otherwise it starts at once and each `generate` blocks on a queue nothing fills, as vLLM's
    `SyncMPClient.get_output()` does (ending the core does not wake it in vLLM 0.32).
    """

    name = "vllm"
    mode = "offline"
    HANG_AT_START: tuple[str, ...] = ()
    MARK = "tokencost-stand-in-engine-core"  # in the core's and its worker's command lines, to find leftovers

    def __init__(self, card, max_batch_size, settings):
        import subprocess
        import sys

        self.core = subprocess.Popen(
            [
                sys.executable,
                "-c",
                f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', "
                f"'import time; time.sleep(600)  # {self.MARK}']); time.sleep(600)  # {self.MARK}",
            ],
            stdout=subprocess.PIPE,
            start_new_session=True,  # its own process group, which the watchdog ends
        )
        if card.name in self.HANG_AT_START:
            self.core.stdout.read()  # READY never comes; EOF once the core is ended
            raise RuntimeError("Engine core initialization failed. See root cause above.")

    def describe(self) -> dict:
        return {"name": self.name, "mode": self.mode, "version": "stand-in"}

    def generate(self, prompts, osl, batch_size, window=None, timeout_s=None, salt=None):
        import queue

        queue.Queue().get()  # the step's outputs never come

    def close(self):
        self.core.kill()
        self.core.wait()
