#!/usr/bin/env python3
"""Records command metadata from a reference redis-server into commands.json.

The reference server's COMMAND INFO / COMMAND DOCS replies are the spec of our
own replies, so we capture them losslessly (including which RESP type each
value had) and let crates/commands/src/meta.rs rebuild the exact bytes.

Usage: gen.py --port PORT [--host 127.0.0.1] [--out DIR]

JSON schema of commands.json (a list sorted by name):
  {
    "name": "config",            # lowercase; subcommands are "config|get"
    "arity": -2,
    "flags": ["readonly", ...],  # RESP3: set of simple strings
    "first_key": 0, "last_key": 0, "step": 0,
    "acl_categories": ["slow"],  # without '@'; RESP3: set of simple "+@slow"
    "tips": ["request_policy:all_shards"],   # RESP3: set of bulk strings
    "key_specs": [VALUE, ...],   # verbatim maps, generic encoding below;
                                 # RESP3: a set of maps
    "subcommands": [COMMAND, ...],  # reference order (same shape); RESP3:
                                    # array, or an empty set when none
    "docs": VALUE                # verbatim COMMAND DOCS map of this command,
                                 # minus its "subcommands" entry, which is
                                 # rebuilt from subcommands[*].docs
  }

Generic lossless encoding of a RESP value (VALUE):
  JSON string  -> bulk string        JSON integer -> integer
  JSON array   -> array              JSON object  -> map with bulk-string keys,
                                                      in document order
  {"+": "text"} -> simple string     {"~": [..]}  -> set
  {"_": null}   -> null
The tag keys "+", "~", "_" never occur as real map keys (asserted below).

The script also verifies that:
  * re-encoding the JSON gives byte-identical RESP3 replies, and
  * the RESP2 replies equal the RESP3 ones with maps flattened into arrays
    and sets turned into arrays (i.e. they differ only in the types),
and it records raw reference replies for the Rust unit tests in testdata/.
"""

import argparse
import json
import os
import socket
import sys

TAGS = ("+", "~", "_")

# Commands whose raw INFO/DOCS replies the Rust tests compare against.
TEST_COMMANDS = [
    "get", "set", "config", "georadius", "xread", "sort", "zunionstore",
    "eval", "migrate", "memory", "client", "object", "bitfield_ro", "keys",
    "xreadgroup", "lmpop", "blmpop", "zadd", "ping", "geosearchstore",
]

