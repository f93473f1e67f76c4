"""The result of a verify run: a plain object filled as the checks run, turned into JSON once.

It never holds the key: only where it was found, its type and its fingerprint.
"""

from dataclasses import asdict, dataclass, field
from typing import List, Optional

from . import VERSION
from .verdict import EXIT_CODES


@dataclass
class KeyReport:
    set: bool = False
    source: Optional[str] = None        # env:NAME or dotenv:<path>
    where: Optional[str] = None         # the same, for people: "<path> line 3 (DASHSCOPE_API_KEY)"
    type: Optional[str] = None          # standard / token_plan / unknown
    fingerprint: Optional[str] = None
    problems: List[str] = field(default_factory=list)
    repairs: List[str] = field(default_factory=list)
    shadowed: List[str] = field(default_factory=list)


@dataclass
class ProbeReport:
    method: str
    url: str
    http_status: Optional[int]
    error_code: Optional[str]
    request_id: Optional[str]
    elapsed_ms: int


@dataclass
class TokenPlanReport:
    checked: bool = False
    accepted: Optional[bool] = None
    region: Optional[str] = None


@dataclass
class Result:
    key: KeyReport = field(default_factory=KeyReport)
    status: str = "internal_error"
    hint: str = ""
    endpoint: Optional[str] = None
    endpoint_source: Optional[str] = None
    endpoint_region: Optional[str] = None   # the region probed first (cn/intl/us/hk/custom)
    region: Optional[str] = None            # where the key was accepted or belongs; else configured
    probe: Optional[ProbeReport] = None
    probes: List[ProbeReport] = field(default_factory=list)
    suggested_base_url: Optional[str] = None
    token_plan: TokenPlanReport = field(default_factory=TokenPlanReport)
    unreachable_reason: Optional[str] = None
    problem_detail: Optional[str] = None   # server message or network error text, redacted
    notes: List[str] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)
    evidence: Optional[str] = None
    evidence_skipped: Optional[str] = None

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
