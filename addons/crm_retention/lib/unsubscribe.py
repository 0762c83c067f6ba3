"""What the public unsubscribe page shows and the mail headers it needs.

The page is reached by anybody holding the link, a forwarded e-mail
included, so it shows the address it is about masked: enough for the
customer to recognise it, too little to harvest it.

    >>> mask_email("john.doe@example.com")
    'j***@example.com'
    >>> mask_email("j@example.com")
    'j***@example.com'
    >>> mask_email("not an address")
    '***'

The headers follow RFC 2369 (``List-Unsubscribe``, the URL between angle
brackets) and RFC 8058 (``List-Unsubscribe-Post``: a mail client's
"Unsubscribe" button POSTs ``List-Unsubscribe=One-Click`` to that URL):

    >>> unsubscribe_headers("https://crm.example.com/crm_retention/unsubscribe/7/ab")
    ... # doctest: +NORMALIZE_WHITESPACE
    {'List-Unsubscribe': '<https://crm.example.com/crm_retention/unsubscribe/7/ab>',
     'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click'}
"""

# the exact form field of an RFC 8058 one-click request
ONE_CLICK_FIELD = "List-Unsubscribe"
ONE_CLICK_VALUE = "One-Click"


def mask_email(email):
    """``email`` with its local part reduced to its first character."""
    local, sep, domain = (email or "").rpartition("@")
    if not sep or not local or not domain:
        return "***"
    return f"{local[0]}***@{domain}"


def unsubscribe_headers(url):
    """The mail headers announcing ``url`` as a one-click unsubscribe."""
    return {
        "List-Unsubscribe": f"<{url}>",
        "List-Unsubscribe-Post": f"{ONE_CLICK_FIELD}={ONE_CLICK_VALUE}",
    }
