"""docker/: the images and the compose file, checked without a Docker engine.

Static: the compose file parses and wires the services sensibly (dependencies, health checks,
the raw and warehouse zones mounted where the containers' config puts them, Airflow's
`spark_default` connection pointing at the Spark master), every file a Dockerfile copies
exists, every variable the compose file uses is in env.example, which holds no real secret.

"Same commands": every command a container runs (compose commands, entrypoints and health
checks, the Dockerfiles' RUN/CMD/ENTRYPOINT, the postgres init script) is listed in
RUN_OUTSIDE (the test that runs it outside containers) or SETUP_STEPS (the step of
scripts/setup.sh, which the test command runs before pytest); anything else fails. Two of those
commands are run here: the postgres init script and the Spark master's health check.
"""
from __future__ import annotations

import ast
import json
import os
import posixpath
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCKER = ROOT / "docker"
COMPOSE_FILE = DOCKER / "compose.yaml"
ENV_EXAMPLE = DOCKER / "env.example"
DOCKERFILES = {"airflow": DOCKER / "Dockerfile.airflow", "spark": DOCKER / "Dockerfile.spark"}
IMAGE_REPO = "/opt/journeys"   # the Dockerfiles' WORKDIR: the repository's files live below it
BIN = Path(sys.executable).parent

AIRFLOW_SERVICES = ("airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
                    "airflow-triggerer")
SERVICES = {"postgres", *AIRFLOW_SERVICES, "spark-master", "spark-worker"}

# --------------------------------------------------------------------------- what runs each command

AIRFLOW_TEST = ("tests/test_airflow_services.py", "test_airflow_services_start_and_report_healthy")
CLUSTER_TEST = ("tests/test_cluster.py", "test_cluster_run_matches_local_run")
HERE = "tests/test_docker.py"

# Command (as the container runs it, variables filled from env.example) -> (test file, test function)
# that runs the same command outside containers.
RUN_OUTSIDE = {
    # compose: Airflow (the test reads these commands from compose.yaml and runs them)
    "airflow db migrate": AIRFLOW_TEST,
    "airflow api-server --host 0.0.0.0 --port 8080": AIRFLOW_TEST,
    "airflow scheduler": AIRFLOW_TEST,
    "airflow dag-processor": AIRFLOW_TEST,
    "airflow triggerer": AIRFLOW_TEST,
    "python /opt/journeys/docker/healthcheck.py http://localhost:8080/api/v2/monitor/health "
    "metadatabase.status=healthy": AIRFLOW_TEST,
    "airflow jobs check --job-type SchedulerJob --local": AIRFLOW_TEST,
    "airflow jobs check --job-type DagProcessorJob --local": AIRFLOW_TEST,
    "airflow jobs check --job-type TriggererJob --local": AIRFLOW_TEST,
    "pg_isready -U postgres -d airflow": AIRFLOW_TEST,
    # compose: PostgreSQL's init script (run by the postgres image's entrypoint)
    "docker/postgres-init.sh": (HERE, "test_postgres_init_script_creates_the_crm_database"),
    # compose: Spark (image entrypoint scripts/spark-node.sh + the service's command)
    "/opt/journeys/scripts/spark-node.sh master spark-master 7077 8080": CLUSTER_TEST,
    "/opt/journeys/scripts/spark-node.sh worker spark://spark-master:7077 2 4g 8081 /opt/journeys/spark-work":
        CLUSTER_TEST,
    "python /opt/journeys/docker/healthcheck.py http://localhost:8080/json/ status=ALIVE":
        (HERE, "test_spark_master_healthcheck_outside_containers"),
    # Dockerfiles: default commands
    "/opt/journeys/scripts/spark-node.sh": CLUSTER_TEST,
}
# Evidence that a mapped test file really runs the command: a string its source must contain.
EVIDENCE = {"tests/test_cluster.py": "spark-node.sh", "tests/test_airflow_services.py": "compose.yaml",
            HERE: "postgres-init.sh"}

