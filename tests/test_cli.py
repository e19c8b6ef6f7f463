"""The command line fails with one clear line and the right exit code."""
import yaml

from jobs.cli import main

ROOT_CONFIG = "config/journeys.yaml"


def _config(tmp_path, mutate):
    doc = yaml.safe_load(open(ROOT_CONFIG))
    mutate(doc)
    for src in doc["sources"].values():
        src["path"] = str(tmp_path / "raw" / src["path"].rsplit("/", 1)[-1])
    doc["warehouse"] = str(tmp_path / "wh")
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def test_bad_value_names_the_key(tmp_path, capsys):
    cfg = _config(tmp_path, lambda d: d["windows"].update(max_lateness_days="three"))
    assert main(["run", "--date", "2026-01-05", "--config", cfg]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "windows.max_lateness_days" in err[0]


def test_unknown_key_is_rejected(tmp_path, capsys):
    cfg = _config(tmp_path, lambda d: d["sources"]["calls"].update(tz="UTC"))
    assert main(["run", "--date", "2026-01-05", "--config", cfg]) == 2
    assert "sources.calls.tz: unknown setting" in capsys.readouterr().err


def test_missing_config_file(capsys):
    assert main(["run", "--date", "2026-01-05", "--config", "/nonexistent.yaml"]) == 2
    assert "config file not found" in capsys.readouterr().err


def test_config_from_the_environment_when_no_path_is_given(tmp_path, monkeypatch):
    """The Docker images install the package, far from config/: they name the file in JOURNEYS_CONFIG."""
    from jobs.config import load_config

    cfg = _config(tmp_path, lambda d: d["windows"].update(max_lateness_days=5))
    monkeypatch.setenv("JOURNEYS_CONFIG", cfg)
    assert load_config().windows.max_lateness_days == 5
    assert load_config(ROOT_CONFIG).windows.max_lateness_days == 3  # an explicit path wins
    monkeypatch.setenv("JOURNEYS_CONFIG", str(tmp_path / "missing.yaml"))
    assert main(["run", "--date", "2026-01-05"]) == 2


def test_date_without_raw_data(tmp_path, capsys):
    cfg = _config(tmp_path, lambda d: None)
    assert main(["run", "--date", "2026-01-05", "--config", cfg]) == 2
    assert "no raw data for 2026-01-05" in capsys.readouterr().err


def test_run_refuses_without_pii_key(tmp_path, capsys, monkeypatch):
    cfg = _config(tmp_path, lambda d: None)
    (tmp_path / "raw" / "calls" / "arrival_date=2026-01-05").mkdir(parents=True)
    monkeypatch.delenv("JOURNEYS_PII_KEY", raising=False)
    assert main(["run", "--date", "2026-01-05", "--config", cfg]) == 2
    err = capsys.readouterr().err
    assert "JOURNEYS_PII_KEY" in err and len(err.strip().splitlines()) == 1


def test_missing_java_is_one_line_with_what_to_do(tmp_path, capsys, monkeypatch):
    cfg = _config(tmp_path, lambda d: None)
    (tmp_path / "raw" / "calls" / "arrival_date=2026-01-05").mkdir(parents=True)
    monkeypatch.setattr("jobs.cli.shutil.which", lambda name: None)
    assert main(["run", "--date", "2026-01-05", "--config", cfg]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Java 17" in err[0] and "scripts/setup.sh" in err[0]


def test_every_command_explains_itself_with_an_example(capsys):
    import pytest

    from jobs.cli import _parser

    commands = _parser()._subparsers._group_actions[0].choices
    assert {"generate", "run", "demo", "report", "sql", "thrift"} <= set(commands)
    for name in commands:
        with pytest.raises(SystemExit) as done:
            main([name, "--help"])
        assert done.value.code == 0
        out = capsys.readouterr().out
        example = out.split("example:", 1)[-1]
        assert "journeys " + name in example, name
        assert "--quiet" in out and "--json" in out, name


class _Build:
    customers, journey_events, journeys_written = 120, 3456, 78

    def to_dict(self):
        return {"customers": self.customers}


def _fake_steps(monkeypatch):
    from datetime import date

    from jobs.pipeline import RunResult, SourceResult

    def normalize(spark, config, day, key, run_id=None):
        return RunResult("r1", day, [SourceResult("calls", rows_in=10, rows_out=8, rows_quarantined=1,
                                                   rows_duplicate=1)], 0.0, "v")

    class Report:
        def __init__(self, success):
            self.success = success

    monkeypatch.setattr("jobs.pipeline.normalize", normalize)
    monkeypatch.setattr("jobs.steps.build_step", lambda spark, config, day: _Build())
    monkeypatch.setattr("jobs.steps.validate_step", lambda spark, config, day: [Report(True)] * 10)
    monkeypatch.setattr("jobs.steps.publish_step", lambda spark, config, day: ["events: 1 partition(s)"] * 3)
    monkeypatch.setattr("jobs.spark_session.get_spark", lambda config: None)
    return date(2026, 1, 5)


def test_run_shows_each_step_with_rows_and_time(tmp_path, capsys, monkeypatch):
    cfg = _config(tmp_path, lambda d: None)
    (tmp_path / "raw" / "calls" / "arrival_date=2026-01-05").mkdir(parents=True)
    _fake_steps(monkeypatch)
    monkeypatch.setattr("jobs.cli._print_run", lambda result, quiet: None)
    assert main(["run", "--date", "2026-01-05", "--config", cfg]) == 0
    lines = [ln.strip() for ln in capsys.readouterr().out.splitlines() if ln.startswith("  ")]
    assert [ln.split(":")[0] for ln in lines] == ["normalize", "build", "validate", "publish"]
    assert lines[0].startswith("normalize: 10 rows in, 8 out, 1 quarantined, 1 duplicate, 0 bot (")
    assert lines[1].startswith("build: 120 customers, 3,456 journey events, 78 journeys rewritten (")
    assert lines[2].startswith("validate: 10 of 10 output suites passed (")
    assert lines[3].startswith("publish: 3 tables moved into place (")
    assert all(ln.endswith(" s)") for ln in lines)


def test_quiet_prints_nothing_and_json_only_json(tmp_path, capsys, monkeypatch):
    import json

    cfg = _config(tmp_path, lambda d: None)
    (tmp_path / "raw" / "calls" / "arrival_date=2026-01-05").mkdir(parents=True)
    _fake_steps(monkeypatch)
    assert main(["run", "--date", "2026-01-05", "--config", cfg, "--quiet"]) == 0
    assert capsys.readouterr().out == ""
    assert main(["run", "--date", "2026-01-05", "--config", cfg, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["runs"][0]["sources"][0]["rows_in"] == 10
