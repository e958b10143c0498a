"""socmed.allocators: each allocator is tuned before its first use, and the user's settings win.

Every check runs in a fresh interpreter, since the settings are per process and the test
process has long loaded Polars and pyarrow.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from socmed.allocators import POLARS_CONF

ROOT = Path(__file__).resolve().parent.parent
TUNING_VARS = (
    "_RJEM_MALLOC_CONF",
    "ARROW_DEFAULT_MEMORY_POOL",
    "MALLOC_MMAP_THRESHOLD_",
    "SOCMED_TUNE_ALLOCATORS",
)


def _fresh_env(**env: str) -> dict[str, str]:
    """This environment without any tuning variable, the checkout importable, plus ``env``."""
    clean = {k: v for k, v in os.environ.items() if k not in TUNING_VARS}
    return {**clean, "PYTHONPATH": str(ROOT), **env}


def _run(code: str, **env: str) -> dict:
    """Run ``code`` in a fresh interpreter; the JSON it prints last."""
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=_fresh_env(**env),
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


STATE = """
import json, os
import pyarrow
from socmed import allocators
print(json.dumps({
    "applied": allocators.applied,
    "rjem": os.environ.get("_RJEM_MALLOC_CONF"),
    "pool": pyarrow.default_memory_pool().backend_name,
}))
"""


def test_a_pipeline_package_tunes_all_three_before_polars_loads() -> None:
    state = _run("import flows, polars\n" + STATE)
    assert state["rjem"].endswith(",muzzy_decay_ms:0")  # after Polars' own: jemalloc takes the last
    assert state["pool"] == "system"
    expected = {"_RJEM_MALLOC_CONF", "ARROW_DEFAULT_MEMORY_POOL"}
    if platform.libc_ver()[0] == "glibc":
        expected.add("M_MMAP_THRESHOLD")
    assert set(state["applied"]) == expected


def test_settings_the_user_made_win() -> None:
    state = _run(
        "import socmed\n" + STATE,
        _RJEM_MALLOC_CONF="dirty_decay_ms:5000",
        ARROW_DEFAULT_MEMORY_POOL="mimalloc",
        MALLOC_MMAP_THRESHOLD_="1048576",
    )
    assert state["applied"] == {}
    assert state["rjem"] == "dirty_decay_ms:5000"  # Polars appends it to its own when it loads
    assert state["pool"] == "mimalloc"


def test_the_tuning_can_be_turned_off() -> None:
    state = _run("import socmed\n" + STATE, SOCMED_TUNE_ALLOCATORS="0")
    assert state["applied"] == {}
    assert state["rjem"] is None
    assert state["pool"] != "system"


def test_polars_loaded_first_keeps_its_allocator_but_arrow_switches_at_once() -> None:
    before = "import polars, pyarrow\nassert pyarrow.default_memory_pool().backend_name != 'system'\n"
    state = _run(before + STATE)
    assert "muzzy_decay_ms:0" not in state["rjem"]  # too late: jemalloc read it when Polars loaded
    assert "_RJEM_MALLOC_CONF" not in state["applied"]
    assert state["pool"] == "system"


# glibc raises its mmap threshold to the size of a freed mapped block; with the threshold
# fixed, a 1 MiB block that follows a freed 8 MiB one is still mapped on its own.
MAPPED = """
import ctypes, json
import socmed

class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
        "keepcost")]

libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
libc.mallinfo2.restype = MallInfo2
libc.free(libc.malloc(8 << 20))
before = libc.mallinfo2().hblks
block = libc.malloc(1 << 20)
mapped = libc.mallinfo2().hblks - before
libc.free(block)
print(json.dumps({"mapped": mapped}))
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt")
def test_large_blocks_stay_on_their_own_mappings_after_a_large_free() -> None:
    assert _run(MAPPED)["mapped"] == 1
    assert _run(MAPPED, SOCMED_TUNE_ALLOCATORS="0")["mapped"] == 0  # glibc's default: the heap


ENTRYPOINT = """
import json, os, sys
from prefect.flows import load_flow_from_entrypoint
load_flow_from_entrypoint(sys.argv[1])
from socmed import allocators
print(json.dumps({"rjem": os.environ.get("_RJEM_MALLOC_CONF"), "applied": allocators.applied}))
"""


def test_every_deployment_entrypoint_loaded_as_prefect_loads_it_tunes_polars_in_time() -> None:
    """A worker loads ``flows/x.py`` by path, not as ``flows.x``: its first imports decide."""
    text = (ROOT / "prefect.yaml").read_text(encoding="utf-8")
    entrypoints = [
        line.split(":", 1)[1].strip() for line in text.splitlines() if line.strip().startswith("entrypoint:")
    ]
    scripts = {e.split(":")[0]: e for e in sorted(entrypoints)}  # a file's first imports decide
    assert scripts, "no entrypoints in prefect.yaml"
    procs = {
        script: subprocess.Popen(
            [sys.executable, "-c", ENTRYPOINT, entrypoint],
            env=_fresh_env(),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for script, entrypoint in scripts.items()
    }
    for script, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, f"{script}: {err[-2000:]}"
        state = json.loads(out.strip().splitlines()[-1])
        assert state["applied"].get("_RJEM_MALLOC_CONF") == POLARS_CONF, script
        assert state["rjem"].endswith(POLARS_CONF), script