# Image build steps -> the strings scripts/setup.sh must contain for the same step (setup.sh
# installs the environment the tests run in: scripts/test.sh runs it before pytest).
SETUP_STEPS = {
    "apt-get update": ["apt-get update"],
    "DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openjdk-17-jre-headless":
        ["apt-get install", "openjdk-17-jre-headless"],
    "pip install -c constraints.txt '.[airflow]'": ["pip install", "-c constraints.txt", "'.[dev]'"],
    "pip install -c constraints.txt .": ["pip install", "-c constraints.txt", "'.[dev]'"],
    "journeys class-archive --config docker/journeys.yaml --out /opt/journeys/.venv/journeys-classes.jsa":
        ["journeys class-archive --config config/journeys.yaml --out", "archive=.venv/journeys-classes.jsa"],
}
# Image-only file system steps (a user, folders, apt's cache): they run no project code, so no
# test can run them outside an image. Only RUN steps may use these programs.
IMAGE_ONLY_PROGRAMS = {"useradd", "mkdir", "chown", "rm"}

# --------------------------------------------------------------------------- parsing helpers


def load_compose() -> dict:
    with open(COMPOSE_FILE) as fh:
        return yaml.safe_load(fh)


def env_example() -> dict[str, str]:
    """KEY=VALUE lines of env.example (quotes stripped, as compose reads a .env file)."""
    out = {}
    for n, line in enumerate(ENV_EXAMPLE.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", line)
        assert m, f"env.example line {n} is not KEY=VALUE: {line!r}"
        value = m.group(2)
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        assert m.group(1) not in out, f"env.example sets {m.group(1)} twice"
        out[m.group(1)] = value
    return out


_VAR = re.compile(r"\$(?:\$|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?])?(?P<arg>[^}]*)\}"
                  r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))")


def compose_variables(value) -> set[str]:
    """Names of the variables a compose value interpolates ($$ is a literal $)."""
    if isinstance(value, dict):
        return set().union(*(compose_variables(v) for v in value.values()), set())
    if isinstance(value, list):
        return set().union(*(compose_variables(v) for v in value), set())
    if not isinstance(value, str):
        return set()
    return {m.group("braced") or m.group("bare") for m in _VAR.finditer(value) if m.group(0) != "$$"}


def interpolate(value, variables: dict[str, str]):
    """Compose's interpolation of ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}, $VAR, $$."""
    if isinstance(value, dict):
        return {k: interpolate(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, variables) for v in value]
    if not isinstance(value, str):
        return value

    def one(m):
        if m.group(0) == "$$":
            return "$"
        name = m.group("braced") or m.group("bare")
        op, arg = m.group("op") or "", m.group("arg") or ""
        have = variables.get(name)
        if op == ":-":
            return have if have else arg
        if op == "-":
            return arg if have is None else have
        if op in (":?", "?") and (have is None or (op == ":?" and not have)):
            raise KeyError(f"{name} is required: {arg}")
        return have or ""

    return _VAR.sub(one, value)


def resolved_compose() -> dict:
    return interpolate(load_compose(), env_example())


def as_list(value) -> list[str]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else shlex.split(value)


