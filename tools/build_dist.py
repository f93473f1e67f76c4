"""Build dist/qianwen-ops-auth/: the folder the skills installer copies, holding only what an agent needs.

The installer (`npx skills add <folder>`) copies everything in the folder it is given, so the package
must not carry tests, caches, .env files or evidence from a developer's checkout.
"""

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

SKILL_NAME = "qianwen-ops-auth"
ROOT = Path(__file__).resolve().parent.parent

# What an agent needs, relative to the repository root. Folders are copied without the junk below.
PACKAGE_FILES = ("SKILL.md", "agent-compatibility.md")
PACKAGE_FOLDERS = ("references", "scripts")

# Never shipped, wherever they appear: caches, local secrets, evidence, tests, editor and OS litter.
_EXCLUDED_FOLDERS = {"__pycache__", ".pytest_cache", "output", "tests", "node_modules", ".git"}
_EXCLUDED_SUFFIXES = (".pyc", ".pyo", ".env", ".tmp", ".swp", ".orig", ".rej", "~")


class BuildError(Exception):
    """The source tree cannot be packaged; the message says what to fix."""


def is_excluded(name):
    """True for names that never belong in the package (hidden files cover .env and .DS_Store)."""
    return name.startswith(".") or name in _EXCLUDED_FOLDERS or name.endswith(_EXCLUDED_SUFFIXES)


def package_paths(source):
    """Relative paths of every file the package holds, sorted; raises BuildError on a bad tree."""
    source = Path(source)
    paths = []
    for name in PACKAGE_FILES:
        if not (source / name).is_file():
            raise BuildError("{} is missing from {}".format(name, source))
        paths.append(Path(name))
    for folder in PACKAGE_FOLDERS:
        if not (source / folder).is_dir():
            raise BuildError("the {}/ folder is missing from {}".format(folder, source))
        for current, folders, files in os.walk(str(source / folder)):
            folders[:] = sorted(name for name in folders if not is_excluded(name))
            for name in sorted(files):
                if is_excluded(name):
                    continue
                relative = Path(current, name).relative_to(source)
                if (source / relative).is_symlink():
                    # A link could pull a file from outside the skill (or a secret) into the package.
                    raise BuildError("{} is a symbolic link; replace it with the file itself".format(relative))
                paths.append(relative)
            for name in folders:
                if Path(current, name).is_symlink():
                    raise BuildError("{} is a symbolic link to a folder; the package cannot hold it".format(
                        Path(current, name).relative_to(source)))
    return sorted(paths)


def build(source=ROOT, out=None):
    """Write <out>/qianwen-ops-auth/ from source and return its path.

    The package is assembled in a temporary folder beside the target and then moved into place, so a
    failed build never leaves half a package behind.
    """
    source = Path(source).resolve()
    out = Path(out).resolve() if out else source / "dist"
    target = out / SKILL_NAME
    paths = package_paths(source)
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="." + SKILL_NAME + ".", dir=str(out)))
    try:
        for relative in paths:
            destination = staging / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(str(source / relative), str(destination))
        if target.is_symlink() or target.is_file():
            target.unlink()
        elif target.exists():
            shutil.rmtree(str(target))
        os.replace(str(staging), str(target))
    except BaseException:
        shutil.rmtree(str(staging), ignore_errors=True)
        raise
    return target


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="build_dist.py",
        description="Build the installable skill folder (dist/qianwen-ops-auth/ by default) with only "
                    "SKILL.md, agent-compatibility.md, references/ and scripts/.",
        epilog="examples:\n  python3 tools/build_dist.py\n  python3 tools/build_dist.py --out /tmp/pkg",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", metavar="DIR", help="folder to build into (default: dist/)")
    parser.add_argument("--source", metavar="DIR", default=str(ROOT),
                        help="repository root to package (default: this checkout)")
    args = parser.parse_args(argv)
    try:
        target = build(args.source, args.out)
    except BuildError as error:
        print("build_dist.py: {}".format(error), file=sys.stderr)
        return 1
    except OSError as error:
        print("build_dist.py: cannot write the package: {}".format(error), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    print(target)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
