"""Request signatures of the inbound API: Standard Webhooks and Twilio.

No ``odoo`` import. Two schemes, each verified against *several* secrets so a
secret can be rotated with an overlap (the old one stays valid until a date,
see ``crm.interaction.source.secret``):

**Standard Webhooks** (https://www.standardwebhooks.com, the scheme Svix,
Zapier, OpenAI and others use): the sender signs ``"{id}.{timestamp}.{body}"``
with HMAC-SHA256 and the base64-decoded secret (``whsec_<base64>``) and sends
``webhook-id``, ``webhook-timestamp`` (unix seconds) and
``webhook-signature: v1,<base64>`` (several space-separated signatures are
allowed, e.g. old and new secret during a rotation). The spec's own example::

    >>> secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    >>> body = b'{"test": 2432232314}'
    >>> sign_webhook(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
    'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE='
    >>> headers = {"webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek", "webhook-timestamp": "1614265330",
    ...            "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}
    >>> verify_webhook(["whsec_older0000000000000000000000", secret], headers.get, body, 1614265400)
    'msg_p5jXN8AQM9LWM0D4loKWxJek'
    >>> verify_webhook([secret], headers.get, body, 1614265330 + 301)
    Traceback (most recent call last):
    ...
    EventError: [invalid_signature] webhook-timestamp is more than 300 seconds away from the server's time

**Twilio** (https://www.twilio.com/docs/usage/webhooks/webhooks-security):
HMAC-SHA1 with the account's auth token over the full URL Twilio requested
followed by every POST parameter, sorted by name, as name + value; base64 in
``X-Twilio-Signature``. Twilio's documented example::

    >>> params = {"CallSid": "CA1234567890ABCDE", "Caller": "+14158675309", "Digits": "1234",
    ...           "From": "+14158675309", "To": "+18005551212"}
    >>> twilio_signature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", params)
    'RSOYDt4T1cUTdK1PDd93/VVr8B8='
"""

import base64
import binascii
import hashlib
import hmac
import secrets as _secrets
from urllib.parse import urlsplit, urlunsplit

from .events import EventError

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 24  # Standard Webhooks: between 24 and 64 bytes
WEBHOOK_TOLERANCE_SECONDS = 300
_MAX_ID_CHARS = 255


def new_webhook_secret():
    """A new signing secret as Standard Webhooks writes it: ``whsec_<base64>``."""
    return SECRET_PREFIX + base64.b64encode(_secrets.token_bytes(SECRET_BYTES)).decode()


def _secret_bytes(secret):
    raw = secret[len(SECRET_PREFIX) :] if secret.startswith(SECRET_PREFIX) else secret
    try:
        return base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a signing secret is whsec_ followed by base64") from None


def sign_webhook(secret, msg_id, timestamp, body):
    """The ``webhook-signature`` value (``v1,<base64>``) of ``body`` (bytes)."""
    message = f"{msg_id}.{int(timestamp)}.".encode() + body
    digest = hmac.new(_secret_bytes(secret), message, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def _refuse(message):
    raise EventError("invalid_signature", message, status=401)


def verify_webhook(secrets, get_header, body, now, tolerance=WEBHOOK_TOLERANCE_SECONDS):
    """Raise ``EventError`` (401) unless one of the ``v1`` signatures of the
    request signs ``body`` with one of ``secrets`` within ``tolerance`` seconds
    of ``now``. ``get_header(name)`` returns a header or None. Returns the
    ``webhook-id`` of the verified message (to refuse its replays)."""
    msg_id, stamp, signatures = (
        get_header(name) for name in ("webhook-id", "webhook-timestamp", "webhook-signature")
    )
    if not (msg_id and stamp and signatures):
        _refuse("webhook-id, webhook-timestamp and webhook-signature headers are required")
    if len(msg_id) > _MAX_ID_CHARS or not msg_id.isascii():
        _refuse("webhook-id must be at most 255 ASCII characters")
    # at most 10 digits: a longer number is no time of ours, and a huge one
    # would overflow the float comparison below
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 10:
        _refuse("webhook-timestamp must be unix seconds")
    if abs(now - int(stamp)) > tolerance:
        _refuse(f"webhook-timestamp is more than {tolerance} seconds away from the server's time")
    if not secrets:
        _refuse("this integration has no valid signing secret")
    offered = [
        value.encode()
        for version, _sep, value in (part.partition(",") for part in signatures.split())
        if version == "v1" and value.isascii()
    ]
    for secret in secrets:
        expected = sign_webhook(secret, msg_id, stamp, body).partition(",")[2].encode()
        if any(hmac.compare_digest(expected, value) for value in offered):
            return msg_id
    _refuse("the signature does not match")


def twilio_signature(token, url, params):
    """``X-Twilio-Signature`` of a form POST to ``url``. ``params`` maps a name
    to a value or to a list of values (repeated names)."""
    payload = url
    for name in sorted(params):
        values = params[name]
        for value in sorted(values) if isinstance(values, list | tuple) else [values]:
            payload += name + value
    digest = hmac.new(token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def twilio_url_variants(url):
    """``url`` as requested, without its port, and with the scheme's default
    port: Twilio signs whichever form it used, as its own validators accept.

    >>> twilio_url_variants("https://example.com/x?a=1")
    ['https://example.com/x?a=1', 'https://example.com:443/x?a=1']
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    default = {"https": 443, "http": 80}.get(parts.scheme)
    netloc_bare = host
    netloc_port = f"{host}:{parts.port or default}" if (parts.port or default) else host
    variants = [url]
    for netloc in (netloc_bare, netloc_port):
        candidate = urlunsplit(parts._replace(netloc=netloc))
        if candidate not in variants:
            variants.append(candidate)
    return variants


def verify_twilio(tokens, urls, params, signature):
    """Raise ``EventError`` (401) unless ``signature`` signs ``params`` posted
    to one of ``urls`` with one of ``tokens``."""
    if not signature or not signature.isascii():
        _refuse("the X-Twilio-Signature header is required")
    # no token: the same answer as a wrong one (the URL names the integration)
    for token in tokens:
        for url in urls:
            for variant in twilio_url_variants(url):
                expected = twilio_signature(token, variant, params).encode()
                if hmac.compare_digest(expected, signature.strip().encode()):
                    return
    _refuse("the signature does not match")
