"""Endpoint helpers: the default Move API endpoint and whether an endpoint is on this machine. No bpy here."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

DEFAULT_ENDPOINT = "https://api.move.ai/ugc/graphql"


def validate_endpoint(url: str) -> str | None:
    """Return an error message for an unusable endpoint URL, or None when it is fine."""
    url = url.strip()
    if not url:
        return "The API endpoint is empty: set it in Preferences > Add-ons > Move Mocap (default " + DEFAULT_ENDPOINT + ")"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"The API endpoint {url!r} is not an http(s) URL: use e.g. {DEFAULT_ENDPOINT}"
    if parts.scheme == "http" and not is_loopback(url):
        return f"The API endpoint {url!r} uses plain http to another machine: use https (only a local engine may use http)"
    return None


def is_loopback(url: str) -> bool:
    """True when the URL's host is this machine (localhost, 127.0.0.0/8, ::1): a local engine."""
    host = urlsplit(url.strip()).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def base_url(graphql_url: str) -> str:
    """``https://api.move.ai/ugc/graphql`` -> ``https://api.move.ai`` (where ``/ugc/file/download`` lives)."""
    parts = urlsplit(graphql_url.strip())
    path = parts.path
    for suffix in ("/ugc/graphql", "/graphql"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
            break
    return f"{parts.scheme}://{parts.netloc}{path}".rstrip("/")
