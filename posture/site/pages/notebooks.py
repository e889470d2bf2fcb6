"""Executed notebooks as pages: Markdown with inputs hidden, images written beside it.

The notebooks' outputs are the reporting layer's own escaped tables
(`posture.report.html_table`) and plots; conversion strips pandas' styling so
the site's table style applies.
"""

from __future__ import annotations

import re
from pathlib import Path

NOTEBOOK_TITLES = {
    "executive-summary": "Executive summary",
    "stage-1-inventory": "Stage 1: Inventory",
    "stage-2-access": "Stage 2: Access",
    "stage-3-lifecycle": "Stage 3: Lifecycle",
    "stage-4-developer-ci": "Stage 4: Developer & CI",
    "stage-5-verification": "Stage 5: Verification",
    "audit-activity": "Audit activity",
}
_DF_CLASS = re.compile(r'\s+class="dataframe"')
_BORDER = re.compile(r'\s+border="1"')
_STYLE_SCOPED = re.compile(r"<style scoped>.*?</style>", re.DOTALL)


def ordered_notebooks(nb_dir: Path) -> list[Path]:
    """The quarter's executed notebooks in reading order (summary, stages, audit, then the rest)."""
    files = sorted(nb_dir.glob("*.ipynb")) if nb_dir.exists() else []
    order = list(NOTEBOOK_TITLES)
    return sorted(files, key=lambda p: (order.index(p.stem) if p.stem in order else len(order), p.stem))


def notebook_markdown(ipynb: Path, out_dir: Path) -> tuple[str, list[Path]]:
    """Executed notebook → Markdown with inputs hidden, images written beside it."""
    import nbformat
    from nbconvert import MarkdownExporter

    nb = nbformat.read(ipynb, as_version=4)
    exporter = MarkdownExporter(exclude_input=True, exclude_input_prompt=True,
                                exclude_output_prompt=True)
    files_dir = f"{ipynb.stem}_files"
    body, resources = exporter.from_notebook_node(nb, resources={"output_files_dir": files_dir})
    written = []
    for name, data in (resources.get("outputs") or {}).items():
        p = out_dir / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        written.append(p)
    body = _STYLE_SCOPED.sub("", body)
    body = _DF_CLASS.sub("", body)
    body = _BORDER.sub("", body)
    return body, written
