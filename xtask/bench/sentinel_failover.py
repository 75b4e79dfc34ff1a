#!/usr/bin/env python3
"""Client side of `cargo xtask bench sentinel` (one failover round).

Started by the xtask once the primary, its replica and the sentinels are
up. It subscribes to `+switch-master` on every sentinel, connects a
redis-py client through `Sentinel(...).master_for(...)`, checks that a
write goes through, then prints `{"ready": true}` and waits for one line
on stdin. The xtask kills the primary (kill -9) and writes that line; its
arrival is T0 here (the xtask adds the few microseconds it spent between
the kill and the write).

After T0 it retries `SET k v` (sleeping 10 ms after each failure) until
one succeeds (T2), and waits until every sentinel has published
`+switch-master` (T1 per sentinel). It prints one JSON line with the
times in seconds since T0 (null for what did not happen within --limit
seconds) and exits 0; the xtask decides what counts as a failure.
"""

import argparse
import json
import sys
import threading
import time

import redis
from redis.sentinel import Sentinel

HOST = "127.0.0.1"


def subscribe(port):
    """A PubSub on the sentinel at `port`, subscribed to +switch-master."""
    conn = redis.Redis(
        host=HOST, port=port, socket_timeout=5, socket_connect_timeout=5
    )
    ps = conn.pubsub()
    ps.subscribe("+switch-master")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        m = ps.get_message(timeout=0.5)
        if m and m["type"] == "subscribe":
            return ps
    raise RuntimeError(f"sentinel {port}: no subscribe confirmation in 5 s")


class Listener(threading.Thread):
    """Records when (time.monotonic()) the first +switch-master arrives."""

    def __init__(self, ps, stop):
        super().__init__(daemon=True)
        self.ps = ps
        self.stop = stop
        self.at = None
        self.payload = None
        self.error = None

    def run(self):
        try:
            while not self.stop.is_set():
                m = self.ps.get_message(timeout=0.05)
                if m and m["type"] == "message":
                    self.at = time.monotonic()
                    self.payload = m["data"].decode("utf-8", "replace")
                    return
        except Exception as e:  # reported, never raised in a thread
            self.error = repr(e)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sentinels", required=True, help="ports, comma-separated")
    ap.add_argument("--master", default="m")
    ap.add_argument("--limit", type=float, default=60.0)
    a = ap.parse_args()
    ports = [int(p) for p in a.sentinels.split(",")]

    stop = threading.Event()
    listeners = [Listener(subscribe(p), stop) for p in ports]
    for li in listeners:
        li.start()

    sentinel = Sentinel([(HOST, p) for p in ports], socket_timeout=0.2)
    master = sentinel.master_for(a.master, socket_timeout=0.2)
    deadline = time.monotonic() + 10
    while True:
        try:
            master.set("k", "v")
            break
        except redis.RedisError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    before = sentinel.discover_master(a.master)

    print(json.dumps({"ready": True}), flush=True)
    if not sys.stdin.readline():
        raise RuntimeError("stdin closed before the go line")
    t0 = time.monotonic()
    limit = t0 + a.limit

    t2 = None
    attempts = 0
    errors = {}
    while time.monotonic() < limit:
        attempts += 1
        try:
            master.set("k", "v")
            t2 = time.monotonic() - t0
            break
        except redis.RedisError as e:
            name = type(e).__name__
            errors[name] = errors.get(name, 0) + 1
        time.sleep(0.01)

    for li in listeners:
        li.join(timeout=max(0.0, limit - time.monotonic()))
    stop.set()

    after = None
    try:
        after = list(sentinel.discover_master(a.master))
    except redis.RedisError as e:
        errors["discover_after"] = repr(e)
    out = {
        "t1": [None if li.at is None else li.at - t0 for li in listeners],
        "t2": t2,
        "attempts": attempts,
        "errors": errors,
        "switch": [li.payload for li in listeners],
        "listener_errors": [li.error for li in listeners],
        "master_before": list(before),
        "master_after": after,
    }
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
