"""GE's unused start-up imports (altair, scipy.stats) wait for first use, and still work then."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from validation.deferred import DeferredModule, defer

ROOT = Path(__file__).resolve().parent.parent


def _run(code: str) -> list[str]:
    """Run code in a fresh interpreter from the repository root; its stdout lines."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.splitlines()


def test_validating_a_batch_never_imports_altair_or_scipy_stats() -> None:
    out = _run(
        """
        import sys
        from datetime import UTC, datetime
        import polars as pl
        from transforms.schemas import empty
        from validation import validate_batch
        row = {
            "platform": ["instagram"], "channel_id": ["1"], "handle": ["kota"], "display_name": ["Kota"],
            "url": ["https://www.instagram.com/kota/"], "timezone": ["Asia/Jakarta"],
            "fetched_at": [datetime(2026, 11, 20, tzinfo=UTC)], "run_id": ["r"],
            "raw_file": ["raw/x.json.gz"],
        }
        frame = pl.DataFrame(row, schema=empty("channel").schema)
        result = validate_batch({"channel": frame}, datetime(2026, 11, 21, tzinfo=UTC))["channel"]
        print(result.good.height, result.quarantined.height)
        print(sorted(m for m in sys.modules if m.startswith(("altair.", "scipy.stats."))))
        print(type(sys.modules["altair"]).__name__, type(sys.modules["scipy.stats"]).__name__)
        """
    )
    assert out == ["1 0", "[]", "DeferredModule DeferredModule"]


def test_ge_s_own_use_of_them_imports_the_real_modules() -> None:
    out = _run(
        """
        import math, sys
        import validation
        from great_expectations.expectations.core import expect_column_kl_divergence_to_be_less_than as kl
        from scipy.stats import entropy
        expected = 0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75)
        print(math.isclose(kl.stats.entropy([1, 1], [1, 3]), expected), kl.stats.entropy is entropy)
        stats = sys.modules["scipy.stats"]
        print(type(stats).__name__, sys.modules["scipy"].stats is stats)
        print(kl.alt.Chart.__name__, type(sys.modules["altair"]).__name__)
        """
    )
    assert out == ["True True", "module True", "Chart module"]


def test_a_deferred_module_imports_on_first_attribute_and_forwards(monkeypatch: pytest.MonkeyPatch) -> None:
    name = "colorsys"
    monkeypatch.delitem(sys.modules, name, raising=False)
    defer((name,))
    stand_in = sys.modules[name]
    assert isinstance(stand_in, DeferredModule)
    import colorsys  # the import statement binds the stand-in and imports nothing

    assert colorsys is stand_in and sys.modules[name] is stand_in
    assert colorsys.rgb_to_hsv(1.0, 0.0, 0.0) == (0.0, 1.0, 1.0)
    real = sys.modules[name]
    assert real is not stand_in and not isinstance(real, DeferredModule)
    from colorsys import hsv_to_rgb

    assert hsv_to_rgb is real.hsv_to_rgb and colorsys.hsv_to_rgb is real.hsv_to_rgb
    defer((name,))  # already imported: left alone
    assert sys.modules[name] is real


def test_a_module_that_is_not_installed_gets_no_stand_in() -> None:
    name = "socmed_no_such_module_anywhere"
    defer((name,))
    assert name not in sys.modules
    with pytest.raises(ModuleNotFoundError):
        __import__(name)
