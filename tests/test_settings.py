from pathlib import Path

import pytest

from pipelines.core.contract import EVENT_EDGE_TYPES
from pipelines.core.settings import DEFAULT_TYPE_WEIGHTS, Settings, SettingsError, load_settings, settings_table


def test_precedence_defaults_file_env_overrides(tmp_path):
    config = tmp_path / "tg.toml"
    config.write_text('[tastegraph]\nlake_root = "/from/file"\nshuffle_partitions = 3\nquarantine_max_share = 0.05\n')
    env = {"TASTEGRAPH_SHUFFLE_PARTITIONS": "7", "TASTEGRAPH_EDGE_TYPE_WEIGHTS":
           "impression=0.5,closeup=1,click=2,merchant_click=3,save=9,hide=-1,saved_to=1,follows=1,co_engaged=2"}
    s = load_settings(config, env=env, quarantine_max_share=0.2)
    assert s.lake_root == Path("/from/file")          # file beats default
    assert s.shuffle_partitions == 7                   # env beats file
    assert s.quarantine_max_share == 0.2               # override beats all
    assert s.edge_type_weights["save"] == 9.0
    assert load_settings(env={"TASTEGRAPH_SPARK_CONF": "spark.ui.enabled=true, spark.ui.port=4050"}).spark_conf == {
        "spark.ui.enabled": "true", "spark.ui.port": "4050"}
    assert s.spark_master == Settings().spark_master   # default kept
    assert s.raw_dir == Path("/from/file/raw")


@pytest.mark.parametrize("toml,message", [
    ("walk_length = 2.7", r"TOML key `walk_length` in .*tg.toml = 2.7 is not valid: not a whole number"),
    ("shuffle_partitions = true", r"TOML key `shuffle_partitions`.* a boolean is not a number"),
    ("coengaged_weight = -5", r"TOML key `coengaged_weight`.* must be >= 0.0 and <= 1.0"),
    ("pin_board_min_share = 7", r"pin_board_min_share.* must be >= 0.0 and <= 1.0"),
    ("board_entropy_max = -1", r"board_entropy_max.* must be >= 0.0"),
    ("task_retry_delay_seconds = -3", r"task_retry_delay_seconds.* must be >= 0.0"),
    ('spark_driver_memory = "lots"', r"spark_driver_memory.* 'lots' does not match"),
    ("decay_half_life_days = nan", r"decay_half_life_days.* not a finite number"),
    ("decay_half_life_days = inf", r"decay_half_life_days.* not a finite number"),
    ("decay_half_life_days = 0", r"decay_half_life_days.* must be > 0.0"),
    ('walk_seed = "42"', r"walk_seed.* expected a whole number"),
    ("walk_restart = 1", r"walk_restart.* must be >= 0.0 and < 1.0"),
    ('earliest_event_date = "soon"', r"earliest_event_date.* expected a date"),
])
def test_bad_values_in_a_file_are_refused_naming_the_toml_key(tmp_path, toml, message):
    config = tmp_path / "tg.toml"
    config.write_text(toml + "\n")
    with pytest.raises(SettingsError, match=message):
        load_settings(config, env={})


@pytest.mark.parametrize("env,message", [
    ({"TASTEGRAPH_SHUFFLE_PARTITIONS": "many"}, r"environment variable TASTEGRAPH_SHUFFLE_PARTITIONS = 'many'"),
    ({"TASTEGRAPH_WALK_LENGTH": "2.7"}, r"TASTEGRAPH_WALK_LENGTH = '2.7' is not valid: not a whole number"),
    ({"TASTEGRAPH_SHUFFLE_PARTITIONS": "true"}, r"TASTEGRAPH_SHUFFLE_PARTITIONS = 'true' is not valid"),
    ({"TASTEGRAPH_QUARANTINE_MAX_SHARE": "5"}, r"quarantine_max_share|QUARANTINE_MAX_SHARE.*<= 1.0"),
    ({"TASTEGRAPH_DECAY_HALF_LIFE_DAYS": "nan"}, r"not a finite number"),
    ({"TASTEGRAPH_EDGE_TYPE_WEIGHTS": "save=1"}, r"edge_type_weights lacks weights for"),
    ({"TASTEGRAPH_EDGE_TYPE_WEIGHTS": "save=x"}, r"TASTEGRAPH_EDGE_TYPE_WEIGHTS = 'save=x' is not valid"),
    ({"TASTEGRAPH_CONFIG": "/nope.toml"}, r"config file /nope.toml does not exist"),
])
def test_bad_environment_values_name_the_variable(env, message):
    with pytest.raises(SettingsError, match=message):
        load_settings(env=env)


def test_valid_values_of_every_kind_are_accepted(tmp_path):
    config = tmp_path / "tg.toml"
    config.write_text("walk_length = 3\nwalk_restart = 0.25\nearliest_event_date = 2000-01-01\n"
                      "decay_half_life_days = 7\ntask_retry_delay_seconds = 0\n")
    s = load_settings(config, env={"TASTEGRAPH_RAW_ROOT": "/raw"})
    assert (s.walk_length, s.walk_restart, s.earliest_event_date.isoformat()) == (3, 0.25, "2000-01-01")
    assert s.decay_half_life_days == 7.0 and isinstance(s.decay_half_life_days, float)
    assert s.raw_dir == Path("/raw")
    with pytest.raises(SettingsError, match="walk_length"):
        s.replace(walk_length=0)


def test_unknown_key_in_file_is_named(tmp_path):
    config = tmp_path / "tg.toml"
    config.write_text("lake_rot = 'x'\n")
    with pytest.raises(SettingsError, match=r"unknown settings \['lake_rot'\]"):
        load_settings(config, env={})


def test_every_setting_is_documented_with_its_range():
    table = {name: meaning for name, _, meaning in settings_table()}
    assert set(table) == {f.name for f in Settings.__dataclass_fields__.values()}
    assert all(meaning for meaning in table.values())
    assert "(>= 1)" in table["shuffle_partitions"] and set(DEFAULT_TYPE_WEIGHTS) == set(EVENT_EDGE_TYPES)