def dockerfile(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    out, pending = [], ""
    for line in path.read_text().splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        word, _, rest = pending.strip().partition(" ")
        out.append((word.upper(), " ".join(rest.split())))
        pending = ""
    assert not pending, f"{path.name} ends inside a continued line"
    return out


def exec_form(args: str) -> list[str]:
    return json.loads(args) if args.startswith("[") else ["/bin/sh", "-c", args]


def image_defaults(path: Path) -> dict:
    """ENTRYPOINT, CMD and ENV of the image a Dockerfile builds."""
    out = {"entrypoint": [], "cmd": [], "env": {}}
    for word, args in dockerfile(path):
        if word in ("ENTRYPOINT", "CMD"):
            out[word.lower()] = exec_form(args)
        elif word == "ENV":
            out["env"].update(dict(part.split("=", 1) for part in shlex.split(args)))
    return out


def service_image(name: str, svc: dict, services: dict) -> str | None:
    """Which of our Dockerfiles a service runs ("airflow"/"spark"), through its build or its image."""
    build = svc.get("build")
    if build:
        return next(k for k, p in DOCKERFILES.items() if p == (DOCKER / build["context"] / build["dockerfile"]).resolve())
    for other in services.values():
        if other.get("build") and other.get("image") == svc.get("image"):
            return service_image(name, other, services)
    return None


def container_commands() -> list[tuple[str, str]]:
    """(where, command) for every command the containers run, variables filled from env.example."""
    compose = resolved_compose()
    services = compose["services"]
    found = []
    for name, svc in services.items():
        image = service_image(name, svc, services)
        defaults = image_defaults(DOCKERFILES[image]) if image else {"entrypoint": [], "cmd": []}
        entrypoint = as_list(svc["entrypoint"]) if "entrypoint" in svc else defaults["entrypoint"]
        command = as_list(svc["command"]) if "command" in svc else ([] if "entrypoint" in svc else defaults["cmd"])
        if image or "command" in svc or "entrypoint" in svc:   # a third-party image's own default is not ours
            found.append((f"compose {name}: command", " ".join(entrypoint + command)))
        test = (svc.get("healthcheck") or {}).get("test")
        if test:
            kind, *rest = as_list(test)
            assert kind in ("CMD", "CMD-SHELL"), f"{name}: healthcheck test must start with CMD or CMD-SHELL"
            found.append((f"compose {name}: healthcheck", " ".join(rest)))
        for volume in svc.get("volumes", []):
            source, target = volume.split(":")[:2]
            if target.startswith("/docker-entrypoint-initdb.d/"):
                script = (DOCKER / source).resolve().relative_to(ROOT).as_posix()
                found.append((f"compose {name}: init script", script))
    for image, path in DOCKERFILES.items():
        for word, args in dockerfile(path):
            if word == "RUN":
                for part in re.split(r"\s*&&\s*", args):
                    found.append((f"{path.name}: RUN", part))
            elif word in ("CMD", "ENTRYPOINT"):
                found.append((f"{path.name}: {word}", " ".join(exec_form(args))))
            elif word == "HEALTHCHECK":
                found.append((f"{path.name}: HEALTHCHECK", args))
    return found


def unaccounted(commands: list[tuple[str, str]]) -> list[str]:
    """The commands neither RUN_OUTSIDE nor SETUP_STEPS covers (image-only file steps aside)."""
    bad = []
    for where, cmd in commands:
        if cmd in RUN_OUTSIDE or cmd in SETUP_STEPS:
            continue
        words = shlex.split(cmd)
        if where.endswith(": RUN") and words and words[0] in IMAGE_ONLY_PROGRAMS:
            continue
        bad.append(f"{where}: {cmd}")
    return bad


def functions_in(path: Path) -> set[str]:
    return {n.name for n in ast.parse(path.read_text()).body if isinstance(n, ast.FunctionDef)}


def container_path(config_value: str) -> str:
    """Where a path of docker/journeys.yaml points inside the images (relative: to the file's folder)."""
    return posixpath.normpath(posixpath.join(IMAGE_REPO, "docker", config_value))


def mounts(svc: dict) -> dict[str, str]:
    """Container path -> named volume (or host path) of a service."""
    out = {}
    for volume in svc.get("volumes", []):
        source, target = volume.split(":")[:2]
        out[target] = source
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- the compose file


def test_compose_parses_and_has_every_service():
    compose = load_compose()
    services = compose["services"]
    assert SERVICES <= set(services), f"missing services: {SERVICES - set(services)}"
    for name in AIRFLOW_SERVICES:
        assert service_image(name, services[name], services) == "airflow", name
        assert as_list(services[name]["command"])[0] == "airflow", name
    for name in ("spark-master", "spark-worker"):
        assert service_image(name, services[name], services) == "spark", name
    # every build uses the repository root as context, so the Dockerfiles' COPY sources resolve there
    for name, svc in services.items():
        if svc.get("build"):
            assert (DOCKER / svc["build"]["context"]).resolve() == ROOT, name
            assert "image" in svc, f"{name}: name the image so other services can reuse it"
    # the compose file resolves with env.example's values (no required variable is missing)
    resolved = resolved_compose()
    assert resolved["services"]["airflow-scheduler"]["environment"]["AIRFLOW_CONN_SPARK_DEFAULT"]


def test_dependencies_and_health_checks_are_sensible():
    services = load_compose()["services"]
    long_running = {n for n, s in services.items() if s.get("restart") != "no"}
    assert "airflow-init" not in long_running and long_running == SERVICES - {"airflow-init"}
    for name, svc in services.items():
        deps = svc.get("depends_on") or {}
        assert isinstance(deps, dict), f"{name}: depends_on needs conditions (the long form)"
        for dep, spec in deps.items():
            assert dep in services, f"{name} depends on unknown service {dep}"
            cond = spec.get("condition")
            assert cond in ("service_healthy", "service_completed_successfully"), (name, dep, cond)
            if cond == "service_healthy":
                assert services[dep].get("healthcheck"), f"{name} waits for {dep} to be healthy, which has no check"
            else:
                assert dep not in long_running, f"{name} waits for {dep} to exit, which runs forever"
    # nothing starts before the metadata schema exists; the schema waits for PostgreSQL
    assert services["airflow-init"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name in AIRFLOW_SERVICES[1:]:
        deps = services[name]["depends_on"]
        assert deps["postgres"]["condition"] == "service_healthy", name
        assert deps["airflow-init"]["condition"] == "service_completed_successfully", name
    # the scheduler's tasks report to the execution API of the API server
    assert services["airflow-scheduler"]["depends_on"]["airflow-apiserver"]["condition"] == "service_healthy"
    assert services["spark-worker"]["depends_on"]["spark-master"]["condition"] == "service_healthy"
    # no cycles
    def reach(name, seen=()):
        assert name not in seen, f"dependency cycle: {' -> '.join((*seen, name))}"
        for dep in services[name].get("depends_on") or {}:
            reach(dep, (*seen, name))
    for name in services:
        reach(name)
    # every long-running service but the worker (nothing waits for it) is health-checked
    for name in long_running - {"spark-worker"}:
        check = services[name].get("healthcheck") or {}
        assert check.get("test") and check.get("interval") and check.get("retries"), name


def test_zones_are_volumes_mounted_where_the_config_expects():
    from jobs.config import load_config

    compose = load_compose()
    services = compose["services"]
    env = resolved_compose()["services"]["airflow-scheduler"]["environment"]
    config_in_image = env["JOURNEYS_CONFIG"]
    assert config_in_image.startswith(IMAGE_REPO + "/")
    config_file = ROOT / config_in_image[len(IMAGE_REPO) + 1:]
    config = load_config(config_file)   # valid
    raw = yaml.safe_load(config_file.read_text())
    zones = {
        "warehouse": container_path(raw["warehouse"]),
        **{f"raw {s}": container_path(src["path"]) for s, src in raw["sources"].items()},
        **{f"landing {s}": container_path(src["uri"]) for s, src in raw["extract"]["landing"].items()
           if src.get("uri")},
    }
    assert set(config.sources.model_dump()) == {z.split()[1] for z in zones if z.startswith("raw ")}

    def volume_for(svc, path):
        found = [(t, s) for t, s in mounts(svc).items() if path == t or path.startswith(t.rstrip("/") + "/")]
        assert found, f"{path} is not on a volume"
        target, source = max(found, key=lambda f: len(f[0]))
        assert source in compose["volumes"], f"{path} is on {source}, not a named volume"
        return source

    # tasks and Spark drivers run in the scheduler: every zone; executors (worker): raw and warehouse
    sched = {zone: volume_for(services["airflow-scheduler"], path) for zone, path in zones.items()}
    worker = {zone: volume_for(services["spark-worker"], path)
              for zone, path in zones.items() if not zone.startswith("landing")}
    assert {sched[z] for z in zones if z.startswith("raw ")} == {"raw"}
    assert sched["warehouse"] == "warehouse" and worker["warehouse"] == "warehouse"
    assert {worker[z] for z in worker if z.startswith("raw ")} == {"raw"}
    assert all(sched[z] == "landing" for z in zones if z.startswith("landing "))
    # the images create the mount points for their non-root user, so fresh volumes are writable
    for image in ("airflow", "spark"):
        run = " ".join(a for w, a in dockerfile(DOCKERFILES[image]) if w == "RUN")
        for target in ("/opt/journeys/data/raw", "/opt/journeys/data/warehouse"):
            assert target in run, (image, target)


def test_docker_config_is_the_default_config_with_the_crm_database():
    """docker/journeys.yaml may differ from config/journeys.yaml only in reading the CRM from SQL;
    the relative paths resolve to the same zones because both files sit one folder below the root."""
    from jobs.config import load_config

    docker = load_config(DOCKER / "journeys.yaml")
    default = load_config(ROOT / "config" / "journeys.yaml")
    assert docker.model_dump() == default.with_overrides(extract={"crm_sql": {"enabled": True}}).model_dump(), \
        "docker/journeys.yaml drifted from config/journeys.yaml: copy it again and set extract.crm_sql.enabled: true"
    assert docker.extract.crm_sql.url_env == "JOURNEYS_CRM_URL"
    assert docker.pii.key_env == "JOURNEYS_PII_KEY"


def test_airflow_reaches_the_spark_master_through_spark_default(tmp_path):
    """The DAG submits through the connection JOURNEYS_SPARK_CONN_ID; the scheduler's environment
    defines it (AIRFLOW_CONN_<ID>), and the Spark provider's hook turns it into the master URL
    the worker registers with."""
    services = resolved_compose()["services"]
    env = services["airflow-scheduler"]["environment"]
    conn_id = env.get("JOURNEYS_SPARK_CONN_ID", "spark_default")
    assert f"AIRFLOW_CONN_{conn_id.upper()}" in env, f"the scheduler has no connection {conn_id}"
    master_cmd = as_list(services["spark-master"]["command"])
    worker_cmd = as_list(services["spark-worker"]["command"])
    assert master_cmd[0] == "master" and worker_cmd[0] == "worker"
    host, port = master_cmd[1], master_cmd[2]
    assert host in (services["spark-master"].get("hostname"), "spark-master")
    expected = f"spark://{host}:{port}"
    assert worker_cmd[1] == expected

    probe = ("import json, sys\n"
             f"sys.path.insert(0, {str(ROOT / 'dags')!r})\n"
             "from journeys_tasks import JourneysSparkSubmitOperator, settings\n"
             "s = settings()\n"
             "op = JourneysSparkSubmitOperator(task_id='normalize', step='normalize', day='2026-01-05',\n"
             "    config_path=s.config_path, application=s.application, conn_id=s.spark_conn_id)\n"
             "print('PROBE' + json.dumps(op._get_hook()._connection))\n")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("JOURNEYS_", "AIRFLOW"))}
    run_env = {**clean, **{k: str(v) for k, v in env.items() if k.startswith(("AIRFLOW_CONN_", "JOURNEYS_"))},
               "AIRFLOW_HOME": str(tmp_path / "airflow")}
    done = subprocess.run([sys.executable, "-c", probe], env=run_env, capture_output=True, text=True, timeout=120)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("PROBE")), None)
    assert done.returncode == 0 and line, done.stdout[-2000:] + done.stderr[-2000:]
    conn = json.loads(line[len("PROBE"):])
    assert conn["master"] == expected, conn
    assert conn["deploy_mode"] in (None, "client"), "client mode: the driver runs in the scheduler container"
    assert services["airflow-scheduler"].get("hostname"), "executors reach the driver by the scheduler's hostname"


