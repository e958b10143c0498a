"""`socmed sandbox serve`: every platform of the demo hub on loopback, and a config to reach them."""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
import threading
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from sandbox import hub
from sandbox.data import SandboxData
from sandbox.x_data import USER_ID

SOCMED = Path(sys.executable).with_name("socmed")
KOTA = "17841401000000001"


def read_until_ready(proc: subprocess.Popen[str], timeout: float = 60.0) -> list[str]:
    """The lines the command prints up to its "Ctrl-C ... to stop." line."""
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("Ctrl-C (or SIGTERM) to stop."):
                ready.set()
                return

    threading.Thread(target=read, daemon=True).start()
    assert ready.wait(timeout), "\n".join(lines)
    return lines


def test_serve_starts_every_hub_sandbox_and_prints_their_urls_and_config() -> None:
    proc = subprocess.Popen([str(SOCMED), "sandbox", "serve", "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        lines = read_until_ready(proc)
        today = dt.datetime.now(dt.UTC).date()
        urls = dict(line.split() for line in lines[:lines.index("")])
        assert list(urls) == [item.platform for item in hub.SANDBOXES]
        credentials = lines.index("# and their (sandbox, not secret) credentials:")
        config = tomllib.loads("\n".join(lines[lines.index("") + 1:credentials]))
        env = dict(line.removeprefix("export ").split("=", 1) for line in lines if line.startswith("export "))
        assert {p: t["base_url"] for p, t in config["platforms"].items()} == {
            p: urls[p] for p in ("instagram", "facebook", "tiktok", "youtube", "x")}
        channels = {c["platform"]: c for c in config["channels"]}
        assert channels["website"]["base_url"] == urls["website"]
        assert Path(channels["manual"]["watch_dir"]) == Path(urlsplit(urls["manual"]).path)
        assert sorted(p.name for p in Path(channels["manual"]["watch_dir"]).iterdir()) == [
            "channel_metrics_daily.csv", "content.csv", "content_metrics_daily.csv"]
        token = env[config["platforms"]["instagram"]["token_env"]]
        account = httpx.get(f"{urls['instagram']}/v24.0/{KOTA}", params={"fields": "followers_count",
                                                                          "access_token": token})
        truth = SandboxData(today, 7).expected(KOTA)["followers_count"]
        assert account.status_code == 200 and account.json() == {"followers_count": truth}
        user = httpx.get(f"{urls['x']}/2/users/{USER_ID}", params={"user.fields": "username"},
                         headers={"Authorization": f"Bearer {env[config['platforms']['x']['token_env']]}"})
        assert user.status_code == 200 and user.json()["data"]["id"] == USER_ID
        for platform in ("facebook", "tiktok", "youtube", "website"):
            assert httpx.get(urls[platform]).status_code in (400, 401, 404), platform
    finally:
        proc.send_signal(signal.SIGTERM)  # a background job may ignore SIGINT
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert out.strip().endswith("stopped")


def test_serve_names_an_unknown_platform() -> None:
    done = subprocess.run([str(SOCMED), "sandbox", "serve", "--platform", "myspace"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    known = "instagram, facebook, tiktok, website, manual, youtube, x"
    assert f"--platform: no sandbox for myspace (known: {known})" in done.stderr
