"""verify.py --oss / --oss-only as an agent runs them, against the fake OSS endpoint on loopback.
run_script fails any test whose output or written files hold a piece of either AccessKey half."""

import json

import pytest

from conftest import CANARIES, CANARY_KEY, CANARY_OSS_ID, CANARY_OSS_SECRET
from fakes.oss_fixtures import case_folded_leaks


def oss_only(run_script, env, *args, **kwargs):
    return run_script("verify.py", "--oss-only", "--json", "--no-save", *args, env=env, **kwargs)


def test_healthy_bucket_is_ok_with_exit_0(run_script, oss_env):
    result = oss_only(run_script, oss_env)
    assert result.returncode == 0
    oss = result.json["oss"]
    assert (oss["status"], oss["configured"]) == ("ok", True)
    assert oss["steps"] == {"put": "ok", "get": "ok", "delete": "ok"}
    assert oss["credentials_source"] == "env:QWEN_TMP_OSS_AK_ID"
    assert oss["fingerprint"].startswith("sha256:")


def test_oss_only_sends_nothing_to_dashscope(run_script, oss_env, fake_oss):
    result = oss_only(run_script, dict(oss_env, DASHSCOPE_API_KEY=CANARY_KEY, QWEN_BASE_URL="http://127.0.0.1:9"))
    assert "key" not in result.json and result.returncode == 0


def test_not_configured_is_exit_0_with_oss_only(run_script):
    result = oss_only(run_script, {})
    assert result.returncode == 0
    assert result.json["oss"]["status"] == "not_configured"
    assert result.json["oss"]["configured"] is False


def test_least_privilege_keys_are_ok_and_name_the_object_left_behind(run_script, oss_env, fake_oss):
    fake_oss.scenario.denied = {"DeleteObject"}
    result = oss_only(run_script, oss_env)
    oss = result.json["oss"]
    assert result.returncode == 0 and oss["status"] == "ok" and oss["steps"]["delete"] == "denied"
    assert oss["left_behind"] in " ".join(oss["notes"])
    assert "lifecycle" in oss["hint"]


@pytest.mark.parametrize("scenario,status", [
    ({"denied": {"PutObject"}}, "access_denied"),
    ({"denied": {"GetObject"}}, "access_denied"),
    ({"disabled_ids": {CANARY_OSS_ID}}, "invalid_credentials"),
    ({"bucket_exists": False}, "no_such_bucket"),
    ({"bucket_region": "cn-shanghai"}, "wrong_region"),
    ({"public_endpoint_forbidden": True}, "endpoint_forbidden"),
    ({"corrupt_reads": True}, "error"),
    ({"fail_with": (500, "InternalError")}, "error"),
])
def test_each_failure_has_its_status_and_exit_6(run_script, oss_env, fake_oss, scenario, status):
    for name, value in scenario.items():
        setattr(fake_oss.scenario, name, value)
    result = oss_only(run_script, oss_env)
    assert result.returncode == 6
    assert result.json["oss"]["status"] == status
    assert result.json["exit_code"] == 6 and result.json["oss"]["hint"]


def test_wrong_secret_is_invalid_credentials_even_when_oss_echoes_the_id(run_script, oss_env, fake_oss):
    result = oss_only(run_script, dict(oss_env, QWEN_TMP_OSS_AK_SECRET="Wr0ngK3yQ0a1b2c3d4e5f6g7h8i9jZ"),
                      secrets=CANARIES + ("Wr0ngK3yQ0a1b2c3d4e5f6g7h8i9jZ",))
    assert result.json["oss"]["error_code"] == "SignatureDoesNotMatch"
    assert result.json["oss"]["status"] == "invalid_credentials"


def test_half_a_pair_is_config_error_naming_the_missing_variable(run_script, oss_env, fake_oss):
    env = dict(oss_env)
    del env["QWEN_TMP_OSS_AK_SECRET"]
    result = oss_only(run_script, env)
    assert result.returncode == 6 and result.json["oss"]["status"] == "config_error"
    assert "QWEN_TMP_OSS_AK_SECRET" in result.json["oss"]["hint"]
    assert fake_oss.requests == []


def test_region_in_endpoint_form_is_normalised_and_said(run_script, oss_env):
    result = oss_only(run_script, dict(oss_env, QWEN_TMP_OSS_REGION="oss-cn-beijing"))
    assert result.json["oss"]["region"] == "cn-beijing" and result.returncode == 0
    assert any("oss-cn-beijing" in note for note in result.json["oss"]["notes"])


def test_plain_http_to_a_remote_host_is_refused(run_script, oss_env, fake_oss):
    result = oss_only(run_script, dict(oss_env, QWEN_TMP_OSS_ENDPOINT="http://files.example.com"))
    assert result.json["oss"]["status"] == "config_error" and fake_oss.requests == []


