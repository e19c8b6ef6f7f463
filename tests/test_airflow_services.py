"""The Airflow services of docker/compose.yaml, run outside containers with the compose file's
own commands and settings: `airflow db migrate`, then the API server, scheduler, DAG processor
and triggerer, on a fresh AIRFLOW_HOME with the metadata database on the local PostgreSQL (a
database of its own, dropped afterwards) and the project's dags/. The test waits until the API
server's health endpoint reports every component healthy, runs each service's compose health
check, checks that `journeys_nightly` was parsed (REST API, simple auth manager login), and
stops every process it started.

Only what names a container (service host names, /opt/journeys paths, the container port) is
replaced by its local equivalent (local_settings, local_command); the log servers get free
ports so parallel runs on one machine do not collide.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from test_docker import (DOCKERFILES, IMAGE_REPO, ROOT, as_list, free_port, image_defaults, resolved_compose)

BIN = Path(sys.executable).parent
STARTED = ("airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer")
HEALTHCHECKED = ("postgres", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer")
COMPONENTS = ("metadatabase", "scheduler", "triggerer", "dag_processor")
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
CONTAINER_NAMES = ("postgres:", "@postgres", "airflow-apiserver", "spark-master", "spark-worker", IMAGE_REPO)

pytestmark = pytest.mark.slow


def local_settings(db: str, port: int) -> dict[str, str]:
    """The settings of the compose file that name containers, as they are on this machine."""
    url = f"postgresql+psycopg2://{PG['user']}@{PG['host']}:{PG['port']}/{db}"
    return {
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": url,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "JOURNEYS_CONFIG": str(ROOT / "docker" / "journeys.yaml"),
        "JOURNEYS_CRM_URL": url,
        "AIRFLOW_CONN_SPARK_DEFAULT": "spark://127.0.0.1:7077",   # nothing is submitted here
        "PYSPARK_PYTHON": sys.executable,
    }


def service_env(svc: dict, base: dict[str, str], local: dict[str, str]) -> dict[str, str]:
    image_env = image_defaults(DOCKERFILES["airflow"])["env"]
    env = {**base, **image_env, **{k: str(v) for k, v in (svc.get("environment") or {}).items()}}
    env.update({k: v for k, v in local.items() if k in env})
    leaked = {k: v for k, v in env.items() if k in {**image_env, **(svc.get("environment") or {})}
              and k != "AIRFLOW_HOME" and any(n in v for n in CONTAINER_NAMES)}
    assert not leaked, f"settings that name containers need a local value in local_settings(): {leaked}"
    return env


def local_command(argv: list[str], port: int, db: str) -> list[str]:
    """A compose command as it runs here: the API server on a free loopback port, paths in the repo."""
    out = list(argv)
    for flag, value in (("--port", str(port)), ("--host", "127.0.0.1")):
        if flag in out:
            out[out.index(flag) + 1] = value
    if out[0] == "pg_isready":
        out[out.index("-d") + 1] = db
        out += ["-h", PG["host"], "-p", str(PG["port"])]
    out = [a.replace("http://localhost:8080/", f"http://127.0.0.1:{port}/") for a in out]
    out = [str(ROOT / a[len(IMAGE_REPO) + 1:]) if a.startswith(IMAGE_REPO + "/") else a for a in out]
    if out[0] == "python":
        out[0] = sys.executable
    elif out[0] == "airflow":
        out[0] = str(BIN / "airflow")
    return out


def http(url: str, token: str | None = None, data: dict | None = None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"} if data is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=json.dumps(data).encode() if data is not None else None, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, {}


class Processes:
    """Processes started in process groups of their own; stop() ends them and all they spawned."""

    def __init__(self, logs: Path):
        self.logs = logs
        self.procs: dict[str, subprocess.Popen] = {}    # the services: must keep running
        self.checks: dict[str, subprocess.Popen] = {}   # one-shot commands: must exit 0

    def _popen(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen:
        with open(self.logs / f"{name}.log", "wb") as out:
            return subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                    cwd=self.logs)

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        self.procs[name] = self._popen(name, argv, env)

    def start_check(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        self.checks[name] = self._popen(name, argv, env)

    def wait_check(self, name: str, timeout: float) -> tuple[int, str]:
        code = self.checks[name].wait(timeout=timeout)
        return code, (self.logs / f"{name}.log").read_text(errors="replace")

    def tail(self, name: str, lines: int = 40) -> str:
        text = (self.logs / f"{name}.log").read_text(errors="replace").splitlines()
        return f"--- {name} (exit {self.procs[name].poll()}):\n" + "\n".join(text[-lines:])

    def check_alive(self) -> None:
        dead = [n for n, p in self.procs.items() if p.poll() is not None]
        assert not dead, "exited early:\n" + "\n".join(self.tail(n) for n in dead)

    def stop(self) -> tuple[list[str], list[str]]:
        """SIGTERM to every group, SIGKILL to what is left after 30 s. Returns (what needed SIGKILL,
        what was still alive in our groups afterwards: strays, killed too)."""
        import psutil

        began = time.time()
        started = {**self.procs, **self.checks}
        groups = {p.pid for p in started.values()}   # start_new_session: group id = the leader's pid
        family = []
        for p in started.values():
            try:
                root = psutil.Process(p.pid)
                family += [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                pass
        for p in started.values():
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        _, alive = psutil.wait_procs(family, timeout=30)
        killed = []
        for q in alive:   # psutil checks the process is still the one recorded before signalling
            try:
                killed.append(f"{q.pid} {' '.join(q.cmdline()[:3])}")
                q.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(alive, timeout=10)
        for p in started.values():
            p.wait(timeout=10)
        strays = []
        for q in psutil.process_iter():
            try:
                # created before stop(): a process made later may reuse the id of a group that is gone
                if (os.getpgid(q.pid) in groups and q.create_time() < began
                        and q.status() != psutil.STATUS_ZOMBIE):
                    strays.append(f"{q.pid} {' '.join(q.cmdline()[:3])}")
                    q.kill()
            except (psutil.NoSuchProcess, ProcessLookupError):
                pass
        return killed, strays


@pytest.fixture
def metadata_db():
    """A database of its own on the local PostgreSQL, as the compose file's postgres service holds."""
    import psycopg2

    try:
        conn = psycopg2.connect(dbname="postgres", connect_timeout=3, **PG)
    except psycopg2.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at {PG['host']}:{PG['port']} ({str(exc).strip()}); start it "
                    "(.ci/run does: pg_ctlcluster --skip-systemctl-redirect <version> main start)")
    conn.autocommit = True
    name = f"journeys_airflow_{uuid.uuid4().hex[:8]}"
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()


