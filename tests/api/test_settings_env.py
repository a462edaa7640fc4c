"""A child process given ``settings_env(settings)`` reads the same settings back."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from api.settings import Settings, SettingsError, load_settings, settings_env


def test_settings_survive_the_trip_through_the_environment():
    settings = Settings(
        port=9001,
        port_fixed=True,
        data_dir=Path("/srv/loupe"),
        database_url="postgresql://u:p@db:5432/loupe",
        nats_url="nats://bus:4222",
        redis_url="redis://cache:6379/2",
        database_schema="prod_1",
        database_pool_size=17,
        nats_stream="PROD",
        nats_subject_prefix="prod",
        nats_max_age=86400.0,
        redis_prefix="p:",
        dev_auth=True,
        log_format="json",
        log_level="DEBUG",
        smtp_host="mail.example.com",
        smtp_port=465,
        smtp_username="loupe",
        smtp_password="s3cret",  # noqa: S106 - a test value
        smtp_security="ssl",
        smtp_from="reports@example.com",
        smtp_from_name="Reports",
        smtp_timeout=12.0,
        smtp_validate_certs=False,
        public_url="https://bi.example.com",
        render_workers=0,
        render_timeout=45.0,
    )
    assert load_settings(settings_env(settings)) == settings
    smtp = settings.smtp
    assert smtp is not None
    assert (smtp.host, smtp.port, smtp.security, smtp.validate_certs) == (
        "mail.example.com",
        465,
        "ssl",
        False,
    )


def test_without_a_mail_server_there_are_no_smtp_settings():
    assert Settings().smtp is None


def test_a_mail_security_loupe_does_not_know_is_refused():
    with pytest.raises(SettingsError, match="LOUPE_SMTP_SECURITY"):
        load_settings({"LOUPE_SMTP_SECURITY": "tls1.0"})


def test_a_render_time_limit_below_a_second_is_refused():
    with pytest.raises(SettingsError, match="LOUPE_RENDER_TIMEOUT"):
        load_settings({"LOUPE_RENDER_TIMEOUT": "0"})


def test_unset_engines_stay_unset_and_the_data_directory_becomes_absolute():
    env = settings_env(Settings())
    assert not any(key.endswith("_URL") for key in env)
    back = msgspec.structs.replace(load_settings(env), port_fixed=False)
    assert back == Settings(data_dir=Path("var").resolve())
