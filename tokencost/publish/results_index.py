"""results/ as a publication: the README's table of published runs, and the checks that keep it publishable."""

from fnmatch import fnmatch
from pathlib import Path

import pandas as pd

from bench.errors import UserError
from bench.inputs.text_files import read_user_text
from bench.run.record import PointRecord
from bench.run.records import RECORDS_FILE, has_records, read_records
from tokencost.pricing.priced_runs import Pricing
from tokencost.publish import provenance
from tokencost.publish.write import cheapest_point

README = "README.md"
GPU_TABLE = "gpu-cost-table"  # written by `tokencost gpu-table`, not a run
NOT_PUBLISHED_DIRS = ("runs", "baselines")  # local runs (not committed); the CI gate's baselines
LINKED_FILES = ("report.md", "index.html", "claims.md")
NOTE_FILE = "about.md"  # optional: a run's own caveats, quoted under the table
SIZE_LIMIT_BYTES = 5_000_000
# Files kept with local runs only, by name pattern, with the reason.
UNPUBLISHED_FILES = {
    "timeline.jsonl": "power timelines are not published",  # 10 Hz samples: large
    "server-*.log": "server logs are not published (they hold the measuring machine's paths)",
    "records.jsonl.torn-*": "a torn line set aside on resume is not a record",
}

TITLE = "# Published runs"
EXPLORER = "index.html"  # the cost explorer `tokencost gpu-table` writes beside the GPU table
# What the index opens on where the GPU table's explorer is published: the GPU answer, before the CPU runs.
EXPLORER_LEAD = (
    f"**The GPU answer**: open [{GPU_TABLE}/{EXPLORER}]({GPU_TABLE}/{EXPLORER}), the cost explorer over the GPU "
    "cost table below: pick models, GPUs, preset and service tier, type your own $/GPU-hour, $/kWh, utilisation "
    "and years, and every $/M follows. Rows projected by tokencost and rows measured by others are shown apart."
)
INTRO = """Each folder is one run as `tokencost run` wrote it (`records.jsonl`,
`run.json`), with the report built from it (`report.md`, the web page
`index.html`, `costs.csv`, `costs.json`, plots as PNG and SVG, and `claims.md`
from `tokencost claims`). Re-price any of them without re-measuring:
`tokencost report results/<run> --preset neocloud-owned` writes a new folder
under `results/runs/` and leaves the published files as they are; compare
several in one report: `tokencost report results/<run> results/<other> -o DIR`.
Local runs go to `results/runs/`, which is not committed. Power timelines
(`timeline.jsonl`) and server logs (`server-*.log`) are not published, and no
published file may exceed 5 MB.

This file is written by `tokencost index` from the runs' records."""


def published_runs(results_dir: Path) -> list[Path]:
    """The run folders of results/; a folder whose records.jsonl is there but no file (a folder, a dangling
    link) is refused: left out, the index would drop a published run without a word."""
    folders = sorted(d for d in Path(results_dir).iterdir() if d.is_dir() and d.name not in NOT_PUBLISHED_DIRS)
    for folder in folders:
        records = folder / RECORDS_FILE
        if (records.exists() or records.is_symlink()) and not records.is_file():
            raise UserError(
                str(records),
                "is not a file (a folder or a dangling link)",
                f"put the run's {RECORDS_FILE} back, or move {folder.name} out of {results_dir}",
            )
    return [d for d in folders if has_records(d)]


def _note(run_dir: Path) -> str:
    """A run's about.md as text, refused in one line where it is not (binary, not UTF-8, unreadable)."""
    path = run_dir / NOTE_FILE
    return read_user_text(path, f"{run_dir.name}/{NOTE_FILE}", "the run's notes", "save about.md as UTF-8 text")


def _run_row(run_dir: Path, records: list[PointRecord], pricing: Pricing) -> dict:
    links = ", ".join(f"[{name}]({run_dir.name}/{name})" for name in LINKED_FILES if (run_dir / name).exists())
    return {
        "run": run_dir.name,
        "what": f"{provenance.models(records)}; {provenance.loads(records)}; "
        f"{provenance.workloads(records)}; {provenance.weights(records)} weights; "
        f"mode {provenance.modes(records)}",
        "engines": provenance.engines(records),
        "hardware": provenance.hardware(records),
        "when": provenance.dates(records),
        "report": links or "-",
        "cheapest": cheapest_point(pricing.price(records)),
    }


def _measured_on_gpu(records: list[PointRecord]) -> bool:
    return any(r.energy.method.startswith("nvml") for r in records if r.ok and r.energy is not None)


def index_markdown(results_dir: Path, pricing: Pricing) -> str:
    runs = {d: read_records(d) for d in published_runs(results_dir)}
    explorer = (Path(results_dir) / GPU_TABLE / EXPLORER).exists()
    lines = [TITLE, "", *([EXPLORER_LEAD, ""] if explorer else []), INTRO, ""]
    if runs:
        table = pd.DataFrame([_run_row(d, records, pricing) for d, records in runs.items()])
        explained = (
            f"'cheapest' is the lowest $ per million tokens of the run's points, priced with preset "
            f"'{pricing.assumptions.name}', with its method labels: throughput measured, energy measured "
            "(meter named) or estimated, $ estimated."
        )
        lines += [table.to_markdown(index=False), "", explained, ""]
    else:
        lines += ["No run is published yet.", ""]
    notes = [(d.name, _note(d).strip()) for d in runs if (d / NOTE_FILE).exists()]
    lines += [f"**{name}**: {' '.join(text.split())}\n" for name, text in notes]
    if not _measured_on_gpu([r for records in runs.values() for r in records]):
        lines += ["No GPU-measured run is published yet.", ""]
    table = Path(results_dir) / GPU_TABLE
    if (table / "summary.md").exists():
        lines += [
            "## GPU cost table: projected, and measured by others",
            "",
            (table / "summary.md").read_text().strip(),
            "",
            f"The seed questions answered from it, with error bands: [{GPU_TABLE}/report.md]({GPU_TABLE}/report.md); "
            f"every projected row in [{GPU_TABLE}/costs.csv]({GPU_TABLE}/costs.csv), ML.ENERGY's in "
            f"[{GPU_TABLE}/measured-by-others.csv]({GPU_TABLE}/measured-by-others.csv), the answer per tier in "
            f"[{GPU_TABLE}/service-levels.csv]({GPU_TABLE}/service-levels.csv).",
            "",
        ]
    return "\n".join(lines)


def publication_problems(results_dir: Path) -> list[str]:
    """Files that must not be published: timelines, server logs, and anything over the size limit."""
    problems = []
    for path in sorted(Path(results_dir).rglob("*")):
        relative = path.relative_to(results_dir)
        if relative.parts[0] == "runs" or not path.is_file():
            continue
        reason = next((why for pattern, why in UNPUBLISHED_FILES.items() if fnmatch(path.name, pattern)), None)
        if reason:
            problems.append(f"{relative}: {reason}; delete it from results/ (the run in results/runs/ keeps it)")
        elif path.stat().st_size > SIZE_LIMIT_BYTES:
            problems.append(
                f"{relative}: {path.stat().st_size / 1e6:.1f} MB is over the "
                f"{SIZE_LIMIT_BYTES / 1e6:.1f} MB limit for published files; leave it out of results/"
            )
    return problems


def write_index(results_dir: Path, pricing: Pricing) -> Path:
    path = Path(results_dir) / README
    path.write_text(index_markdown(results_dir, pricing))
    return path