# --------------------------------------------------------------------------- the images


def test_every_file_the_dockerfiles_copy_exists_and_reaches_the_build():
    for image, path in DOCKERFILES.items():
        ignore_file = path.with_name(path.name + ".dockerignore")
        ignored = [ln.strip() for ln in ignore_file.read_text().splitlines()
                   if ln.strip() and not ln.startswith("#")] if ignore_file.exists() else []
        copies = 0
        for word, args in dockerfile(path):
            assert word != "ADD", f"{path.name}: use COPY (ADD fetches URLs and unpacks archives)"
            if word != "COPY":
                continue
            parts = [p for p in (json.loads(args) if args.startswith("[") else shlex.split(args))
                     if not p.startswith("--")]
            *sources, _dest = parts
            assert sources, f"{path.name}: COPY {args}"
            for source in sources:
                copies += 1
                assert (ROOT / source).exists(), f"{path.name} copies {source}, which is not in the repository"
                top = source.rstrip("/").split("/")[0]
                assert top not in ignored and source.rstrip("/") not in ignored, \
                    f"{path.name} copies {source}, which {ignore_file.name} leaves out of the build context"
        assert copies >= 5, path.name


def test_every_repository_path_the_containers_use_is_in_their_image():
    """Paths below /opt/journeys in commands, health checks and settings exist in the image:
    the Dockerfile copies them and they exist in the repository."""
    services = resolved_compose()["services"]
    for name, svc in services.items():
        image = service_image(name, svc, services)
        if not image:
            continue
        copied = []
        for word, args in dockerfile(DOCKERFILES[image]):
            if word == "COPY":
                *sources, dest = [p for p in shlex.split(args) if not p.startswith("--")]
                for source in sources:
                    target = dest + (Path(source).name if dest.endswith("/") and not source.endswith("/") else "")
                    copied.append(posixpath.normpath(posixpath.join(IMAGE_REPO, target)))
        text = json.dumps({k: svc.get(k) for k in ("command", "entrypoint", "healthcheck", "environment")})
        text += json.dumps(image_defaults(DOCKERFILES[image]))
        for used in set(re.findall(r"/opt/journeys/[A-Za-z0-9_./-]+", text)):
            if used.startswith(("/opt/journeys/data/", "/opt/journeys/spark-work")):
                continue   # volumes and scratch space, made by the images' RUN step
            assert any(used == c or used.startswith(c + "/") for c in copied), f"{name} uses {used}: not copied"
            assert (ROOT / used[len(IMAGE_REPO) + 1:]).exists(), f"{name} uses {used}: not in the repository"
    assert os.access(ROOT / "scripts" / "spark-node.sh", os.X_OK), "the Spark image's entrypoint must be executable"
    assert os.access(DOCKER / "postgres-init.sh", os.X_OK)


