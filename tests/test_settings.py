from pathlib import Path

import pytest

from pipelines.settings import Settings, SettingsError, load_settings


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


@pytest.mark.parametrize("env,message", [
    ({"TASTEGRAPH_SHUFFLE_PARTITIONS": "many"}, r"shuffle_partitions.*TASTEGRAPH_SHUFFLE_PARTITIONS.*'many'"),
    ({"TASTEGRAPH_QUARANTINE_MAX_SHARE": "5"}, r"quarantine_max_share must be between 0 and 1"),
    ({"TASTEGRAPH_EDGE_TYPE_WEIGHTS": "save=1"}, r"edge_type_weights lacks weights for"),
    ({"TASTEGRAPH_CONFIG": "/nope.toml"}, r"config file /nope.toml does not exist"),
])
def test_bad_settings_say_what_to_fix(env, message):
    with pytest.raises(SettingsError, match=message):
        load_settings(env=env)


def test_unknown_key_in_file_is_named(tmp_path):
    config = tmp_path / "tg.toml"
    config.write_text("lake_rot = 'x'\n")
    with pytest.raises(SettingsError, match=r"unknown settings \['lake_rot'\]"):
        load_settings(config, env={})
