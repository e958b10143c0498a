"""A real Prefect server on loopback, deployed from prefect.yaml, with process workers.

The server keeps its database in a throwaway PostgreSQL database, as the README's production
section runs it: on SQLite, several workers' concurrent writes meet 503s and client back-offs.

Used by the deployment end-to-end and scale-out tests. Everything runs in subprocesses with
their own ``PREFECT_HOME`` (the pytest process may hold a test harness's settings), and the
tests talk to the server's REST API with httpx. One stack per pytest process, started on
first use and stopped at exit, so the two slow modules share its start-up cost (under xdist
they carry the ``STACK_GROUP`` mark, which keeps them on one worker).
"""

from __future__ import annotations

import atexit
import os
import random
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests import pg

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
WEBHOOK_SECRET_ENV = "SOCMED_E2E_APP_SECRET"
VERIFY_TOKEN_ENV = "SOCMED_E2E_VERIFY_TOKEN"
# The xdist group of the modules that share the stack: one pytest worker runs them all, once.
STACK_GROUP = "prefect-stack"


def free_port() -> int:
    """A port nobody uses right now, below the kernel's ephemeral range.

    A port the kernel hands out (a bind to port 0) comes from the range it also takes the
    local ports of outgoing connections from, so between choosing it and a server binding
    it, any client connection may take it: the webhook receiver of ``test_deploy_e2e``, bound
    a minute after its port was chosen, once failed with "address already in use". Below that
    range a port is only ever taken by an explicit bind.
    """
    low = _ephemeral_low()
    for _ in range(200):
        port = _RANDOM.randrange(max(1024, low - 12_000), low)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port below {low} after 200 tries")


_RANDOM = random.SystemRandom()  # xdist workers must not share a seed


def _ephemeral_low() -> int:
    """The first port of the kernel's ephemeral range (Linux), else IANA's 49152."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 49_152


def wait_for(check: Callable[[], Any], timeout: float, what: str, every: float = 0.25) -> Any:
    """Poll until ``check()`` is truthy; its value, or AssertionError naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


@dataclass
class PrefectStack:
    """A Prefect server subprocess and the processes started against it."""

    home: Path
    database_url: str  # the server's own database
    port: int = field(default_factory=free_port)
    procs: list[tuple[subprocess.Popen[bytes], Path]] = field(default_factory=list)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self, **extra: str) -> dict[str, str]:
        """A clean environment for a Prefect client process of this stack."""
        base = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        return {
            **base,
            "PREFECT_HOME": str(self.home),
            "PREFECT_API_URL": self.api_url,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_WORKER_QUERY_SECONDS": "1",
            "PREFECT_WORKER_PREFETCH_SECONDS": "5",
            "PREFECT_LOGGING_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
            **extra,
        }

    def start(self) -> None:
        """Start the server (scheduler off: no hundred future runs per schedule) and wait."""
        env = self.env(
            PREFECT_UI_API_URL=self.api_url,
            PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED="false",
            PREFECT_SERVER_DATABASE_CONNECTION_URL=self.database_url,
        )
        del env["PREFECT_API_URL"]
        self.spawn(
            "server",
            [
                str(BIN / "prefect"),
                "server",
                "start",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--no-scheduler",
                "--analytics-off",
            ],
            env,
        )
        wait_for(self._healthy, 180, "the Prefect server to answer /api/health", every=0.5)

    def _healthy(self) -> bool:
        self.check_alive()
        try:
            return httpx.get(f"{self.api_url}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def spawn(
        self, name: str, args: list[str], env: dict[str, str], cwd: Path = ROOT
    ) -> subprocess.Popen[bytes]:
        """Start a process whose output goes to ``<home>/<name>.log``."""
        log = self.home / f"{name}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                args, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.procs.append((proc, log))
        return proc

    def check_alive(self) -> None:
        """Fail with its log if a started process died."""
        for proc, log in self.procs:
            if proc.poll() is not None:
                raise AssertionError(f"{log.name} exited with {proc.returncode}:\n{log.read_text()[-4000:]}")

    def run(
        self, args: list[str], env: dict[str, str] | None = None, cwd: Path = ROOT, timeout: float = 240
    ) -> str:
        """Run a command to completion against this stack; its output (AssertionError if it fails)."""
        done = subprocess.run(
            args, cwd=cwd, env=env or self.env(), capture_output=True, text=True, timeout=timeout, check=False
        )
        if done.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        return done.stdout + done.stderr

    def api(self, method: str, path: str, json: Any = None) -> Any:
        """One REST call; the decoded JSON answer (None when empty)."""
        response = httpx.request(method, f"{self.api_url}{path}", json=json, timeout=30)
        response.raise_for_status()
        return response.json() if response.content else None

    def start_worker(
        self, name: str, project: Path, env: dict[str, str], limit: int | None = None
    ) -> subprocess.Popen[bytes]:
        """A process worker of the socmed pool running flows from ``project``, with extra ``env``."""
        args = [
            str(BIN / "prefect"),
            "worker",
            "start",
            "--pool",
            "socmed",
            "--name",
            name,
            "--type",
            "process",
        ]
        if limit is not None:
            args += ["--limit", str(limit)]
        return self.spawn(f"worker-{name}", args, self.env(SOCMED_PROJECT_DIR=str(project), **env))

    def stop_process(self, proc: subprocess.Popen[bytes]) -> None:
        """Stop one process started here (and forget it)."""
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.procs = [(p, log) for p, log in self.procs if p is not proc]

    def log(self, proc: subprocess.Popen[bytes]) -> str:
        """What a process started here wrote so far."""
        return next(log for p, log in self.procs if p is proc).read_text(errors="replace")

    def stop(self) -> None:
        """Stop every process, newest first."""
        for proc, _ in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for proc, _ in reversed(self.procs):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.procs.clear()


