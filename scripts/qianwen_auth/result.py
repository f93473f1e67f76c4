"""The result of a verify run: a plain object filled as the checks run, turned into JSON once.

It never holds the key: only where it was found, its type and its fingerprint.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from . import VERSION
from .verdict import EXIT_CODES


@dataclass
class KeyReport:
    set: bool = False
    source: str | None = None        # env:NAME or dotenv:<path>
    where: str | None = None         # the same, for people: "<path> line 3 (DASHSCOPE_API_KEY)"
    type: str | None = None          # standard / token_plan / unknown
    fingerprint: str | None = None
    problems: list[str] = field(default_factory=list)
    repairs: list[str] = field(default_factory=list)
    shadowed: list[str] = field(default_factory=list)


@dataclass
class ProbeReport:
    method: str
    url: str
    http_status: int | None
    error_code: str | None
    request_id: str | None
    elapsed_ms: int


@dataclass
class TokenPlanReport:
    checked: bool = False
    accepted: bool | None = None
    region: str | None = None


@dataclass
class Result:
    key: KeyReport = field(default_factory=KeyReport)
    status: str = "internal_error"
    hint: str = ""
    endpoint: str | None = None
    endpoint_source: str | None = None
    endpoint_region: str | None = None   # the region probed first (cn/intl/us/hk/custom)
    region: str | None = None            # where the key was accepted or belongs; else configured
    probe: ProbeReport | None = None
    probes: list[ProbeReport] = field(default_factory=list)
    suggested_base_url: str | None = None
    token_plan: TokenPlanReport = field(default_factory=TokenPlanReport)
    unreachable_reason: str | None = None
    problem_detail: str | None = None   # server message or network error text, redacted
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    evidence: str | None = None
    evidence_skipped: str | None = None

    @property
    def exit_code(self):
        return EXIT_CODES.get(self.status, 1)

    @property
    def ok(self):
        return self.status == "valid"

    def warn(self, messages):
        """Add warnings once each (a broken .env can produce thousands of the same kind)."""
        seen = set(self.warnings)
        for message in messages:
            if message not in seen:
                seen.add(message)
                self.warnings.append(message)

    def finish(self, status, hint):
        self.status, self.hint = status, hint
        return self

    def to_json(self):
        data = {"version": VERSION, "status": self.status, "ok": self.ok, "exit_code": self.exit_code}
        data.update(asdict(self))
        return data
