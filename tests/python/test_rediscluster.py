"""redis-py's RedisCluster against a running cluster: slot map discovery,
redirections followed, pipelines, mget_nonatomic/mset_nonatomic, hash
tags, pub/sub, sharded pub/sub, and a retry across a failover when the
harness kills a master (optional second phase).

Usage: python test_rediscluster.py PORT [phase]
  phase "basic" (default): the checks below, then prints
    "rediscluster checks passed".
  phase "write-through-failover": writes keys, prints "ready", waits for
    a line on stdin (the harness kills a master meanwhile), then writes
    and reads again with retries until every key answers; prints
    "failover checks passed".
Run by tests/cluster.rs with the interpreter from the repository's .venv.
"""

import sys
import time

import redis
from redis.cluster import RedisCluster
from redis.retry import Retry
from redis.backoff import ConstantBackoff


def expect(got, want, what):
    if got != want:
        raise AssertionError(f"{what}: got {got!r}, want {want!r}")


def client(port):
    return RedisCluster(
        host="127.0.0.1",
        port=port,
        retry=Retry(ConstantBackoff(0.2), 50),
    )


def basic(port):
    rc = client(port)
    nodes = rc.get_nodes()
    expect(len([n for n in nodes if n.server_type == "primary"]), 3, "primaries")
    for i in range(200):
        rc.set(f"key:{i}", str(i))
    for i in range(200):
        expect(rc.get(f"key:{i}"), str(i).encode(), f"GET key:{i}")
    expect(rc.keyslot("key1"), 9189, "keyslot")
    # Multi-key across slots, split by the client.
    rc.mset_nonatomic({"a": "1", "b": "2", "c": "3"})
    expect(rc.mget_nonatomic(["a", "b", "c"]), [b"1", b"2", b"3"], "mget_nonatomic")
    # Hash tags keep multi-key commands on one node.
    rc.mset({"{user1}:name": "x", "{user1}:age": "3"})
    expect(rc.mget("{user1}:name", "{user1}:age"), [b"x", b"3"], "MGET same slot")
    try:
        rc.execute_command("MSET", "a", "1", "b", "2")
        raise AssertionError("MSET across slots did not fail")
    except redis.exceptions.RedisClusterException as e:
        if "same key slot" not in str(e) and "CROSSSLOT" not in str(e):
            raise
    except redis.ResponseError as e:
        if "CROSSSLOT" not in str(e):
            raise
    # Pipeline spread over nodes.
    p = rc.pipeline()
    for i in range(50):
        p.incr(f"ctr:{i}")
    expect(p.execute(), [1] * 50, "pipeline INCR")
    # Transactions in a pipeline of one slot.
    expect(rc.delete("{t}a", "{t}b"), 0, "DEL")
    # Keys spread over all three primaries.
    counts = [int(rc.dbsize(target_nodes=n)) for n in rc.get_primaries()]
    if min(counts) == 0:
        raise AssertionError(f"keys not spread: {counts}")
    # Pub/sub: a message published on one node reaches a subscriber
    # connected to another (the cluster bus relays it).
    ps = rc.pubsub()
    ps.subscribe("news")
    deadline = time.time() + 5
    while time.time() < deadline:
        m = ps.get_message(timeout=0.2)
        if m and m["type"] == "subscribe":
            break
    other = [n for n in rc.get_primaries() if n.port != ps.get_pubsub_node().port][0]
    r = redis.Redis(host="127.0.0.1", port=other.port)
    got = None
    deadline = time.time() + 5
    while time.time() < deadline and got is None:
        r.publish("news", "hello")
        m = ps.get_message(timeout=0.5)
        if m and m["type"] == "message":
            got = m["data"]
    expect(got, b"hello", "PUBLISH relayed over the bus")
    ps.close()
    # Sharded pub/sub: SSUBSCRIBE/SPUBLISH on the channel's shard.
    sp = rc.pubsub()
    sp.ssubscribe("orders")
    deadline = time.time() + 5
    while time.time() < deadline:
        m = sp.get_sharded_message(timeout=0.2)
        if m and m["type"] == "ssubscribe":
            break
    got = None
    deadline = time.time() + 5
    while time.time() < deadline and got is None:
        rc.spublish("orders", "o1")
        m = sp.get_sharded_message(timeout=0.5)
        if m and m["type"] == "smessage":
            got = m["data"]
    expect(got, b"o1", "SPUBLISH/SSUBSCRIBE")
    sp.close()
    print("rediscluster checks passed", flush=True)


def through_failover(port):
    rc = client(port)
    for i in range(300):
        rc.set(f"fo:{i}", str(i))
    print("ready", flush=True)
    sys.stdin.readline()
    deadline = time.time() + 60
    pending = set(range(300))
    while pending and time.time() < deadline:
        for i in sorted(pending):
            try:
                if rc.get(f"fo:{i}") == str(i).encode():
                    rc.set(f"fo2:{i}", "x")
                    pending.discard(i)
            except (redis.exceptions.ConnectionError, redis.exceptions.ClusterDownError,
                    redis.exceptions.TimeoutError, redis.exceptions.ResponseError):
                time.sleep(0.2)
                break
    if pending:
        raise AssertionError(f"{len(pending)} keys unreadable after the failover")
    print("failover checks passed", flush=True)


def under_reshard(port):
    """Writes (and reads back) keys with retries until a line arrives on
    stdin; then checks every acknowledged write and prints the count."""
    import select
    rc = client(port)
    acked = 0
    errors = 0
    deadline = time.time() + 240
    print("ready", flush=True)
    while time.time() < deadline:
        if select.select([sys.stdin], [], [], 0)[0]:
            break
        try:
            rc.set(f"rk:{acked}", str(acked))
            acked += 1
            if acked % 7 == 0:
                k = acked // 2
                got = rc.get(f"rk:{k}")
                if got != str(k).encode():
                    raise AssertionError(f"rk:{k}: got {got!r} during the reshard")
        except (redis.exceptions.ConnectionError, redis.exceptions.ClusterDownError,
                redis.exceptions.TimeoutError, redis.exceptions.TryAgainError,
                redis.exceptions.AskError, redis.exceptions.MovedError) as e:
            errors += 1
            time.sleep(0.05)
    for i in range(acked):
        got = rc.get(f"rk:{i}")
        if got != str(i).encode():
            raise AssertionError(f"acknowledged write rk:{i} lost: {got!r}")
    print(f"reshard checks passed: {acked} writes, {errors} retried errors", flush=True)


if __name__ == "__main__":
    port = int(sys.argv[1])
    phase = sys.argv[2] if len(sys.argv) > 2 else "basic"
    if phase == "basic":
        basic(port)
    elif phase == "under-reshard":
        under_reshard(port)
    else:
        through_failover(port)