# COMMAND GETKEYS cases recorded from the reference (argv after GETKEYS).
GETKEYS_CASES = [
    ["get", "k"], ["set", "k", "v"], ["set", "k"], ["mset", "a", "1", "b", "2"],
    ["mset", "a", "1", "b"], ["mget", "a", "b", "c"], ["del", "a", "b"],
    ["ping", "x"], ["foo", "x"], ["config", "get", "x"], ["config", "foo", "x"],
    ["config"], ["eval", "s", "0"], ["eval", "s", "2", "a", "b", "c"],
    ["eval", "s", "-1"], ["eval", "s", "3", "a"], ["eval", "s", "x", "a"],
    ["evalsha", "s", "1", "a"], ["fcall", "f", "2", "a", "b"],
    ["zunionstore", "d", "2", "a", "b", "weights", "1", "2"],
    ["zunionstore", "d", "0", "a"], ["zunionstore", "d", "3", "a"],
    ["zunionstore", "d", "x", "a"], ["zinter", "2", "a", "b"],
    ["zdiffstore", "d", "1", "a"], ["sintercard", "2", "a", "b", "limit", "1"],
    ["lmpop", "2", "a", "b", "left"], ["blmpop", "0", "2", "a", "b", "left"],
    ["bzmpop", "0", "1", "a", "min"], ["zmpop", "1", "a", "max"],
    ["xread", "streams", "a", "b", "0", "0"],
    ["xread", "count", "2", "streams", "a", "0"],
    ["xread", "block", "0", "streams", "a", "b", "c", "0", "0", "0"],
    ["xread", "streams", "a", "b", "0"],
    ["xreadgroup", "group", "g", "c", "streams", "s", ">"],
    ["georadius", "k", "0", "0", "1", "km"],
    ["georadius", "k", "0", "0", "1", "km", "store", "d"],
    ["georadius", "k", "0", "0", "1", "km", "storedist", "d2"],
    ["georadiusbymember", "k", "m", "1", "km", "store", "d"],
    ["geosearchstore", "d", "s", "frommember", "m", "byradius", "1", "km"],
    ["sort", "k"], ["sort", "k", "store", "d"], ["sort", "k", "by", "p", "store", "d"],
    ["sort_ro", "k", "by", "p"],
    ["migrate", "h", "1", "k", "0", "10"],
    ["migrate", "h", "1", "", "0", "10", "keys", "a", "b"],
    ["migrate", "h", "1", "", "0", "10", "auth", "p", "keys", "a", "b"],
    ["object", "encoding", "k"], ["memory", "usage", "k"],
    ["memory", "usage", "k", "samples", "5"], ["bitfield", "k", "get", "u8", "0"],
    ["bitfield_ro", "k", "get", "u8", "0"], ["rename", "a", "b"],
    ["smove", "a", "b", "m"], ["lmove", "a", "b", "left", "right"],
    ["blpop", "a", "b", "0"], ["brpoplpush", "a", "b", "0"],
    ["bzpopmin", "a", "b", "0"], ["pfcount", "a", "b"], ["pfmerge", "d", "a", "b"],
    ["bitop", "and", "d", "a", "b"], ["copy", "a", "b", "db", "1"],
    ["xgroup", "create", "s", "g", "$"], ["xinfo", "stream", "s"],
    ["zrangestore", "d", "s", "0", "-1"], ["lcs", "a", "b"],
    ["getex", "k", "ex", "10"], ["touch", "a"], ["unlink", "a", "b"],
    ["exists", "a", "b"], ["watch", "a", "b"], ["debug", "object", "k"],
    ["publish", "c", "m"], ["command", "info"], ["object", "help"],
    # Edge cases where the key specs do not apply and the reference falls
    # back to its per-command key extraction.
    ["zunionstore", "d", "2abc", "a", "b"], ["zunionstore", "d", " 2", "a", "b"],
    ["eval", "s", "1abc", "a"], ["zinter", "2x", "a", "b"], ["lmpop", "0", "a", "left"],
    ["sintercard", "0", "a"], ["blmpop", "0", "0", "a", "left"],
    ["bzmpop", "0", "-1", "a", "min"], ["eval", "s", "0", "a"], ["fcall", "f", "1"],
    ["eval", "s", ""], ["fcall_ro", "f", "2", "a"], ["zunion", "1", "a", "b"],
    ["georadius", "k", "0", "0", "1", "km", "store", "d", "store", "e"],
    ["georadius", "k", "0", "0", "1", "km", "store"],
    ["georadius", "k", "0", "0", "1", "km", "storedist", "d", "store", "e"],
    ["georadius", "k", "0", "0", "1", "km", "storedist", "d", "store"],
    ["georadius", "k", "0", "0", "1", "km", "store", "d", "storedist"],
    ["georadius", "k", "0", "0", "1", "km", "store", "d", "storedist", "e", "store"],
    ["georadiusbymember", "k", "m", "1", "km", "store"],
    ["sort", "k", "by", "store"], ["sort", "k", "store"],
    ["sort", "k", "get", "a", "store", "d", "limit", "0", "1"],
    ["sort", "k", "store", "a", "store", "b"], ["sort_ro", "k", "store", "a"],
    ["sort", "k", "limit", "0", "store", "d"], ["sort", "k", "limit", "store", "d"],
    ["sort", "k", "STORE", "d", "ASC"], ["sort", "k", "by", "a", "get", "b", "store"],
    ["xread", "streams", "streams", "a", "0", "0"],
    ["xread", "count", "streams", "streams", "a", "b", "1", "2"],
    ["xread", "streams", "a"], ["xread", "streams", "a", "b", "c"],
    ["xread", "count", "1", "streams"], ["xread", "count", "1", "a", "b"],
    ["xreadgroup", "group", "streams", "c", "streams", "a", "0"],
    ["migrate", "h", "1", "", "0", "10", "keys"],
    ["migrate", "h", "1", "k", "0", "10", "keys", "a"],
    ["migrate", "h", "1", "", "0", "10", "copy", "keys", "a"],
    ["migrate", "h", "1", "", "0", "10", "auth2", "u", "p", "keys", "a"],
    ["migrate", "h", "1", "", "0", "10", "auth", "keys", "keys", "a"],
    ["migrate", "h", "1", "", "0", "10", "auth", "keys"],
    ["migrate", "h", "1", "k", "0", "10", "keys"], ["migrate", "h", "1", "k", "0", "10", "copy"],
    ["migrate", "h", "1", "", "0", "10", "keys", "a", "keys", "b"],
    ["migrate", "h", "1", "", "0", "10", "auth2", "keys", "keys", "a", "b"],
    ["migrate", "h", "1", "k", "0", "10", "auth", "x", "keys"],
    ["geosearchstore", "d", "s"], ["set", "k", "v", "get"], ["object", "freq", "k"],
    ["memory", "usage"], ["xreadgroup", "group", "g", "c", "streams", "s"],
    ["spublish", "c", "m"], ["ssubscribe", "a", "b"], ["sunsubscribe", "a"],
    ["GET", "k"], ["Config", "GET", "x"], ["mset", "a"], ["get", "k", "x"],
    ["eval", "s", "99999999999999999999", "a"], ["zunionstore", "d", "99999999999999999999", "a"],
    ["eval", "s", "-0", "a"], ["eval", "s", "+1", "a"], ["zunionstore", "d", "+1", "a"],
]


