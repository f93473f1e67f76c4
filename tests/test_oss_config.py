"""Reading and checking the OSS settings before anything is sent."""

import pytest

from conftest import CANARY_OSS_ID, CANARY_OSS_SECRET
from qianwen_auth.credentials import ConfigChain
from qianwen_auth.keys import fingerprint
from qianwen_auth.oss_config import DEFAULT_PREFIX, load_oss_config

BASE = {"QWEN_TMP_OSS_BUCKET": "my-uploads", "QWEN_TMP_OSS_REGION": "cn-beijing",
        "QWEN_TMP_OSS_AK_ID": CANARY_OSS_ID, "QWEN_TMP_OSS_AK_SECRET": CANARY_OSS_SECRET}


def load(tmp_path, environ=None, dotenv=None, **changes):
    environ = dict(BASE if environ is None else environ)
    for name, value in changes.items():
        if value is None:
            environ.pop(name, None)
        else:
            environ[name] = value
    if dotenv is not None:
        (tmp_path / ".env").write_text(dotenv, encoding="utf-8")
    return load_oss_config(ConfigChain(environ=environ, cwd=tmp_path))


def test_unset_bucket_means_not_configured_and_no_error(tmp_path):
    config = load(tmp_path, environ={})
    assert not config.configured and config.error is None and config.secrets == []


def test_complete_settings_address_the_bucket_as_a_subdomain(tmp_path):
    config = load(tmp_path)
    assert config.configured and config.error is None
    assert config.endpoint == "https://my-uploads.oss-cn-beijing.aliyuncs.com"
    assert config.virtual_host and config.prefix == DEFAULT_PREFIX
    assert config.object_url("a/b c.txt") == "https://my-uploads.oss-cn-beijing.aliyuncs.com/a/b%20c.txt"


def test_credentials_are_reported_by_source_and_fingerprint_only(tmp_path):
    config = load(tmp_path)
    assert config.credentials_source == "env:QWEN_TMP_OSS_AK_ID"
    assert config.fingerprint == fingerprint(CANARY_OSS_ID)
    assert CANARY_OSS_ID not in repr(config) and CANARY_OSS_SECRET not in repr(config)


def test_endpoint_form_of_region_is_normalised_with_a_note(tmp_path):
    config = load(tmp_path, QWEN_TMP_OSS_REGION="oss-cn-beijing")
    assert config.error is None and config.region == "cn-beijing"
    assert any("oss-cn-beijing" in note and "cn-beijing" in note for note in config.notes)


def test_missing_region_is_a_config_error_naming_it(tmp_path):
    config = load(tmp_path, QWEN_TMP_OSS_REGION=None)
    assert "QWEN_TMP_OSS_REGION" in config.error


def test_region_given_as_a_host_is_a_config_error(tmp_path):
    config = load(tmp_path, QWEN_TMP_OSS_REGION="oss-cn-beijing.aliyuncs.com")
    assert "QWEN_TMP_OSS_REGION" in config.error


@pytest.mark.parametrize("bucket", ["My_Bucket", "oss://my-uploads", "my-uploads.oss-cn-beijing.aliyuncs.com", "ab"])
def test_bucket_must_be_a_bare_bucket_name(tmp_path, bucket):
    config = load(tmp_path, QWEN_TMP_OSS_BUCKET=bucket)
    assert "QWEN_TMP_OSS_BUCKET" in config.error


@pytest.mark.parametrize("present,missing", [("QWEN_TMP_OSS_AK_ID", "QWEN_TMP_OSS_AK_SECRET"),
                                             ("QWEN_TMP_OSS_AK_SECRET", "QWEN_TMP_OSS_AK_ID")])
def test_half_a_dedicated_pair_names_the_missing_half(tmp_path, present, missing):
    config = load(tmp_path, **{missing: None})
    assert missing in config.error and config.credentials_source is None


@pytest.mark.parametrize("present,missing", [("QWEN_TMP_OSS_AK_ID", "QWEN_TMP_OSS_AK_SECRET"),
                                             ("QWEN_TMP_OSS_AK_SECRET", "QWEN_TMP_OSS_AK_ID")])
def test_half_a_pair_is_still_handed_over_for_redaction(tmp_path, present, missing):
    config = load(tmp_path, **{missing: None})
    assert BASE[present] in config.secrets


def test_a_rejected_credential_is_still_handed_over_for_redaction(tmp_path):
    spaced = CANARY_OSS_SECRET[:10] + " " + CANARY_OSS_SECRET[10:]
    assert spaced in load(tmp_path, QWEN_TMP_OSS_AK_SECRET=spaced).secrets


def test_the_ignored_shared_pair_is_handed_over_for_redaction_too(tmp_path):
    config = load(tmp_path, OSS_ACCESS_KEY_ID="LTAI5tOtherIdAbcdefgh", OSS_ACCESS_KEY_SECRET="Oth3rK3yQAbcdefghijkl")
    assert {"LTAI5tOtherIdAbcdefgh", "Oth3rK3yQAbcdefghijkl"} <= set(config.secrets)


