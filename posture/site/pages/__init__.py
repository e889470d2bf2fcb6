"""Generate one quarter's evidence-site pages (Markdown + escaped HTML fragments).

Every value that came from a client's estate goes through
`posture.report.format` (escaped for HTML and Markdown, formatted for people)
or `html_table` (which does the same per cell): pages are built from strings
the kit wrote around escaped values, never from a client's text as markup.

One module per page family, each returning fragments from the typed
assessment so the printable report can render the same sections:
`overview` (grade, score cards, trend, changes, exit answers), `fixfirst`
(the ranked list, per-owner and per-environment pages), `leakcards`,
`access` (the matrix), `tables` (inventory, rotation plan, gaps, waivers),
`checks` (catalog and stage pages), `plans` (the rotation calendar and its .ics,
the suggested policies), `notebooks`, `evidence` (downloads and manifest);
`common` holds what they share. `build_docs` writes them all.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from posture.report import STAGES, Assessment
from posture.site.pages.access import access_page
from posture.site.pages.checks import check_page, checks_index, stage_page
from posture.site.pages.common import Docs, levels_for, slug
from posture.site.pages.evidence import (
    SigningKeyInfo,
    copy_downloads,
    downloads_page,
    evidence_artefacts,
    manifest_page,
    write_manifest_json,
)
from posture.site.pages.fixfirst import (
    environments_page,
    fix_first_page,
    fix_first_table,
    owner_page,
    owner_slugs,
    owners_index,
    ranked_failures,
)
from posture.site.pages.leakcards import leak_cards_page
from posture.site.pages.notebooks import NOTEBOOK_TITLES, notebook_markdown, ordered_notebooks
from posture.site.pages.overview import changes, overview_page, trend_rows
from posture.site.pages.plans import plans_section, write_rotation_calendar
from posture.site.pages.tables import (
    coverage_gaps_page,
    inventory_page,
    rotation_page,
    waivers_page,
)
from posture.workspace import Workspace

__all__ = ["NOTEBOOK_TITLES", "Docs", "SigningKeyInfo", "build_docs", "evidence_artefacts", "inventory_page",
           "slug"]
#: How many of the fix-first list the overview shows as its top risks.
TOP_RISKS = 5


def build_docs(
    ws: Workspace,
    quarter: str,
    dest: Path,
    *,
    static: Path,
    published: list[str],
    history: list[dict[str, Any]],
    signing_key: SigningKeyInfo | None = None,
) -> Docs:
    """Write every page of ``quarter`` into ``dest`` (a fresh docs_dir)."""
    a = Assessment.load(ws.assessment_dir(quarter))
    docs = Docs(dest)
    shutil.copytree(static, dest, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("overrides", "mkdocs.yml", "__pycache__", "__init__.py"))

    def page(rel: str, build: Callable[[str], str]) -> str:
        """Write ``build(levels)`` at ``rel`` (``levels``: the way up to the site root); return ``rel``."""
        docs.write(rel, build(levels_for(rel)))
        return rel

    ranked = ranked_failures(a)
    prev, diff = changes(ws, quarter, published)
    top = (fix_first_table(ranked, table_id="t-top-risks", limit=TOP_RISKS)
           + f'<p><a href="fix-first/">All {len(ranked)} failing finding(s), ranked →</a></p>'
           if len(ranked) else "<p><em>No failing finding.</em></p>")
    docs.write("index.md", overview_page(a, trend_rows(ws, quarter, published), prev, diff, top))
    page("fix-first.md", lambda lv: fix_first_page(a, lv))
    docs.write("leak-response.md", leak_cards_page(a))
    docs.write("inventory.md", inventory_page(a))
    stage_nav = [{f"Stage {s}: {STAGES[s]}": page(f"findings/stage-{s}.md", lambda lv, s=s: stage_page(a, s, lv))}
                 for s in STAGES]
    docs.write("findings/environments.md", environments_page(a))
    # Owner pages are linked from their index, not listed in the nav: MkDocs writes nav
    # titles unescaped, and an owner name is a client value.
    slugs = owner_slugs(a)
    docs.write("findings/owners/index.md", owners_index(a, slugs))
    for owner, s in slugs.items():
        docs.write(f"findings/owners/{s}.md", owner_page(a, owner, ranked))
    docs.write("access-model.md", access_page(a))
    docs.write("rotation-plan.md", rotation_page(a))
    plans_nav = plans_section(a, page)
    docs.write("coverage-gaps.md", coverage_gaps_page(a))
    docs.write("waivers.md", waivers_page(a))

    docs.write("checks/index.md", checks_index(a))
    by_stage: dict[Any, list[Any]] = {}
    for entry in a.catalog:
        rel = page(f"checks/{slug(entry.id)}.md", lambda lv, e=entry: check_page(a, e, lv))
        by_stage.setdefault(entry.stage, []).append({entry.id: rel})
    check_nav: list[Any] = ["checks/index.md"] + [
        {f"Stage {s}": pages} for s, pages in sorted(by_stage.items(), key=lambda kv: str(kv[0]))]

    nb_files = ordered_notebooks(ws.notebooks_dir(quarter))
    nb_nav: list[Any] = []
    for nb in nb_files:
        body, _ = notebook_markdown(nb, dest / "notebooks")
        docs.write(f"notebooks/{nb.stem}.md", body)
        nb_nav.append({NOTEBOOK_TITLES.get(nb.stem, nb.stem): f"notebooks/{nb.stem}.md"})

    dl = dest / "downloads"
    write_rotation_calendar(a, dl)
    docs.write("downloads.md", downloads_page(dl, copy_downloads(ws, quarter, nb_files, dl)))
    docs.artefacts = evidence_artefacts(ws, quarter)
    write_manifest_json(dest, ws.client, quarter, docs.artefacts)
    if signing_key is not None:
        docs.write("signing-key.pem", signing_key.pem)
    docs.write("manifest.md", manifest_page(quarter, docs.artefacts, history, signing_key))

    docs.nav = [
        {"Overview": "index.md"},
        {"Fix first": "fix-first.md"},
        {"Leak-response cards": "leak-response.md"},
        {"Findings": stage_nav + [{"By environment": "findings/environments.md"},
                                  {"By owner": "findings/owners/index.md"}]},
        {"Inventory": "inventory.md"},
        {"Access model": "access-model.md"},
        {"Plans": [{"Rotation plan": "rotation-plan.md"}, *plans_nav]},
        {"Coverage gaps": "coverage-gaps.md"},
        {"Waivers and attestations": "waivers.md"},
        {"Checks": check_nav},
        {"Notebooks": nb_nav or ["index.md"]},
        {"Downloads": "downloads.md"},
        {"Evidence manifest": "manifest.md"},
    ]
    return docs
