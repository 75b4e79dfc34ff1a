"""redis-py against a running server: strings, expiry, pipelines, RESP3,
scripts (register_script, Lock).

Usage: python test_redispy.py PORT
Exits non-zero (an exception) on the first mismatch; prints
"redis-py checks passed" at the end. Run by tests/clients.rs with the
interpreter from the repository's .venv.
"""

import sys
import time

import redis


def expect(got, want, what):
    # A plain raise rather than assert so `python -O` cannot disable checks.
    if got != want:
        raise AssertionError(f"{what}: got {got!r}, want {want!r}")


def expect_error(fn, fragment, what):
    try:
        fn()
    except redis.ResponseError as e:
        if fragment not in str(e):
            raise AssertionError(f"{what}: error {e!r} lacks {fragment!r}")
        return
    raise AssertionError(f"{what}: no error raised")


def check_strings(r):
    expect(r.set("s", "v"), True, "SET")
    expect(r.get("s"), b"v", "GET")
    expect(r.set("s", "w", nx=True), None, "SET NX on existing")
    expect(r.set("s", "w", xx=True, get=True), b"v", "SET XX GET")
    expect(r.append("s", "xyz"), 4, "APPEND")
    expect(r.strlen("s"), 4, "STRLEN")
    expect(r.getrange("s", 1, -1), b"xyz", "GETRANGE")
    expect(r.setrange("s", 6, "!"), 7, "SETRANGE pads")
    expect(r.get("s"), b"wxyz\x00\x00!", "GET after SETRANGE")
    expect(r.mset({"a": "1", "b": "2"}), True, "MSET")
    expect(r.mget("a", "b", "nope"), [b"1", b"2", None], "MGET")
    expect(r.msetnx({"a": "x", "c": "3"}), False, "MSETNX")
    expect(r.incr("a"), 2, "INCR")
    expect(r.incrby("a", 10), 12, "INCRBY")
    expect(r.decrby("a", 3), 9, "DECRBY")
    expect(r.incrbyfloat("f", 1.5), 1.5, "INCRBYFLOAT")
    expect_error(lambda: r.incr("s"), "not an integer", "INCR on text")
    expect(r.getdel("b"), b"2", "GETDEL")
    expect(r.exists("b"), 0, "EXISTS after GETDEL")
    blob = bytes(range(256))
    expect(r.set("bin", blob), True, "SET binary")
    expect(r.get("bin"), blob, "GET binary")
    expect(r.lcs("a", "f"), b"", "LCS")


def check_expiry(r):
    r.set("e", "1", ex=100)
    ttl = r.ttl("e")
    if not 0 < ttl <= 100:
        raise AssertionError(f"TTL after SET EX: {ttl}")
    expect(r.persist("e"), True, "PERSIST")
    expect(r.ttl("e"), -1, "TTL persistent")
    expect(r.ttl("none"), -2, "TTL missing")
    expect(r.pexpire("e", 50), True, "PEXPIRE")
    deadline = time.monotonic() + 5
    while r.exists("e") and time.monotonic() < deadline:
        time.sleep(0.02)
    expect(r.get("e"), None, "key expired")
    r.set("g", "v")
    expect(r.expire("g", 100, gt=True), False, "EXPIRE GT on persistent")
    expect(r.expire("g", 100, nx=True), True, "EXPIRE NX")
    expect(r.getex("g", persist=True), b"v", "GETEX PERSIST")
    expect(r.ttl("g"), -1, "TTL after GETEX PERSIST")


def check_pipeline(r):
    p = r.pipeline(transaction=False)
    for i in range(100):
        p.set(f"p{i}", i)
    for i in range(100):
        p.get(f"p{i}")
    res = p.execute()
    expect(res[:100], [True] * 100, "pipelined SETs")
    expect(res[100:], [str(i).encode() for i in range(100)], "pipelined GETs")
    p = r.pipeline(transaction=False)
    p.set("x", "1").incr("x").get("x")
    expect(p.execute(), [True, 2, b"2"], "chained pipeline")


