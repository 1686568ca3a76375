"""axe-core, run in a Playwright page: the WCAG 2.2 A and AA rules, and what broke them in words a person can act on.

axe-core comes from the repository's node_modules (`npm ci`), injected into the page under test;
nothing is fetched from elsewhere.

One finding is accepted, narrowly: GOV.UK Frontend's conditional reveal sets `aria-expanded` on the
radio that opens it. ARIA does not define that attribute for radios, so axe reports it; GOV.UK keeps
it on purpose because screen readers announce it and its users were helped by it (research in
alphagov/govuk-frontend#979 and #1972). Only that attribute, on such a radio, is let through.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
# WCAG 2.0, 2.1 and 2.2, levels A and AA (axe tags each rule with the versions and levels it belongs to).
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]

_RUN = """async (tags) => {
  const results = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
  return results.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    nodes: v.nodes.map(n => {
      const element = document.querySelector(n.target.join(' '));
      return {
        target: n.target.join(' '),
        summary: n.failureSummary,
        // GOV.UK Frontend's script turns data-aria-controls into aria-controls when it starts.
        conditional_radio: !!(element && element.matches(
          '.govuk-radios__input[data-aria-controls], .govuk-radios__input[aria-controls]')),
        // What each failed check names: for aria-allowed-attr, the attributes not allowed (`aria-expanded="false"`).
        data: [...n.any, ...n.all, ...n.none].flatMap(c => (c.data && c.data.values) || []),
      };
    }),
  }));
}"""


@dataclass(frozen=True)
class Findings:
    failures: list[dict[str, Any]]
    accepted: list[str]  # where the known GOV.UK Frontend finding was let through


def _accepted(violation: dict[str, Any], node: dict[str, Any]) -> bool:
    return (
        violation["id"] == "aria-allowed-attr"
        and node["conditional_radio"]
        and bool(node["data"])
        and all(str(attribute).startswith("aria-expanded=") for attribute in node["data"])
    )


def check(page: Any) -> Findings:
    """The page's violations of the WCAG A and AA rules, as axe-core reports them, less the accepted one."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    failures, accepted = [], []
    for violation in page.evaluate(_RUN, TAGS):
        nodes = [node for node in violation["nodes"] if not _accepted(violation, node)]
        accepted += [f"{violation['id']} at {node['target']}" for node in violation["nodes"] if node not in nodes]
        if nodes:
            failures.append({**violation, "nodes": nodes})
    return Findings(failures, accepted)


def describe(failures: list[dict[str, Any]]) -> str:
    """One line a violation and one an element: the rule, what it asks, where, and how to fix it."""
    lines = []
    for violation in failures:
        lines.append(f"  {violation['id']} ({violation['impact']}): {violation['help']} - {violation['helpUrl']}")
        for node in violation["nodes"]:
            summary = " ".join(str(node["summary"] or "").split())
            lines.append(f"    at {node['target']}: {summary}")
    return "\n".join(lines)
