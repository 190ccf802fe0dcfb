"""The ingest queue on NATS JetStream (SESSIONLENS_QUEUE_URL=nats://...).

Implements the `Queue` interface of ingest/queue.py (see there for what health and
metrics may read: `ready()`, `pending()`, `counters`, `dead_letters()`).

- Stream `<stream>`: file storage, `<replicas>` replicas, work-queue retention (a batch
  is removed once a worker acknowledged it), subjects `<stream>.batches.<partition>` with
  partition = crc32("project:session") % partitions, so one session's batches are on one
  subject in the order they were accepted. Each message is the payload that ingest/log.py
  stores (envelope + batch, zstd), with the headers `Nats-Msg-Id: project:session:seq`
  (JetStream stores a repeated publish within DUPLICATE_WINDOW_S once) and
  `Sessionlens-Project`.
- Consumer `<stream>-workers`: one durable pull consumer shared by every worker (why one
  and not one per partition: docs/architecture.md). Acknowledged after the commit.
- Stream `<stream>-dead`: dead letters on `<stream>.dead.<project>`, the original payload
  with the reason and the batch's identity in headers, kept DEAD_MAX_AGE_S.

nats-py is asyncio; sessionlens' ingest, processor and CLI call the queue from threads.
So each queue runs its own event loop in a daemon thread and the methods here wait on it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
import time
import zlib
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BadRequestError, NotFoundError
from sqlalchemy import Connection

from sessionlens.ingest import log
from sessionlens.ingest.log import Envelope, LogEntry
from sessionlens.ingest.queue import DeadLetter, QueueCounters, QueueUnavailable
from sessionlens.ingest.schema import Batch

logger = logging.getLogger(__name__)
T = TypeVar("T")

CONNECT_TIMEOUT_S = 2.0
# After a failed connect, answer "unavailable" at once for a while instead of making
# every request wait for another connect timeout.
RETRY_CONNECT_AFTER_S = 1.0
PUBLISH_TIMEOUT_S = 3.0
FETCH_WAIT_S = 1.0
# Longer than the recorder's longest wait between retries (Retry-After is capped at 10 min).
DUPLICATE_WINDOW_S = 15 * 60
DEAD_MAX_AGE_S = 30 * 24 * 3600
DEAD_MAX_MSGS = 100_000
DEAD_SCAN = 200
H_PROJECT = "Sessionlens-Project"
H_SESSION = "Sessionlens-Session"
H_SEQ = "Sessionlens-Seq"
H_REASON = "Sessionlens-Reason"
H_AT = "Sessionlens-At"


def partition_of(project_id: int, session: str, partitions: int) -> int:
    """Stable across processes and restarts (unlike hash())."""
    return zlib.crc32(f"{project_id}:{session}".encode()) % partitions


class JetStreamQueue:
    kind = "nats"
    long_polls = True

    def __init__(
        self, url: str, stream: str, replicas: int, partitions: int, ack_wait_s: int
    ) -> None:
        self.servers = [part.strip() for part in url.split(",") if part.strip()]
        self.stream = stream
        self.dead_stream = f"{stream}-dead"
        self.consumer = f"{stream}-workers"
        self.replicas = replicas
        self.partitions = partitions
        self.ack_wait_s = ack_wait_s
        self.counters = QueueCounters()
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._streams_ready = False
        self._sub: JetStreamContext.PullSubscription | None = None
        self._failed_at = -RETRY_CONNECT_AFTER_S
        self._lock: asyncio.Lock | None = None
        self._inflight: dict[int, Msg] = {}
        self._closing = False
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="sessionlens-nats", daemon=True
        )
        self._thread.start()

    # --- the event loop's side -------------------------------------------------------

    def _wait(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError as exc:
            future.cancel()
            raise QueueUnavailable("NATS did not answer in time") from exc

    async def _connected(self) -> JetStreamContext:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._js is not None and self._nc is not None and not self._nc.is_closed:
                if not self._streams_ready:
                    await self._ensure_streams(self._js)
                return self._js
            if time.monotonic() - self._failed_at < RETRY_CONNECT_AFTER_S:
                raise QueueUnavailable("NATS is unreachable")
            nc = Client()
            try:
                # Once connected the client reconnects by itself for ever; the first
                # connection is bounded here (nats-py would otherwise retry for ever).
                await asyncio.wait_for(
                    nc.connect(
                        servers=self.servers,
                        name="sessionlens",
                        connect_timeout=int(CONNECT_TIMEOUT_S),
                        reconnect_time_wait=1,
                        max_reconnect_attempts=-1,
                        error_cb=self._on_error,
                        disconnected_cb=self._on_disconnected,
                        reconnected_cb=self._on_reconnected,
                    ),
                    timeout=CONNECT_TIMEOUT_S,
                )
            except Exception as exc:
                self._failed_at = time.monotonic()
                with contextlib.suppress(Exception):
                    await nc.close()
                raise QueueUnavailable(f"cannot connect to NATS: {exc!r}") from exc
            self._nc, self._js = nc, nc.jetstream(timeout=PUBLISH_TIMEOUT_S)
            self._sub = None
            await self._ensure_streams(self._js)
            return self._js

    async def _on_error(self, exc: Exception) -> None:
        logger.warning("NATS: %r", exc)

    async def _on_disconnected(self) -> None:
        if not self._closing:
            logger.warning("NATS: disconnected; reconnecting")

    async def _on_reconnected(self) -> None:
        logger.info("NATS: reconnected")

    async def _ensure_streams(self, js: JetStreamContext) -> None:
        try:
            await self._add_streams(js)
        except Exception as exc:
            # No JetStream on the server, too few nodes for the replicas, no answer ...
            raise QueueUnavailable(f"cannot set up the JetStream streams: {exc!r}") from exc
        self._streams_ready = True

    async def _add_streams(self, js: JetStreamContext) -> None:
        configs = (
            StreamConfig(
                name=self.stream,
                subjects=[f"{self.stream}.batches.>"],
                retention=RetentionPolicy.WORK_QUEUE,
                storage=StorageType.FILE,
                num_replicas=self.replicas,
                duplicate_window=DUPLICATE_WINDOW_S,
            ),
            StreamConfig(
                name=self.dead_stream,
                subjects=[f"{self.stream}.dead.>"],
                retention=RetentionPolicy.LIMITS,
                storage=StorageType.FILE,
                num_replicas=self.replicas,
                max_age=DEAD_MAX_AGE_S,
                max_msgs=DEAD_MAX_MSGS,
            ),
        )
        for config in configs:
            try:
                await js.add_stream(config)
            except BadRequestError as exc:
                # It exists with other settings (an operator changed them): keep it.
                logger.warning("NATS stream %s kept as it is: %s", config.name, exc)

    async def _publish(self, subject: str, payload: bytes, headers: dict[str, str]) -> bool:
        js = await self._connected()
        try:
            ack = await js.publish(subject, payload, headers=headers, timeout=PUBLISH_TIMEOUT_S)
        except Exception as exc:
            # Timeouts, no responders (JetStream down or the stream gone), a closed
            # connection: nothing is known to be stored. Check the streams next time.
            self._streams_ready = False
            raise QueueUnavailable(f"JetStream did not store the batch: {exc!r}") from exc
        return not ack.duplicate

    async def _take(self, limit: int) -> list[Msg]:
        js = await self._connected()
        if self._sub is None:
            await js.add_consumer(
                self.stream,
                ConsumerConfig(
                    durable_name=self.consumer,
                    ack_policy=AckPolicy.EXPLICIT,
                    deliver_policy=DeliverPolicy.ALL,
                    ack_wait=self.ack_wait_s,
                    filter_subject=f"{self.stream}.batches.>",
                ),
            )
            self._sub = await js.pull_subscribe_bind(durable=self.consumer, stream=self.stream)
        try:
            return await self._sub.fetch(limit, timeout=FETCH_WAIT_S)
        except TimeoutError:
            return []

    async def _settle(self, messages: list[Msg], ack: bool) -> None:
        for message in messages:
            with contextlib.suppress(Exception):  # unacknowledged: it comes back later
                await (message.ack() if ack else message.nak(delay=1))
        if messages and self._nc is not None:
            # One round trip, so the server has the acknowledgements when this returns.
            with contextlib.suppress(Exception):
                await self._nc.flush(timeout=int(PUBLISH_TIMEOUT_S))

    async def _dead_letters(self, project_ids: set[int], limit: int) -> list[DeadLetter]:
        js = await self._connected()
        try:
            state = (await js.stream_info(self.dead_stream)).state
        except NotFoundError:
            return []
        found: list[DeadLetter] = []
        seq = state.last_seq
        while seq >= max(state.first_seq, 1) and seq > state.last_seq - DEAD_SCAN:
            try:
                message = await js.get_msg(self.dead_stream, seq)
            except NotFoundError:
                seq -= 1
                continue
            seq -= 1
            headers = message.headers or {}
            project_id = int(headers.get(H_PROJECT, "0") or 0)
            if project_id not in project_ids:
                continue
            found.append(
                DeadLetter(
                    at=datetime.fromisoformat(headers[H_AT]),
                    project_id=project_id,
                    session=headers.get(H_SESSION, ""),
                    seq=int(headers.get(H_SEQ, "-1")),
                    reason=headers.get(H_REASON, ""),
                )
            )
            if len(found) >= limit:
                break
        return found

    async def _pending(self) -> int:
        js = await self._connected()
        try:
            info = await js.consumer_info(self.stream, self.consumer)
        except NotFoundError:
            return int((await js.stream_info(self.stream)).state.messages)
        return int(info.num_pending + info.num_ack_pending)

    async def _ready(self) -> bool:
        js = await self._connected()
        await js.stream_info(self.stream)
        return self._nc is not None and self._nc.is_connected

    async def _close(self) -> None:
        self._closing = True
        if self._nc is not None and not self._nc.is_closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._nc.close(), timeout=5)

    # --- the Queue interface (called from threads) ------------------------------------

    def append(self, project_id: int, batch: Batch, raw_batch: bytes, envelope: Envelope) -> bool:
        partition = partition_of(project_id, batch.session_id, self.partitions)
        headers = {
            "Nats-Msg-Id": f"{project_id}:{batch.session_id}:{batch.seq}",
            H_PROJECT: str(project_id),
        }
        subject = f"{self.stream}.batches.{partition}"
        payload = log.encode(envelope, raw_batch)
        try:
            stored = self._wait(
                self._publish(subject, payload, headers),
                CONNECT_TIMEOUT_S + PUBLISH_TIMEOUT_S + 1,
            )
        except QueueUnavailable:
            self.counters.add("unavailable")
            raise
        self.counters.add("appended" if stored else "duplicates")
        return stored

    def take(self, limit: int) -> list[LogEntry]:
        messages = self._wait(self._take(limit), CONNECT_TIMEOUT_S + FETCH_WAIT_S + 10)
        entries = []
        undecodable = []
        for message in messages:
            seq = message.metadata.sequence.stream
            try:
                project_id = int((message.headers or {})[H_PROJECT])
                envelope, batch = log.decode(message.data)
                str(batch["session_id"])
            except Exception:
                undecodable.append(message)
                continue
            self._inflight[seq] = message
            entries.append(LogEntry(seq, project_id, envelope, batch))
        for message in undecodable:
            # Not something the ingest wrote: set it aside whole, it can never be processed.
            self._wait(self._bury(message, "undecodable message"), PUBLISH_TIMEOUT_S + 5)
        return entries

    async def _bury(self, message: Msg, reason: str) -> None:
        headers = message.headers or {}
        project = headers.get(H_PROJECT, "0")
        await self._publish(
            f"{self.stream}.dead.{project if project.isdigit() else 0}",
            message.data,
            {
                H_PROJECT: project,
                H_SESSION: "",
                H_SEQ: "-1",
                H_REASON: reason,
                H_AT: datetime.now(UTC).isoformat(),
            },
        )
        await message.ack()
        self.counters.add("dead_letters")

    def done(self, conn: Connection, entries: list[LogEntry]) -> None:
        pass  # acknowledged after the commit, in acknowledge()

    def acknowledge(self, entries: list[LogEntry]) -> None:
        messages = [m for e in entries if (m := self._inflight.pop(e.id, None)) is not None]
        self._wait(self._settle(messages, ack=True), PUBLISH_TIMEOUT_S + 5)
        self.counters.add("processed", len(entries))

    def release(self, entries: list[LogEntry]) -> None:
        """Hand back batches that were taken but not processed (redelivered soon)."""
        messages = [m for e in entries if (m := self._inflight.pop(e.id, None)) is not None]
        with contextlib.suppress(QueueUnavailable):
            self._wait(self._settle(messages, ack=False), PUBLISH_TIMEOUT_S + 5)

    def set_aside(self, conn: Connection, entry: LogEntry, reason: str) -> None:
        message = self._inflight.get(entry.id)
        payload = message.data if message is not None else b""
        headers = {
            H_PROJECT: str(entry.project_id),
            H_SESSION: str(entry.batch.get("session_id", "")),
            H_SEQ: str(entry.batch.get("seq", -1)),
            H_REASON: reason,
            H_AT: datetime.now(UTC).isoformat(),
        }
        self._wait(
            self._publish(f"{self.stream}.dead.{entry.project_id}", payload, headers),
            CONNECT_TIMEOUT_S + PUBLISH_TIMEOUT_S + 1,
        )
        self.counters.add("dead_letters")

    def ready(self) -> bool:
        try:
            return self._wait(self._ready(), CONNECT_TIMEOUT_S + PUBLISH_TIMEOUT_S)
        except Exception:
            return False

    def pending(self) -> int | None:
        try:
            return self._wait(self._pending(), CONNECT_TIMEOUT_S + PUBLISH_TIMEOUT_S)
        except Exception:
            return None

    def dead_letters(self, project_ids: list[int], limit: int = 50) -> list[DeadLetter]:
        if not project_ids:
            return []
        return self._wait(self._dead_letters(set(project_ids), limit), 30)

    def describe(self) -> str:
        # No server addresses: they may carry credentials, and organisation owners see this.
        return f"NATS JetStream (stream {self.stream})"

    def close(self) -> None:
        if self._loop.is_closed():
            return
        with contextlib.suppress(Exception):
            self._wait(self._close(), 6)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._loop.close()
