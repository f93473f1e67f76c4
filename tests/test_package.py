"""The installable package: what `make dist` builds, whether it obeys the Agent Skills rules, and
whether the skills installer puts it where agents find it.

The frontmatter and link checks use the standard library only, so they run on every Python we
support; the reference validator (skills-ref, Python 3.11+) and the installer (npx, Node 22+) run
where they are available and skip cleanly where they are not.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "tools" / "build_dist.py"
SKILL_NAME = "qianwen-ops-auth"

ALLOWED_TOP_LEVEL = {"SKILL.md", "agent-compatibility.md", "references", "scripts"}
REQUIRED_FILES = ("SKILL.md", "agent-compatibility.md", "references/tokenplan.md",
                  "references/custom-oss.md", "references/sources.md")
FRONTMATTER_KEYS = {"name", "description", "license", "compatibility", "metadata"}

# The only console pages the skill may point to (issue 5); anything else on that host is invented.
KNOWN_CONSOLE_URLS = {
    "https://platform.qianwenai.com/home",
    "https://platform.qianwenai.com/home/api-keys",
    "https://platform.qianwenai.com/home/billing/pay-as-you-go",
    "https://platform.qianwenai.com/home/billing/subscription/token-plan",
    "https://platform.qianwenai.com/home/analytics",
}

VERIFY_STATUSES = ("valid", "invalid_key", "wrong_region", "token_plan_key", "access_denied",
                   "config_error", "not_configured", "unreachable", "api_error")

# Flags the README and SKILL.md document for each script. When a script exists in this checkout, its
# --help must list every one of them, so documentation and implementation cannot drift apart.
DOCUMENTED_FLAGS = {
    "verify.py": ("--json", "--base-url", "--region", "--probe", "--model", "--no-region-scan",
                  "--check-token-plan", "--timeout", "--no-save", "--output-dir", "--oss",
                  "--oss-only", "--version"),
    "init_env.py": ("--path", "--var", "--fix-permissions", "--no-gitignore", "--from-stdin",
                    "--allow-token-plan", "--replace", "--json"),
    "gossamer.py": ("--dismiss", "--never-install", "--status", "--json", "--should-prompt",
                    "--reset", "--state-file"),
}


# --- building -------------------------------------------------------------------------------------

def build_into(out, source=ROOT):
    completed = subprocess.run([sys.executable, str(BUILD), "--out", str(out), "--source", str(source)],
                               capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    return Path(completed.stdout.strip())


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    return build_into(tmp_path_factory.mktemp("dist"))


def package_files(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def markdown_files(folder):
    return sorted(folder.rglob("*.md"))


def test_build_writes_the_package_into_a_folder_named_after_the_skill(package):
    assert package.name == SKILL_NAME
    assert package.is_dir()


def test_package_holds_only_what_an_agent_needs(package):
    assert {entry.name for entry in package.iterdir()} <= ALLOWED_TOP_LEVEL
    for required in REQUIRED_FILES:
        assert (package / required).is_file(), required


def test_package_carries_no_caches_tests_env_files_or_output(package):
    for relative in package_files(package):
        parts = relative.split("/")
        assert not any(part.startswith(".") for part in parts), relative
        assert not {"__pycache__", "tests", "output"} & set(parts), relative
        assert not relative.endswith((".pyc", ".env")), relative


def test_package_scripts_are_byte_identical_to_the_source(package):
    for source in (ROOT / "scripts").rglob("*.py"):
        if "__pycache__" in source.parts:
            continue
        copied = package / source.relative_to(ROOT)
        assert copied.read_bytes() == source.read_bytes(), source


def make_source_tree(folder):
    """A minimal repository with the junk a developer's checkout accumulates."""
    for relative, text in {
        "SKILL.md": "---\nname: qianwen-ops-auth\ndescription: test\n---\nbody\n",
        "agent-compatibility.md": "x\n",
        "references/sources.md": "x\n",
        "references/.DS_Store": "junk",
        "scripts/verify.py": "print('ok')\n",
        "scripts/qianwen_auth/__init__.py": "",
        "scripts/qianwen_auth/__pycache__/keys.cpython-311.pyc": "junk",
        "scripts/.env": "DASHSCOPE_API_KEY=sk-not-for-shipping\n",
        "scripts/local.env": "DASHSCOPE_API_KEY=sk-not-for-shipping\n",
        "scripts/output/qianwen-ops-auth/verify-1.json": "{}",
        "tests/test_x.py": "",
        "README.md": "for people\n",
        ".env": "DASHSCOPE_API_KEY=sk-not-for-shipping\n",
    }.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return folder


