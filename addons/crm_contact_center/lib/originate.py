"""Click-to-dial: the outbound request that asks a PBX to originate a call.

No ``odoo`` import. The source's configuration is a URL, a method and a body
template; ``{extension}`` (the agent's phone) and ``{number}`` (the customer,
E.164) are replaced in the URL (URL-encoded) and in the body. The request is
signed with the source's signing secret the way the inbound API checks
signatures, so the PBX side can verify it came from Odoo:

- ``X-Timestamp`` (unix seconds) and ``X-Signature: sha256=<hex HMAC-SHA256 of
  "<timestamp>.<body>" keyed with the secret>`` (``lib.events.sign``);
- the Standard Webhooks headers ``webhook-id``, ``webhook-timestamp`` and
  ``webhook-signature: v1,<base64>`` (``lib.signatures.sign_webhook``).

Asterisk ARI, for example::

    >>> req = build_request(
    ...     "http://pbx:8088/ari/channels?endpoint=PJSIP/{extension}&extension={number}"
    ...     "&context=from-internal", "POST", "", "201", "+3225551234",
    ...     secret=None, timestamp=1700000000, msg_id="dial_1")
    >>> req.method, req.url
    ('POST', 'http://pbx:8088/ari/channels?endpoint=PJSIP/201&extension=%2B3225551234&context=from-internal')

A generic PBX with a JSON body::

    >>> req = build_request("https://pbx.example.com/api/dial", "POST",
    ...     '{"from": "{extension}", "to": "{number}"}', "201", "+3225551234",
    ...     secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", timestamp=1700000000, msg_id="dial_1")
    >>> req.body, req.headers["Content-Type"], req.headers["X-Timestamp"]
    (b'{"from": "201", "to": "+3225551234"}', 'application/json', '1700000000')
    >>> check_url("file:///etc/passwd")
    Traceback (most recent call last):
    ...
    ValueError: the originate URL must start with http:// or https://
"""

import json
from typing import NamedTuple
from urllib.parse import quote, urlsplit

from .events import sign
from .signatures import sign_webhook

METHODS = ("POST", "GET")
TIMEOUT_SECONDS = 5


class OriginateRequest(NamedTuple):
    method: str
    url: str
    headers: dict
    body: bytes


def check_url(url):
    """Raise ``ValueError`` unless ``url`` is an http(s) URL with a host
    (no ``file:``, ``gopher:`` ... a configured URL must not read local files)."""
    parts = urlsplit((url or "").strip())
    if parts.scheme not in ("http", "https"):
        raise ValueError("the originate URL must start with http:// or https://")
    if not parts.hostname:
        raise ValueError("the originate URL has no host")
    return url.strip()


def fill(template, extension, number, encode):
    """``template`` with ``{extension}`` and ``{number}`` replaced (each value
    passed through ``encode``); other braces are left alone, so a JSON body
    template needs no escaping."""
    return (
        (template or "")
        .replace("{extension}", encode(extension))
        .replace("{number}", encode(number))
    )


def _json_inner(value):
    """``value`` escaped for the inside of a JSON string."""
    return json.dumps(value)[1:-1]


def build_request(url, method, body, extension, number, secret, timestamp, msg_id):
    """The ``OriginateRequest`` for the agent at ``extension`` to call ``number``.

    ``secret``: the source's signing secret (``whsec_...``), or None for an
    unsigned request; ``timestamp``: unix seconds; ``msg_id``: unique id of
    this request (``webhook-id``)."""
    method = (method or "POST").upper()
    if method not in METHODS:
        raise ValueError(f"the originate method must be one of {', '.join(METHODS)}")
    url = fill(check_url(url), extension, number, lambda v: quote(str(v), safe=""))
    text = (body or "").strip()
    is_json = text.startswith(("{", "["))
    payload = fill(text, extension, number, _json_inner if is_json else str).encode()
    headers = {"User-Agent": "Odoo-CRM-Contact-Center/1.0"}
    if payload:
        headers["Content-Type"] = (
            "application/json" if is_json else "application/x-www-form-urlencoded"
        )
    if secret:
        headers["X-Timestamp"] = str(int(timestamp))
        headers["X-Signature"] = sign(secret, int(timestamp), payload)
        headers["webhook-id"] = msg_id
        headers["webhook-timestamp"] = str(int(timestamp))
        headers["webhook-signature"] = sign_webhook(secret, msg_id, int(timestamp), payload)
    return OriginateRequest(method, url, headers, payload if method == "POST" else b"")
