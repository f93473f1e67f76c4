"""gossamer.py as an agent runs it: the update-reminder state shared with the QianWen skill family.

Installed layouts are built the way `npx skills add` builds them: scripts/ (the script and the package)
copied into <project>/.agents/skills/qianwen-ops-auth/, .claude/skills/..., or linked between them.
run_script takes an absolute path for such a copy (pathlib's SCRIPTS / "/abs" is "/abs"), so every
run, copy or not, gets the canary and no-traceback checks.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from conftest import ROOT, SCRIPTS, base_environment

SKILL = "qianwen-ops-auth"
HOUR = 3600
FAMILY_KEYS = {"last_interaction", "never_install"}


# --- helpers -------------------------------------------------------------------------------------

def install_copy(skill_dir):
    """Copy the skill's files into skill_dir as an installer does; returns the copied gossamer.py."""
    skill_dir.mkdir(parents=True)
    shutil.copytree(str(SCRIPTS), str(skill_dir / "scripts"),
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(str(ROOT / "SKILL.md"), str(skill_dir / "SKILL.md"))
    return skill_dir / "scripts" / "gossamer.py"


def install_update_check(folder):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "SKILL.md").write_text("---\nname: qianwen-update-check\n---\n", encoding="utf-8")


def link_folder(link, target):
    link.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.symlink(str(target), str(link), target_is_directory=True)
    except (OSError, NotImplementedError):
        pytest.skip("symbolic links are not available here")


def write_state(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")


def read_json(path):
    return json.loads(path.read_text(encoding="utf-8"))


def no_agents_folder_above(folder):
    return not any((parent / ".agents").is_dir() for parent in folder.parents)


def strict_json(path):
    """The file's object, parsed as JSON parsers outside Python do: NaN and Infinity are errors."""
    def refuse(constant):
        raise ValueError("{} is not JSON".format(constant))
    return json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)


def make_python_wrapper(path, body):
    """An executable that runs body, then execs this Python with the same arguments (POSIX only)."""
    path.write_text("#!{}\n{}\nos.execve(sys.executable, [sys.executable] + sys.argv[1:], env)\n"
                    .format(sys.executable, body), encoding="utf-8")
    path.chmod(0o755)
    return path


# Root ignores file modes through two capabilities. Dropped from the bounding set before exec, they
# are gone in the new program, which then meets a mode-000 file as any other user does.
WITHOUT_FILE_CAPABILITIES = """
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
    if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
        sys.exit("cannot drop capability {}".format(capability))
env = os.environ
"""

# No HOME, and a user id the system has no account entry for: a user namespace that maps one such id
# onto the caller, so every file the test made stays the caller's own.
WITHOUT_HOME = """
import ctypes, os, sys
outer_uid, outer_gid = os.geteuid(), os.getegid()
libc = ctypes.CDLL(None, use_errno=True)
if libc.unshare(0x10000000) != 0:  # CLONE_NEWUSER
    sys.exit("user namespaces are not available")
for name, text in (("setgroups", "deny"), ("uid_map", "{0} {1} 1"), ("gid_map", "{0} {2} 1")):
    with open("/proc/self/" + name, "w") as handle:
        handle.write(text.format(ACCOUNTLESS_ID, outer_uid, outer_gid))
env = {name: value for name, value in os.environ.items() if name not in ("HOME", "USERPROFILE")}
"""