def test_credentials_from_dotenv_work_and_report_the_file(run_script, oss_env, project):
    env = {k: v for k, v in oss_env.items() if not k.startswith("QWEN_TMP_OSS_AK")}
    (project / ".env").write_text("OSS_ACCESS_KEY_ID={}\nOSS_ACCESS_KEY_SECRET={}\n".format(
        CANARY_OSS_ID, CANARY_OSS_SECRET))
    result = oss_only(run_script, env)
    assert result.returncode == 0
    assert result.json["oss"]["credentials_source"] == "dotenv:{}".format(project / ".env")


def test_unreachable_endpoint_is_exit_6(run_script, oss_env):
    result = oss_only(run_script, dict(oss_env, QWEN_TMP_OSS_ENDPOINT="http://127.0.0.1:9"), "--timeout", "2")
    assert result.returncode == 6 and result.json["oss"]["status"] == "unreachable"


def test_text_output_is_short_and_names_the_next_step(run_script, oss_env, fake_oss):
    fake_oss.scenario.denied = {"GetObject"}
    result = run_script("verify.py", "--oss-only", "--no-save", env=oss_env)
    assert result.returncode == 6
    assert "OSS status: access_denied" in result.stdout
    assert "oss:GetObject" in result.stdout
    assert len(result.stdout.splitlines()) <= 10


def test_saved_evidence_holds_the_oss_object_and_no_credential(run_script, oss_env, project):
    result = run_script("verify.py", "--oss-only", "--json", env=oss_env)
    saved = json.loads(open(result.json["evidence"], encoding="utf-8").read())
    assert saved["oss"]["status"] == "ok"


def test_oss_with_key_check_keeps_the_key_exit_code_when_the_key_fails(run_script, oss_env, fake_oss):
    fake_oss.scenario.bucket_exists = False
    result = run_script("verify.py", "--oss", "--json", "--no-save", env=oss_env)
    assert result.json["status"] == "not_configured" and result.returncode == 3
    assert result.json["oss"]["status"] == "no_such_bucket"


def test_oss_and_oss_only_cannot_be_combined(run_script):
    assert run_script("verify.py", "--oss", "--oss-only").returncode == 2


def test_official_host_over_tls_through_a_proxy_addresses_the_bucket_as_a_subdomain(
        run_script, oss_official_env, fake_oss_official, connect_proxy):
    result = oss_only(run_script, oss_official_env)
    assert result.returncode == 0, result.output
    assert result.json["oss"]["endpoint"] == "https://qianwen-probe-bucket.oss-cn-beijing.aliyuncs.com"
    assert {r.host for r in fake_oss_official.requests} == {fake_oss_official.official_host}
    assert all(r.signature_ok for r in fake_oss_official.requests)
    assert connect_proxy.tunnels_to(fake_oss_official.official_host)


def test_untrusted_certificate_on_the_official_host_is_unreachable_tls(run_script, oss_official_env, untrusted_ca):
    env = dict(oss_official_env, SSL_CERT_FILE=str(untrusted_ca))
    result = oss_only(run_script, env)
    assert result.returncode == 6
    assert (result.json["oss"]["status"], result.json["oss"]["error_code"]) == ("unreachable", "tls")
    assert "SSL_CERT_FILE" in result.json["oss"]["hint"]


def test_valid_key_and_failing_bucket_exit_6(run_script, oss_env, fake_oss, fake_dashscope):
    fake_dashscope.accept(CANARY_KEY)
    fake_oss.scenario.denied = {"PutObject"}
    env = dict(oss_env, DASHSCOPE_API_KEY=CANARY_KEY, QWEN_BASE_URL=fake_dashscope.url)
    result = run_script("verify.py", "--oss", "--json", "--no-save", env=env)
    assert result.json["status"] == "valid"
    assert result.json["oss"]["status"] == "access_denied"
    assert result.returncode == 6 and result.json["exit_code"] == 6


def test_valid_key_and_no_oss_settings_exit_0(run_script, fake_dashscope):
    fake_dashscope.accept(CANARY_KEY)
    env = {"DASHSCOPE_API_KEY": CANARY_KEY, "QWEN_BASE_URL": fake_dashscope.url}
    result = run_script("verify.py", "--oss", "--json", "--no-save", env=env)
    assert result.returncode == 0 and result.json["oss"]["status"] == "not_configured"


def test_without_oss_flags_there_is_no_oss_object(run_script, oss_env, fake_oss):
    result = run_script("verify.py", "--json", "--no-save", env=oss_env)
    assert "oss" not in result.json and fake_oss.requests == []


def test_text_output_says_when_the_oss_check_changes_the_exit_code(run_script, oss_env, fake_oss, fake_dashscope):
    fake_dashscope.accept(CANARY_KEY)
    fake_oss.scenario.bucket_exists = False
    env = dict(oss_env, DASHSCOPE_API_KEY=CANARY_KEY, QWEN_BASE_URL=fake_dashscope.url)
    result = run_script("verify.py", "--oss", "--no-save", env=env)
    assert result.returncode == 6
    assert "OSS status: no_such_bucket" in result.stdout
    assert "Exit:      6 (the OSS check failed)" in result.stdout