def test_half_a_dedicated_pair_does_not_fall_back_to_the_shared_pair(tmp_path):
    config = load(tmp_path, QWEN_TMP_OSS_AK_SECRET=None, OSS_ACCESS_KEY_ID="LTAI5tOtherIdAbcdefgh",
                  OSS_ACCESS_KEY_SECRET="Oth3rK3yQAbcdefghijklmnopqrstu")
    assert "QWEN_TMP_OSS_AK_SECRET" in config.error and config.credentials_source is None


def test_shared_pair_is_used_when_the_dedicated_pair_is_unset(tmp_path):
    config = load(tmp_path, QWEN_TMP_OSS_AK_ID=None, QWEN_TMP_OSS_AK_SECRET=None,
                  OSS_ACCESS_KEY_ID=CANARY_OSS_ID, OSS_ACCESS_KEY_SECRET=CANARY_OSS_SECRET)
    assert config.error is None and config.credentials_source == "env:OSS_ACCESS_KEY_ID"
    assert any("OSS_ACCESS_KEY_ID" in note for note in config.notes)


def test_half_a_shared_pair_names_the_missing_half(tmp_path):
    config = load(tmp_path, QWEN_TMP_OSS_AK_ID=None, QWEN_TMP_OSS_AK_SECRET=None, OSS_ACCESS_KEY_ID=CANARY_OSS_ID)
    assert "OSS_ACCESS_KEY_SECRET" in config.error


def test_dedicated_pair_wins_over_the_shared_pair_and_says_so(tmp_path):
    config = load(tmp_path, OSS_ACCESS_KEY_ID="LTAI5tOtherIdAbcdefgh", OSS_ACCESS_KEY_SECRET="Oth3rK3yQAbcdefghijkl")
    assert config.access_key_id == CANARY_OSS_ID
    assert any("ignored" in note for note in config.notes)


def test_bucket_without_any_credentials_is_a_config_error(tmp_path):
    config = load(tmp_path, QWEN_TMP_OSS_AK_ID=None, QWEN_TMP_OSS_AK_SECRET=None)
    assert "QWEN_TMP_OSS_AK_ID" in config.error


def test_credentials_from_dotenv_report_the_file(tmp_path):
    dotenv = "QWEN_TMP_OSS_AK_ID={}\nQWEN_TMP_OSS_AK_SECRET={}\n".format(CANARY_OSS_ID, CANARY_OSS_SECRET)
    config = load(tmp_path, dotenv=dotenv, QWEN_TMP_OSS_AK_ID=None, QWEN_TMP_OSS_AK_SECRET=None)
    assert config.credentials_source == "dotenv:{}".format(tmp_path / ".env")


def test_environment_beats_dotenv_for_oss_settings(tmp_path):
    config = load(tmp_path, dotenv="QWEN_TMP_OSS_BUCKET=other-bucket\n")
    assert config.bucket == "my-uploads"


def test_exported_empty_bucket_hides_the_dotenv_bucket_with_a_note(tmp_path):
    config = load(tmp_path, environ={"QWEN_TMP_OSS_BUCKET": ""}, dotenv="QWEN_TMP_OSS_BUCKET=my-uploads\n")
    assert not config.configured
    assert any("exported but empty" in note for note in config.notes)


@pytest.mark.parametrize("value", ["your-access-key-id", "LTAI****************", "<your AccessKey ID>", "xxx"])
def test_placeholder_access_key_is_a_config_error(tmp_path, value):
    config = load(tmp_path, QWEN_TMP_OSS_AK_ID=value)
    assert "placeholder" in config.error


def test_surrounding_whitespace_in_a_credential_is_ignored_with_a_note(tmp_path):
    config = load(tmp_path, QWEN_TMP_OSS_AK_SECRET=" " + CANARY_OSS_SECRET + "\n")
    assert config.error is None and config.access_key_secret == CANARY_OSS_SECRET
    assert any("QWEN_TMP_OSS_AK_SECRET has spaces" in note for note in config.notes)


def test_inner_whitespace_in_a_credential_is_a_config_error(tmp_path):
    config = load(tmp_path, QWEN_TMP_OSS_AK_SECRET=CANARY_OSS_SECRET[:10] + " " + CANARY_OSS_SECRET[10:])
    assert "QWEN_TMP_OSS_AK_SECRET" in config.error


@pytest.mark.parametrize("endpoint", ["oss-cn-beijing.aliyuncs.com", "https://oss-cn-beijing.aliyuncs.com",
                                      "https://oss-cn-beijing.aliyuncs.com/", "my-uploads.oss-cn-beijing.aliyuncs.com"])