@pytest.fixture
def python_that_cannot_read_mode_000(tmp_path):
    """A Python (None: the usual one) for which a mode-000 file is unreadable; skips where none is."""
    if os.name == "nt" or not hasattr(os, "geteuid"):
        pytest.skip("file modes do not deny reading on Windows")
    python = None
    if os.geteuid() == 0:
        python = make_python_wrapper(tmp_path / "python-without-file-capabilities",
                                     WITHOUT_FILE_CAPABILITIES)
    probe = tmp_path / "probe"
    probe.write_text("x", encoding="utf-8")
    probe.chmod(0)
    try:
        check = subprocess.run([str(python or sys.executable), "-c", "open({!r}).read()".format(str(probe))],
                               stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    finally:
        probe.chmod(0o600)
        probe.unlink()
    if b"PermissionError" not in check.stderr:
        pytest.skip("cannot make a file unreadable here")
    return python


@pytest.fixture
def python_without_home(tmp_path):
    """A Python run with no HOME as a user with no account entry; skips where that cannot be made."""
    if not sys.platform.startswith("linux"):
        pytest.skip("needs Linux user namespaces")
    import pwd
    for candidate in range(54321, 54400):
        try:
            pwd.getpwuid(candidate)
        except KeyError:
            break
    else:
        pytest.skip("no free user id")
    python = make_python_wrapper(tmp_path / "python-without-home",
                                 WITHOUT_HOME.replace("ACCOUNTLESS_ID", str(candidate)))
    check = subprocess.run([str(python), "-c", "import os; print(os.path.expanduser('~'))"],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30,
                           env=base_environment(tmp_path))
    if check.returncode != 0 or check.stdout.strip() != "~":
        pytest.skip("cannot run without a home folder here")
    return python


@pytest.fixture
def state_file(tmp_path):
    return tmp_path / "shared" / ".agents" / "state.json"


@pytest.fixture
def gossamer(run_script, state_file):
    """Run the repository's gossamer.py on a state file of the test's own."""
    def run(*args, env=None):
        return run_script("gossamer.py", "--state-file", state_file, *args, env=env)
    return run


@pytest.fixture
def project_with_agents(project):
    (project / ".agents").mkdir()
    return project


# --- no flag, help, usage ------------------------------------------------------------------------

def test_no_flag_prints_short_help_and_writes_nothing(run_script, project_with_agents, home):
    script = install_copy(project_with_agents / ".agents" / "skills" / SKILL)
    result = run_script(str(script))
    assert result.returncode == 0
    assert result.stdout.startswith("usage: gossamer.py")
    assert "--help" in result.stdout
    assert not (project_with_agents / ".agents" / "state.json").exists()
    assert not (home / ".agents").exists()


def test_help_documents_exit_codes_and_examples(run_script):
    result = run_script("gossamer.py", "--help")
    assert result.returncode == 0
    for text in ("exit codes:", "0  done", "1  with --should-prompt", "2  usage error",
                 "--should-prompt", "--never-install", "QIANWEN_NO_UPDATE_PROMPT=1", "examples:"):
        assert text in result.stdout


@pytest.mark.parametrize("args", [
    ["--reset", "--dismiss"],
    ["--reset", "--never-install"],
    ["--status", "--should-prompt"],
    ["--no-such-flag"],
    ["--state-file", ""],
])
def test_usage_errors_exit_2_without_touching_the_state(gossamer, state_file, args):
    result = gossamer(*args)
    assert result.returncode == 2
    assert "usage: gossamer.py" in result.stderr
    assert not state_file.exists()


@pytest.mark.parametrize("args", [
    ["--bogus", "--json"],
    ["--reset", "--dismiss", "--json"],
    ["--json", "--state-file="],
    ["--status", "--should-prompt", "--json"],
])
def test_usage_errors_with_json_print_one_error_object(gossamer, state_file, args):
    result = gossamer(*args)
    assert result.returncode == 2
    assert result.json["status"] == "usage_error"
    assert result.json["exit_code"] == 2
    assert result.json["error"].startswith("gossamer.py: ")
    assert "usage: gossamer.py" in result.stderr
    assert not state_file.exists()


def test_abbreviated_flags_are_not_accepted(gossamer):
    result = gossamer("--js", "--status")
    assert result.returncode == 2 and "unrecognized arguments: --js" in result.stderr


# --- --dismiss, --never-install, --reset ---------------------------------------------------------

def test_dismiss_records_now_as_float_seconds(gossamer, state_file):
    before = time.time()
    result = gossamer("--dismiss")
    assert result.returncode == 0
    recorded = read_json(state_file)["last_interaction"]
    assert isinstance(recorded, float)
    assert before <= recorded <= time.time()
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert "24 hours" in result.stderr


def test_never_install_records_true(gossamer, state_file):
    result = gossamer("--never-install")
    assert result.returncode == 0
    assert read_json(state_file) == {"never_install": True}
    assert len(result.stderr.strip().splitlines()) == 1


def test_never_install_wins_when_both_are_given(gossamer, state_file):
    result = gossamer("--dismiss", "--never-install")
    assert result.returncode == 0
    assert read_json(state_file) == {"never_install": True}
    assert len(result.stderr.strip().splitlines()) == 1
    assert "for good" in result.stderr


def test_dismiss_after_never_install_says_that_never_still_holds(gossamer, state_file):
    gossamer("--never-install")
    result = gossamer("--dismiss")
    assert result.returncode == 0
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert "24 hours" not in result.stderr
    assert "never" in result.stderr and "no reminder" in result.stderr
    data = read_json(state_file)
    assert data["never_install"] is True and type(data["last_interaction"]) is float


def test_reset_forgets_both_choices_and_keeps_other_keys(gossamer, state_file):
    write_state(state_file, {"tool": {"x": 1}, "last_interaction": 1.5, "never_install": True, "z": "ü"})
    result = gossamer("--reset")
    assert result.returncode == 0
    assert read_json(state_file) == {"tool": {"x": 1}, "z": "ü"}
    assert len(result.stderr.strip().splitlines()) == 1


def test_reset_without_a_state_file_creates_nothing(gossamer, state_file):
    result = gossamer("--reset")
    assert result.returncode == 0
    assert "nothing to forget" in result.stderr
    assert not state_file.parent.exists()


def test_state_written_by_the_family_is_updated_without_loss(gossamer, state_file):
    # The family writes exactly these two keys, indented, without a final newline.
    state_file.parent.mkdir(parents=True)
    state_file.write_text(json.dumps({"last_interaction": 1700000000.25}, indent=2), encoding="utf-8")
    assert gossamer("--never-install").returncode == 0
    assert read_json(state_file) == {"last_interaction": 1700000000.25, "never_install": True}


def test_foreign_keys_survive_every_write_in_order(gossamer, state_file):
    foreign = {"a": [1, 2.5, None, {"b": False}], "name": "千问 ✓", "big": 12345678901234567890}
    write_state(state_file, dict(foreign, never_install=False))
    for flags in (["--dismiss"], ["--never-install"], ["--reset"]):
        assert gossamer(*flags).returncode == 0
        data = read_json(state_file)
        assert {key: data[key] for key in foreign} == foreign
        assert list(data)[:3] == list(foreign)


def test_written_state_file_is_valid_json_with_family_types(gossamer, state_file):
    gossamer("--dismiss")
    gossamer("--never-install")
    data = read_json(state_file)
    assert type(data["last_interaction"]) is float
    assert data["never_install"] is True


@pytest.mark.skipif(not hasattr(os, "symlink") or os.name == "nt", reason="POSIX links")
def test_a_linked_state_file_is_written_through_the_link(run_script, tmp_path):
    real = tmp_path / "real" / "state.json"
    write_state(real, {"keep": 1})
    link = tmp_path / "linked" / "state.json"
    link.parent.mkdir()
    os.symlink(str(real), str(link))
    assert run_script("gossamer.py", "--state-file", link, "--dismiss").returncode == 0
    assert link.is_symlink()
    assert set(read_json(real)) == {"keep", "last_interaction"}


# --- bad state files and bad locations -----------------------------------------------------------

@pytest.mark.parametrize("content", [b"", b"   \n", b"{", b"[1, 2]", b"null", b"\xff\xfe{}", b'"text"'])
def test_unusable_state_reads_as_empty_with_one_warning(gossamer, state_file, content):
    state_file.parent.mkdir(parents=True)
    state_file.write_bytes(content)
    result = gossamer("--should-prompt")
    assert result.returncode == 0
    assert result.stdout.startswith("yes:")
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1
    assert "treating it as empty" in warnings[0]


@pytest.mark.parametrize("content", [b"", b"{", b"[1, 2]", b"\xff\xfe{}"])
def test_unusable_state_is_rewritten_on_the_next_save(gossamer, state_file, content):
    state_file.parent.mkdir(parents=True)
    state_file.write_bytes(content)
    result = gossamer("--never-install")
    assert result.returncode == 0
    assert read_json(state_file) == {"never_install": True}
    assert len([line for line in result.stderr.splitlines() if "warning" in line]) == 1


def test_reset_rewrites_a_corrupt_state_file(gossamer, state_file):
    state_file.parent.mkdir(parents=True)
    state_file.write_bytes(b"{not json")
    assert gossamer("--reset").returncode == 0
    assert read_json(state_file) == {}


def test_a_last_interaction_that_is_not_a_time_is_ignored_with_a_warning(gossamer, state_file):
    write_state(state_file, {"last_interaction": "yesterday"})
    result = gossamer("--should-prompt")
    assert result.returncode == 0
    assert "not a Unix time" in result.stderr
    assert gossamer("--dismiss").returncode == 0
    assert type(read_json(state_file)["last_interaction"]) is float


@pytest.mark.parametrize("flag", ["--dismiss", "--never-install", "--reset"])
def test_an_unreadable_state_file_is_never_overwritten(run_script, state_file, flag,
                                                       python_that_cannot_read_mode_000):
    write_state(state_file, {"other_tool": {"keep": [1, 2]}, "last_interaction": 1.5})
    before = state_file.read_bytes()
    state_file.chmod(0)
    try:
        result = run_script("gossamer.py", "--state-file", state_file, flag,
                            python=python_that_cannot_read_mode_000)
    finally:
        state_file.chmod(0o600)
    assert result.returncode == 1
    assert "cannot be read" in result.stderr and "not saved" in result.stderr
    assert "24 hours" not in result.stderr and "for good" not in result.stderr
    assert state_file.read_bytes() == before


def test_an_unreadable_state_file_reads_as_empty_with_a_warning(run_script, state_file,
                                                                python_that_cannot_read_mode_000):
    write_state(state_file, {"never_install": True})
    state_file.chmod(0)
    try:
        result = run_script("gossamer.py", "--state-file", state_file, "--should-prompt",
                            python=python_that_cannot_read_mode_000)
    finally:
        state_file.chmod(0o600)
    assert result.returncode == 0
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "cannot be read" in warnings[0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_named_pipe_as_state_file_is_refused_for_writes_without_hanging(run_script, tmp_path):
    pipe = tmp_path / "state.json"
    os.mkfifo(str(pipe))
    result = run_script("gossamer.py", "--state-file", pipe, "--dismiss", timeout=20)
    assert result.returncode == 1
    assert "not a regular file" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "project", "state.json"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
@pytest.mark.parametrize("flag", ["--status", "--should-prompt"])
def test_a_named_pipe_as_state_file_reads_as_empty_with_a_warning(run_script, tmp_path, flag):
    pipe = tmp_path / "state.json"
    os.mkfifo(str(pipe))
    result = run_script("gossamer.py", "--state-file", pipe, flag, timeout=20)
    assert result.returncode == 0
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "not a regular file" in warnings[0]


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_device_as_state_file_is_refused_for_writes(run_script):
    result = run_script("gossamer.py", "--state-file", "/dev/zero", "--never-install", timeout=20)
    assert result.returncode == 1
    assert "not a regular file" in result.stderr
    assert not os.path.exists("/dev/zero.lock")


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_device_as_state_file_reads_as_empty_with_a_warning(run_script):
    result = run_script("gossamer.py", "--state-file", "/dev/zero", "--status", "--json", timeout=20)
    assert result.returncode == 0
    assert result.json["should_prompt"] is True
    assert "not a regular file" in result.json["warnings"][0]


@pytest.fixture
def sparse_state_file():
    """An 8 GiB state file of holes, kept out of tmp_path so run_script's snapshot need not hash it."""
    folder = tempfile.mkdtemp(prefix="gossamer-sparse-")
    path = os.path.join(folder, "state.json")
    try:
        with open(path, "wb") as handle:
            handle.truncate(8 * 1024 ** 3)
    except OSError:
        shutil.rmtree(folder)
        pytest.skip("this file system cannot hold a sparse file of 8 GiB")
    yield Path(path)
    shutil.rmtree(folder)


def test_a_state_file_over_1_mib_is_refused_for_writes_and_left_alone(gossamer, state_file):
    state_file.parent.mkdir(parents=True)
    state_file.write_bytes(b" " * (1024 * 1024 + 1))
    result = gossamer("--dismiss")
    assert result.returncode == 1
    assert "1048577 bytes" in result.stderr and "not saved" in result.stderr
    assert state_file.read_bytes() == b" " * (1024 * 1024 + 1)


def test_a_sparse_8_gib_state_file_is_refused_for_writes_without_reading_it(run_script,
                                                                              sparse_state_file):
    result = run_script("gossamer.py", "--state-file", sparse_state_file, "--never-install", timeout=20)
    assert result.returncode == 1
    assert "8589934592 bytes" in result.stderr
    assert sparse_state_file.stat().st_size == 8 * 1024 ** 3


def test_a_state_file_over_1_mib_reads_as_empty_with_a_warning(run_script, sparse_state_file):
    result = run_script("gossamer.py", "--state-file", sparse_state_file, "--should-prompt", timeout=20)
    assert result.returncode == 0
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "bytes" in warnings[0]


def test_an_infinite_last_interaction_means_no_dismissal(gossamer, state_file):
    state_file.parent.mkdir(parents=True)
    state_file.write_text('{"last_interaction": 1e999}', encoding="utf-8")
    result = gossamer("--should-prompt")
    assert result.returncode == 0
    assert "not a Unix time" in result.stderr


@pytest.mark.parametrize("flag", ["--never-install", "--reset"])
def test_an_infinite_last_interaction_is_never_written_back(gossamer, state_file, flag):
    state_file.parent.mkdir(parents=True)
    state_file.write_text('{"keep": 1, "last_interaction": 1e999}', encoding="utf-8")
    assert gossamer(flag).returncode == 0
    assert "keep" in strict_json(state_file)
    assert "last_interaction" not in strict_json(state_file)


@pytest.mark.parametrize("content", ['{"other": 1e999}', '{"other": {"deep": [NaN]}}',
                                     '{"never_install": -Infinity}'])
def test_a_non_finite_number_in_another_key_makes_the_whole_file_corrupt(gossamer, state_file, content):
    state_file.parent.mkdir(parents=True)
    state_file.write_text(content, encoding="utf-8")
    result = gossamer("--should-prompt")
    assert result.returncode == 0
    assert "treating it as empty" in result.stderr and "infinite" in result.stderr


def test_a_file_corrupt_by_a_non_finite_number_is_rewritten_as_strict_json(gossamer, state_file):
    state_file.parent.mkdir(parents=True)
    state_file.write_text('{"other": 1e999, "nan": NaN}', encoding="utf-8")
    assert gossamer("--dismiss").returncode == 0
    assert set(strict_json(state_file)) == {"last_interaction"}


def test_no_home_and_no_agents_folder_asks_for_a_state_file(run_script, project, tmp_path,
                                                            python_without_home):
    assert no_agents_folder_above(tmp_path)
    script = install_copy(project / ".claude" / "skills" / SKILL)
    for flags in (["--dismiss"], ["--should-prompt"]):
        result = run_script(str(script), *flags, python=python_without_home)
        assert result.returncode == 1
        assert "unexpected error" not in result.stderr
        assert "home folder" in result.stderr and "--state-file" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_no_home_with_a_state_file_works(run_script, project, state_file, python_without_home):
    script = install_copy(project / ".claude" / "skills" / SKILL)
    result = run_script(str(script), "--state-file", state_file, "--never-install", "--status", "--json",
                        python=python_without_home)
    assert result.returncode == 0
    assert result.json["never_install"] is True


def test_unwritable_location_exits_1_with_a_clear_message(run_script, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    result = run_script("gossamer.py", "--state-file", blocker / "state.json", "--dismiss")
    assert result.returncode == 1
    assert "could not save" in result.stderr
    assert "--state-file" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_failed_save_with_json_prints_one_error_object(run_script, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    result = run_script("gossamer.py", "--state-file", blocker / "state.json", "--dismiss", "--json")
    assert result.returncode == 1
    assert "could not save" in result.json["error"]


def test_a_state_file_that_is_a_folder_is_refused(run_script, tmp_path):
    folder = tmp_path / "folder"
    folder.mkdir()
    result = run_script("gossamer.py", "--state-file", folder, "--never-install")
    assert result.returncode == 1
    assert "folder" in result.stderr
    assert list(tmp_path.glob("*.lock")) == []


def test_state_file_inside_the_skill_folder_is_refused(run_script, project):
    skill_dir = project / "vendor" / SKILL
    script = install_copy(skill_dir)
    before = sorted(p.name for p in skill_dir.rglob("*"))
    for target in (skill_dir / "state.json", skill_dir / "scripts" / "state.json"):
        result = run_script(str(script), "--state-file", target, "--dismiss")
        assert result.returncode == 1
        assert "this skill's own folder" in result.stderr
    assert sorted(p.name for p in skill_dir.rglob("*")) == before


def test_a_link_into_the_skill_folder_is_refused(run_script, project):
    skill_dir = project / "vendor" / SKILL
    script = install_copy(skill_dir)
    link_folder(project / "elsewhere", skill_dir)
    result = run_script(str(script), "--state-file", project / "elsewhere" / "state.json", "--dismiss")
    assert result.returncode == 1
    assert "this skill's own folder" in result.stderr
    assert not (skill_dir / "state.json").exists()


# --- --status, --should-prompt, --json -----------------------------------------------------------

def test_status_json_is_one_object_with_the_documented_fields(gossamer, state_file):
    gossamer("--dismiss")
    result = gossamer("--status", "--json")
    assert result.returncode == 0
    report = result.json
    for key in ("state_file", "never_install", "last_interaction", "quiet_until",
                "update_check_installed", "should_prompt"):
        assert key in report
    assert report["state_file"] == str(state_file)
    assert report["never_install"] is False
    assert report["last_interaction"] == read_json(state_file)["last_interaction"]
    assert report["quiet_until"].endswith("Z")
    assert report["should_prompt"] is False
    assert report["reason_code"] == "dismissed"


def test_status_json_of_a_missing_state_file_has_nulls(gossamer, state_file):
    report = gossamer("--status", "--json").json
    assert report["last_interaction"] is None and report["quiet_until"] is None
    assert report["should_prompt"] is True
    assert not state_file.exists()


def test_json_alone_prints_the_status_object(gossamer):
    result = gossamer("--json")
    assert result.returncode == 0
    assert result.json["reason_code"] == "no_choice"


def test_status_text_names_every_field(gossamer):
    gossamer("--never-install")
    result = gossamer("--status")
    assert result.returncode == 0
    for line in ("state_file: ", "never_install: yes", "last_interaction: none", "quiet_until: none",
                 "update_check_installed: no", "should_prompt: no ("):
        assert line in result.stdout


def test_should_prompt_says_yes_when_nothing_was_chosen(gossamer):
    result = gossamer("--should-prompt")
    assert result.returncode == 0
    assert result.stdout.startswith("yes:")


def test_should_prompt_says_no_23_hours_after_a_dismissal(gossamer, state_file):
    write_state(state_file, {"last_interaction": time.time() - 23 * HOUR})
    result = gossamer("--should-prompt")
    assert result.returncode == 1
    assert result.stdout.startswith("no:")
    assert "less than 24 hours" in result.stdout


def test_should_prompt_says_yes_25_hours_after_a_dismissal(gossamer, state_file):
    write_state(state_file, {"last_interaction": time.time() - 25 * HOUR})
    result = gossamer("--should-prompt")
    assert result.returncode == 0
    assert "more than 24 hours" in result.stdout


def test_should_prompt_says_no_right_after_dismiss(gossamer):
    gossamer("--dismiss")
    assert gossamer("--should-prompt").returncode == 1


def test_should_prompt_says_no_after_never_install_even_days_later(gossamer, state_file):
    write_state(state_file, {"last_interaction": time.time() - 30 * 24 * HOUR, "never_install": True})
    result = gossamer("--should-prompt")
    assert result.returncode == 1
    assert "never" in result.stdout


def test_should_prompt_says_yes_again_after_reset(gossamer):
    gossamer("--never-install")
    gossamer("--reset")
    assert gossamer("--should-prompt").returncode == 0


def test_environment_variable_makes_should_prompt_answer_no(gossamer):
    result = gossamer("--should-prompt", env={"QIANWEN_NO_UPDATE_PROMPT": "1"})
    assert result.returncode == 1
    assert "disabled by environment" in result.stdout


def test_environment_variable_set_to_0_changes_nothing(gossamer):
    assert gossamer("--should-prompt", env={"QIANWEN_NO_UPDATE_PROMPT": "0"}).returncode == 0


def test_should_prompt_json_carries_the_answer_and_the_exit_code(gossamer):
    gossamer("--never-install")
    result = gossamer("--should-prompt", "--json")
    assert result.returncode == 1
    assert result.json["should_prompt"] is False
    assert result.json["reason_code"] == "never_install"


def test_a_dismissal_combined_with_should_prompt_answers_after_saving(gossamer):
    result = gossamer("--dismiss", "--should-prompt")
    assert result.returncode == 1
    assert result.stdout.startswith("no:")


# --- installed layouts: where the state goes, whether update-check is there ----------------------

def test_agents_layout_keeps_state_in_the_project(run_script, project_with_agents, home, tmp_path):
    assert no_agents_folder_above(tmp_path)
    script = install_copy(project_with_agents / ".agents" / "skills" / SKILL)
    result = run_script(str(script), "--dismiss", cwd=home)
    assert result.returncode == 0
    assert "last_interaction" in read_json(project_with_agents / ".agents" / "state.json")
    assert not (home / ".agents").exists()


def test_claude_layout_uses_the_project_agents_folder_when_there_is_one(run_script, project_with_agents,
                                                                        home):
    script = install_copy(project_with_agents / ".claude" / "skills" / SKILL)
    assert run_script(str(script), "--never-install").returncode == 0
    assert read_json(project_with_agents / ".agents" / "state.json") == {"never_install": True}
    assert not (project_with_agents / ".claude" / "skills" / SKILL / ".agents").exists()


def test_claude_layout_without_agents_folder_falls_back_to_home(run_script, project, home, tmp_path):
    assert no_agents_folder_above(tmp_path)
    script = install_copy(project / ".claude" / "skills" / SKILL)
    result = run_script(str(script), "--dismiss")
    assert result.returncode == 0
    assert "last_interaction" in read_json(home / ".agents" / "state.json")
    assert not (project / ".agents").exists()
    status = run_script(str(script), "--status", "--json").json
    assert status["state_file"] == str(home / ".agents" / "state.json")


def test_claude_link_to_agents_copy_shares_the_project_state(run_script, project_with_agents):
    real = project_with_agents / ".agents" / "skills" / SKILL
    install_copy(real)
    linked = project_with_agents / ".claude" / "skills" / SKILL
    link_folder(linked, real)
    result = run_script(str(linked / "scripts" / "gossamer.py"), "--never-install")
    assert result.returncode == 0
    assert read_json(project_with_agents / ".agents" / "state.json") == {"never_install": True}


def test_claude_link_sees_update_check_installed_next_to_the_real_copy(run_script, project_with_agents):
    real = project_with_agents / ".agents" / "skills" / SKILL
    install_copy(real)
    install_update_check(project_with_agents / ".agents" / "skills" / "qianwen-update-check")
    linked = project_with_agents / ".claude" / "skills" / SKILL
    link_folder(linked, real)
    result = run_script(str(linked / "scripts" / "gossamer.py"), "--should-prompt")
    assert result.returncode == 1
    assert "already installed" in result.stdout


def test_a_skill_folder_holding_its_own_agents_folder_is_never_written(run_script, tmp_path, home):
    assert no_agents_folder_above(tmp_path)
    checkout = tmp_path / "checkout" / SKILL
    script = install_copy(checkout)
    (checkout / ".agents").mkdir()
    assert run_script(str(script), "--dismiss").returncode == 0
    assert list((checkout / ".agents").iterdir()) == []
    assert "last_interaction" in read_json(home / ".agents" / "state.json")


def test_a_global_install_keeps_state_in_the_home_agents_folder(run_script, home, project):
    script = install_copy(home / ".agents" / "skills" / SKILL)
    assert run_script(str(script), "--never-install", cwd=project).returncode == 0
    assert read_json(home / ".agents" / "state.json") == {"never_install": True}
    assert not (project / ".agents").exists()


@pytest.mark.parametrize("where", ["skills", "skills/ops", ".agents/skills", ".agents/skills/ops"])
def test_update_check_under_the_root_is_detected(run_script, project_with_agents, where):
    script = install_copy(project_with_agents / ".claude" / "skills" / SKILL)
    install_update_check(project_with_agents.joinpath(*where.split("/"), "qianwen-update-check"))
    report = run_script(str(script), "--status", "--json").json
    assert report["update_check_installed"] is True
    assert report["should_prompt"] is False
    assert report["reason_code"] == "installed"


def test_update_check_beside_the_skill_is_detected_in_the_family_repository(run_script, tmp_path):
    repository = tmp_path / "qianwen-ai"
    (repository / ".agents").mkdir(parents=True)
    script = install_copy(repository / "skills" / "ops" / SKILL)
    install_update_check(repository / "skills" / "ops" / "qianwen-update-check")
    result = run_script(str(script), "--should-prompt")
    assert result.returncode == 1
    assert "already installed" in result.stdout


def test_a_folder_without_skill_md_is_not_an_installed_update_check(run_script, project_with_agents):
    script = install_copy(project_with_agents / ".agents" / "skills" / SKILL)
    (project_with_agents / ".agents" / "skills" / "qianwen-update-check").mkdir()
    assert run_script(str(script), "--should-prompt").returncode == 0


# --- concurrency ---------------------------------------------------------------------------------

def _start(args, home):
    return subprocess.Popen([sys.executable, str(SCRIPTS / "gossamer.py")] + [str(a) for a in args],
                            env=base_environment(home), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_twenty_parallel_runs_leave_valid_json_with_never_install(state_file, home):
    foreign = {"other_tool": {"seen": [1, 2, 3]}, "note": "keep me"}
    write_state(state_file, foreign)
    flags = ["--dismiss"] * 20
    flags[10] = "--never-install"
    runs = [_start(["--state-file", state_file, flag], home) for flag in flags]
    outputs = [run.communicate(timeout=60) for run in runs]
    for run, (_, stderr) in zip(runs, outputs):
        assert run.returncode == 0, stderr
        assert "Traceback" not in stderr
    data = read_json(state_file)
    assert data["never_install"] is True
    assert type(data["last_interaction"]) is float
    assert {key: data[key] for key in foreign} == foreign
    assert sorted(p.name for p in state_file.parent.iterdir()) == ["state.json", "state.json.lock"]


def test_readers_never_see_a_half_written_file_during_parallel_writes(state_file, home):
    write_state(state_file, {"other_tool": "x" * 20000})
    runs = []
    for index in range(10):
        runs.append(_start(["--state-file", state_file, "--dismiss"], home))
        runs.append(_start(["--state-file", state_file, "--status", "--json"], home))
    outputs = [run.communicate(timeout=60) for run in runs]
    for run, (stdout, stderr) in zip(runs, outputs):
        assert run.returncode == 0, stderr
        assert "warning" not in stderr
        if stdout:
            assert json.loads(stdout)["warnings"] == []
    assert read_json(state_file)["other_tool"] == "x" * 20000


def test_a_reader_that_goes_away_is_no_crash(tmp_path):
    import subprocess
    import sys
    from conftest import SCRIPTS, base_environment
    done = subprocess.run("'{}' '{}' --status --json --state-file '{}' | true".format(
        sys.executable, SCRIPTS / "gossamer.py", tmp_path / "state.json"), shell=True,
        env=base_environment(tmp_path), capture_output=True)
    assert b"Traceback" not in done.stderr and b"Exception ignored" not in done.stderr
