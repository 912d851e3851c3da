"""The collaboration case: N clients over M rooms sending ops at a fixed rate.

Measured: ops offered (what the clients' rate asks for) against ops sent and
acked, acks/s, ack latency (send → durable ack) p50/p99, broadcast latency
(sender's send → another client's receipt) p99, conflicts, and the server's
CPU% and RSS (and the load generator's CPU%, which shares the machine). The
baseline is a bare Starlette WebSocket room (ack and fan-out in memory, no
database) that parses and validates every frame with the service's own
validator, driven by the same clients in the same run: the difference is what
durability, authorisation and ordering cost.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed


@dataclass
class Stats:
    sent: int = 0
    acks: int = 0
    conflicts: int = 0
    errors: int = 0
    why: Counter[str] = field(default_factory=Counter)  # errors by code
    ack_latency: list[float] = field(default_factory=list)
    fanout_latency: list[float] = field(default_factory=list)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=1000)[int(q * 1000) - 1] if len(values) > 1 else values[0]


@dataclass
class Start:
    """All clients connect first; the measured interval starts once they have."""

    clients: int
    ready: int = 0
    go: asyncio.Event = field(default_factory=asyncio.Event)
    until: float = 0.0


async def client(url: str, key: str, root: str, rate: float, start: Start, stats: Stats) -> None:
    async with connect(url, max_size=2**24, compression=None, open_timeout=60) as ws:
        version = 0
        pending: dict[str, float] = {}
        answered = asyncio.Event()

        async def reader(synced: asyncio.Event) -> None:
            nonlocal version
            async for raw in ws:
                frame = json.loads(raw)
                kind, p = frame["type"], frame["payload"]
                now = time.perf_counter()
                if kind == "sync":
                    version = max(version, p["version"])
                    synced.set()
                elif kind == "op-patch":
                    version = max(version, p["version"])
                    sent = p["patches"][0].get("value")
                    if isinstance(sent, float):
                        stats.fanout_latency.append(now - sent)
                elif kind == "ack":
                    version = max(version, p["version"])
                    stats.acks += 1
                    stats.ack_latency.append(now - pending.pop(p["opId"], now))
                    answered.set()
                elif kind == "error":
                    pending.pop(p.get("opId", ""), None)
                    if p["code"] == "VERSION_CONFLICT":
                        stats.conflicts += 1
                        version = max(version, p.get("currentVersion", version))
                    else:
                        stats.errors += 1
                        stats.why[p["code"]] += 1
                    answered.set()

        synced = asyncio.Event()
        task = asyncio.create_task(reader(synced))
        await asyncio.wait_for(synced.wait(), 60)  # joined: the server's setup is done
        start.ready += 1
        if start.ready == start.clients:
            start.go.set()
        await start.go.wait()
        until = start.until
        await asyncio.sleep(random.random() / rate)  # spread the clients over the interval
        try:
            while time.perf_counter() < until:
                op_id = uuid.uuid4().hex
                answered.clear()
                sent = time.perf_counter()
                pending[op_id] = sent
                stats.sent += 1
                patch = [{"op": "add", "path": f"/components/{root}/props/{key}", "value": sent}]
                await ws.send(
                    json.dumps(
                        {
                            "type": "op-patch",
                            "payload": {
                                "patches": patch,
                                "baseVersion": max(version, 1),
                                "opId": op_id,
                            },
                        }
                    )
                )
                try:
                    await asyncio.wait_for(answered.wait(), 10)
                except TimeoutError:
                    stats.errors += 1
                    stats.why["no answer in 10 s"] += 1
                await asyncio.sleep(max(0.0, 1 / rate - (time.perf_counter() - sent)))
        except ConnectionClosed as e:
            stats.errors += 1
            stats.why[f"closed {e.rcvd.code if e.rcvd else '?'}"] += 1
        finally:
            task.cancel()


async def drive(
    urls: list[tuple[str, str]],
    per_room: int,
    rate: float,
    seconds: float,
    on_start: Callable[[], None] = lambda: None,
) -> Stats:
    """Connect every client, then (`on_start`) send for `seconds`."""
    stats = Stats()
    start = Start(len(urls) * per_room)
    tasks = [
        asyncio.create_task(client(room_url, f"k{i}", root, rate, start, stats))
        for room_url, root in urls
        for i in range(per_room)
    ]
    await start.go.wait()
    start.until = time.perf_counter() + seconds
    on_start()
    await asyncio.gather(*tasks, return_exceptions=False)
    return stats


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def summary(name: str, s: Stats, seconds: float, offered: float) -> str:
    p50, p99 = 1000 * pct(s.ack_latency, 0.5), 1000 * pct(s.ack_latency, 0.99)
    fan = 1000 * pct(s.fanout_latency, 0.99)
    return (
        f"  {name:<22} offered {offered:>6.0f}  sent {s.sent:>6}  acked {s.acks:>6}"
        f" ({100 * s.acks / max(offered, 1):5.1f} %)  {s.acks / seconds:>5.0f} acks/s\n"
        f"  {'':<22} ack p50 {p50:>7.1f} ms   p99 {p99:>7.1f} ms   fan-out p99 {fan:>7.1f} ms"
        f"   conflicts {s.conflicts} ({100 * s.conflicts / max(s.sent, 1):.2f} %)"
        f"   errors {s.errors}" + (f" {dict(s.why)}" if s.why else "")
    )
