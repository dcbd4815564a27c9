"""Benchmark results: printed, and written into their own section of ``docs/benchmarks.md``.

Owns: ``Result`` (one benchmark's figures, each with its target and verdict), rendering it as
Markdown, and replacing that benchmark's section of the file (between ``<!-- bench:NAME -->``
and ``<!-- /bench:NAME -->``) while leaving the rest of the file, hand-written analysis
included, as it is. Must not: measure anything.
"""

from __future__ import annotations

import datetime as dt
import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

from bench.stack import ROOT, load, machine

DOC = ROOT / "docs" / "benchmarks.md"
HEADER = """# Benchmarks

Produced by `bench/` (see `bench/README.md`): each section below is rewritten by its command
with its latest figures; the analysis under "Notes" is written by hand. Every benchmark starts
its own Kafka broker (127.0.0.1:31392) and HubSpot emulator processes enforcing the Pro budget
(190 requests per rolling 10 s) unless it says otherwise, and runs the real daemon
(`python -m consumer run`) as child processes. The machine may be shared: the load averages
before and after each run are given beside its figures.
"""


@dataclass
class Figure:
    """One measured value; ``target`` is the goal as text, ``ok`` whether it was met."""

    name: str
    value: str
    target: str = ""
    ok: bool | None = None
    miss: str = ""


@dataclass
class Result:
    name: str
    title: str
    workload: str
    figures: list[Figure] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    load_before: str = ""
    command: str = ""
    started: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    def add(
        self,
        name: str,
        value: str,
        target: str = "",
        ok: bool | None = None,
        miss: str = "",
    ) -> None:
        self.figures.append(Figure(name, value, target, ok, miss))

    def markdown(self) -> str:
        info = machine()
        lines = [
            f"## {self.title}",
            "",
            f"- Run: {self.started:%Y-%m-%d %H:%M} UTC, `{self.command}`",
            f"- Machine: {info['cpu']}, {info['memory']}, Python {info['python']}",
            f"- Load average (1/5/15 min) before: {self.load_before}; after: {load()}",
            f"- Workload: {self.workload}",
            "",
            "| figure | value | target | met |",
            "|---|---|---|---|",
        ]
        for f in self.figures:
            met = "" if f.ok is None else ("yes" if f.ok else f"**no** ({f.miss})")
            lines.append(f"| {f.name} | {f.value} | {f.target} | {met} |")
        if self.details:
            lines.append("")
            lines += [f"- {d}" for d in self.details]
        return "\n".join(lines) + "\n"

    def print(self) -> None:
        print(self.markdown())


ORDER = ("calls", "utilisation", "overhead", "latency", "rss")


def write(result: Result, doc: Path = DOC) -> None:
    """Replace (or add, in the suite's order) this result's section of ``doc``."""
    text = doc.read_text(encoding="utf-8") if doc.exists() else HEADER
    begin, end = f"<!-- bench:{result.name} -->", f"<!-- /bench:{result.name} -->"
    block = f"{begin}\n{result.markdown()}{end}"
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        later = [n for n in ORDER[ORDER.index(result.name) + 1 :] if f"<!-- bench:{n} -->" in text]
        anchor = f"<!-- bench:{later[0]} -->" if later else None
        if anchor is not None:
            text = text.replace(anchor, f"{block}\n\n{anchor}")
        elif "\n## Notes" in text:
            text = text.replace("\n## Notes", f"\n{block}\n\n## Notes", 1)
        else:
            text = text.rstrip("\n") + f"\n\n{block}\n"
    doc.write_text(text, encoding="utf-8")


def command_line() -> str:
    return "python -m bench " + shlex.join(sys.argv[1:])