def test_oss_only_top_level_status_is_prefixed_so_it_is_not_read_as_a_key_verdict(run_script, oss_env):
    result = oss_only(run_script, oss_env)
    assert result.json["status"] == "oss_ok"
    assert oss_only(run_script, {}).json["status"] == "oss_not_configured"


def _echo_secret_lowercased(fake_oss):
    fake_oss.scenario.bucket_region = "cn-shanghai"
    fake_oss.scenario.error_endpoint = "oss-cn-{}.aliyuncs.com".format(CANARY_OSS_SECRET[4:11].lower())
    fake_oss.scenario.fail_with = None


def test_oss_only_output_and_evidence_hold_no_lowercased_echo_of_the_secret(run_script, oss_env, fake_oss, project):
    _echo_secret_lowercased(fake_oss)
    result = run_script("verify.py", "--oss-only", "--json", env=oss_env)
    assert result.json["oss"]["status"] == "wrong_region"
    saved = open(result.json["evidence"], encoding="utf-8").read()
    assert not case_folded_leaks(result.output) and not case_folded_leaks(saved)


def test_oss_with_key_check_output_and_evidence_hold_no_lowercased_echo_of_the_secret(
        run_script, oss_env, fake_oss, project):
    _echo_secret_lowercased(fake_oss)
    result = run_script("verify.py", "--oss", "--json", env=oss_env)
    assert result.json["oss"]["status"] == "wrong_region"
    saved = open(result.json["evidence"], encoding="utf-8").read()
    assert not case_folded_leaks(result.output) and not case_folded_leaks(saved)


def test_oss_only_text_output_holds_no_lowercased_echo_of_the_secret(run_script, oss_env, fake_oss):
    _echo_secret_lowercased(fake_oss)
    result = run_script("verify.py", "--oss-only", "--no-save", env=oss_env)
    assert "OSS status: wrong_region" in result.stdout and not case_folded_leaks(result.output)


def test_endpoint_with_a_space_is_config_error_not_unreachable(run_script, oss_env, fake_oss):
    result = oss_only(run_script, dict(oss_env, QWEN_TMP_OSS_ENDPOINT="https://files .example.com"))
    assert result.returncode == 6 and result.json["oss"]["status"] == "config_error"
    assert "QWEN_TMP_OSS_ENDPOINT" in result.json["oss"]["hint"] and fake_oss.requests == []


def test_certificate_for_another_host_is_tls_and_names_the_endpoint_setting(
        run_script, oss_official_env, fake_oss_official):
    env = {k: v for k, v in oss_official_env.items() if k.lower() != "https_proxy"}
    env.update(QWEN_TMP_OSS_ENDPOINT="https://127.0.0.1:{}".format(fake_oss_official.port),
               NO_PROXY="127.0.0.1", no_proxy="127.0.0.1")
    result = oss_only(run_script, env)
    oss = result.json["oss"]
    assert result.returncode == 6 and (oss["status"], oss["error_code"]) == ("unreachable", "tls")
    assert "does not name" in oss["hint"] and "QWEN_TMP_OSS_ENDPOINT" in oss["hint"]


def test_failed_oss_check_beside_a_valid_key_is_not_ok(run_script, oss_env, fake_oss, fake_dashscope):
    from conftest import CANARY_KEY
    fake_dashscope.accept(CANARY_KEY)
    fake_oss.scenario.bucket_exists = False
    result = run_script("verify.py", "--oss", "--json", "--no-save", "--base-url", fake_dashscope.url,
                        env=dict(oss_env, DASHSCOPE_API_KEY=CANARY_KEY))
    assert result.json["status"] == "valid"
    assert (result.json["exit_code"], result.json["ok"]) == (6, False)


def test_oss_only_text_ends_with_the_status_and_exit_code(run_script, oss_env, fake_oss):
    fake_oss.scenario.bucket_exists = False
    result = run_script("verify.py", "--oss-only", "--no-save", env=oss_env)
    assert "Status:    oss_no_such_bucket (exit 6)" in result.stdout


def test_half_configured_bucket_prints_no_placeholders_for_missing_values(run_script, oss_env):
    env = {name: value for name, value in oss_env.items() if name != "QWEN_TMP_OSS_REGION"}
    result = run_script("verify.py", "--oss-only", "--no-save", env=env)
    assert "oss_config_error (exit 6)" in result.stdout
    assert "None" not in result.stdout and "(?)" not in result.stdout


def test_oss_only_json_carries_the_hint_at_the_top(run_script, oss_env, fake_oss):
    fake_oss.scenario.bucket_exists = False
    result = run_script("verify.py", "--oss-only", "--json", "--no-save", env=oss_env)
    assert result.json["hint"] == result.json["oss"]["hint"] and result.json["hint"]
