"""qianwen_auth.update_state: where the shared update-reminder state lives, reading, saving, deciding."""

import json
import os
from pathlib import Path

import pytest

from qianwen_auth import fsutil, update_state
from qianwen_auth.update_state import QUIET_SECONDS, StateWriteError, StoredState

NOW = 1800000000.0


def state_with(path, **data):
    return StoredState(Path(path), data=data, exists=True)


# --- location ------------------------------------------------------------------------------------

def test_root_is_the_nearest_ancestor_holding_agents(tmp_path):
    (tmp_path / "outer" / ".agents").mkdir(parents=True)
    (tmp_path / "outer" / "inner" / ".agents").mkdir(parents=True)
    skill_dir = tmp_path / "outer" / "inner" / ".claude" / "skills" / "s"
    skill_dir.mkdir(parents=True)
    assert update_state.find_root(skill_dir) == tmp_path / "outer" / "inner"


def test_a_folder_named_agents_is_not_a_root(tmp_path):
    # <project>/.agents/.agents/skills/s: the inner .agents holds a .agents folder but is no root.
    skill_dir = tmp_path / "project" / ".agents" / ".agents" / "skills" / "s"
    skill_dir.mkdir(parents=True)
    assert update_state.find_root(skill_dir) == tmp_path / "project"


def test_the_skill_folder_itself_is_never_the_root(tmp_path):
    skill_dir = tmp_path / "checkout"
    (skill_dir / ".agents").mkdir(parents=True)
    assert update_state.find_root(skill_dir) is None


def test_state_file_falls_back_to_the_home_agents_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("USERPROFILE", str(tmp_path / "home"))
    skill_dir = tmp_path / "project" / ".claude" / "skills" / "s"
    skill_dir.mkdir(parents=True)
    assert update_state.default_state_file(skill_dir) == tmp_path / "home" / ".agents" / "state.json"


def test_no_home_and_no_root_means_no_default_state_file(tmp_path, monkeypatch):
    monkeypatch.setattr(update_state, "home_folder", lambda: None)
    skill_dir = tmp_path / "project" / ".claude" / "skills" / "s"
    skill_dir.mkdir(parents=True)
    with pytest.raises(update_state.NoStateLocation, match="no home folder"):
        update_state.default_state_file(skill_dir)
    assert update_state.find_update_check(skill_dir) is None


def test_update_check_is_found_next_to_the_skill(tmp_path):
    skill_dir = tmp_path / "skills" / "qianwen-ops-auth"
    skill_dir.mkdir(parents=True)
    (tmp_path / "skills" / "qianwen-update-check").mkdir()
    assert update_state.find_update_check(skill_dir) is None
    (tmp_path / "skills" / "qianwen-update-check" / "SKILL.md").write_text("x", encoding="utf-8")
    assert update_state.find_update_check(skill_dir) == tmp_path / "skills" / "qianwen-update-check"


# --- reading -------------------------------------------------------------------------------------

def test_a_missing_state_file_is_empty_state_without_warning(tmp_path):
    state = update_state.read_state(tmp_path / "state.json")
    assert (state.data, state.exists, state.unusable, state.warnings) == ({}, False, False, [])


@pytest.mark.parametrize("content, problem", [
    (b"", "is empty"), (b"{", "is not valid JSON"), (b"[]", "is not a JSON object"),
    (b"\xc3\x28", "is not valid JSON"), (b"[" * 100000, "is not valid JSON"),
])
def test_an_unusable_state_file_is_empty_state_with_one_warning(tmp_path, content, problem):
    path = tmp_path / "state.json"
    path.write_bytes(content)
    state = update_state.read_state(path)
    assert state.data == {} and state.unusable
    assert len(state.warnings) == 1 and problem in state.warnings[0]