def encode_cmd(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a.encode() if isinstance(a, str) else a
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


class Conn:
    """A blocking connection that returns raw reply bytes plus parsed values."""

    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port))
        self.buf = b""

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise EOFError("server closed the connection")
        self.buf += chunk

    def _line(self, pos):
        while True:
            end = self.buf.find(b"\r\n", pos)
            if end >= 0:
                return self.buf[pos:end], end + 2
            self._fill()

    def _need(self, end):
        while len(self.buf) < end:
            self._fill()

    def _parse(self, pos):
        """Parses one value at pos; returns (value, next_pos).

        Values are tuples (type, payload) so the RESP type is kept:
        ('simple', str) ('error', str) ('int', int) ('bulk', bytes)
        ('null', None) ('array', list) ('map', [(k, v)]) ('set', list)
        ('double', str) ('bool', bool) ('big', str) ('verbatim', bytes)
        """
        line, nxt = self._line(pos)
        t, rest = line[:1], line[1:]
        if t == b"+":
            return ("simple", rest.decode()), nxt
        if t == b"-":
            return ("error", rest.decode()), nxt
        if t == b":":
            return ("int", int(rest)), nxt
        if t == b",":
            return ("double", rest.decode()), nxt
        if t == b"#":
            return ("bool", rest == b"t"), nxt
        if t == b"(":
            return ("big", rest.decode()), nxt
        if t == b"_":
            return ("null", None), nxt
        if t in (b"$", b"="):
            n = int(rest)
            if n < 0:
                return ("null", None), nxt
            self._need(nxt + n + 2)
            data = self.buf[nxt:nxt + n]
            return ("bulk" if t == b"$" else "verbatim", data), nxt + n + 2
        if t in (b"*", b"~", b">"):
            n = int(rest)
            if n < 0:
                return ("null", None), nxt
            items = []
            for _ in range(n):
                v, nxt = self._parse(nxt)
                items.append(v)
            return ({b"*": "array", b"~": "set", b">": "push"}[t], items), nxt
        if t in (b"%", b"|"):
            n = int(rest)
            pairs = []
            for _ in range(n):
                k, nxt = self._parse(nxt)
                v, nxt = self._parse(nxt)
                pairs.append((k, v))
            return ("map" if t == b"%" else "attr", pairs), nxt
        raise ValueError("unknown RESP type byte %r" % t)

    def call(self, *args):
        """Sends one command; returns (raw_reply_bytes, parsed_value)."""
        self.sock.sendall(encode_cmd(list(args)))
        value, end = self._parse(0)
        raw, self.buf = self.buf[:end], self.buf[end:]
        return raw, value


def encode_value(v, proto):
    """Re-encodes a parsed value; RESP2 flattens maps and sets to arrays."""
    t, p = v
    if t == "simple":
        return b"+" + p.encode() + b"\r\n"
    if t == "error":
        return b"-" + p.encode() + b"\r\n"
    if t == "int":
        return b":%d\r\n" % p
    if t == "bulk":
        return b"$%d\r\n%s\r\n" % (len(p), p)
    if t == "null":
        return b"_\r\n" if proto == 3 else b"$-1\r\n"
    if t in ("array", "set"):
        head = b"~" if (t == "set" and proto == 3) else b"*"
        return head + b"%d\r\n" % len(p) + b"".join(encode_value(x, proto) for x in p)
    if t == "map":
        if proto == 3:
            head = b"%%%d\r\n" % len(p)
        else:
            head = b"*%d\r\n" % (2 * len(p))
        return head + b"".join(encode_value(k, proto) + encode_value(x, proto) for k, x in p)
    raise ValueError("type %s not expected in command metadata" % t)


