"""What every entry point shares: an argument parser whose usage errors are safe and, under
--json, one JSON object; and a main() wrapper that never shows a traceback."""

import argparse
import sys

from . import VERSION


class Parser(argparse.ArgumentParser):
    """argparse without abbreviations (`--js` must not silently mean --json), with usage errors
    redacted (a key typed as an argument is echoed by argparse) and, when --json was asked for,
    also printed as one JSON object on stdout. Usage errors exit 2."""

    def __init__(self, *args, argv=None, error_status="config_error", message_field="hint", **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)
        self._argv = argv
        self._error_status = error_status
        self._message_field = message_field

    def error(self, message):
        from .redact import redact  # only on this path, so --help stays fast
        from .report import Reporter
        message = redact(message)
        seen = self._argv if self._argv is not None else sys.argv[1:]
        # The Reporter never raises on write: a closed stderr (`2>&-`) or a reader that went away
        # (`| head -c1`) must not turn a usage error into a crash with another exit code.
        output = Reporter()
        if any(arg == "--json" or arg.startswith("--json=") for arg in seen):
            output.json({"version": VERSION, "status": self._error_status, "ok": False, "exit_code": 2,
                         self._message_field: "{}: {}".format(self.prog, message)})
        output.error(self.format_usage().rstrip("\n"))
        output.error("{}: error: {}".format(self.prog, message))
        sys.exit(2)
