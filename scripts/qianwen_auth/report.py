"""Rendering results: short human lines by default, one JSON object with --json.

Results go to stdout, warnings to stderr. Everything printed passes through redact() once more,
so even a mistake upstream cannot put a key on the screen.
"""

import json
import os
import sys

from .redact import redact, redact_data


def _usable(stream):
    """A stream we can write to: a closed stdout (`>&-`) is None; an ASCII or cp1252 console gets
    escapes instead of a UnicodeEncodeError half-way through the result."""
    if stream is None:
        return open(os.devnull, "w")
    try:
        stream.reconfigure(errors="backslashreplace")
    except (AttributeError, ValueError, OSError):
        pass
    return stream


class Reporter:
    """Writes a result to two streams; the secrets list is the last line of defence.

    Writing never raises: a reader that went away (`| head -c1`, a full disk) must not turn the
    verdict into a crash or a different exit code.
    """

    def __init__(self, out=None, err=None, secrets=()):
        self.out = _usable(out or sys.stdout)
        self.err = _usable(err or sys.stderr)
        self.secrets = list(secrets)

    def _write(self, name, text):
        stream = getattr(self, name)
        try:
            stream.write(text)
            stream.flush()
        except (OSError, ValueError):
            setattr(self, name, _silenced(stream))

    def line(self, text=""):
        self._write("out", redact(text, self.secrets) + "\n")

    def warn(self, text):
        self._write("err", redact("warning: " + text, self.secrets) + "\n")

    def error(self, text):
        self._write("err", redact(text, self.secrets) + "\n")

    printed_json = False

    def json(self, data):
        """The one JSON object of a run; a second call (an interrupt after printing) is ignored."""
        if self.printed_json:
            return
        self.printed_json = True
        # ensure_ascii: valid on any console encoding, and every JSON parser reads the escapes.
        self._write("out", json.dumps(redact_data(data, self.secrets), indent=2, ensure_ascii=True) + "\n")

    def flush(self):
        for name in ("out", "err"):
            self._write(name, "")


def _silenced(stream):
    """Point the stream's file descriptor at the null device, so the interpreter's own flush at
    exit does not print 'Exception ignored' for a pipe that is gone."""
    devnull = open(os.devnull, "w")
    try:
        os.dup2(devnull.fileno(), stream.fileno())
    except (OSError, ValueError, AttributeError):
        pass
    return devnull


def _key_line(key):
    if not key.set:
        return "not found"
    parts = [key.where or key.source]
    if key.type:
        parts.append({"standard": "standard key", "token_plan": "Token Plan key (sk-sp-)",
                      "unknown": "unknown key type"}[key.type])
    if key.fingerprint:
        parts.append(key.fingerprint)
    return ", ".join(parts)


def _probe_line(probe, unreachable_reason):
    answer = "HTTP {}".format(probe.http_status) if probe.http_status else (unreachable_reason or "no answer")
    extra = ", {}".format(probe.error_code) if probe.error_code else ""
    request_id = " (request id {})".format(probe.request_id) if probe.request_id else ""
    return "{} {} -> {}{} in {} ms{}".format(probe.method, probe.url, answer, extra, probe.elapsed_ms,
                                           request_id)


def render_verify_text(result, reporter):
    reporter.line("Key:       " + _key_line(result.key))
    for source in result.key.shadowed:
        reporter.line("           shadows a different key in " + source)
    if result.endpoint:
        reporter.line("Endpoint:  {} ({}, {})".format(result.endpoint, result.endpoint_region,
                                                     result.endpoint_source))
    for probe in result.probes:
        reporter.line("Probe:     " + _probe_line(probe, result.unreachable_reason))
    if result.token_plan.checked:
        reporter.line("TokenPlan: accepted={} region={}".format(
            str(result.token_plan.accepted).lower(), result.token_plan.region or "-"))
    for note in result.notes:
        reporter.line("Note:      " + note)
    if result.problem_detail:
        reporter.line("Detail:    " + result.problem_detail)
    reporter.line("Status:    {} (exit {})".format(result.status, result.exit_code))
    reporter.line("Next:      " + result.hint)
    if result.evidence:
        reporter.line("Saved:     " + result.evidence)