def test_images_share_python_java_and_pinned_dependencies():
    """Executors run the driver's Python (PYSPARK_PYTHON): same base image, same path, same pins."""
    base = {}
    for image, path in DOCKERFILES.items():
        steps = dockerfile(path)
        base[image] = [a for w, a in steps if w == "FROM"]
        run = " ".join(a for w, a in steps if w == "RUN")
        assert "openjdk-17-jre-headless" in run and "pip install -c constraints.txt" in run, image
        assert image_defaults(path)["env"].get("PYSPARK_PYTHON") == "/usr/local/bin/python", image
        assert [a for w, a in steps if w == "USER"] == ["journeys"], f"{image}: run as the non-root user"
    assert base["airflow"] == base["spark"] == ["python:3.11-slim-bookworm"]
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'requires-python = ">=3.11,<3.12"' in pyproject
    assert re.search(r"^airflow = \[", pyproject, re.M), "pyproject lost the [airflow] extra the image installs"


# --------------------------------------------------------------------------- settings


def test_every_compose_variable_is_in_env_example():
    used = compose_variables(load_compose())
    example = env_example()
    assert used, "the compose file uses no variables?"
    assert not used - set(example), f"used by compose.yaml but not in env.example: {sorted(used - set(example))}"
    assert not set(example) - used, f"in env.example but unused: {sorted(set(example) - used)}"
    # the database URLs agree with the PostgreSQL service's settings
    from sqlalchemy.engine import make_url

    for key, db in (("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", example["POSTGRES_DB"]),
                    ("JOURNEYS_CRM_URL", example["JOURNEYS_CRM_DB"])):
        url = make_url(example[key])
        assert url.drivername.startswith("postgresql"), key
        assert (url.host, url.port, url.database) == ("postgres", 5432, db), key
        assert (url.username, url.password) == (example["POSTGRES_USER"], example["POSTGRES_PASSWORD"]), key
    assert example["SPARK_MASTER_URL"].startswith("spark://")


