"""Keep secrets out of everything igs prints or writes.

igs never takes a database password: :func:`check_no_password` refuses a URL that carries one
(libpq reads it from ``PGPASSWORD`` or the password file instead), and :func:`redact_url` /
:func:`redact_urls` drop the user, password and query of every ``scheme://`` URL in a text.
:class:`RedactingFormatter` applies that to every log line.
"""

from __future__ import annotations

import logging
import re

from igs.errors import ConfigError

_URL = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*://)([^\s'\"<>]+)")


def redact_url(url: str) -> str:
    """A URL without its user, password and query: ``postgresql://***@host:5432/db?***``.

    Text that is not a ``scheme://`` URL is returned unchanged.
    """
    return _URL.sub(_redact_match, str(url))


def redact_urls(text: str) -> str:
    """``text`` with every ``scheme://`` URL in it redacted (see :func:`redact_url`)."""
    return _URL.sub(_redact_match, str(text))


def _redact_match(m: re.Match[str]) -> str:
    # the user part ends at the last "@" (a raw password may hold "/", "?" or "@"): when unsure,
    # hide more
    rest = m.group(2)
    at = rest.rfind("@")
    user, rest = ("***@", rest[at + 1 :]) if at >= 0 else ("", rest)
    if "?" in rest:
        rest = rest.split("?", 1)[0] + "?***"
    return f"{m.group(1)}{user}{rest}"


def check_no_password(url: str, where: str) -> None:
    """Refuse a database URL that carries a password (``user:pw@`` or ``password=``)."""
    text = str(url)
    if "://" not in text:
        return
    rest = text.split("://", 1)[1]
    userinfo = rest[: rest.rfind("@")] if "@" in rest else ""
    query = rest.split("?", 1)[1] if "?" in rest else ""
    in_query = any(
        part.split("=", 1)[0].strip().lower() == "password" for part in re.split("[&;]", query)
    )
    if ":" in userinfo or in_query:
        raise ConfigError(
            f"{where}: the URL {redact_url(text)} contains a password; igs never stores one. "
            "Remove it from the URL and give it in PGPASSWORD or ~/.pgpass (or the file named "
            "by PGPASSFILE), as libpq reads them."
        )


class RedactingFormatter(logging.Formatter):
    """A log formatter whose lines carry no URL user, password or query."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_urls(super().format(record))
