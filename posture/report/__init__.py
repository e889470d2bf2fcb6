"""The reporting layer: the assessment as tables, answers and plots for the notebooks and the site.

Notebooks import only this package (``from posture import report``) and stay
thin: they call these functions and display the result. The parts:

- `loader`: the assessment directory read through the typed contract
  (`posture.model.assessment`), so nothing here guesses at a key;
- `format`: values for people (labels, numbers, dates, durations, chips)
  and escaping (`esc`) for every value from a client's estate, which may
  be hostile; the kit's own Markdown rendered safely (`markdown_html`);
- `html`: tables (`html_table`, `show`) whose cells `format` writes;
- `tables`: scores, counts, top risks, per-stage findings, the views;
- `exits`: the five stages' exit questions answered from the data;
- `plots`: one plot style, with client text drawn as plain text;
- `plans`: the rotation planner (schedule, table, iCalendar via `ical`);
- `audit`: the audit-activity notebook (snapshot measures judged with the
  assessment's recorded thresholds).
"""

from posture.model.vocabulary import AUDIT_SIGNALS, CHECKLIST, SEVERITIES, STAGES, STATUSES
from posture.report.audit import AuditActivity
from posture.report.exits import (
    DEVELOPER_STORY,
    EXIT_QUESTIONS,
    EXITS,
    ExitAnswer,
    exit_answer,
    exit_stage1,
    exit_stage2,
    exit_stage3,
    exit_stage4,
    exit_stage5,
    exit_table,
)
from posture.report.format import inline_markdown, markdown_html
from posture.report.html import esc, html_table, show
from posture.report.loader import Assessment
from posture.report.plans import (
    DEFAULT_HORIZON_DAYS,
    events_frame,
    owner_summary,
    plan_table,
    rotation_events,
    rotation_ics,
    write_ics,
)
from posture.report.plots import (
    STYLE,
    plain,
    plot_age_histogram,
    plot_counts,
    plot_histogram,
    plot_items_per_environment,
    plot_lines,
    plot_scores,
    plot_status_bars,
    plot_volume,
)
from posture.report.tables import (
    access_model,
    check_summary,
    findings_brief,
    leak_cards,
    overall,
    rotation_plan,
    score_table,
    severity_counts,
    stage_findings,
    status_counts,
    top_risks,
)

__all__ = [
    "AUDIT_SIGNALS", "CHECKLIST", "DEVELOPER_STORY", "EXITS", "EXIT_QUESTIONS", "SEVERITIES", "STAGES",
    "STATUSES", "STYLE", "DEFAULT_HORIZON_DAYS", "Assessment", "AuditActivity", "ExitAnswer", "access_model", "check_summary",
    "esc", "exit_answer", "exit_stage1", "exit_stage2", "exit_stage3", "exit_stage4", "exit_stage5",
    "exit_table", "findings_brief", "html_table", "inline_markdown", "leak_cards", "markdown_html",
    "overall", "plain",
    "plot_age_histogram", "plot_counts", "plot_histogram", "plot_items_per_environment", "plot_lines",
    "plot_scores", "plot_status_bars", "plot_volume", "rotation_plan", "score_table",
    "severity_counts", "show", "stage_findings", "status_counts", "top_risks",
    "events_frame", "owner_summary", "plan_table", "rotation_events", "rotation_ics", "write_ics",
]
