"""Real git repositories for tests (init_env's .gitignore work, tracked .env files)."""

import subprocess


def git(folder, *args):
    return subprocess.run(["git", "-C", str(folder)] + list(args), check=True, capture_output=True)


def make_repo(folder):
    """A repository with an identity and no signing, so commits work on any machine."""
    git(folder, "init", "-q")
    git(folder, "config", "user.name", "Test")
    git(folder, "config", "user.email", "test@example.invalid")
    git(folder, "config", "commit.gpgsign", "false")
    return folder