def test_build_leaves_out_junk_from_the_source_tree(tmp_path):
    source = make_source_tree(tmp_path / "repo")
    built = build_into(tmp_path / "out", source)
    assert package_files(built) == ["SKILL.md", "agent-compatibility.md", "references/sources.md",
                                    "scripts/qianwen_auth/__init__.py", "scripts/verify.py"]


def test_rebuilding_removes_files_from_an_earlier_build(tmp_path):
    source = make_source_tree(tmp_path / "repo")
    built = build_into(tmp_path / "out", source)
    (built / "scripts" / "stale.py").write_text("")
    assert not (build_into(tmp_path / "out", source) / "scripts" / "stale.py").exists()


def test_build_refuses_a_tree_without_skill_md(tmp_path):
    source = make_source_tree(tmp_path / "repo")
    (source / "SKILL.md").unlink()
    completed = subprocess.run([sys.executable, str(BUILD), "--out", str(tmp_path / "out"),
                                "--source", str(source)], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 1
    assert "SKILL.md is missing" in completed.stderr
    assert "Traceback" not in completed.stderr


@pytest.mark.skipif(os.name == "nt", reason="symbolic links need privileges on Windows")
def test_build_refuses_a_symbolic_link_that_could_pull_in_outside_files(tmp_path):
    source = make_source_tree(tmp_path / "repo")
    (source / "scripts" / "linked.py").symlink_to(source / ".env")
    completed = subprocess.run([sys.executable, str(BUILD), "--out", str(tmp_path / "out"),
                                "--source", str(source)], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 1
    assert "symbolic link" in completed.stderr
    assert not (tmp_path / "out" / SKILL_NAME).exists()


# --- frontmatter (standard library, the rules of issue 5 and agentskills.io) ----------------------

def split_frontmatter(data):
    """(frontmatter lines, body lines) from the raw bytes of a SKILL.md."""
    text = data.decode("utf-8")
    lines = text.splitlines()
    if not lines or lines[0] != "---":
        raise ValueError("SKILL.md must start with a '---' line")
    try:
        end = lines.index("---", 1)
    except ValueError:
        raise ValueError("the frontmatter has no closing '---' line")
    return lines[1:end], lines[end + 1:]


def _unquote(value):
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1], True
    return value, False


def check_value(key, raw):
    """Problems with one scalar value (an empty list when it is fine)."""
    problems = []
    value, quoted = _unquote(raw.strip())
    if raw.strip()[:1] in ("\"", "'") and not quoted:
        problems.append("{}: unbalanced quotes".format(key))
    if "---" in value:
        problems.append("{}: contains '---'".format(key))
    if not quoted and (": " in value or value.endswith(":") or " #" in value):
        problems.append("{}: unquoted ': ' or ' #' inside the value".format(key))
    if not quoted and value[:1] in ("&", "*", "!", "|", ">", "[", "{", "%", "@", "`"):
        problems.append("{}: starts with a YAML indicator; quote it".format(key))
    return problems


def check_skill_md(data, folder_name):
    """Every rule the package's SKILL.md must meet; returns (fields, problems)."""
    problems = []
    if data.startswith(b"\xef\xbb\xbf"):
        return {}, ["SKILL.md starts with a UTF-8 BOM"]
    try:
        head, body = split_frontmatter(data)
    except (ValueError, UnicodeDecodeError) as error:
        return {}, [str(error)]
    fields, metadata, current = {}, {}, None
    for line in head:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line[0] in " \t":
            if current != "metadata":
                problems.append("indented line outside metadata: {!r}".format(line))
                continue
            match = re.match(r"^  ([A-Za-z0-9_-]+):(?: (.*))?$", line)
            if not match or not (match.group(2) or "").strip():
                problems.append("metadata entries must be '  key: value' lines: {!r}".format(line))
                continue
            metadata[match.group(1)] = _unquote(match.group(2).strip())[0]
            problems.extend(check_value("metadata." + match.group(1), match.group(2)))
            continue
        match = re.match(r"^([A-Za-z0-9_-]+):(?: (.*))?$", line)
        if not match:
            problems.append("not a 'key: value' line: {!r}".format(line))
            continue
        key, raw = match.group(1), (match.group(2) or "")
        current = key
        if key in fields:
            problems.append("{} appears twice".format(key))
        if key not in FRONTMATTER_KEYS:
            problems.append("{} is not an allowed top-level key".format(key))
        if key == "metadata":
            if raw.strip():
                problems.append("metadata must be written in block style, one '  key: value' per line")
            fields[key] = metadata
            continue
        problems.extend(check_value(key, raw))
        fields[key] = _unquote(raw.strip())[0]
    name = fields.get("name", "")
    description = fields.get("description", "")
    if name != folder_name:
        problems.append("name {!r} must equal the folder name {!r}".format(name, folder_name))
    if not re.match(r"^[a-z0-9]+(-[a-z0-9]+)*$", name) or len(name) > 64:
        problems.append("name must be 1-64 lowercase letters, digits and single hyphens")
    if not description or len(description) >= 1024:
        problems.append("description must be 1-1023 characters, not {}".format(len(description)))
    if "<" in description or ">" in description:
        problems.append("description must not contain < or >")
    if "compatibility" in fields and not 0 < len(fields["compatibility"]) < 500:
        problems.append("compatibility must be 1-499 characters")
    if "metadata" in fields and not fields["metadata"]:
        problems.append("metadata is empty")
    if len(body) >= 500:
        problems.append("the body has {} lines; keep it under 500".format(len(body)))
    return fields, problems


def test_skill_md_frontmatter_follows_the_rules(package):
    fields, problems = check_skill_md((package / "SKILL.md").read_bytes(), package.name)
    assert problems == []
    assert set(fields) >= {"name", "description", "compatibility", "metadata"}
    assert set(fields["metadata"]) == {"version", "author"}


def test_description_says_when_to_trigger_and_when_not(package):
    fields, _ = check_skill_md((package / "SKILL.md").read_bytes(), package.name)
    description = fields["description"]
    for trigger in ("QIANWEN_API_KEY", "DASHSCOPE_API_KEY", "401", "missing credentials"):
        assert trigger in description, trigger
    assert "Not for" in description


GOOD = b"---\nname: demo\ndescription: Checks keys. Use when a key fails.\nmetadata:\n  version: \"1.0\"\n---\nbody\n"


@pytest.mark.parametrize("data, problem", [
    (b"\xef\xbb\xbf" + GOOD, "BOM"),
    (GOOD.replace(b"name: demo", b"name: other"), "folder name"),
    (GOOD.replace(b"Checks keys.", b"Checks <keys>."), "< or >"),
    (GOOD.replace(b"Checks keys.", b"Checks keys: all of them."), "unquoted"),
    (GOOD.replace(b"Checks keys.", b"Checks keys --- fast."), "'---'"),
    (GOOD.replace(b"Checks keys.", b"x" * 1024), "1-1023"),
    (GOOD.replace(b"metadata:\n  version: \"1.0\"", b"metadata: {version: 1}"), "block style"),
    (GOOD.replace(b"metadata:", b"tags: [a]\nmetadata:"), "not an allowed top-level key"),
    (GOOD.replace(b"---\nbody", b"compatibility: " + b"x" * 500 + b"\n---\nbody"), "compatibility"),
    (GOOD.replace(b"body\n", b"line\n" * 500), "under 500"),
    (GOOD.replace(b"---\nbody", b"body"), "closing"),
])
def test_frontmatter_check_catches(data, problem):
    _, problems = check_skill_md(data, "demo")
    assert any(problem in p for p in problems), problems


def test_frontmatter_check_accepts_a_minimal_valid_skill():
    assert check_skill_md(GOOD, "demo")[1] == []


# --- SKILL.md content an agent relies on ----------------------------------------------------------

def skill_text(package):
    return (package / "SKILL.md").read_text(encoding="utf-8")


def test_body_starts_by_pointing_to_agent_compatibility(package):
    _, body = split_frontmatter((package / "SKILL.md").read_bytes())
    first = next(line for line in body if line.strip())
    assert "(agent-compatibility.md)" in first


def test_skill_md_names_every_verdict_of_verify(package):
    text = skill_text(package)
    for status in VERIFY_STATUSES:
        assert "`{}`".format(status) in text, status


@pytest.mark.parametrize("command", [
    "scripts/verify.py", "scripts/init_env.py", "--from-stdin", "scripts/gossamer.py --should-prompt",
    "--dismiss", "--never-install", "qianwen-update-check", "output/qianwen-ops-auth/",
    "references/tokenplan.md", "references/custom-oss.md", "references/sources.md",
])
def test_skill_md_tells_the_agent(package, command):
    assert command in skill_text(package)


def test_every_script_skill_md_names_is_in_the_package(package):
    named = set(re.findall(r"scripts/([A-Za-z_]+\.py)", skill_text(package)))
    assert named >= {"verify.py", "init_env.py", "gossamer.py"}
    for script in named:
        assert (package / "scripts" / script).is_file(), script


def test_skill_md_version_is_the_scripts_version(package):
    from qianwen_auth import VERSION
    assert 'version: "{}"'.format(VERSION) in (package / "SKILL.md").read_text(encoding="utf-8")


# --- links and URLs -------------------------------------------------------------------------------

_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_URL = re.compile(r"https?://[^\s)\]>`\"'|*]+")


def relative_links(text):
    for target in _LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE) or target.startswith("#"):
            continue
        yield target


