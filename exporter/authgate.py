"""Basic-auth checks queued fairly per client address, so a flood of wrong passwords cannot lock out the right one.

A bcrypt check is slow by design (measured: see docs/architecture.md, Figures behind choices in
the code) and runs on one thread. A single queue would let one client fill it with guesses and
every other client (Prometheus) get 429. Here each client address has its own short queue and
the checker takes one check from each waiting address in turn: a flood from one address costs
Prometheus at most one check of waiting time per flooding address.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections import deque
from concurrent.futures import Executor
from dataclasses import dataclass

from exporter.webconfig import BasicAuth


class Throttled(Exception):
    """This client has too many checks waiting already; answer 429."""


@dataclass
class _Check:
    auth: BasicAuth
    user: str
    password: bytes
    verdict: asyncio.Future[bool]


def client_key(remote: str | None) -> str:
    """Who a queue belongs to: the IPv4 address, or the /64 network of an IPv6 one (one host owns a /64)."""
    try:
        address = ipaddress.ip_address(remote or "")
    except ValueError:
        return remote or "?"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


class AuthGate:
    """Runs bcrypt checks on `executor`, one at a time, round-robin over client addresses; lives on the event loop."""

    def __init__(self, executor: Executor, *, per_client: int = 4, total: int = 64) -> None:
        self._executor = executor
        self._per_client = per_client
        self._total = total
        self._queues: dict[str, deque[_Check]] = {}
        self._waiting = 0
        self._worker: asyncio.Task[None] | None = None

    @property
    def waiting(self) -> int:
        """Checks queued right now."""
        return self._waiting

    async def check(self, auth: BasicAuth, client: str, user: str, password: bytes) -> bool:
        """The verdict for `user`/`password`; raises Throttled when `client` already has its share waiting."""
        verdict = auth.cached(user, password)
        if verdict is not None:
            return verdict
        queue = self._queues.get(client)
        if queue is not None and len(queue) >= self._per_client:
            raise Throttled(client)
        if self._waiting >= self._total and not self._make_room(client):
            raise Throttled(client)
        check = _Check(auth, user, password, asyncio.get_running_loop().create_future())
        self._queues.setdefault(client, deque()).append(check)
        self._waiting += 1
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._work())
        return await check.verdict

    def _make_room(self, client: str) -> bool:
        """Everything is full: a newcomer takes the place of the newest check of the longest queue (not its own)."""
        longest = max(self._queues, key=lambda key: len(self._queues[key]))
        if longest == client or len(self._queues[longest]) <= len(self._queues.get(client, ())) + 1:
            return False
        dropped = self._queues[longest].pop()
        self._waiting -= 1
        if not dropped.verdict.done():
            dropped.verdict.set_exception(Throttled(longest))
        return True

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while self._queues:
            client = next(iter(self._queues))
            queue = self._queues.pop(client)
            check = queue.popleft()
            if queue:
                self._queues[client] = queue  # back of the line: the other clients go first
            self._waiting -= 1
            if check.verdict.done():  # the client went away (its request was cancelled)
                continue
            verdict = check.auth.cached(check.user, check.password)  # the same guess may have been checked meanwhile
            if verdict is None:
                try:
                    verdict = await loop.run_in_executor(self._executor, check.auth.verify, check.user, check.password)
                except Exception as err:  # noqa: BLE001 - handed to the waiting request, which fails with it
                    if not check.verdict.done():
                        check.verdict.set_exception(err)
                    continue
            if not check.verdict.done():
                check.verdict.set_result(verdict)

    def close(self) -> None:
        """Stop checking; requests still waiting are throttled."""
        if self._worker is not None:
            self._worker.cancel()
        for client, queue in self._queues.items():
            for check in queue:
                if not check.verdict.done():
                    check.verdict.set_exception(Throttled(client))
        self._queues.clear()
        self._waiting = 0
