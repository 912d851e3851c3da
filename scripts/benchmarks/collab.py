"""The collaboration case: N clients over M rooms sending ops at a fixed rate.

Measured: acks/s, ack latency (send → durable ack) p50/p99, broadcast latency
(sender's send → another client's receipt) p99, conflicts, server RSS. The
baseline is a bare Starlette WebSocket room (ack and fan-out in memory, no
database) driven by the same clients in the same run: the difference is what
durability, validation and ordering cost.
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed


@dataclass
class Stats:
    acks: int = 0
    conflicts: int = 0
    errors: int = 0
    ack_latency: list[float] = field(default_factory=list)
    fanout_latency: list[float] = field(default_factory=list)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=1000)[int(q * 1000) - 1] if len(values) > 1 else values[0]


async def client(url: str, key: str, root: str, rate: float, until: float, stats: Stats) -> None:
    async with connect(url, max_size=2**24, compression=None) as ws:
        version = 0
        pending: dict[str, float] = {}
        answered = asyncio.Event()

        async def reader() -> None:
            nonlocal version
            async for raw in ws:
                frame = json.loads(raw)
                kind, p = frame["type"], frame["payload"]
                now = time.perf_counter()
                if kind == "sync":
                    version = max(version, p["version"])
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
                    answered.set()

        task = asyncio.create_task(reader())
        await asyncio.sleep(random.random() / rate)  # spread the clients over the interval
        try:
            while time.perf_counter() < until:
                op_id = uuid.uuid4().hex
                answered.clear()
                sent = time.perf_counter()
                pending[op_id] = sent
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
                await asyncio.sleep(max(0.0, 1 / rate - (time.perf_counter() - sent)))
        except ConnectionClosed:
            stats.errors += 1
        finally:
            task.cancel()


async def drive(urls: list[tuple[str, str]], per_room: int, rate: float, seconds: float) -> Stats:
    stats = Stats()
    until = time.perf_counter() + seconds
    tasks = []
    for room_url, root in urls:
        for i in range(per_room):
            tasks.append(client(room_url, f"k{i}", root, rate, until, stats))
    await asyncio.gather(*tasks, return_exceptions=False)
    return stats


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def summary(name: str, s: Stats, seconds: float) -> str:
    p50, p99 = 1000 * pct(s.ack_latency, 0.5), 1000 * pct(s.ack_latency, 0.99)
    fan = 1000 * pct(s.fanout_latency, 0.99)
    return (
        f"  {name:<22} {s.acks / seconds:>8.0f} acks/s   ack p50 {p50:>7.1f} ms"
        f"   p99 {p99:>7.1f} ms"
        f"   fan-out p99 {fan:>7.1f} ms   conflicts {s.conflicts}   errors {s.errors}"
    )
