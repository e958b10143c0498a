"""CLI: ``python -m sandbox --port 8765 --as-of 2026-11-27`` serves until Ctrl-C."""

from __future__ import annotations

import argparse
import datetime as dt
import threading

from sandbox.server import DEFAULT_TOKEN, Sandbox


def _parser() -> argparse.ArgumentParser:
    """Command-line options of the sandbox server."""
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default loopback)")
    parser.add_argument("--port", type=int, default=8765, help="port, 0 for an ephemeral one")
    parser.add_argument(
        "--as-of",
        type=dt.date.fromisoformat,
        default=dt.datetime.now(dt.UTC).date(),
        help="data date, YYYY-MM-DD (default: today, UTC)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument("--short-pages", action="store_true", help="serve short and empty pages")
    parser.add_argument("--extra-accounts", type=int, default=0)
    parser.add_argument("--media-per-account", type=int, default=None)
    return parser


def main(argv: list[str] | None = None) -> None:
    """Start the sandbox, print how to reach it, and serve until interrupted."""
    args = _parser().parse_args(argv)
    sandbox = Sandbox(
        as_of=args.as_of,
        seed=args.seed,
        token=args.token,
        host=args.host,
        port=args.port,
        short_pages=args.short_pages,
        extra_accounts=args.extra_accounts,
        media_per_account=args.media_per_account,
    )
    with sandbox:
        print(f"Instagram Graph API sandbox at {sandbox.base_url}/v24.0/ (as of {args.as_of})")
        print(f"access token: {sandbox.token}")
        for account in sandbox.data.accounts:
            print(f"  {account.id}  @{account.username}  {account.media_count} media")
        print("Ctrl-C to stop.", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("stopped")


if __name__ == "__main__":
    main()
