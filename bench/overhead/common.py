"""What both overhead benchmarks share: each side measured in a fresh subprocess, and its answer."""

import json
import subprocess
import sys
from pathlib import Path


def run_side_process(module: str, side: str, options: list[str], workdir: Path) -> dict:
    """One side's result, measured by `python -m module --side side` in a fresh subprocess."""
    result_path = Path(workdir) / "result.json"
    command = [sys.executable, "-m", module, "--side", side, "--result", str(result_path), *options]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    result = json.loads(result_path.read_text())
    return result | {"output_tok_s": result["output_tokens"] / result["elapsed_s"]}


def answer_side(args, ours, theirs) -> bool:
    """In a side's subprocess: measure that side and write its result; False in the parent."""
    if not args.side:
        return False
    result = ours(args) if args.side == "ours" else theirs(args)
    args.result.write_text(json.dumps(result))
    return True