def to_json(v):
    """Generic lossless JSON form of a parsed value (see module docstring)."""
    t, p = v
    if t == "bulk":
        return p.decode()
    if t == "int":
        return p
    if t == "array":
        return [to_json(x) for x in p]
    if t == "set":
        return {"~": [to_json(x) for x in p]}
    if t == "simple":
        return {"+": p}
    if t == "null":
        return {"_": None}
    if t == "map":
        obj = {}
        for k, x in p:
            if k[0] != "bulk":
                raise ValueError("non-bulk map key %r" % (k,))
            key = k[1].decode()
            if key in TAGS or key in obj:
                raise ValueError("map key %r would be ambiguous" % key)
            obj[key] = to_json(x)
        return obj
    raise ValueError("type %s not expected in command metadata" % t)


def from_json(j):
    """Inverse of to_json, used to prove the JSON form is lossless."""
    if isinstance(j, str):
        return ("bulk", j.encode())
    if isinstance(j, bool):
        raise ValueError("booleans are not used")
    if isinstance(j, int):
        return ("int", j)
    if isinstance(j, list):
        return ("array", [from_json(x) for x in j])
    if isinstance(j, dict):
        if len(j) == 1 and "+" in j:
            return ("simple", j["+"])
        if len(j) == 1 and "~" in j:
            return ("set", [from_json(x) for x in j["~"]])
        if len(j) == 1 and "_" in j:
            return ("null", None)
        return ("map", [(("bulk", k.encode()), from_json(x)) for k, x in j.items()])
    raise ValueError("unexpected JSON value %r" % (j,))


def expect(cond, what):
    if not cond:
        raise SystemExit("unexpected reply shape: " + what)


def simple_set(v, what):
    expect(v[0] == "set" and all(x[0] == "simple" for x in v[1]), what)
    return [x[1] for x in v[1]]


def command_record(info, docs_map):
    """Builds one JSON record from a COMMAND INFO entry and its docs value."""
    t, f = info
    expect(t == "array" and len(f) == 10, "info entry of 10 fields")
    expect(f[0][0] == "bulk", "name")
    name = f[0][1].decode()
    for i in (1, 3, 4, 5):
        expect(f[i][0] == "int", name + " integer field")
    acl = simple_set(f[6], name + " acl categories")
    expect(all(a.startswith("@") for a in acl), name + " acl '@'")
    expect(f[7][0] == "set" and all(x[0] == "bulk" for x in f[7][1]), name + " tips")
    expect(f[8][0] == "set", name + " key specs")
    # Subcommands are an array, but "none" is sent as an empty set.
    expect((f[9][0] == "array" and f[9][1]) or (f[9][0] == "set" and not f[9][1]),
           name + " subcommands")

    docs = docs_map.get(name)
    expect(docs is not None and docs[0] == "map", name + " has docs")
    doc_pairs = docs[1]
    sub_docs = {}
    kept = []
    for i, (k, v) in enumerate(doc_pairs):
        if k == ("bulk", b"subcommands"):
            # Rebuilt from the subcommands' own docs, so it must be last and
            # in the same order as the INFO subcommands (checked below).
            expect(i == len(doc_pairs) - 1, name + " docs subcommands last")
            expect(v[0] == "map", name + " docs subcommands map")
            sub_docs = {kk[1].decode(): vv for kk, vv in v[1]}
            order = [kk[1].decode() for kk, _ in v[1]]
            info_order = [s[1][0][1].decode() for s in f[9][1]]
            expect(order == info_order, name + " subcommand order")
        else:
            kept.append((k, v))
    expect(bool(sub_docs) == bool(f[9][1]), name + " subcommand docs present")

    return {
        "name": name,
        "arity": f[1][1],
        "flags": simple_set(f[2], name + " flags"),
        "first_key": f[3][1],
        "last_key": f[4][1],
        "step": f[5][1],
        "acl_categories": [a[1:] for a in acl],
        "tips": [x[1].decode() for x in f[7][1]],
        "key_specs": [to_json(x) for x in f[8][1]],
        "subcommands": [command_record(s, sub_docs) for s in f[9][1]],
        "docs": to_json(("map", kept)),
    }


