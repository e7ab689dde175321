"""``sync --account NAME``: which credentials and which part of the state an account selects."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.cli.accounts import salesforce_org, select_account
from engine.errors import ConfigError
from tests.test_cli_sync import clean_env, zoomforce

ENV = {"ZOOM_ACCOUNT_ID": "plain", "ZOOM_CLIENT_ID": "plain-id", "ZOOM_CLIENT_SECRET": "plain-secret",
       "EU_EAST_ZOOM_ACCOUNT_ID": "eu", "EU_EAST_ZOOM_CLIENT_ID": "eu-id", "EU_EAST_ZOOM_CLIENT_SECRET": "eu-secret",
       "SF_INSTANCE_URL": "https://Org.my.salesforce.com/"}


def test_no_account_is_the_plain_deployment() -> None:
    account = select_account(None, ENV)
    assert account.environ is ENV and account.schema is None and account.state(Path("z.db")) == Path("z.db")


def test_an_account_reads_its_own_credentials_and_has_its_own_state() -> None:
    account = select_account("eu-east", ENV)
    assert {key: account.environ.get(key) for key in ("ZOOM_ACCOUNT_ID", "ZOOM_CLIENT_ID", "ZOOM_CLIENT_SECRET")} == {
        "ZOOM_ACCOUNT_ID": "eu", "ZOOM_CLIENT_ID": "eu-id", "ZOOM_CLIENT_SECRET": "eu-secret"}
    assert account.environ["SF_INSTANCE_URL"] == ENV["SF_INSTANCE_URL"]
    assert account.schema == "account_eu_east"
    assert account.state(Path("state/zoomforce.db")) == Path("state/zoomforce.eu-east.db")
    assert account.state("postgresql://db/zf") == "postgresql://db/zf"


@pytest.mark.parametrize("name", ["", "a b", "../x", "x" * 41, "-lead"])
def test_a_malformed_name_is_a_usage_error(name: str) -> None:
    with pytest.raises(ConfigError, match="an account name is"):
        select_account(name, ENV)


def test_an_account_without_credentials_names_the_variables() -> None:
    with pytest.raises(ConfigError, match="set NOPE_ZOOM_ACCOUNT_ID, NOPE_ZOOM_CLIENT_ID"):
        select_account("nope", ENV)


def test_the_org_of_a_lock_key_is_the_instance_url_normalised() -> None:
    assert salesforce_org(ENV) == "https://org.my.salesforce.com" and salesforce_org({}) == ""


def test_sync_with_an_unknown_account_exits_2_in_one_line(tmp_path: Path) -> None:
    run = zoomforce("sync", "meetings", "--account", "nope", env=clean_env(), cwd=tmp_path)
    assert run.returncode == 2 and len(run.error_lines) == 1 and "NOPE_ZOOM_ACCOUNT_ID" in run.stderr


DECLARED = {"emea": {"env_prefix": "EU_EAST"}, "americas": {}}


def test_a_declared_account_reads_the_variables_of_its_prefix() -> None:
    account = select_account("emea", ENV, DECLARED)
    assert (account.environ["ZOOM_ACCOUNT_ID"], account.environ["ZOOM_CLIENT_SECRET"]) == ("eu", "eu-secret")
    assert account.schema == "account_emea", "its own part of the state, by its name"


def test_an_account_the_project_does_not_declare_is_refused_naming_those_it_does() -> None:
    with pytest.raises(ConfigError, match=r"not an account of the project file \(accounts: americas, emea\)"):
        select_account("eu-east", ENV, DECLARED)
    with pytest.raises(ConfigError, match="did you mean 'emea'"):
        select_account("emae", ENV, DECLARED)


def test_sync_reads_the_accounts_of_the_project_file(tmp_path: Path) -> None:
    (tmp_path / "zoomforce.yaml").write_text("accounts:\n  emea: {env_prefix: EU_EAST}\n", encoding="utf-8")
    run = zoomforce("sync", "meetings", "--account", "nope", env=clean_env(), cwd=tmp_path)
    assert run.returncode == 2 and len(run.error_lines) == 1
    assert "not an account of the project file (accounts: emea)" in run.stderr
    (tmp_path / "zoomforce.yaml").write_text("accounts:\n  emea: {env_prefx: EU_EAST}\n", encoding="utf-8")
    bad = zoomforce("sync", "meetings", "--account", "emea", env=clean_env(), cwd=tmp_path)
    assert bad.returncode == 2 and "zoomforce.yaml:2:10: error: accounts.emea.env_prefx: unknown key" in bad.stderr
