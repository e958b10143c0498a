"""The project's own Instagram Graph API sandbox: seeded data served over loopback HTTP."""

from sandbox.data import Account, Media, SandboxData
from sandbox.server import DEFAULT_TOKEN, Fault, RequestRecord, Sandbox

__all__ = ["DEFAULT_TOKEN", "Account", "Fault", "Media", "RequestRecord", "Sandbox", "SandboxData"]