def test_oss_endpoint_gets_the_bucket_as_a_subdomain(tmp_path, endpoint):
    config = load(tmp_path, QWEN_TMP_OSS_ENDPOINT=endpoint)
    assert config.error is None and config.virtual_host
    assert config.endpoint == "https://my-uploads.oss-cn-beijing.aliyuncs.com"


def test_internal_endpoint_is_an_oss_endpoint(tmp_path):
    config = load(tmp_path, QWEN_TMP_OSS_ENDPOINT="oss-cn-beijing-internal.aliyuncs.com")
    assert config.endpoint == "https://my-uploads.oss-cn-beijing-internal.aliyuncs.com"


def test_accelerate_endpoint_needs_no_region_in_its_name(tmp_path):
    config = load(tmp_path, QWEN_TMP_OSS_ENDPOINT="oss-accelerate.aliyuncs.com")
    assert config.endpoint == "https://my-uploads.oss-accelerate.aliyuncs.com"


def test_oss_endpoint_of_another_region_is_a_config_error(tmp_path):
    config = load(tmp_path, QWEN_TMP_OSS_ENDPOINT="oss-cn-shanghai.aliyuncs.com")
    assert "cn-shanghai" in config.error and "QWEN_TMP_OSS_REGION" in config.error


def test_endpoint_naming_another_bucket_is_a_config_error(tmp_path):
    config = load(tmp_path, QWEN_TMP_OSS_ENDPOINT="other.oss-cn-beijing.aliyuncs.com")
    assert "other" in config.error


def test_any_other_host_is_a_custom_domain_addressed_by_key(tmp_path):
    config = load(tmp_path, QWEN_TMP_OSS_ENDPOINT="files.example.com")
    assert config.error is None and not config.virtual_host
    assert config.endpoint == "https://files.example.com"
    assert config.object_url("p/k.txt") == "https://files.example.com/p/k.txt"


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:8080", "http://localhost:9", "http://[::1]:9000"])
def test_plain_http_is_allowed_on_loopback(tmp_path, endpoint):
    assert load(tmp_path, QWEN_TMP_OSS_ENDPOINT=endpoint).error is None


@pytest.mark.parametrize("endpoint", ["http://files.example.com", "http://oss-cn-beijing.aliyuncs.com",
                                      "ftp://files.example.com", "https://user:pw@files.example.com",
                                      "https://files.example.com/sub/path", "https://files.example.com:99999"])
def test_unsafe_or_malformed_endpoints_are_config_errors(tmp_path, endpoint):
    assert "QWEN_TMP_OSS_ENDPOINT" in load(tmp_path, QWEN_TMP_OSS_ENDPOINT=endpoint).error


def test_prefix_is_trimmed_of_slashes(tmp_path):
    assert load(tmp_path, QWEN_TMP_OSS_PREFIX="/media/in/").prefix == "media/in"


def test_prefix_with_parent_folder_steps_is_a_config_error(tmp_path):
    assert "QWEN_TMP_OSS_PREFIX" in load(tmp_path, QWEN_TMP_OSS_PREFIX="a/../b").error


@pytest.mark.parametrize("endpoint,expected", [("https://[::1]:1", "https://[::1]:1"),
                                               ("http://[::1]:9000", "http://[::1]:9000"),
                                               ("[::1]:443", "https://[::1]:443")])
def test_ipv6_endpoint_keeps_its_brackets(tmp_path, endpoint, expected):
    config = load(tmp_path, QWEN_TMP_OSS_ENDPOINT=endpoint)
    assert config.error is None and config.endpoint == expected
    assert config.object_url("p/k.txt") == expected + "/p/k.txt"


@pytest.mark.parametrize("endpoint", ["https://files .example.com", "files\t.example.com",
                                      "https://fi\x00les.example.com"])
def test_endpoint_with_a_space_or_control_character_is_a_config_error(tmp_path, endpoint):
    error = load(tmp_path, QWEN_TMP_OSS_ENDPOINT=endpoint).error
    assert "QWEN_TMP_OSS_ENDPOINT" in error and "space" in error


@pytest.mark.parametrize("endpoint", ["https://fïles.example.com", "文件.example.com"])
def test_endpoint_with_non_ascii_characters_is_a_config_error_naming_the_punycode_form(tmp_path, endpoint):
    error = load(tmp_path, QWEN_TMP_OSS_ENDPOINT=endpoint).error
    assert "QWEN_TMP_OSS_ENDPOINT" in error and "xn--" in error


@pytest.mark.parametrize("endpoint", ["https://files_example!.com", "https://-files.example.com"])
def test_endpoint_host_with_characters_no_host_name_holds_is_a_config_error(tmp_path, endpoint):
    assert "QWEN_TMP_OSS_ENDPOINT" in load(tmp_path, QWEN_TMP_OSS_ENDPOINT=endpoint).error
