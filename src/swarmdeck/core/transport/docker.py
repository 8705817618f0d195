"""The Docker API of one manager, over its one SSH connection.

Each request rides an SSH channel to the remote Docker socket (direct-streamlocal: nothing is
spawned on the manager). Channels are kept open and reused as HTTP/1.1 keep-alive
connections; parallel requests open parallel channels on the same connection. Where the
server forbids stream-local forwarding, `docker system dial-stdio` carries the same bytes.
Nothing listens locally: no socket file, no TCP port.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shlex
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import asyncssh

from swarmdeck.core.errors import (
    ConnectionLost,
    DockerAPIError,
    DockerUnavailable,
    EngineTooOld,
    NoLeader,
    NotAManager,
    NotFound,
    SwarmdeckError,
    WriteInterrupted,
)
from swarmdeck.core.transport.http import (
    BLOCK,
    HTTPConnection,
    ProtocolError,
    build_path,
    json_lines,
)

if TYPE_CHECKING:
    from swarmdeck.core.transport.hijack import Hijacked

DEFAULT_SOCKET = "/var/run/docker.sock"
# Docker Engine 20.10: swarm jobs, and the oldest engine the lab runs and the tests check
MIN_API_VERSION = "1.41"
_LOST = (asyncssh.Error, OSError, ProtocolError, asyncio.IncompleteReadError, EOFError)
MAX_IDLE = 8
# A kept-alive channel idle this long is closed rather than reused: well below the 5 minutes
# after which the engine closes an idle keep-alive connection itself.
MAX_IDLE_AGE = 60.0
# How much an SSH channel may receive before we read it (its flow-control window). A long
# stream (logs, events) gets a small one: a flood read more slowly than the engine sends
# then waits on the engine's side instead of piling up here. Measured on the lab, reading
# a 1M-line backlog from 10 replicas: RSS +98 MB at 512 KiB, +83 at 256, +55 at 128 and +9
# at 64 KiB, at the same speed (the packets are small: one log line each, and each costs
# far more than its bytes while it waits). 64 KiB carries ~1.3 MB/s per stream at 50 ms of
# round trip; a service stream, which carries all of a service's replicas, gets more.
CHANNEL_WINDOW = 2 * 1024 * 1024
STREAM_WINDOW = 64 * 1024


READ_RETRY_DELAYS = (0.5, 1.0, 2.0)
SLOW_ANSWER = 5.0  # seconds: an error this slow is not retried
_TRANSIENT = ("lost leader status", "context deadline exceeded", "does not have a leader",
              "code = Unavailable", "raft: ")


def api_too_old(version: str, minimum: str = MIN_API_VERSION) -> bool:
    """Is the engine's API VERSION (its Api-Version header, e.g. "1.41") older than MINIMUM?
    A version that does not parse is not judged."""
    try:
        have = tuple(int(p) for p in version.strip().split("."))
    except ValueError:
        return False
    return have < tuple(int(p) for p in minimum.split("."))


def _transient(error: SwarmdeckError) -> bool:
    """A read error worth asking again (a leader election). Not every typed error carries an
    HTTP status (NotAManager does not)."""
    raw = getattr(error, "raw", "")
    status = getattr(error, "status", 0)
    return status >= 500 and any(t in raw for t in _TRANSIENT)


class DockerEndpoint:
    def __init__(self, conn: asyncssh.SSHClientConnection, label: str,
                 socket_path: str = DEFAULT_SOCKET) -> None:
        self.conn = conn
        self.label = label
        self.socket_path = socket_path
        self.via = "stream-local"  # or "dial-stdio" where forwarding is forbidden
        self._idle: list[tuple[HTTPConnection, float]] = []  # (channel, idle since)
        self._spare: list[asyncio.Future[HTTPConnection]] = []  # opened ahead (prewarm)
        self.api_version: str | None = None  # from the first answer's Api-Version header

    # ---- channels ----------------------------------------------------------------------
    async def _open(self, window: int = CHANNEL_WINDOW) -> HTTPConnection:
        if self.via == "stream-local":
            try:
                return await self._open_unix(window)
            except asyncssh.ChannelOpenError as exc:
                if self.conn.is_closed():  # the connection is gone, not the socket
                    raise self._lost(exc) from None
                # OpenSSH answers "open failed" both when the socket is unusable and when
                # stream-local forwarding is forbidden: look at the socket to tell which
                problem = await self._diagnose(exc.reason)
                if problem is not None:
                    raise problem from None
                self.via = "dial-stdio"
            except _LOST as exc:
                raise self._lost(exc) from None
        try:
            proc = await self.conn.create_process("docker system dial-stdio", encoding=None)
        except _LOST as exc:
            raise self._lost(exc) from None
        return HTTPConnection(proc.stdout, proc.stdin)

    def prewarm(self, count: int) -> None:
        """Open COUNT channels now, in the background, for the next fresh ones (a write, a
        hijacked start): a channel's opening is a round trip those need not wait for when it
        overlaps another request's. A spare that failed to open is not reported: the
        request that wanted it opens its own. The spares are never used for reads, nor twice."""
        if self.via != "stream-local":
            return
        for _ in range(count):
            spare = asyncio.ensure_future(self._open_unix(CHANNEL_WINDOW))
            spare.add_done_callback(_quiet)
            self._spare.append(spare)

    async def _open_unix(self, window: int) -> HTTPConnection:
        # a caller cancelled while the channel opens (a log stream stopped as it starts):
        # asyncssh would keep the channel the server confirms a moment later open, owned by
        # nobody (a node connection that never becomes idle, a socket held on the node);
        # the opening goes on and the channel is closed as soon as it is open
        opening = asyncio.ensure_future(
            self.conn.open_unix_connection(self.socket_path, window=window))
        try:
            reader, writer = await asyncio.shield(opening)
        except asyncio.CancelledError:
            opening.add_done_callback(_close_opened)
            raise
        return HTTPConnection(reader, writer)

    async def _fresh(self) -> HTTPConnection:
        """A channel nothing has used: a spare opened ahead, or a new one."""
        while self._spare:
            spare = self._spare.pop(0)
            try:
                http = await spare
            except (asyncio.CancelledError, *_LOST):
                continue
            if not http.closed_by_peer():
                return http
            http.close()
        return await self._open()

    async def _diagnose(self, reason: str) -> DockerUnavailable | None:
        """Why was the socket channel refused? None: the socket is fine (forwarding is not)."""
        path = shlex.quote(self.socket_path)
        probe = (f"if [ ! -e {path} ]; then echo missing; "
                 f"elif [ -r {path} ] && [ -w {path} ]; then echo ok; else echo denied; fi; "
                 "id -un")
        try:
            result = await self.conn.run(probe, check=False, timeout=10)
            lines = str(result.stdout or "").split()
        except (TimeoutError, *_LOST):
            lines = []
        state = lines[0] if lines else "unknown"
        user = lines[1] if len(lines) > 1 else "this user"
        if state == "ok":
            return None
        if state == "missing":
            return DockerUnavailable(
                f"{self.label}: docker is not running ({self.socket_path} does not exist)",
                hint="start dockerd there, or point the cluster at another manager",
            )
        if state == "denied":
            return DockerUnavailable(
                f"{self.label}: permission denied on {self.socket_path} for user {user}",
                hint=f"add {user} to the docker group on that host, or connect as root",
            )
        return DockerUnavailable(
            f"{self.label}: cannot open the Docker socket {self.socket_path}: {reason}",
        )

    def _lost(self, exc: BaseException) -> ConnectionLost:
        text = getattr(exc, "reason", None) or str(exc) or type(exc).__name__
        return ConnectionLost(f"lost connection to {self.label}: {text}")

    async def _acquire(self, *, fresh: bool = False) -> HTTPConnection:
        """A kept-alive channel, or a new one. Never one the other side has closed: the
        engine closes a keep-alive connection it has not heard from in 5 minutes (its
        ReadHeaderTimeout), and an idle console would then send its next request into a
        dead channel. FRESH: a new channel whatever the pool holds (writes)."""
        if fresh:
            return await self._fresh()
        now = time.monotonic()
        while self._idle:
            http, since = self._idle.pop()
            if now - since < MAX_IDLE_AGE and not http.closed_by_peer():
                return http
            # the newest idle channel is dead or too old: the others idled longer still
            http.close()
            self.drop_idle()
        return await self._open()

    def _release(self, http: HTTPConnection) -> None:
        if http.reusable and not http.closed_by_peer() and len(self._idle) < MAX_IDLE:
            self._idle.append((http, time.monotonic()))
        else:
            http.close()

    def drop_idle(self) -> None:
        """Close every kept-alive channel (the next request dials a fresh one)."""
        idle, self._idle = self._idle, []
        for http, _since in idle:
            http.close()

    # ---- requests ----------------------------------------------------------------------
    async def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                      body: Any = None, headers: dict[str, str] | None = None) -> Any:
        """One API call; returns the decoded JSON body (or None).

        A read that finds its kept-alive channel dead is sent again once, on a fresh channel.
        A write is sent once, always on a fresh channel (a stale one could swallow it); if its
        connection breaks it raises WriteInterrupted: the change may or may not have been
        made, and only the cluster can say which."""
        full = build_path(path, params)
        payload = None
        hdrs = dict(headers or {})
        if body is not None:
            payload = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        write = method not in ("GET", "HEAD")
        retries = 0
        fresh = write
        while True:
            started = time.monotonic()
            http = await self._acquire(fresh=fresh)
            reused = http.served > 0
            try:
                resp = await http.request(method, full, payload, hdrs)
            except _LOST as exc:
                http.close()
                if write:
                    raise WriteInterrupted(
                        f"lost connection to {self.label} during {method} {path}: "
                        f"{getattr(exc, 'reason', None) or exc or type(exc).__name__}",
                        method=method, path=path) from None
                if reused and not fresh:  # a kept-alive channel died while idle
                    self.drop_idle()
                    fresh = True
                    continue
                raise self._lost(exc) from None
            except asyncio.CancelledError:
                http.close()
                raise
            self._release(http)
            self._check_engine(resp.headers)
            if resp.status >= 400:
                error = self._api_error(resp.status, resp.body, method, path)
                # a leader election answers reads with transient errors for a moment:
                # reads are retried; a write is reported, never blindly sent again
                # (not after a slow answer: the manager already waited its own 20 s for a
                # leader, and asking again would only wait as long again)
                if method == "GET" and _transient(error) and retries < len(READ_RETRY_DELAYS) \
                        and time.monotonic() - started < SLOW_ANSWER:
                    await asyncio.sleep(READ_RETRY_DELAYS[retries])
                    retries += 1
                    continue
                raise error
            ctype = resp.headers.get("content-type", "")
            if "json" in ctype or (resp.body[:1] in (b"{", b"[")):
                return resp.json()
            return resp.body.decode(errors="replace") if resp.body else None

    async def get(self, path: str, **params: Any) -> Any:
        return await self.request("GET", path, params=params or None)

    @contextlib.asynccontextmanager
    async def stream(self, path: str, params: dict[str, Any] | None = None, *,
                     window: int = STREAM_WINDOW) -> AsyncIterator[AsyncIterator[bytes]]:
        """A long-lived GET (events, logs) on a channel of its own, WINDOW its SSH
        flow-control window."""
        http = await self._open(window)
        try:
            try:
                status, _headers, body = await http.open_stream("GET", build_path(path, params))
            except _LOST as exc:
                raise self._lost(exc) from None
            self._check_engine(_headers)
            if status >= 400:
                data = b"".join([c async for c in body])
                raise self._api_error(status, data, "GET", path)
            yield self._guard(body)
        finally:
            http.close()

    async def _guard(self, body: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        try:
            async for chunk in body:
                yield chunk
        except _LOST as exc:
            raise self._lost(exc) from None

    async def events(self, params: dict[str, Any] | None = None) -> AsyncIterator[dict]:
        async with self.stream("/events", params) as body:
            async for event in json_lines(body):
                yield event

    async def hijack(self, path: str, body: dict[str, Any]) -> Hijacked:
        """POST PATH (an exec's start) asking for the connection itself: on `101 UPGRADED`
        the channel carries the process's bytes both ways from then on. Any other answer
        raises the engine's error. One stream of one process, which may carry a lot (a file
        piped out): the full channel window."""
        from swarmdeck.core.transport.hijack import Hijacked, UpgradeParser, upgrade_request

        http = await self._fresh()
        reader, writer = http.reader, http.writer
        parser = UpgradeParser()
        try:
            writer.write(upgrade_request(path, body))
            answer = None
            while answer is None:
                data = await reader.read(BLOCK)
                if not data:
                    raise ProtocolError("connection closed before the upgrade answer")
                answer = parser.feed(data)
            if not answer.upgraded:
                length = int(answer.headers.get("content-length") or 0)
                while len(answer.rest) < length:
                    data = await reader.read(length - len(answer.rest))
                    if not data:
                        break
                    answer.rest += data
                raise self._api_error(answer.status, answer.rest, "POST", path)
        except _LOST as exc:
            http.close()
            raise self._lost(exc) from None
        except BaseException:
            http.close()
            raise
        self._check_engine(answer.headers)
        return Hijacked(reader, writer, answer.rest)

    def _check_engine(self, headers: dict[str, str]) -> None:
        """Refuse an engine older than MIN_API_VERSION, on its first answer (every Docker
        answer carries the header: no request of its own)."""
        if self.api_version is not None:
            return
        version = headers.get("api-version")
        if not version:
            return
        if api_too_old(version):
            raise EngineTooOld(
                f"{self.label}: the Docker engine there speaks API {version}, older than the "
                f"{MIN_API_VERSION} swarmdeck needs",
                hint="upgrade Docker on that host to 20.10 or newer, or point the cluster at "
                     "a manager with a newer engine")
        self.api_version = version

    def _api_error(self, status: int, body: bytes, method: str, path: str) -> SwarmdeckError:
        try:
            message = json.loads(body).get("message", "")
        except (ValueError, AttributeError):
            message = body.decode(errors="replace").strip()
        message = message or f"HTTP {status}"
        error = self._typed_error(status, message, method, path)
        error.raw = message  # the engine's own words, for deciding on a retry
        return error

    def _typed_error(self, status: int, message: str, method: str, path: str
                     ) -> SwarmdeckError:
        if status == 503 and "not a swarm manager" in message:
            return NotAManager(
                f"{self.label} is not a swarm manager",
                hint="list a manager of the swarm in the cluster's managers "
                     "(`docker node ls` on a manager shows them)",
            )
        if status == 404:
            return NotFound(status, message, method=method, path=path)
        # a read the manager could not get the leader to answer (it is gone, or there is
        # none); a write that failed so may still land: it is not typed so
        leader_away = method == "GET" and message.startswith("rpc error") and any(
            code in message for code in ("code = DeadlineExceeded", "code = Unavailable"))
        if "does not have a leader" in message or "lost leader status" in message \
                or leader_away:
            return NoLeader(status, f"{self.label}: the swarm has no leader (quorum lost or an "
                            "election in progress): changes are refused until a majority of "
                            "managers is back", method=method, path=path)
        return DockerAPIError(status, f"{self.label}: {message}", method=method, path=path)

    async def close(self) -> None:
        self.drop_idle()
        spares, self._spare = self._spare, []
        for spare in spares:
            spare.cancel()
            if spare.done() and not spare.cancelled() and spare.exception() is None:
                spare.result().close()


def _close_opened(opening: asyncio.Future) -> None:
    """A channel opened for a caller that stopped waiting: closed at once."""
    if opening.cancelled() or opening.exception() is not None:
        return
    _reader, writer = opening.result()
    writer.close()


def _quiet(spare: asyncio.Future) -> None:
    """A spare channel that could not be opened is not worth a warning."""
    if not spare.cancelled():
        spare.exception()
