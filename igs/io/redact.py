"""Secrets out of text that is logged or written: database URLs without their password."""

from __future__ import annotations


def redact_url(url: str) -> str:
    """A URL without its password (``scheme://user:***@host/...``); other text unchanged."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}:***@{host}"
    return url