def info_value(rec):
    """Rebuilds the COMMAND INFO entry of a record (for verification)."""
    return ("array", [
        ("bulk", rec["name"].encode()),
        ("int", rec["arity"]),
        ("set", [("simple", x) for x in rec["flags"]]),
        ("int", rec["first_key"]),
        ("int", rec["last_key"]),
        ("int", rec["step"]),
        ("set", [("simple", "@" + x) for x in rec["acl_categories"]]),
        ("set", [("bulk", x.encode()) for x in rec["tips"]]),
        ("set", [from_json(x) for x in rec["key_specs"]]),
        ("array" if rec["subcommands"] else "set",
         [info_value(s) for s in rec["subcommands"]]),
    ])


def docs_value(rec):
    """Rebuilds the COMMAND DOCS value of a record (for verification)."""
    t, pairs = from_json(rec["docs"])
    pairs = list(pairs)
    if rec["subcommands"]:
        pairs.append((("bulk", b"subcommands"), ("map", [
            (("bulk", s["name"].encode()), docs_value(s)) for s in rec["subcommands"]
        ])))
    return (t, pairs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    args = ap.parse_args()

    c3 = Conn(args.host, args.port)
    c3.call("HELLO", "3")
    c2 = Conn(args.host, args.port)

    info3_raw, info3 = c3.call("COMMAND", "INFO")
    docs3_raw, docs3 = c3.call("COMMAND", "DOCS")
    info2_raw, _ = c2.call("COMMAND", "INFO")
    docs2_raw, _ = c2.call("COMMAND", "DOCS")

    # The replies differ between protocols only in their types.
    expect(encode_value(info3, 3) == info3_raw, "RESP3 INFO re-encodes")
    expect(encode_value(docs3, 3) == docs3_raw, "RESP3 DOCS re-encodes")
    expect(encode_value(info3, 2) == info2_raw, "RESP2 INFO = downgraded RESP3")
    expect(encode_value(docs3, 2) == docs2_raw, "RESP2 DOCS = downgraded RESP3")

    expect(docs3[0] == "map", "DOCS is a map")
    docs_map = {k[1].decode(): v for k, v in docs3[1]}
    records = [command_record(i, docs_map) for i in info3[1]]
    expect(len(records) == len(docs_map), "INFO and DOCS cover the same commands")

    # The JSON form must rebuild the reference bytes exactly, in the
    # reference's own order (the file itself is sorted by name).
    rebuilt = ("array", [info_value(r) for r in records])
    expect(encode_value(rebuilt, 3) == info3_raw, "JSON rebuilds RESP3 INFO")
    expect(encode_value(rebuilt, 2) == info2_raw, "JSON rebuilds RESP2 INFO")
    rebuilt = ("map", [(("bulk", r["name"].encode()), docs_value(r)) for r in records])
    expect(encode_value(rebuilt, 3) == docs3_raw, "JSON rebuilds RESP3 DOCS")
    expect(encode_value(rebuilt, 2) == docs2_raw, "JSON rebuilds RESP2 DOCS")

    records.sort(key=lambda r: r["name"])
    # Round-trip through the serialized text as well (catches JSON quirks).
    text = json.dumps(records, indent=1, ensure_ascii=False) + "\n"
    again = json.loads(text)
    expect(again == records, "JSON text round-trips")
    with open(os.path.join(args.out, "commands.json"), "w", encoding="utf-8") as fh:
        fh.write(text)

    # Raw reference replies for the Rust unit tests.
    td = os.path.join(args.out, "testdata")
    os.makedirs(td, exist_ok=True)
    for name in TEST_COMMANDS:
        for proto, conn in ((2, c2), (3, c3)):
            for sub in ("info", "docs"):
                raw, _ = conn.call("COMMAND", sub.upper(), name)
                with open(os.path.join(td, "%s_%s.resp%d" % (sub, name, proto)), "wb") as fh:
                    fh.write(raw)
    cases = []
    for argv in GETKEYS_CASES:
        raw, v = c2.call("COMMAND", "GETKEYS", *argv)
        if v[0] == "error":
            cases.append({"argv": argv, "error": v[1]})
        else:
            expect(v[0] == "array", "GETKEYS array")
            cases.append({"argv": argv, "keys": [x[1].decode() for x in v[1]]})
    with open(os.path.join(td, "getkeys.json"), "w", encoding="utf-8") as fh:
        fh.write(json.dumps(cases, indent=1) + "\n")
    print("wrote %d commands, %d test commands, %d getkeys cases"
          % (len(records), len(TEST_COMMANDS), len(cases)), file=sys.stderr)


if __name__ == "__main__":
    main()
