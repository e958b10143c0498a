"""The project's own platform API sandboxes: seeded data served over loopback HTTP."""

from sandbox.base import FakeApi
from sandbox.data import Account, Media, SandboxData
from sandbox.server import DEFAULT_TOKEN, Fault, RequestRecord, Sandbox

__all__ = ["DEFAULT_TOKEN", "Account", "FakeApi", "Fault", "Media", "RequestRecord", "Sandbox",
           "SandboxData"]
