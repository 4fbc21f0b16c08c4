"""Masking secrets in configuration-like JSON: what ``config.show`` and ``arborctl diagnose`` print.

A value whose key contains one of the context redaction words (``daemon.context_policy.DEFAULT_REDACT``:
password, token, secret, api_key, authorization, ...) or one of ``EXTRA_SECRET_WORDS`` reads
``[redacted]``, and so does the password of any URL (``redis://app:[redacted]@cache:6379/0``) and
any query parameter named like a secret. The configuration in force is for reading by whoever may
talk to the control socket; its secrets are for the daemon alone.

>>> mask({"flags": {"redis": {"url": "redis://app:s3cr3t@cache:6379/2", "prefix": "arbord"}}})
{'flags': {'redis': {'url': 'redis://app:[redacted]@cache:6379/2', 'prefix': 'arbord'}}}
>>> mask({"servers": {"db": {"kwargs": {"db_password": "hunter2", "signing_key": "k", "user": "ada"}}}})
{'servers': {'db': {'kwargs': {'db_password': '[redacted]', 'signing_key': '[redacted]', 'user': 'ada'}}}}
>>> mask(["https://h/x?token=abc&page=2"])
['https://h/x?token=[redacted]&page=2']
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from daemon.context_policy import DEFAULT_REDACT, REDACTED

__all__ = ["EXTRA_SECRET_WORDS", "mask"]

EXTRA_SECRET_WORDS: Final = frozenset({"passphrase", "access_key", "secret_key", "signing_key", "dsn"})
"""Masked besides the context redaction words: key names that hold secrets in configuration files."""

_WORDS: Final = re.compile("|".join(map(re.escape, sorted(DEFAULT_REDACT | EXTRA_SECRET_WORDS))), re.I)
# scheme://user:PASSWORD@host  and  ?name=VALUE where name is a secret's.
_URL_PASSWORD: Final = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^/@\s:]*):[^@\s/]*@")
_QUERY_SECRET: Final = re.compile(r"(?P<head>[?&](?P<name>[^=&#\s]+)=)[^&#\s]*")


def _mask_text(text: str) -> str:
    text = _URL_PASSWORD.sub(lambda m: f"{m['head']}:{REDACTED}@", text)
    return _QUERY_SECRET.sub(lambda m: f"{m['head']}{REDACTED}" if _WORDS.search(m["name"]) else m[0], text)


def mask(value: Any) -> Any:
    """``value`` (decoded JSON) with every secret replaced by ``[redacted]`` (module docstring)."""
    if isinstance(value, Mapping):
        return {
            k: REDACTED if isinstance(k, str) and _WORDS.search(k) and v not in (None, "") else mask(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [mask(v) for v in value]
    if isinstance(value, str):
        return _mask_text(value)
    return value