SECRET_NAMES = re.compile(r"KEY|SECRET|PASSWORD|TOKEN", re.I)


def placeholder(value: str) -> bool:
    return value == "" or value.startswith("change-me")


def test_env_example_holds_no_real_secret():
    example = env_example()
    secrets = {k: v for k, v in example.items() if SECRET_NAMES.search(k)}
    assert {"POSTGRES_PASSWORD", "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY",
            "JOURNEYS_PII_KEY", "AIRFLOW__CORE__FERNET_KEY"} <= set(secrets)
    for key, value in secrets.items():
        assert placeholder(value), f"{key} in env.example must be empty or a change-me placeholder"
    from sqlalchemy.engine import make_url

    for key, value in example.items():
        if "://" in value and "@" in value:
            assert placeholder(make_url(value).password or ""), f"{key} holds a real password"
        # nothing that looks generated (long random-looking tokens) anywhere
        for token in re.findall(r"[A-Za-z0-9+/=_-]{24,}", value):
            assert "change-me" in token or not re.search(r"\d", token), f"{key} looks like a real secret"
    assert len(example["JOURNEYS_PII_KEY"]) >= 16, "the placeholder must pass the pipeline's length check"
    # the secrets have no defaults in compose: a missing one stops `docker compose up` with a message
    text = COMPOSE_FILE.read_text()
    for key in ("POSTGRES_PASSWORD", "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY", "JOURNEYS_PII_KEY"):
        assert re.search(r"\$\{" + key + r":\?", text), f"{key} must be required (${{{key}:?...}}) in compose.yaml"
    assert (DOCKER / ".gitignore").read_text().split().count(".env"), "docker/.env must stay out of git"


