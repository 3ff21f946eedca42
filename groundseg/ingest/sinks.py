"""Time-series database writers, in the two dialects the field speaks.

- `InfluxV2Sink`: influxdb-client to `/api/v2/write` (InfluxDB 2.x and 3.x, 1.8+ with its
  compatibility API, VictoriaMetrics);
- `InfluxV1Sink`: `POST /write?db=` for InfluxDB 1.x (Debian's 1.6 answers 404 to
  `/api/v2/write`).

Both take ready-made line protocol and report failures as `SinkError`: transient (retry,
honouring Retry-After) or permanent (a 4xx other than 429: the lines go to the dead-letter
file). Writes are blocking HTTP, so the ingest runs them in a worker thread.
"""

from __future__ import annotations

import gzip
from typing import Protocol

import urllib3
from influxdb_client.client.exceptions import InfluxDBError
from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.domain.write_precision import WritePrecision
from influxdb_client.rest import ApiException

from groundseg.errors import GroundsegError

__all__ = ["InfluxV1Sink", "InfluxV2Sink", "Sink", "SinkError"]

CONNECTIONS = 8
"""Connections a sink keeps open: the ingest writes `parallel_writes` parts of a batch at
once and builds the next batch's while they are in flight. With fewer kept than written at
once, each write beyond them opens a new connection and drops it after."""


class SinkError(GroundsegError):
    def __init__(
        self,
        sink: str,
        reason: str,
        *,
        status: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        self.sink = sink
        self.status = status
        self.retry_after_s = retry_after_s
        super().__init__(f"{sink}: {reason}")

    @property
    def permanent(self) -> bool:
        """The database refused these lines for what they are; sending them again is useless."""
        return self.status is not None and 400 <= self.status < 500 and self.status != 429


class Sink(Protocol):
    name: str

    def write(self, lines: str) -> None:
        """Store the lines (newline-separated) or raise SinkError."""
        ...

    def close(self) -> None: ...


def _retry_after(headers: object) -> float | None:
    value = None
    if headers is not None and hasattr(headers, "get"):
        value = headers.get("Retry-After") or headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _loopback(url: str) -> bool:
    return urllib3.util.parse_url(url).host in ("127.0.0.1", "localhost", "::1")


class InfluxV1Sink:
    def __init__(
        self,
        url: str,
        database: str,
        *,
        timeout_s: float = 10.0,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.name = f"influxdb-v1 {url} db={database}"
        self._url = f"{url.rstrip('/')}/write"
        self._fields = {"db": database, "precision": "ns"}
        # Compression pays across a network; on loopback it only costs both ends CPU.
        self._gzip = not _loopback(url)
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        if self._gzip:
            headers["Content-Encoding"] = "gzip"
        if username is not None:
            headers |= urllib3.make_headers(basic_auth=f"{username}:{password or ''}")
        self._headers = headers
        self._http = urllib3.PoolManager(
            timeout=urllib3.Timeout(total=timeout_s), retries=False, maxsize=CONNECTIONS
        )

    def write(self, lines: str) -> None:
        query = "&".join(f"{k}={v}" for k, v in self._fields.items())
        try:
            response = self._http.request(
                "POST",
                f"{self._url}?{query}",
                body=gzip.compress(lines.encode(), 1) if self._gzip else lines.encode(),
                headers=self._headers,
            )
        except urllib3.exceptions.HTTPError as exc:
            raise SinkError(self.name, f"no answer: {exc}") from None
        if response.status >= 300:
            raise SinkError(
                self.name,
                f"HTTP {response.status}: {response.data[:300].decode(errors='replace')}",
                status=response.status,
                retry_after_s=_retry_after(response.headers),
            )

    def close(self) -> None:
        self._http.clear()


class InfluxV2Sink:
    def __init__(
        self,
        url: str,
        *,
        bucket: str,
        org: str = "groundseg",
        token: str = "",
        timeout_s: float = 10.0,
    ) -> None:
        self.name = f"influxdb-v2 {url} bucket={bucket}"
        self._bucket = bucket
        self._org = org
        # The client's own retries are off: the ingest's spool and backoff own retrying.
        self._client = InfluxDBClient(
            url=url,
            token=token,
            org=org,
            timeout=int(timeout_s * 1000),
            retries=False,
            enable_gzip=not _loopback(url),
            connection_pool_maxsize=CONNECTIONS,
        )
        self._api = self._client.write_api(write_options=SYNCHRONOUS)

    def write(self, lines: str) -> None:
        try:
            self._api.write(
                bucket=self._bucket,
                org=self._org,
                record=lines,
                write_precision=WritePrecision.NS,  # type: ignore[arg-type]  # the constant is a str
            )
        except ApiException as exc:
            raise SinkError(
                self.name,
                f"HTTP {exc.status}: {str(exc.body)[:300]}",
                status=exc.status,
                retry_after_s=_retry_after(exc.headers),
            ) from None
        except (InfluxDBError, urllib3.exceptions.HTTPError, OSError) as exc:
            raise SinkError(self.name, f"no answer: {exc}") from None

    def close(self) -> None:
        self._client.close()  # type: ignore[no-untyped-call]  # influxdb-client leaves it untyped
