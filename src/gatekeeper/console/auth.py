"""Who may read the console: a bearer token (header or the login cookie), or the user an
authenticating proxy names in a header, believed only from the proxy's own addresses."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field

COOKIE = "gatekeeper_console"


@dataclass(frozen=True)
class Access:
    token: str | None = None
    trusted_user_header: str | None = None
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = field(default_factory=tuple)

    def token_matches(self, sent: str | None) -> bool:
        """Constant-time: the comparison takes as long for a near miss as for a far one."""
        if not self.token or not sent:
            return False
        return hmac.compare_digest(sent.encode(), self.token.encode())

    def session_matches(self, cookie: str | None) -> bool:
        if not self.token or not cookie:
            return False
        return hmac.compare_digest(cookie.encode(), session_value(self.token).encode())

    def user_of(self, headers: Mapping[str, str], cookie: str | None, client: str | None) -> str | None:
        """The reader's name ("token" for a token holder), or None: not signed in."""
        scheme, _, credential = (headers.get("authorization") or "").partition(" ")
        if scheme.lower() == "bearer" and self.token_matches(credential.strip()):
            return "token"
        if self.session_matches(cookie):
            return "token"
        if self.trusted_user_header and self.from_proxy(client):
            name = (headers.get(self.trusted_user_header) or "").strip()
            if name:
                return name
        return None

    def from_proxy(self, client: str | None) -> bool:
        if not client:
            return False
        try:
            address = ipaddress.ip_address(client)
        except ValueError:  # e.g. TestClient's "testclient": not an address, never a proxy
            return False
        return any(address in network for network in self.trusted_proxies)


def session_value(token: str) -> str:
    """What the login cookie holds: derived from the token, so the cookie is not the token
    itself, and it changes when the token does."""
    return hmac.new(token.encode(), b"gatekeeper-console-session", hashlib.sha256).hexdigest()


def proxy_networks(cidrs: list[str]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """'10.0.0.0/8', '127.0.0.1' -> networks; ValueError naming a bad one."""
    networks = []
    for cidr in cidrs:
        try:
            networks.append(ipaddress.ip_network(cidr.strip(), strict=False))
        except ValueError:
            raise ValueError(f"--trusted-proxy {cidr!r} is not an address or CIDR (e.g. 10.0.0.0/8)") from None
    return tuple(networks)