# --------------------------------------------------------------------------- the same commands


def test_every_container_command_is_run_by_a_test_outside_containers():
    commands = container_commands()
    assert len(commands) > 15
    assert not unaccounted(commands), "commands no test runs outside containers (add them to RUN_OUTSIDE " \
                                      "with the test that runs them):\n" + "\n".join(unaccounted(commands))
    seen = {cmd for _, cmd in commands}
    assert not set(RUN_OUTSIDE) - seen, f"stale RUN_OUTSIDE entries: {set(RUN_OUTSIDE) - seen}"
    assert not set(SETUP_STEPS) - seen, f"stale SETUP_STEPS entries: {set(SETUP_STEPS) - seen}"
    missing = []
    for test_file, function in set(RUN_OUTSIDE.values()):
        path = ROOT / test_file
        if not path.exists() or function not in functions_in(path):
            missing.append(f"{test_file}::{function}")
        elif EVIDENCE[test_file] not in path.read_text():
            missing.append(f"{test_file} never mentions {EVIDENCE[test_file]}")
    assert not missing, "tests that should run the containers' commands outside containers are missing: " \
                        + ", ".join(sorted(missing))
    # the Airflow test takes its commands from compose.yaml: those mapped to it are the commands of
    # the services it starts and the health checks of the services it checks
    from test_airflow_services import HEALTHCHECKED, STARTED

    covered = {cmd for where, cmd in commands if where.startswith("compose ") and (
        (where.endswith(": command") and where.split(":")[0].split()[1] in STARTED)
        or (where.endswith(": healthcheck") and where.split(":")[0].split()[1] in HEALTHCHECKED))}
    mapped = {cmd for cmd, runner in RUN_OUTSIDE.items() if runner == AIRFLOW_TEST}
    assert mapped <= covered, f"mapped to {AIRFLOW_TEST[0]} but not run by it: {mapped - covered}"