def test_an_unreadable_state_file_is_empty_state_with_one_warning(tmp_path):
    (tmp_path / "state.json").mkdir()
    state = update_state.read_state(tmp_path / "state.json")
    assert state.data == {} and state.unusable and len(state.warnings) == 1
    assert state.unreadable


@pytest.mark.parametrize("content", [b"", b"{", b"[]", b'{"x": NaN}'])
def test_a_corrupt_state_file_is_unusable_but_not_unreadable(tmp_path, content):
    path = tmp_path / "state.json"
    path.write_bytes(content)
    state = update_state.read_state(path)
    assert state.unusable and not state.unreadable


def test_a_state_file_over_1_mib_is_unreadable_and_never_replaced(tmp_path):
    path = tmp_path / "state.json"
    with open(str(path), "wb") as handle:
        handle.truncate(fsutil.SMALL_FILE_LIMIT + 1)
    assert update_state.read_state(path).unreadable
    with pytest.raises(StateWriteError, match="replacing that file unread"):
        update_state.record_never_install(path)
    assert path.stat().st_size == fsutil.SMALL_FILE_LIMIT + 1
    assert not (tmp_path / "state.json.lock").exists()


def test_a_path_through_a_file_reads_as_missing(tmp_path):
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    state = update_state.read_state(tmp_path / "a-file" / "state.json")
    assert not state.exists and state.warnings == []


def test_a_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "state.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"never_install": True}).encode())
    assert update_state.read_state(path).never_install is True


@pytest.mark.parametrize("value", ["1700000000", True, None, float("inf"), float("nan"), 1e300, [1]])
def test_a_last_interaction_that_is_not_a_unix_time_counts_as_none(tmp_path, value):
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"last_interaction": value}), encoding="utf-8")
    state = update_state.read_state(path)
    assert state.last_interaction is None
    assert len(state.warnings) == 1


def test_an_overflowing_last_interaction_is_ignored_but_keeps_the_rest_of_the_file(tmp_path):
    path = tmp_path / "state.json"
    path.write_text('{"last_interaction": 1e999, "never_install": true}', encoding="utf-8")
    state = update_state.read_state(path)
    assert state.last_interaction is None and state.never_install is True
    assert not state.unusable


def test_an_integer_last_interaction_is_a_time(tmp_path):
    assert state_with(tmp_path, last_interaction=1700000000).last_interaction == 1700000000.0


# --- saving --------------------------------------------------------------------------------------

def test_dismissal_keeps_other_keys_in_their_order(tmp_path):
    path = tmp_path / "state.json"
    path.write_text('{"b": 1, "a": {"x": [true, null]}, "never_install": false}', encoding="utf-8")
    update_state.record_dismissal(path, now=NOW)
    assert list(json.loads(path.read_text(encoding="utf-8")).items()) == [
        ("b", 1), ("a", {"x": [True, None]}), ("never_install", False), ("last_interaction", NOW)]


def test_a_lone_surrogate_in_a_foreign_key_survives_a_save(tmp_path):
    path = tmp_path / "state.json"
    path.write_text('{"odd": "\\ud800"}', encoding="utf-8")
    update_state.record_never_install(path)
    assert json.loads(path.read_text(encoding="utf-8")) == {"odd": "\ud800", "never_install": True}


def test_a_save_that_would_hold_infinity_is_refused(tmp_path):
    path = tmp_path / "state.json"
    with pytest.raises(StateWriteError, match="JSON cannot carry"):
        update_state.update_state(path, lambda data: data.update(other=float("inf")) or True)
    assert not path.exists()


def test_forgetting_with_no_file_creates_no_file_folder_or_lock(tmp_path):
    path = tmp_path / "new" / "state.json"
    _, saved = update_state.forget_choices(path)
    assert not saved
    assert not (tmp_path / "new").exists()


def test_forgetting_with_nothing_recorded_leaves_the_file_alone(tmp_path):
    path = tmp_path / "state.json"
    path.write_text('{ "x" : 1 }', encoding="utf-8")
    _, saved = update_state.forget_choices(path)
    assert not saved
    assert path.read_text(encoding="utf-8") == '{ "x" : 1 }'


