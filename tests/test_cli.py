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
