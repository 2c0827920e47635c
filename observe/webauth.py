"""HTTP basic auth credentials for the exporter's endpoint, as a configuration value.

``--web-basic-auth USER:SECRET``: SECRET is the password itself or ``sha256:<hex digest of the
password>`` so that a config file need not hold the password in clear. Prefer the environment
(``OBSERVE_WEB_BASIC_AUTH``) or the config file to the flag: flags show in ``ps``. The value
prints as ``USER:***`` everywhere (``observe config`` included).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass, field

_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True, slots=True)
class BasicAuth:
    """A user and a password (or its SHA-256) that requests must present."""

    user: str
    secret: str = field(repr=False)

    @classmethod
    def parse(cls, text: str) -> BasicAuth:
        """``USER:PASSWORD`` or ``USER:sha256:<64 hex digits>``.

        Raises:
            ValueError: no user, no password, or a malformed digest.
        """
        user, sep, secret = text.partition(":")
        if not sep or not user or not secret:
            raise ValueError("expected USER:PASSWORD or USER:sha256:<hex digest>")
        if secret.startswith("sha256:"):
            digest = secret[len("sha256:"):].lower()
            if len(digest) != 64 or not set(digest) <= _HEX:
                raise ValueError("a sha256: secret needs the 64 hex digits of the password's SHA-256")
            secret = "sha256:" + digest
        return cls(user, secret)

    def __str__(self) -> str:
        return f"{self.user}:***"

    def matches(self, user: str, password: str) -> bool:
        """True for the right user and password; constant-time comparisons."""
        if self.secret.startswith("sha256:"):
            expected = self.secret[len("sha256:"):].encode()
            given = hashlib.sha256(password.encode()).hexdigest().encode()
        else:
            expected, given = self.secret.encode(), password.encode()
        user_ok = hmac.compare_digest(user.encode(), self.user.encode())
        return hmac.compare_digest(given, expected) and user_ok

    def check_header(self, header: str | None) -> bool:
        """True when an ``Authorization: Basic ...`` header carries these credentials."""
        if not header or not header.lower().startswith("basic "):
            return False
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, sep, password = decoded.partition(":")
        return bool(sep) and self.matches(user, password)
