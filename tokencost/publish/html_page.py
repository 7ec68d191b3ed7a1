"""A report as one self-contained web page (index.html): inline CSS, plots embedded as SVG (sharp at any
width), no fetches. It opens on the report's answer (publish.answer); what was measured, the methods and the
sections follow."""

import base64
from html import escape
from pathlib import Path

import pandas as pd

from tokencost.publish.columns import alignment, plain_headers, text, text_cells
from tokencost.publish.document import ANSWER_TITLE, FULL_TABLE, METHODS_NOTE, Report, Section

PAGE_FILE = "index.html"

STYLE = """
*{box-sizing:border-box}
body{margin:0 auto;max-width:70rem;padding:1rem;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
color:#1a1a1a;background:#fff;overflow-wrap:anywhere}
h1{font-size:1.5rem;line-height:1.25}
h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
.headline{list-style:none;padding:0}
.headline li{margin:.25rem 0}
.answer{background:#f3f7ff;border-left:4px solid #3367d6;padding:.25rem .75rem;margin:.5rem 0 1rem}
.answer h2{margin-top:.5rem;border:0}
.answer ul{padding-left:1.1rem;margin:.25rem 0}
.answer li{margin:.35rem 0}
.table-wrap{overflow-x:auto;width:fit-content;max-width:100%;-webkit-overflow-scrolling:touch;border:1px solid #eee}
table{border-collapse:collapse;font-size:.8rem;overflow-wrap:normal}
th,td{padding:.25rem .5rem;border-bottom:1px solid #eee;text-align:left;vertical-align:top;white-space:nowrap}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.note{font-size:.85rem;color:#444;margin:.25rem 0}
details{margin:.5rem 0}
summary{cursor:pointer;font-size:.9rem}
.methods{padding-left:0;list-style:none}
.methods li{margin:.25rem 0}
figure{margin:1rem 0}
img{max-width:100%;height:auto;display:block}
figcaption{font-size:.85rem;color:#444}
footer{margin-top:2rem;font-size:.8rem;color:#666}
"""


def table_html(table: pd.DataFrame) -> str:
    """A table in a wrapper that scrolls sideways on narrow screens; numbers as in report.md, right-aligned."""
    cells, right = text_cells(table), [a == "right" for a in alignment(table)]
    head = "".join(f"<th>{escape(str(c))}</th>" for c in table.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td{' class=num' if r else ''}>{escape(text(v))}</td>" for r, v in zip(right, row)) + "</tr>"
        for row in cells.itertuples(index=False)
    )
    return f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>'


def _plot_html(out_dir: Path, plot) -> str:
    data = base64.b64encode((out_dir / f"{plot.name}.svg").read_bytes()).decode()
    return (
        f'<figure><img src="data:image/svg+xml;base64,{data}" alt="{escape(plot.title)}">'
        f"<figcaption>{escape(plot.caption)}</figcaption></figure>"
    )


def _section_html(section: Section, out_dir: Path) -> str:
    parts = [f"<section><h2>{escape(section.title)}</h2>"]
    parts += [f"<p>{escape(p)}</p>" for p in section.text]
    if section.table is not None and not section.table.empty:
        parts.append(table_html(plain_headers(section.table)))
        parts += [f'<p class="note">{escape(note)}</p>' for note in section.table_notes]
    if section.full_table is not None and not section.full_table.empty:
        parts.append(f"<details><summary>{escape(FULL_TABLE)}</summary>{table_html(section.full_table)}</details>")
    if section.bullets:
        parts.append("<ul>" + "".join(f"<li>{escape(b)}</li>" for b in section.bullets) + "</ul>")
    parts += [_plot_html(out_dir, p) for p in section.plots]
    return "".join(parts) + "</section>"


def render_page(report: Report, out_dir: Path) -> str:
    """The page; the plots are read from out_dir, where the report has written them."""
    items = "".join(f"<li><strong>{escape(k)}:</strong> {escape(v)}</li>" for k, v in report.headline.items())
    body = "\n".join(_section_html(s, Path(out_dir)) for s in report.sections)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(report.title)}</title>
<style>{STYLE}</style>
</head>
<body>
<header>
<h1>{escape(report.title)}</h1>
{_answer_html(report)}
<ul class="headline">{items}</ul>
<p>Every figure says how it was obtained: throughput is measured; energy is measured (the meter is named) or
estimated; dollars are estimated from the pricing preset and its sources below.</p>
</header>
<main>
{_methods_html(report)}
{body}
</main>
<footer>Written by <code>tokencost report</code> from the runs' records.jsonl.</footer>
</body>
</html>
"""


def _answer_html(report: Report) -> str:
    items = "".join(f"<li>{escape(line)}</li>" for line in report.answer)
    return f'<section id="answer" class="answer"><h2>{ANSWER_TITLE}</h2><ul>{items}</ul></section>'


def _methods_html(report: Report) -> str:
    """Each method stated once; tables and captions cite them as [1], [2], ..."""
    if not report.methods.labels:
        return ""
    items = "".join(f'<li id="method-{n}">{escape(line)}</li>' for n, line in enumerate(report.methods.lines(), 1))
    return (
        f'<section id="methods"><h2>Methods</h2><p>{escape(METHODS_NOTE)}</p><ul class="methods">{items}</ul></section>'
    )


def write_page(report: Report, out_dir: Path) -> Path:
    path = Path(out_dir) / PAGE_FILE
    path.write_text(render_page(report, out_dir))
    return path