@dataclass
class Deployed:
    """A stack deployed from prefect.yaml: the pool, the automations and the deployments."""

    stack: PrefectStack
    deployments: dict[str, str]  # name -> id
    setup_seconds: float


_DEPLOYED: Deployed | None = None


def deployed_stack(tmp_root: Path, config: Path) -> Deployed:
    """The process-wide stack: server up, pool created, automations applied, deployed (once)."""
    global _DEPLOYED
    if _DEPLOYED is not None:
        return _DEPLOYED
    started = time.monotonic()
    home = tmp_root / "prefect-home"
    home.mkdir(parents=True, exist_ok=True)
    database = pg.create()
    stack = PrefectStack(home, pg.dsn(database, "asyncpg"))
    atexit.register(pg.drop, database)  # atexit runs last-in first-out: stop, then remove
    atexit.register(shutil.rmtree, home, True)
    atexit.register(stack.stop)
    stack.start()
    script = (
        f"{BIN / 'prefect'} work-pool create socmed --type process && "
        f"{BIN / 'socmed'} automations apply --config {config} && "
        f"{BIN / 'prefect'} --no-prompt deploy --all"
    )
    stack.run(["bash", "-c", script])
    found = stack.api("POST", "/deployments/filter", {"limit": 100})
    _DEPLOYED = Deployed(stack, {d["name"]: d["id"] for d in found}, time.monotonic() - started)
    return _DEPLOYED


def project_dir(root: Path) -> Path:
    """A project folder like a user's checkout: flows/ from this repository beside a socmed.toml."""
    root.mkdir(parents=True, exist_ok=True)
    link = root / "flows"
    if not link.exists():
        link.symlink_to(ROOT / "flows", target_is_directory=True)
    return root


class Browser:
    """Headless Chromium driven over the DevTools protocol (no extra dependency: websockets ships
    with Prefect): navigate, click, read the rendered text, take a screenshot."""

    FLAGS = (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1100",
        "--remote-debugging-port=0",
    )

    def __init__(self, profile: Path, binary: str = "/usr/bin/chromium") -> None:
        profile.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [binary, *self.FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        port_file = profile / "DevToolsActivePort"
        wait_for(port_file.exists, 60, "Chromium's DevTools port")
        port = wait_for(lambda: port_file.read_text().split("\n")[0], 10, "the port number")
        pages = wait_for(
            lambda: [
                t for t in httpx.get(f"http://127.0.0.1:{port}/json/list").json() if t["type"] == "page"
            ],
            30,
            "a page target",
        )
        from websockets.sync.client import connect

        self.ws = connect(pages[0]["webSocketDebuggerUrl"], max_size=None)
        self.seq = 0

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """One DevTools command; its result (events in between are skipped)."""
        import json

        self.seq += 1
        self.ws.send(json.dumps({"id": self.seq, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv(timeout=60))
            if message.get("id") == self.seq:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    def goto(self, url: str) -> None:
        self.call("Page.navigate", url=url)

    def text(self) -> str:
        return str(self.evaluate("document.body ? document.body.innerText : ''") or "")

    def screenshot(self, path: Path) -> None:
        import base64

        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"]))

    def close(self) -> None:
        self.ws.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def assert_loaded_exactly_once(url: str, data: Any, snapshot: Any) -> None:
    """Every post and its counters, and every account snapshot, once: the sandbox's own totals.

    ``e2e_helpers.assert_matches_truth`` also compares the account insights of the last two
    platform days, which the sandbox only knows up to midnight UTC of its ``as_of`` date; this
    check leaves them out, so it holds at any hour.
    """
    from tests.e2e_helpers import query

    for account in data.accounts:
        truth = data.expected(account.id)
        facts = query(
            url,
            "SELECT count(*), count(DISTINCT content_id), sum(likes), sum(comments), sum(views), sum(reach) "
            "FROM content_metrics_daily WHERE channel_id = :c AND snapshot_date = :d",
            c=account.id,
            d=snapshot,
        )
        n = truth["media_count"]
        expected = (
            n,
            n,
            truth["like_count_sum"],
            truth["comments_count_sum"],
            truth["views_sum"],
            truth["reach_sum"],
        )
        assert [tuple(int(v) for v in facts[0])] == [expected], account.username
        assert query(url, "SELECT count(*) FROM content WHERE channel_id = :c", c=account.id) == [(n,)]
        followers = query(
            url,
            "SELECT followers, posts_count FROM channel_metrics_daily "
            "WHERE channel_id = :c AND snapshot_date = :d",
            c=account.id,
            d=snapshot,
        )
        assert followers == [(truth["followers_count"], n)], account.username
