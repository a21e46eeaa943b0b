"""Whether a server's bind address serves this machine only.

The servers (``hf-tools serve``, ``hf-tools mcp --http``) run without authentication only on
such an address; anywhere else they demand keys or a bearer token.
"""

from __future__ import annotations

import ipaddress

__all__ = ["LOOPBACK_NAMES", "is_loopback"]

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
"""The names a browser on this machine puts in the Host header of a loopback server; both
servers accept them (DNS rebinding guard), whatever address they are bound to."""


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` serves this machine only.

    Loopback: ``localhost`` (any case), IPv4 ``127.0.0.0/8``, ``::1`` (also in brackets, or
    with a zone) and IPv4-mapped ``::ffff:127.x.y.z``. Everything else counts as public:
    ``0.0.0.0``, ``::`` and ``""`` (every interface), other names (DNS may say anything) and
    shorthand IPv4 like ``127.1`` (which the OS reads, not this check), so a doubt refuses.
    """
    if host.lower() == "localhost":
        return True
    bracketed = host.startswith("[") and host.endswith("]")
    try:
        ip = ipaddress.ip_address(host[1:-1] if bracketed else host)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        # Python 3.11's is_loopback says False for ::ffff:127.0.0.1; the kernel serves it
        # from 127.0.0.1 only.
        return ip.is_loopback or (ip.ipv4_mapped is not None and ip.ipv4_mapped.is_loopback)
    return not bracketed and ip.is_loopback
