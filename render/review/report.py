"""A review as text for the terminal or as Markdown for a pull request comment."""

from __future__ import annotations

from render.review.changes import FUTURE, PAST, Review


def format_text(result: Review) -> str:
    lines = [_headline(result)]
    for group in result.groups:
        lines += ["", f"{group.title}: {_counts(group.counts())}"]
        lines += [f"  {c.symbol} {c.address}" for c in group.changes]
    if result.warnings:
        lines += ["", f"Warnings ({len(result.warnings)}):"]
        lines += [f"  ! {w}" for w in result.warnings]
    return "\n".join(lines) + "\n"


def format_markdown(result: Review) -> str:
    lines = ["### Terraform plan review", "", f"**{_headline(result)}**"]
    if result.warnings:
        lines += ["", f"#### Warnings ({len(result.warnings)})", ""]
        lines += [f"- :warning: {_code_addresses(w)}" for w in result.warnings]
    if result.groups:
        lines += ["", "| | created | changed | replaced | destroyed |", "|---|---:|---:|---:|---:|"]
        for group in result.groups:
            counts = group.counts()
            cells = [str(counts.get(action, 0) or "") for action in ("create", "update", "replace", "delete")]
            lines.append(f"| {group.title} | " + " | ".join(cells) + " |")
        lines += ["", "<details><summary>Resources</summary>", "", "```diff"]
        for group in result.groups:
            lines += [f"# {group.title}"] + [f"{c.symbol} {c.address}" for c in group.changes]
        lines += ["```", "", "</details>"]
    return "\n".join(lines) + "\n"


def _headline(result: Review) -> str:
    totals = result.totals()
    if not any(totals.values()):
        return "No changes."
    parts = [f"{totals[action]} {words}" for action, words in FUTURE.items()]
    if totals["forget"]:
        parts.append(f"{totals['forget']} to forget")
    return "Plan: " + ", ".join(parts) + "."


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{count} {PAST[action]}" for action, count in counts.items())


def _code_addresses(warning: str) -> str:
    """Put the leading resource address of a warning in backticks for Markdown."""
    address, separator, rest = warning.partition(": ")
    return f"`{address}`: {rest}" if separator and address.startswith(("module.", "aws_")) else warning