def test_every_relative_link_resolves_inside_the_package(package):
    broken = []
    root = package.resolve()
    for md in markdown_files(package):
        for target in relative_links(md.read_text(encoding="utf-8")):
            path = unquote(target.split("#", 1)[0])
            resolved = (md.parent / path).resolve()
            if not path or root not in [resolved] + list(resolved.parents) or not resolved.exists():
                broken.append("{}: {}".format(md.relative_to(package), target))
    assert broken == []


def test_link_check_sees_links_in_the_markdown(package):
    # Guards the regular expression: SKILL.md does link to its references.
    assert "references/tokenplan.md" in list(relative_links(skill_text(package)))


def test_only_known_console_urls_appear(package):
    unknown = []
    for md in markdown_files(package):
        for url in _URL.findall(md.read_text(encoding="utf-8")):
            url = url.rstrip(".,;:")
            host = url.split("/")[2]
            if host == "platform.qianwenai.com" and url.rstrip("/") not in KNOWN_CONSOLE_URLS:
                unknown.append("{}: {}".format(md.name, url))
            elif host != "platform.qianwenai.com" and "console" in host:
                unknown.append("{}: {} (console pages live on platform.qianwenai.com)".format(md.name, url))
    assert unknown == []


def test_sources_lists_every_known_console_url(package):
    sources = (package / "references" / "sources.md").read_text(encoding="utf-8")
    for url in KNOWN_CONSOLE_URLS:
        assert url in sources, url


