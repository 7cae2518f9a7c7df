"""Download one URL to a file: streamed, size-capped, sha256-verified, retried only when it may help.

Transient failures (connection refused or reset, a timeout, a body cut short, HTTP 408/429/5xx)
are retried with exponential backoff. Everything else fails at once: another HTTP error, a body
over `max_bytes`, a checksum mismatch, a redirect to anything but http(s) or to a link-local
address (cloud metadata endpoints live there). The body goes to a temporary file that is renamed
into place only once complete and verified, so a partial download never lands at the final path.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from millrace.errors import MillraceError
from millrace.files import atomic_path

log = logging.getLogger(__name__)

MAX_REDIRECTS = 5
TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})


class DownloadError(MillraceError):
    """The URL could not be fetched; `transient` says whether trying again might help."""

    def __init__(self, message: str, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


@dataclass(frozen=True)
class Fetch:
    url: str
    sha256: str | None = None
    timeout_seconds: float = 30.0
    retries: int = 3
    backoff_seconds: float = 1.0
    max_bytes: int = 2 << 30


def _check_target(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise DownloadError(f"{url!r}: only http and https URLs are fetched, not {parts.scheme or 'a bare path'!r}")
    if not parts.hostname:
        raise DownloadError(f"{url!r}: no host name")
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, parts.port or 443)}
    except socket.gaierror as exc:
        raise DownloadError(f"{url!r}: cannot resolve {parts.hostname!r}: {exc.strerror}", transient=True) from None
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if ip.is_link_local or ip.is_multicast or ip.is_unspecified:
            raise DownloadError(f"{url!r}: {parts.hostname} resolves to {ip}, a link-local or reserved address")


def _attempt(client, fetch: Fetch, partial: Path) -> tuple[str, str, int]:
    """One GET, following redirects by hand so each hop is checked; return (final URL, sha256, bytes)."""
    import httpx

    url = fetch.url
    for _ in range(MAX_REDIRECTS + 1):
        _check_target(url)
        try:
            with client.stream("GET", url) as response:
                if response.is_redirect:
                    url = urljoin(url, response.headers.get("location", ""))
                    continue
                if response.status_code != 200:
                    transient = response.status_code in TRANSIENT_STATUS
                    raise DownloadError(f"HTTP {response.status_code} {response.reason_phrase}", transient)
                declared = int(response.headers.get("content-length", -1))
                if declared > fetch.max_bytes:
                    raise DownloadError(f"the body is {declared} bytes, over the cap of {fetch.max_bytes}")
                digest, size = hashlib.sha256(), 0
                with partial.open("wb") as out:
                    for block in response.iter_bytes(1 << 20):
                        size += len(block)
                        if size > fetch.max_bytes:
                            raise DownloadError(f"the body passed the cap of {fetch.max_bytes} bytes")
                        digest.update(block)
                        out.write(block)
                received = response.num_bytes_downloaded  # on the wire, before any content decoding
                if declared >= 0 and received != declared:
                    raise DownloadError(f"got {received} bytes where Content-Length said {declared}", transient=True)
                return url, digest.hexdigest(), size
        except httpx.TimeoutException:
            raise DownloadError(f"no answer within {fetch.timeout_seconds:g} s", transient=True) from None
        except httpx.TransportError as exc:
            raise DownloadError(f"connection failed: {exc or type(exc).__name__}", transient=True) from None
    raise DownloadError(f"more than {MAX_REDIRECTS} redirects")


def download(fetch: Fetch, target: Path, *, where: str) -> dict:
    """Fetch into `target` atomically; return provenance (url, final_url, bytes, sha256, attempts)."""
    import httpx

    attempts = fetch.retries + 1
    with httpx.Client(timeout=fetch.timeout_seconds, follow_redirects=False) as client:
        for attempt in range(1, attempts + 1):
            try:
                with atomic_path(target) as partial:
                    final_url, digest, size = _attempt(client, fetch, partial)
                    if fetch.sha256 and digest != fetch.sha256.lower():
                        raise DownloadError(
                            f"sha256 mismatch: expected {fetch.sha256.lower()}, got {digest}; nothing was written"
                        )
                return {"url": fetch.url, "final_url": final_url, "bytes": size, "sha256": digest, "attempts": attempt}
            except DownloadError as exc:
                if not exc.transient or attempt == attempts:
                    tried = f" (after {attempt} attempts)" if attempt > 1 else ""
                    raise DownloadError(f"{where}: {exc}{tried}", exc.transient) from None
                pause = fetch.backoff_seconds * 2 ** (attempt - 1)
                log.warning("%s: attempt %d/%d failed (%s); retry in %.1f s", where, attempt, attempts, exc, pause)
                time.sleep(pause)
    raise AssertionError("unreachable")