def test_build_steps_are_the_setup_the_tests_run_in():
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    for step, needles in SETUP_STEPS.items():
        for needle in needles:
            assert needle in setup, f"scripts/setup.sh does not do what the image's `{step}` does ({needle})"
    assert "bash scripts/setup.sh" in (ROOT / "scripts" / "test.sh").read_text()
    assert "scripts/test.sh" in (ROOT / ".ci" / "run").read_text()


def test_an_unmapped_command_is_caught():
    assert unaccounted([("compose x: command", "python -m jobs.something")]) == \
        ["compose x: command: python -m jobs.something"]
    assert unaccounted([("compose x: command", "rm -rf /")]) == ["compose x: command: rm -rf /"]
    assert unaccounted([("Dockerfile.x: RUN", "mkdir -p /data")]) == []
    assert compose_variables({"a": ["${A:?x}", "$B", "$$C", "${D:-1}"]}) == {"A", "B", "D"}
    assert interpolate("${A:-x}-${B-y}-$$", {"A": "", "B": ""}) == "x--$"


# --------------------------------------------------------------------------- two commands, run here


def test_postgres_init_script_creates_the_crm_database():
    """docker/postgres-init.sh, as the postgres image runs it at first start, on the local PostgreSQL."""
    import psycopg2

    db = f"journeys_crm_{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "PGHOST": "127.0.0.1", "PGPORT": "5432", "POSTGRES_USER": "postgres",
           "POSTGRES_DB": "postgres", "JOURNEYS_CRM_DB": db}
    try:
        conn = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres", connect_timeout=3)
    except psycopg2.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at 127.0.0.1:5432 ({exc}); .ci/run starts it")
    conn.autocommit = True
    try:
        for _ in range(2):   # idempotent
            done = subprocess.run(["bash", str(DOCKER / "postgres-init.sh")], env=env, capture_output=True,
                                  text=True, timeout=60)
            assert done.returncode == 0, done.stdout + done.stderr
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_database WHERE datname = %s", (db,))
            assert cur.fetchone()[0] == 1
    finally:
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{db}"')
        conn.close()
    bad = subprocess.run(["bash", str(DOCKER / "postgres-init.sh")], env={**env, "JOURNEYS_CRM_DB": ""},
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "JOURNEYS_CRM_DB" in bad.stderr


def test_spark_master_healthcheck_outside_containers(tmp_path):
    """The spark-master service's health check against a master started by scripts/spark-node.sh
    (as the Spark image runs it) on 127.0.0.1: unhealthy before, healthy once the master is up."""
    services = resolved_compose()["services"]
    check = as_list(services["spark-master"]["healthcheck"]["test"])[1:]
    webui_in_container = as_list(services["spark-master"]["command"])[3]
    port, webui = free_port(), free_port()
    local_url = f"http://127.0.0.1:{webui}/json/"
    cmd = [c.replace(f"http://localhost:{webui_in_container}/json/", local_url) for c in check]
    assert local_url in cmd, f"unexpected health check {check}"
    cmd = [sys.executable if c == "python" else str(DOCKER / "healthcheck.py") if c.endswith("docker/healthcheck.py")
           else c for c in cmd]
    assert subprocess.run(cmd, capture_output=True, timeout=30).returncode == 1, "healthy before the master runs?"

    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "SPARK_LOCAL_IP": "127.0.0.1"}
    log = tmp_path / "master.log"
    with open(log, "wb") as out:
        master = subprocess.Popen([str(ROOT / "scripts" / "spark-node.sh"), "master", "127.0.0.1", str(port),
                                   str(webui)], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
            if done.returncode == 0:
                break
            assert master.poll() is None, f"the master exited:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"never healthy: {done.stderr}\n{log.read_text()[-3000:]}"
            time.sleep(1)
    finally:
        os.killpg(master.pid, signal.SIGTERM)
        try:
            master.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(master.pid, signal.SIGKILL)
            master.wait(timeout=30)