# --- documentation and scripts agree --------------------------------------------------------------

@pytest.mark.parametrize("script", sorted(DOCUMENTED_FLAGS))
def test_readme_documents_every_flag(script):
    for readme in ("README.md", "README.zh-CN.md"):
        text = (ROOT / readme).read_text(encoding="utf-8")
        for flag in DOCUMENTED_FLAGS[script]:
            assert flag in text, "{} does not mention {} of {}".format(readme, flag, script)


@pytest.mark.parametrize("script", sorted(DOCUMENTED_FLAGS))
def test_documented_flags_exist_in_the_script(script):
    path = ROOT / "scripts" / script
    if not path.exists():
        pytest.skip("{} is not in this checkout yet".format(script))
    completed = subprocess.run([sys.executable, str(path), "--help"], capture_output=True, text=True,
                               timeout=30, stdin=subprocess.DEVNULL)
    assert completed.returncode == 0, completed.stderr
    missing = [flag for flag in DOCUMENTED_FLAGS[script]
               if not re.search(re.escape(flag) + r"(?![\w-])", completed.stdout)]
    assert missing == [], "documented but not in {} --help".format(script)


# --- the reference validator ----------------------------------------------------------------------

def find_validator():
    beside_python = Path(sys.executable).parent / ("agentskills.exe" if os.name == "nt" else "agentskills")
    return str(beside_python) if beside_python.exists() else shutil.which("agentskills")


