"""Leak-response cards for on-call: what to do first, who owns it and who is paged, at a glance.

One compact card per critical secret, printable on one page: the response
steps first (seed 001: revoke, invalidate, audit the blast radius, notify,
post-mortem; identifying the scope is what the card's header already does),
then the owner and the person paged in large type, who can read it and who
did, and where it lives. A missing owner or pager is a red gap in words, never
an empty field: at 3am "nobody" must be impossible to miss.
"""

from __future__ import annotations

import re

from posture.model.assessment import LeakCard
from posture.report import Assessment, esc, exit_answer
from posture.report.format import chips, inline_markdown, number
from posture.site.pages.common import slug

_STEP = re.compile(r"^\s*\d+[.)]\s*")
_TITLED = re.compile(r"^([A-Z][\w -]{2,40}):\s*(.*)$", re.DOTALL)
#: Cards per screen page (posture.js); printing shows every card, one per sheet.
CARDS_PER_PAGE = 6


def card_steps(card: LeakCard) -> tuple[str | None, list[tuple[str, str]]]:
    """(the scope step's text, the response steps as (title, text)), numbers stripped.

    The contract's steps carry their own numbers ("1. Identify scope: ..."); the
    card numbers them itself, so a list never reads "1. 1.".
    """
    scope, steps = None, []
    for raw in card.steps:
        text = _STEP.sub("", raw).strip().rstrip(".")
        m = _TITLED.match(text)
        title, body = (m.group(1), m.group(2)) if m else ("", text)
        if title.lower() == "identify scope" and scope is None and not steps:
            scope = body
        else:
            steps.append((title, body))
    return scope, steps


def _who(label: str, value: str | None, missing: str, why: str) -> str:
    if value:
        return f"<div><small>{esc(label)}</small><strong>{esc(value)}</strong></div>"
    return (f'<div class="posture-missing"><small>{esc(label)}</small><strong>{esc(missing)}</strong>'
            f"<span>{esc(why)}</span></div>")


def leak_card_html(card: LeakCard) -> str:
    """One card: title and scope, steps, owner and pager, readers, where it lives."""
    scope, steps = card_steps(card)
    items = "".join(f"<li>{f'<b>{esc(t)}</b>: ' if t else ''}{inline_markdown(b)}</li>" for t, b in steps)
    did = chips(card.principals_did_read) if card.principals_did_read else "none in the audit logs"
    tokens = (chips(card.tokens_to_revoke, limit=4) if card.tokens_to_revoke else "none found")
    where = " · ".join(esc(x) for x in (card.source, card.store, card.path or card.name) if x)
    return (
        f'<section class="posture-leakcard" id="card-{slug(card.id)}" aria-label="Leak card for {esc(card.name or card.id)}">'
        f"<h2>{esc(card.name or card.id)}</h2>"
        f'<p class="posture-scope">{esc(card.environment)} · {esc(card.secret_type)} · {esc(card.data_class)}'
        f" · contain within {esc(number(card.target_minutes))} min"
        + (f"<br>Scope: {inline_markdown(scope)}" if scope else "") + "</p>"
        f'<ol class="posture-steps">{items}</ol>'
        '<div class="posture-who">'
        + _who("Owner", card.owner, "NO OWNER", "nobody owns this secret")
        + _who("Paged", card.pager, "NOBODY IS PAGED", "add a pager to the owner rule")
        + "</div><dl>"
        f"<dt>Can read</dt><dd>{esc(card.readers_unknown) if card.readers_unknown else chips(card.principals_can_read)}</dd>"
        f"<dt>Did read</dt><dd>{did}</dd>"
        f"<dt>Tokens</dt><dd>{tokens}</dd>"
        f"<dt>Lives in</dt><dd>{where}</dd>"
        f"<dt>ID</dt><dd><code>{esc(card.id)}</code></dd>"
        "</dl></section>")


def leak_cards_html(cards: list[LeakCard]) -> str:
    """Every card, critical gaps first (no owner or nobody paged), then by environment and name."""
    if not cards:
        return "<p><em>No critical secret, so no card.</em></p>"
    ordered = sorted(cards, key=lambda c: (bool(c.owner and c.pager), c.environment != "prod",
                                           str(c.name or c.id).lower()))
    return (f'<div class="posture-leakcards" data-paginate="{CARDS_PER_PAGE}">'
            + "".join(leak_card_html(c) for c in ordered) + "</div>")


def leak_cards_page(a: Assessment) -> str:
    cards = a.rows("leak_cards")
    gaps = sum(1 for c in cards if not c.owner or not c.pager)
    lead = (f"<p>{len(cards)} card(s), one per critical secret: if it leaks at 3am, what to do first, "
            "in what order, who owns it and who is paged. Each prints on one page "
            "(print this page to get them all)."
            + (f' <span class="posture-gap">{gaps} card(s) have no owner or nobody to page.</span>' if gaps else "")
            + "</p>")
    return "\n".join(["# Leak-response cards", "", lead, "", leak_cards_html(cards), "",
                      "## Exit question", "", exit_answer(a, 5).html(), ""])