def test_airflow_services_start_and_report_healthy(tmp_path, metadata_db):
    t0 = time.monotonic()
    timings = {}
    services = resolved_compose()["services"]
    port = free_port()
    home = tmp_path / "airflow"
    logs = tmp_path / "logs"
    logs.mkdir()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("JOURNEYS_", "AIRFLOW", "PYSPARK"))}
    base = {**clean, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            # not in the compose file: one machine may run several of these tests at once
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port())}
    local = local_settings(metadata_db, port)

    def env_of(name):
        return {**service_env(services[name], base, local), "AIRFLOW_HOME": str(home)}

    assert shutil.which("pg_isready"), "pg_isready (postgresql-client) is needed: the postgres health check"
    procs = Processes(logs)
    try:
        # 1. the one-shot schema migration (airflow-init)
        migrate = local_command(as_list(services["airflow-init"]["command"]), port, metadata_db)
        done = subprocess.run(migrate, env=env_of("airflow-init"), capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"{migrate}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        timings["db migrate"] = time.monotonic() - t0

        # 2. the four long-running services, with their compose commands
        for name in STARTED[1:]:
            procs.start(name, local_command(as_list(services[name]["command"]), port, metadata_db), env_of(name))

        # 3. the API server's health endpoint: every component healthy (the api-server's compose
        #    health check, with every component instead of the metadatabase alone)
        api_check = local_command(as_list(services["airflow-apiserver"]["healthcheck"]["test"])[1:], port,
                                  metadata_db)
        assert api_check[2] == f"http://127.0.0.1:{port}/api/v2/monitor/health", api_check
        all_healthy = api_check[:3] + [f"{c}.status=healthy" for c in COMPONENTS]
        deadline = time.monotonic() + 240
        while True:
            done = subprocess.run(all_healthy, capture_output=True, text=True, timeout=30)
            if done.returncode == 0:
                break
            procs.check_alive()
            assert time.monotonic() < deadline, f"not healthy: {done.stderr}\n" + "\n".join(
                procs.tail(n) for n in procs.procs)
            time.sleep(1)
        timings["all healthy"] = time.monotonic() - t0
        status, health = http(api_check[2])
        assert status == 200 and all(health[c]["status"] == "healthy" for c in COMPONENTS), health

        # 4. every service's own compose health check, as the containers run it (in the background
        #    while the DAG is looked up: each `airflow jobs check` spends seconds importing Airflow)
        checks = {name: local_command(as_list(services[name]["healthcheck"]["test"])[1:], port, metadata_db)
                  for name in HEALTHCHECKED}
        for name, cmd in checks.items():
            procs.start_check(f"healthcheck-{name}", cmd, env_of(name) if name != "postgres" else base)

        # 5. the DAG was parsed: the simple auth manager's generated password, a token, the REST API
        assert http(f"http://127.0.0.1:{port}/api/v2/dags")[0] == 401, "the API must require a login"
        passwords = json.loads((home / "simple_auth_manager_passwords.json.generated").read_text())
        user = services["airflow-apiserver"]["environment"]["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"].split(":")[0]
        status, body = http(f"http://127.0.0.1:{port}/auth/token", data={"username": user,
                                                                         "password": passwords[user]})
        assert status in (200, 201), (status, body)
        token = body["access_token"]
        while True:
            status, dag = http(f"http://127.0.0.1:{port}/api/v2/dags/journeys_nightly", token)
            if status == 200:
                break
            procs.check_alive()
            assert time.monotonic() < deadline, f"journeys_nightly never appeared:\n{procs.tail('airflow-dag-processor')}"
            time.sleep(1)
        assert dag["dag_id"] == "journeys_nightly" and dag["is_paused"] is True, dag   # paused at creation
        assert {"journeys", "nightly"} <= {t["name"] for t in dag["tags"]}, dag
        status, errors = http(f"http://127.0.0.1:{port}/api/v2/importErrors", token)
        assert status == 200 and errors["total_entries"] == 0, errors
        timings["dag parsed"] = time.monotonic() - t0
        for name, cmd in checks.items():
            code, out = procs.wait_check(f"healthcheck-{name}", timeout=180)
            assert code == 0, f"{name} health check {cmd} failed:\n{out[-2000:]}"
        timings["health checks"] = time.monotonic() - t0
        procs.check_alive()
    finally:
        killed, strays = procs.stop()
    timings["stopped"] = time.monotonic() - t0
    print("\nairflow services: " + ", ".join(f"{k} {v:.0f}s" for k, v in timings.items()))
    if killed:
        print(f"needed SIGKILL after 30 s: {killed}")
    assert not strays, f"left running in our process groups after stopping: {strays}"
