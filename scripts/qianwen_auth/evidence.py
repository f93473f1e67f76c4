"""Where and how verify.py saves its JSON result: ./output/qianwen-ops-auth/verify-<UTC>.json.

Files are created with mode 0600 and never overwrite an earlier one. Nothing is written into this
skill's folder or any skills tree: installers copy those folders whole.
"""

import json
import os
import time
from pathlib import Path

from .fsutil import create_new_file, skills_tree_reason
from .redact import redact_data

DEFAULT_DIR = Path("output") / "qianwen-ops-auth"


def default_dir(cwd=None):
    """./output/qianwen-ops-auth/, or None when the current folder is gone or unreadable."""
    try:
        return Path(cwd or os.getcwd()) / DEFAULT_DIR
    except OSError:
        return None


def _keep_out_of_git(folder):
    """A .gitignore of `*` inside the evidence folder: git then ignores the folder and itself, so
    results never show up as files to commit in the user's repository."""
    marker = folder / ".gitignore"
    if not marker.exists():
        try:
            create_new_file(marker, b"# qianwen-ops-auth results: never commit them\n*\n", mode=0o644)
        except OSError:
            pass


def save_json(data, folder, prefix="verify", now=None, secrets=()):
    """Save data as a new file in folder; returns (path, None) or (None, reason it was not saved).
    Every string is redacted once more against secrets on the way to the disk."""
    if folder is None:
        return None, "not saved: the current folder cannot be read"
    folder = Path(folder)
    data = redact_data(data, secrets)
    reason = skills_tree_reason(folder)
    if reason:
        return None, "not saved: {}".format(reason)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _keep_out_of_git(folder)
        for attempt in range(1, 1000):
            name = "{}-{}{}.json".format(prefix, stamp, "" if attempt == 1 else "-{}".format(attempt))
            path = folder / name
            data = dict(data, evidence=str(path))
            try:
                create_new_file(path, (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
                return str(path), None
            except FileExistsError:
                continue
    except (OSError, UnicodeError) as error:
        return None, "not saved: {} ({})".format(folder, getattr(error, "strerror", None) or type(error).__name__)
    return None, "not saved: too many results in {} this second".format(folder)
