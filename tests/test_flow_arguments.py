"""Task arguments Prefect should hand over without walking them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect.utilities.annotations import quote
from prefect.utilities.collections import StopVisiting, visit_collection
from prefect.utilities.engine import collect_task_run_inputs_sync, resolve_inputs_sync

from flows.tasks import untraversed
from socmed.config import ChannelSettings, load_settings


def _visited(expr: Any) -> list[Any]:
    """What Prefect's walk of a task argument reaches (it stops at a ``quote``, as its own do)."""
    seen: list[Any] = []

    def visit(obj: Any) -> Any:
        if isinstance(obj, quote):
            raise StopVisiting
        seen.append(obj)
        return obj

    visit_collection(expr, visit_fn=visit, return_data=False)
    return seen


def test_settings_reach_a_task_whole_and_unwalked(tmp_path: Path) -> None:
    channels = "".join(
        f'[[channels]]\nplatform = "instagram"\nhandle = "city_{i}"\naccount_id = "178414{i:011d}"\n\n'
        for i in range(50)
    )
    config = tmp_path / "socmed.toml"
    config.write_text(
        f'[pipeline]\ndata_dir = "{tmp_path / "data"}"\n\n'
        f'[warehouse]\nurl = "sqlite:///{tmp_path / "w.db"}"\n\n'
        f'[platforms.instagram]\ntoken_env = "IG_TOKEN"\n\n{channels}',
        encoding="utf-8",
    )
    settings = load_settings(config)
    assert len(settings.channels) == 50
    assert any(isinstance(x, ChannelSettings) for x in _visited(settings))  # Prefect's walk, unquoted
    assert not any(isinstance(x, ChannelSettings) for x in _visited(untraversed(settings)))
    assert collect_task_run_inputs_sync({"settings": untraversed(settings)}) == set()
    assert resolve_inputs_sync({"settings": untraversed(settings)})["settings"] is settings