def test_reference_validator_accepts_the_package(package):
    validator = find_validator()
    if validator is None:
        pytest.skip("skills-ref is not installed (it needs Python 3.11+): pip install skills-ref")
    completed = subprocess.run([validator, "validate", str(package)], capture_output=True, text=True,
                               timeout=60)
    assert completed.returncode == 0, completed.stdout + completed.stderr


# --- the skills installer -------------------------------------------------------------------------

_NETWORK_TROUBLE = re.compile(r"ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|"
                              r"EHOSTUNREACH|network|socket hang up|getaddrinfo|request to https?://"
                              r"\S+ failed|UNABLE_TO_GET_ISSUER|SELF_SIGNED", re.IGNORECASE)


@pytest.fixture(scope="module")
def installed(package, tmp_path_factory):
    """Install the built package with `npx skills add` (Node 22 via npx) into a scratch project."""
    # The installer comes from the npm registry: opt-in, so `make test` never leaves this machine.
    if os.environ.get("QIANWEN_INSTALL_CHECK") != "1":
        pytest.skip("the installer check talks to the npm registry: run `make install-check`")
    npx = shutil.which("npx")
    if npx is None:
        pytest.skip("npx is not installed; the install check needs Node.js (any version with npx)")
    project = tmp_path_factory.mktemp("scratch-project")
    env = dict(os.environ, DISABLE_TELEMETRY="1", DO_NOT_TRACK="1", CI="1", NO_COLOR="1")
    command = [npx, "-y", "-p", "node@22", "-p", "skills", "skills", "add", str(package),
               "-a", "claude-code", "-y"]
    try:
        completed = subprocess.run(command, cwd=str(project), env=env, capture_output=True, text=True,
                                   encoding="utf-8", errors="replace", timeout=240,
                                   stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.skip("the npm registry did not answer within 240 s")
    output = completed.stdout + completed.stderr
    if completed.returncode != 0 and _NETWORK_TROUBLE.search(output):
        pytest.skip("the npm registry cannot be reached: " + _NETWORK_TROUBLE.search(output).group(0))
    assert completed.returncode == 0, output
    return project / ".claude" / "skills" / SKILL_NAME


def test_installer_puts_the_package_where_claude_code_looks(installed, package):
    assert installed.is_dir()
    assert package_files(installed) == package_files(package)


def test_installed_verify_runs_help(installed):
    if not (ROOT / "scripts" / "verify.py").exists():
        pytest.skip("verify.py is not in this checkout yet")
    project = installed.parent.parent.parent
    completed = subprocess.run(
        [sys.executable, ".claude/skills/{}/scripts/verify.py".format(SKILL_NAME), "--help"],
        cwd=str(project), capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert completed.returncode == 0, completed.stderr
    assert "verify.py" in completed.stdout