def test_saving_into_an_agents_skills_folder_is_refused(tmp_path):
    path = tmp_path / ".claude" / "skills" / "other-skill" / "state.json"
    with pytest.raises(StateWriteError, match="skills folder"):
        update_state.record_dismissal(path)
    assert not path.parent.exists()


def test_saving_into_this_skill_folder_is_refused():
    with pytest.raises(StateWriteError, match="own folder"):
        update_state.record_dismissal(fsutil.SKILL_DIR / "scripts" / "state.json")
    assert not (fsutil.SKILL_DIR / "scripts" / "state.json").exists()


def test_a_new_state_file_is_private(tmp_path):
    path = tmp_path / "state.json"
    update_state.record_never_install(path)
    if os.name != "nt":
        assert path.stat().st_mode & 0o777 == 0o600


def test_link_into_this_skill_names_the_own_folder_reason(tmp_path):
    # fsutil used to pick between "own folder" and "agent's skills folder" by set order.
    link = tmp_path / ".claude" / "skills" / "qianwen-ops-auth"
    link.parent.mkdir(parents=True)
    try:
        os.symlink(str(fsutil.SKILL_DIR), str(link), target_is_directory=True)
    except (OSError, NotImplementedError):
        pytest.skip("symbolic links are not available here")
    for _ in range(5):
        assert "own folder" in fsutil.skills_tree_reason(link / "state.json")


# --- deciding ------------------------------------------------------------------------------------

def test_nothing_recorded_means_offer_the_choices(tmp_path):
    decision = update_state.decide(state_with(tmp_path), None, now=NOW, environ={})
    assert decision.should_prompt and decision.reason_code == "no_choice"


@pytest.mark.parametrize("age_hours, should_prompt", [(0, False), (23, False), (23.99, False),
                                                      (24, True), (25, True)])
def test_the_quiet_window_lasts_24_hours(tmp_path, age_hours, should_prompt):
    state = state_with(tmp_path, last_interaction=NOW - age_hours * 3600)
    assert update_state.decide(state, None, now=NOW, environ={}).should_prompt is should_prompt


def test_a_future_last_interaction_keeps_quiet_like_the_family(tmp_path):
    state = state_with(tmp_path, last_interaction=NOW + 3600)
    decision = update_state.decide(state, None, now=NOW, environ={})
    assert not decision.should_prompt
    assert decision.quiet_until == NOW + 3600 + QUIET_SECONDS


def test_never_install_is_read_by_truthiness_like_the_family(tmp_path):
    assert state_with(tmp_path, never_install=1).never_install is True
    assert state_with(tmp_path, never_install=False).never_install is False


def test_reasons_come_in_a_fixed_order(tmp_path):
    state = state_with(tmp_path, never_install=True, last_interaction=NOW)
    installed = tmp_path / "qianwen-update-check"

    def code(update_check, environ):
        return update_state.decide(state, update_check, now=NOW, environ=environ).reason_code
    assert code(installed, {"QIANWEN_NO_UPDATE_PROMPT": "1"}) == "environment"
    assert code(installed, {}) == "installed"
    assert code(None, {}) == "never_install"
    assert update_state.decide(state_with(tmp_path, last_interaction=NOW), None, now=NOW,
                               environ={}).reason_code == "dismissed"


@pytest.mark.parametrize("value, disabled", [("1", True), ("true", True), ("YES", True), (" on ", True),
                                             ("0", False), ("", False), ("no", False)])
def test_environment_switch_values(value, disabled):
    assert update_state.disabled_by_environment({"QIANWEN_NO_UPDATE_PROMPT": value}) is disabled


def test_iso_time_is_utc_with_z():
    assert update_state.iso_time(0) == "1970-01-01T00:00:00Z"
