"""What local mode says while it runs functions, and what it did in the end."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field


@dataclass
class Summary:
    runs: int = 0
    failed: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)

    def __add__(self, other: Summary) -> Summary:
        return Summary(self.runs + other.runs, self.failed + other.failed, self.written + other.written)

    def __str__(self) -> str:
        failed = f", {len(self.failed)} failed ({', '.join(self.failed)})" if self.failed else ""
        return f"local run: {self.runs} run(s){failed}, {len(self.written)} object(s) written"


def print_progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
