"""Is the file that holds a secret exposed? Readable by group or others, or tracked by git.

verify.py reports both for the .env file the key came from: a valid key in a committed .env has
already leaked, and "it works" must not be the whole story.
"""

import os
import stat

from .fsutil import script_command, shell_quote
from .gitignore import Git, find_git_root, untrack_command


def fix_permissions_command(path, cwd=None):
    return "{} --path {} --fix-permissions".format(script_command("init_env.py", cwd), shell_quote(str(path)))


def dotenv_exposure(path, cwd=None, deadline=None):
    """(problem code, message) pairs for a .env file that holds a key; git gets until deadline."""
    found = []
    if os.name != "nt":
        try:
            mode = stat.S_IMODE(os.stat(str(path)).st_mode)
        except OSError:
            mode = 0
        if mode & 0o077:
            who = "other users" if mode & 0o007 else "the file's group"
            found.append(("dotenv_readable_by_others", "{} can be read by {} (mode {:04o}): run `{}`".format(
                path, who, mode, fix_permissions_command(path, cwd))))
    root = find_git_root(os.path.dirname(os.path.abspath(str(path))))
    if root is not None:
        relative = os.path.relpath(os.path.abspath(str(path)), str(root))
        if Git(root, deadline=deadline).is_tracked(relative):
            found.append(("dotenv_tracked_by_git", (
                "{} is tracked by git: treat the key as leaked and create a new one, then stop tracking "
                "the file: {}").format(path, untrack_command(path, root, cwd or os.getcwd()))))
    return found
