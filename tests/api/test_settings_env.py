"""A child process given ``settings_env(settings)`` reads the same settings back."""

from __future__ import annotations

from pathlib import Path

import msgspec

from api.settings import Settings, load_settings, settings_env


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
    )
    assert load_settings(settings_env(settings)) == settings


def test_unset_engines_stay_unset_and_the_data_directory_becomes_absolute():
    env = settings_env(Settings())
    assert not any(key.endswith("_URL") for key in env)
    back = msgspec.structs.replace(load_settings(env), port_fixed=False)
    assert back == Settings(data_dir=Path("var").resolve())