def check_resp3(port):
    try:
        r3 = redis.Redis(host="127.0.0.1", port=port, protocol=3)
    except TypeError:
        print("redis-py has no protocol=3; RESP3 part not run")
        return
    expect(r3.ping(), True, "RESP3 PING")
    r3.set("r3", "v")
    expect(r3.get("r3"), b"v", "RESP3 GET")
    expect(r3.get("r3-missing"), None, "RESP3 null")
    expect(r3.incrbyfloat("r3f", 2.5), 2.5, "RESP3 INCRBYFLOAT")
    hello = r3.execute_command("HELLO", "3")
    expect(hello[b"proto"] if b"proto" in hello else hello.get("proto"), 3, "HELLO proto")
    r3.close()


def check_scripts(r):
    # register_script: EVALSHA first, EVAL after NOSCRIPT (redis-py's
    # Script object), then EVALSHA again.
    r.script_flush()
    incr_by = r.register_script(
        "return redis.call('INCRBY', KEYS[1], ARGV[1])"
    )
    r.delete("counter")
    expect(incr_by(keys=["counter"], args=[5]), 5, "Script first call")
    expect(incr_by(keys=["counter"], args=[2]), 7, "Script cached call")
    expect(r.script_exists(incr_by.sha), [True], "SCRIPT EXISTS")
    expect(r.eval("return {1, 'two', {3}}", 0), [1, b"two", [3]], "EVAL nested")
    from redis.exceptions import NoScriptError

    try:
        r.evalsha("f" * 40, 0)
    except NoScriptError:
        pass
    else:
        raise AssertionError("EVALSHA of an unknown script did not fail")
    expect_error(
        lambda: r.eval("return redis.call('incr', KEYS[1])", 1, "s"),
        "not an integer",
        "error inside script",
    )
    # redis-py's Lock: acquire, extend, reacquire, release, and the
    # LockNotOwnedError of a lock that expired and was taken over.
    from redis.exceptions import LockError, LockNotOwnedError

    lock = r.lock("resource", timeout=10, blocking=False)
    expect(lock.acquire(), True, "Lock.acquire")
    expect(r.lock("resource", blocking=False).acquire(), False, "second Lock.acquire")
    expect(lock.owned(), True, "Lock.owned")
    expect(lock.extend(10), True, "Lock.extend")
    ttl = r.pttl("resource")
    if not 10000 < ttl <= 20000:
        raise AssertionError(f"Lock.extend: pttl {ttl}")
    expect(lock.reacquire(), True, "Lock.reacquire")
    lock.release()
    expect(r.exists("resource"), 0, "Lock.release")
    try:
        lock.release()
    except LockError:
        pass
    else:
        raise AssertionError("releasing an unlocked Lock did not fail")
    stolen = r.lock("resource", timeout=10, blocking=False)
    expect(stolen.acquire(), True, "Lock.acquire again")
    r.set("resource", "someone-else")
    try:
        stolen.extend(5)
    except LockNotOwnedError:
        pass
    else:
        raise AssertionError("extending a lock taken over did not fail")
    try:
        stolen.release()
    except LockNotOwnedError:
        pass
    else:
        raise AssertionError("releasing a lock taken over did not fail")
    expect(r.get("resource"), b"someone-else", "a lock not owned is left alone")
    with r.lock("ctx", timeout=5):
        expect(r.exists("ctx"), 1, "Lock as context manager")
    expect(r.exists("ctx"), 0, "Lock released by the context manager")


def main():
    port = int(sys.argv[1])
    r = redis.Redis(host="127.0.0.1", port=port, socket_timeout=5)
    expect(r.ping(), True, "PING")
    expect(r.flushall(), True, "FLUSHALL")
    check_strings(r)
    check_expiry(r)
    check_pipeline(r)
    check_resp3(port)
    check_scripts(r)
    expect(r.dbsize() > 0, True, "DBSIZE")
    r.close()
    print("redis-py checks passed")


if __name__ == "__main__":
    main()
