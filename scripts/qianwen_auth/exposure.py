"""Is the file that holds a secret exposed? Readable by group or others, or tracked by git.

verify.py reports both for the .env file the key came from: a valid key in a committed .env has
already leaked, and "it works" must not be the whole story.
"""

import os
import stat
from typing import List, Tuple

from .fsutil import script_command
from .gitignore import Git, find_git_root, untrack_command


def dotenv_exposure(path, cwd=None) -> List[Tuple[str, str]]:
    """(problem code, message) pairs for a .env file that holds a key."""
    found = []
    if os.name != "nt":
        try:
            mode = stat.S_IMODE(os.stat(str(path)).st_mode)
        except OSError:
            mode = 0
        if mode & 0o077:
            found.append(("dotenv_readable_by_others", (
                "{} can be read by other users (mode {:04o}): run `{} --path {} --fix-permissions`"
                ).format(path, mode, script_command("init_env.py", cwd), path)))
    root = find_git_root(os.path.dirname(os.path.abspath(str(path))))
    if root is not None:
        relative = os.path.relpath(os.path.abspath(str(path)), str(root))
        if Git(root).is_tracked(relative):
            found.append(("dotenv_tracked_by_git", (
                "{} is tracked by git: treat the key as leaked and create a new one, then stop tracking "
                "the file: {}").format(path, untrack_command(path, root, cwd or os.getcwd()))))
    return found
