//! Unit tests of the function engine: every expected text below was seen
//! on the reference `redis-server` 7.0.15 with the same `FUNCTION LOAD` /
//! `FCALL` / `FUNCTION RESTORE`.

use std::time::{Duration, Instant};

use bytes::Bytes;
use redis_common::log::LogLevel;
use redis_resp::{Frame, Protocol};

use super::{parse_metadata, split_words, valid_name, RestorePolicy, LOAD_TIMEOUT};
use crate::host::{CallContext, Host};
use crate::shebang::ScriptFlags;
use crate::{FunctionEngine, FunctionInfo, Interpreter};

/// A tiny fake server: a string keyspace and a few commands.
#[derive(Default)]
struct Mock {
    kv: std::collections::HashMap<Vec<u8>, Vec<u8>>,
    log: Vec<(LogLevel, String)>,
    calls: Vec<(Vec<Bytes>, CallContext)>,
    /// Ticks seen; from `kill_after` on, ticks answer a kill.
    ticks: usize,
    kill_after: Option<usize>,
}

impl Host for Mock {
    fn call(&mut self, argv: Vec<Bytes>, ctx: &CallContext) -> Frame {
        self.calls.push((argv.clone(), *ctx));
        let name = argv[0].to_ascii_lowercase();
        match (name.as_slice(), argv.len()) {
            (b"ping", 1) => Frame::Simple(Bytes::from_static(b"PONG")),
            (b"set", 3) => {
                self.kv.insert(argv[1].to_vec(), argv[2].to_vec());
                Frame::ok()
            }
            (b"get", 2) => match self.kv.get(argv[1].as_ref()) {
                Some(v) => Frame::bulk(v.clone()),
                None => Frame::Null,
            },
            (b"hgetall", 2) => Frame::Map(vec![(Frame::bulk("f"), Frame::bulk("v"))]),
            (b"set" | b"get" | b"incr", _) => {
                Frame::error("ERR Wrong number of args calling Redis command from script")
            }
            _ => Frame::error("ERR Unknown Redis command called from script"),
        }
    }

    fn acl_check_cmd(&mut self, argv: &[Bytes]) -> Option<bool> {
        match argv[0].as_ref() {
            b"get" | b"set" => Some(true),
            _ => None,
        }
    }

    fn log(&mut self, level: LogLevel, msg: &str) {
        self.log.push((level, msg.to_string()));
    }

    fn tick(&mut self) -> Option<Vec<u8>> {
        self.ticks += 1;
        match self.kill_after {
            Some(n) if self.ticks > n => {
                Some(b"ERR Script killed by user with SCRIPT KILL...".to_vec())
            }
            _ => None,
        }
    }
}

fn engine() -> FunctionEngine {
    FunctionEngine::new().unwrap()
}

fn err(text: &str) -> Frame {
    Frame::Error(Bytes::from(text.to_string()))
}

fn bulk(s: &str) -> Frame {
    Frame::bulk(s.to_string())
}

fn strings(items: &[&str]) -> Frame {
    Frame::Array(items.iter().map(|s| bulk(s)).collect())
}

fn words(s: &str) -> Frame {
    strings(&s.split_whitespace().collect::<Vec<_>>())
}

/// `#!lua name=<name>\n<body>`.
fn lib(name: &str, body: &str) -> String {
    format!("#!lua name={name}\n{body}")
}

/// A library `lib` with one function `f` whose body is `body` (line 3
/// onwards, as upstream's scripting tests wrap EVAL bodies).
fn one(body: &str) -> String {
    lib(
        "lib",
        &format!("redis.register_function('f', function(KEYS, ARGV)\n{body}\nend)"),
    )
}

fn load(e: &mut FunctionEngine, code: &str) -> Result<String, Frame> {
    e.load(code.as_bytes(), true)
}

fn load_err(code: &str) -> String {
    match engine().load(code.as_bytes(), false) {
        Ok(name) => format!("ok:{name}"),
        Err(Frame::Error(e)) => String::from_utf8_lossy(&e).into_owned(),
        Err(other) => format!("{other:?}"),
    }
}

fn fcall(e: &mut FunctionEngine, h: &mut Mock, name: &str, keys: &[&str], args: &[&str]) -> Frame {
    let b = |v: &[&str]| -> Vec<Bytes> { v.iter().map(|s| Bytes::from(s.to_string())).collect() };
    e.call(h, name.as_bytes(), &b(keys), &b(args))
}

/// Loads `one(body)` into a fresh engine and calls `f`.
fn run(body: &str) -> Frame {
    let mut e = engine();
    if let Err(x) = load(&mut e, &one(body)) {
        return x;
    }
    fcall(&mut e, &mut Mock::default(), "f", &[], &[])
}

/// `<msg> script: f, on @user_function:<line>.`
fn ferr(msg: &str, line: u32) -> Frame {
    err(&format!("{msg} script: f, on @user_function:{line}."))
}

fn names(e: &FunctionEngine) -> Vec<(String, Vec<String>)> {
    e.libraries()
        .into_iter()
        .map(|l| (l.name, l.functions.into_iter().map(|f| f.name).collect()))
        .collect()
}

fn fl(lib: &str, fns: &[&str]) -> (String, Vec<String>) {
    (lib.to_string(), fns.iter().map(|s| s.to_string()).collect())
}

const NAME_RULE: &str = "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";
const F: &str = "\nredis.register_function('f', function() return 1 end)";

#[test]
fn metadata_errors() {
    let cases: &[(&str, &str)] = &[
        ("", "ERR Missing library metadata"),
        ("x", "ERR Missing library metadata"),
        (" #!lua name=a\n", "ERR Missing library metadata"),
        ("#lua name=a\n", "ERR Missing library metadata"),
        ("#!lua", "ERR Invalid library metadata"),
        ("#!lua name=a", "ERR Invalid library metadata"),
        ("#!lua name=a x=", "ERR Invalid library metadata"),
        ("#!lua name=a\0b\nx", "ERR Invalid library metadata"),
        ("#!lua name=\"a\nx", "ERR Invalid library metadata"),
        ("#!lua name=a\\\"b\nx", "ERR Invalid library metadata"),
        ("#!lua name=\"a\"b\nx", "ERR Invalid library metadata"),
        ("#!lua name=\"L\\\"\nx", "ERR Invalid library metadata"),
        ("#!lua\n", "ERR Library name was not given"),
        ("#!\nx", "ERR Library name was not given"),
        ("#!lua,name=a\nx", "ERR Library name was not given"),
        ("#!lua\x0bname=a\nx", "ERR Library name was not given"),
        ("#! name=a\nx", "ERR Engine '' not found"),
        ("#!bad name=a\nx", "ERR Engine 'bad' not found"),
        ("#!luax name=a\nx", "ERR Engine 'luax' not found"),
        ("#!lua name\nx", "ERR Invalid metadata value given: name"),
        ("#!lua foo\nx", "ERR Invalid metadata value given: foo"),
        (
            "#!lua name=a foo=bar\nx",
            "ERR Invalid metadata value given: foo=bar",
        ),
        (
            "#!lua flags=no-writes name=a\nx",
            "ERR Invalid metadata value given: flags=no-writes",
        ),
        ("#! lua name=a\nx", "ERR Invalid metadata value given: lua"),
        (
            "#!lua name=a \"b c\"\nx",
            "ERR Invalid metadata value given: b c",
        ),
        ("#!lua name=a =x\nx", "ERR Invalid metadata value given: =x"),
        ("#!lua =\nx", "ERR Invalid metadata value given: ="),
        (
            "#!lua name=L1 \"\"\nx",
            "ERR Invalid metadata value given: ",
        ),
        (
            "#!lua name=\"L\"\x0bx\nx",
            "ERR Invalid metadata value given: x",
        ),
        ("#!bad foo\nx", "ERR Invalid metadata value given: foo"),
        (
            "#!lua name=a name=b\nx",
            "ERR Invalid metadata value, name argument was given multiple times",
        ),
        (
            "#!bad name=a name=b\nx",
            "ERR Invalid metadata value, name argument was given multiple times",
        ),
        ("#!lua name=\nx", NAME_RULE),
        ("#!lua name=a=b\nx", NAME_RULE),
        ("#!lua name=a-b\nx", NAME_RULE),
        ("#!bad name=a-b\nx", NAME_RULE),
        ("#!lua name=\"a b\"\nx", NAME_RULE),
        ("#!lua name=\"\"\nx", NAME_RULE),
        ("#!lua name=\u{e9}\nx", NAME_RULE),
        ("#!lua name=a\x0bb\nx", NAME_RULE),
        ("#!lua name=a\x0c\nx", NAME_RULE),
        ("#!lua name=\"a\\n\"\nx", NAME_RULE),
        ("#!lua name='a\\'b'\nx", NAME_RULE),
        ("#!lua name={a}\nx", NAME_RULE),
        ("#!lua name==a\nx", NAME_RULE),
        ("#!lua name=a\n", "ERR No functions registered"),
    ];
    for (code, want) in cases {
        assert_eq!(load_err(code), *want, "{code:?}");
    }
}

#[test]
fn metadata_accepted() {
    let cases: &[(&str, &str)] = &[
        ("#!lua name=a", "a"),
        ("#!LUA name=a", "a"),
        ("#!Lua name=A", "A"),
        ("#!lua  name=a  ", "a"),
        ("#!lua\tname=a", "a"),
        ("#!lua name=a\r", "a"),
        ("#!lua\rname=a", "a"),
        ("#!lua name=\"a\"", "a"),
        ("#!lua name='a'", "a"),
        ("#!lua name=a\"b\"", "ab"),
        ("#!lua name=ab_09", "ab_09"),
        ("#!lua NAME=a", "a"),
        ("#!lua nAmE=a", "a"),
        ("#!lua \"name=x\"", "x"),
        ("#!lua name=\"a\\x41\"", "aA"),
        ("#!\"lua\" name=a", "a"),
        ("#!lua name=Ab9_", "Ab9_"),
    ];
    for (line, want) in cases {
        assert_eq!(
            load_err(&format!("{line}{F}")),
            format!("ok:{want}"),
            "{line:?}"
        );
    }
    let long = "a".repeat(300);
    assert_eq!(
        load_err(&format!("#!lua name={long}{F}")),
        format!("ok:{long}")
    );
    // `\x3"` is no hex escape: `\x` is `x`.
    assert_eq!(
        load_err("#!lua name=\"L\\x3\"\nx"),
        "ERR Error compiling function: user_function:2: '=' expected near '<eof>'"
    );
    let m = parse_metadata(b"#!lua name=lib\nreturn").unwrap();
    assert_eq!(m.name, "lib");
    assert_eq!(m.engine, b"lua");
    assert_eq!(m.code_start, 14);
}

#[test]
fn word_splitting() {
    let w = |s: &str| {
        split_words(s.as_bytes()).map(|v| {
            v.into_iter()
                .map(|w| String::from_utf8_lossy(&w).into_owned())
                .collect::<Vec<_>>()
        })
    };
    assert_eq!(w(""), Some(vec![]));
    assert_eq!(
        w("  a  b\t\tc "),
        Some(vec!["a".into(), "b".into(), "c".into()])
    );
    assert_eq!(w("\"a\\tb\\x41\\q\""), Some(vec!["a\tbAq".into()]));
    assert_eq!(w("'a\\'b' \"\""), Some(vec!["a'b".into(), "".into()]));
    assert_eq!(w("x\"y z\"w"), None);
    assert_eq!(w("x\"y z\" w"), Some(vec!["xy z".into(), "w".into()]));
    assert_eq!(w("'abc"), None);
    assert_eq!(w("\"abc\\"), None);
    assert_eq!(w("a\x0bb"), Some(vec!["a\x0bb".into()]));
    assert!(valid_name(b"a_1Z"));
    assert!(!valid_name(b""));
    assert!(!valid_name(b"a b"));
    assert!(!valid_name("é".as_bytes()));
}

#[test]
fn load_and_call() {
    let mut e = engine();
    let mut h = Mock::default();
    assert_eq!(
        load(
            &mut e,
            &lib(
                "lib",
                "redis.register_function('test', function(KEYS, ARGV) return 'hello' end)"
            )
        ),
        Ok("lib".to_string())
    );
    assert_eq!(fcall(&mut e, &mut h, "test", &[], &[]), bulk("hello"));
    // Function names are found whatever the case.
    assert_eq!(fcall(&mut e, &mut h, "TEST", &[], &[]), bulk("hello"));
    assert_eq!(
        fcall(&mut e, &mut h, "nosuch", &[], &[]),
        err("ERR Function not found")
    );
    assert_eq!(
        e.function(b"TeSt"),
        Some(FunctionInfo {
            name: "test".into(),
            library: "lib".into(),
            description: None,
            flags: ScriptFlags {
                shebang: true,
                ..ScriptFlags::default()
            },
        })
    );
    assert_eq!(e.function(b"nosuch"), None);
    // Keys and arguments are the callback's two arguments.
    load(
        &mut e,
        &lib("lib2", "redis.register_function('g', function(k, a) return {k, a, #k, #a, select('#', 1)} end)"),
    )
    .unwrap();
    assert_eq!(
        fcall(&mut e, &mut h, "g", &["a", "b"], &["c"]),
        Frame::Array(vec![
            strings(&["a", "b"]),
            strings(&["c"]),
            Frame::Integer(2),
            Frame::Integer(1),
            Frame::Integer(1)
        ])
    );
    // They are ordinary tables.
    load(
        &mut e,
        &lib("lib3", "redis.register_function('k', function(keys, args)\n  keys[1] = 'changed' args[5] = 1\n  return {keys[1], #args}\nend)"),
    )
    .unwrap();
    assert_eq!(
        fcall(&mut e, &mut h, "k", &["a"], &["b"]),
        Frame::Array(vec![bulk("changed"), Frame::Integer(1)])
    );
    assert_eq!(e.counts(), (3, 3));
    assert_eq!(
        e.codes(),
        vec![
            Bytes::from(lib("lib", "redis.register_function('test', function(KEYS, ARGV) return 'hello' end)")),
            Bytes::from(lib("lib2", "redis.register_function('g', function(k, a) return {k, a, #k, #a, select('#', 1)} end)")),
            Bytes::from(lib("lib3", "redis.register_function('k', function(keys, args)\n  keys[1] = 'changed' args[5] = 1\n  return {keys[1], #args}\nend)")),
        ]
    );
}

#[test]
fn calls_reach_the_host() {
    let mut e = engine();
    let mut h = Mock::default();
    load(
        &mut e,
        &lib(
            "lib",
            "local function ping() return redis.call('ping') end
redis.register_function('f1', function(keys, args) return ping() end)
redis.register_function('f2', function(keys, args) return redis.call('set', keys[1], args[1]) end)
redis.register_function('f3', function(keys, args) redis.setresp(3) redis.set_repl(redis.REPL_AOF) return redis.pcall('hgetall', 'h') end)
redis.register_function('f4', function(keys, args) return redis.call('get', keys[1]) end)",
        ),
    )
    .unwrap();
    assert_eq!(
        fcall(&mut e, &mut h, "f1", &[], &[]),
        Frame::Simple(Bytes::from_static(b"PONG"))
    );
    assert_eq!(fcall(&mut e, &mut h, "f2", &["x"], &["foo"]), Frame::ok());
    assert_eq!(fcall(&mut e, &mut h, "f4", &["x"], &[]), bulk("foo"));
    assert_eq!(
        fcall(&mut e, &mut h, "f3", &[], &[]),
        Frame::Map(vec![(bulk("f"), bulk("v"))])
    );
    // Every call starts in RESP2 with REPL_ALL.
    assert_eq!(
        fcall(&mut e, &mut h, "f1", &[], &[]),
        Frame::Simple(Bytes::from_static(b"PONG"))
    );
    let ctx: Vec<_> = h.calls.iter().map(|(_, c)| *c).collect();
    assert_eq!(ctx[0].resp, Protocol::Resp2);
    assert!(ctx[0].repl.aof && ctx[0].repl.replica && !ctx[0].pcall);
    assert_eq!(ctx[3].resp, Protocol::Resp3);
    assert!(ctx[3].repl.aof && !ctx[3].repl.replica && ctx[3].pcall);
    assert_eq!(ctx[4].resp, Protocol::Resp2);
    assert!(ctx[4].repl.aof && ctx[4].repl.replica);
    // redis.log at run time goes to the host.
    assert_eq!(
        run("return redis.log(redis.LOG_WARNING, 'x', 1)"),
        Frame::Null
    );
    let mut h = Mock::default();
    load(
        &mut e,
        &lib(
            "lg",
            "redis.register_function('lg', function() redis.log(redis.LOG_NOTICE, 'hi', 2) end)",
        ),
    )
    .unwrap();
    fcall(&mut e, &mut h, "lg", &[], &[]);
    assert_eq!(h.log, vec![(LogLevel::Notice, "hi 2".to_string())]);
    assert!(e.take_load_log().is_empty());
}

#[test]
fn load_time_globals() {
    // Only `redis` exists while the library loads.
    for name in [
        "_G",
        "pairs",
        "ipairs",
        "type",
        "tostring",
        "tonumber",
        "string",
        "table",
        "math",
        "bit",
        "struct",
        "cjson",
        "cmsgpack",
        "pcall",
        "error",
        "assert",
        "getmetatable",
        "setmetatable",
        "rawget",
        "rawset",
        "next",
        "select",
        "unpack",
        "loadstring",
        "load",
        "xpcall",
        "_VERSION",
        "collectgarbage",
        "coroutine",
        "gcinfo",
        "rawequal",
        "print",
        "os",
        "KEYS",
        "ARGV",
        "__redis__err__handler",
    ] {
        assert_eq!(
            load_err(&format!("#!lua name=lib\nlocal x = {name}{F}")),
            format!("ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable '{name}'"),
        );
    }
    for field in [
        "register_function",
        "log",
        "LOG_DEBUG",
        "LOG_VERBOSE",
        "LOG_NOTICE",
        "LOG_WARNING",
        "REDIS_VERSION",
        "REDIS_VERSION_NUM",
    ] {
        assert_eq!(
            load_err(&format!("#!lua name=lib\nlocal x = redis.{field}{F}")),
            "ok:lib"
        );
    }
    for field in [
        "setresp",
        "set_repl",
        "call",
        "pcall",
        "error_reply",
        "status_reply",
        "sha1hex",
        "acl_check_cmd",
        "breakpoint",
        "debug",
        "replicate_commands",
        "REPL_ALL",
        "REPL_NONE",
        "REPL_AOF",
        "REPL_SLAVE",
        "REPL_REPLICA",
        "math",
        "redis",
    ] {
        assert_eq!(
            load_err(&format!("#!lua name=lib\nlocal x = redis.{field}{F}")),
            format!("ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable '{field}'"),
        );
    }
    let cases: &[(&str, &str)] = &[
        ("return math.random()", "ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'math'"),
        ("return redis.call('ping')", "ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'call'"),
        ("return redis.setresp(3)", "ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'setresp'"),
        ("redis.math.random()", "ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'math'"),
        ("redis.redis.call('ping')", "ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'redis'"),
        ("mt = getmetatable(_G)", "ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'getmetatable'"),
        ("a = 1", "ERR Error registering functions: ERR user_function:2: Attempt to modify a readonly table"),
        ("error('x')", "ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'error'"),
        ("local t = nil; t.x = 1", "ERR Error registering functions: ERR user_function:2: attempt to index local 't' (a nil value)"),
        ("redis.register_function('f', function() return 1 end)\nredis.LOG_DEBUG = 5", "ERR Error registering functions: ERR user_function:3: Attempt to modify a readonly table"),
        ("redis.register_function('f', function() return 1 end)\nredis.x = 5", "ERR Error registering functions: ERR user_function:3: Attempt to modify a readonly table"),
        ("redis.register_function('f', function() return 1 end)\nerror('after')", "ERR Error registering functions: ERR user_function:3: Script attempted to access nonexistent global variable 'error'"),
        ("redis.register_function('a'..string.rep('b', 10), function() return 1 end)", "ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'string'"),
        ("redis.register_function('f', function() return 1 end)\nredis.log('x', 1)", "ERR Error registering functions: ERR First argument must be a number (log level)."),
        ("redis.register_function('f', function() return 1 end)\nredis.log(1)", "ERR Error registering functions: ERR redis.log() requires two arguments or more."),
        ("redis.register_function('f', function() return 1 end)\nredis.log(9, 'x')", "ERR Error registering functions: ERR Invalid debug level."),
        ("local f = function() return redis.call('ping') end\nredis.register_function('f', f)\nf()", "ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'call'"),
        ("bad code", "ERR Error compiling function: user_function:2: '=' expected near 'code'"),
        ("\0\n", "ERR Error compiling function: user_function:2: unexpected symbol"),
        ("return 1", "ERR No functions registered"),
        ("return", "ERR No functions registered"),
    ];
    for (body, want) in cases {
        assert_eq!(load_err(&lib("lib", body)), *want, "{body:?}");
    }
    // What does work: locals, string methods, the version, return values.
    for body in [
        "local t = {} t.x = 1",
        "local s = 'x' return #s",
        "return ('x'):rep(3)",
        "return redis.REDIS_VERSION",
    ] {
        assert_eq!(
            load_err(&lib("lib", &format!("{F}\n{body}"))),
            "ok:lib",
            "{body}"
        );
    }
}

#[test]
fn register_function_errors() {
    let fn_ = "function() return 1 end";
    let pre = "ERR Error registering functions: ERR ";
    let cases: Vec<(String, String)> = vec![
        ("redis.register_function()".into(), "wrong number of arguments to redis.register_function".into()),
        ("redis.register_function('f')".into(), "calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).".into()),
        (format!("redis.register_function('f', {fn_}, 1)"), "wrong number of arguments to redis.register_function".into()),
        (format!("redis.register_function('f', {fn_}, nil)"), "wrong number of arguments to redis.register_function".into()),
        (format!("redis.register_function('f', {fn_}, {{}}, 'description', 'extra arg')"), "wrong number of arguments to redis.register_function".into()),
        (format!("redis.register_function(nil, {fn_})"), "first argument to redis.register_function must be a string".into()),
        (format!("redis.register_function({fn_}, 'f')"), "first argument to redis.register_function must be a string".into()),
        (format!("redis.register_function({{function_name='f', callback={fn_}}}, 1)"), "first argument to redis.register_function must be a string".into()),
        ("redis.register_function('f', 'x')".into(), "second argument to redis.register_function must be a function".into()),
        ("redis.register_function('f', nil)".into(), "second argument to redis.register_function must be a function".into()),
        ("redis.register_function('f', {})".into(), "second argument to redis.register_function must be a function".into()),
        ("redis.register_function('a-b', 'x')".into(), "second argument to redis.register_function must be a function".into()),
        (format!("redis.register_function(1.5, {fn_})"), "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long".into()),
        (format!("redis.register_function('', {fn_})"), "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long".into()),
        (format!("redis.register_function('test\\0test', {fn_})"), "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long".into()),
        (format!("redis.register_function('f', {fn_})\nredis.register_function('f', {fn_})"), "Function already exists in the library".into()),
        // The reference crashes on this one.
        (format!("redis.register_function('f', {fn_})\nredis.register_function('F', {fn_})"), "Function already exists in the library".into()),
        ("redis.register_function({})".into(), "redis.register_function must get a function name argument".into()),
        (format!("redis.register_function({{callback={fn_}}})"), "redis.register_function must get a function name argument".into()),
        ("redis.register_function({function_name='f'})".into(), "redis.register_function must get a callback argument".into()),
        ("redis.register_function{function_name='a-b'}".into(), "redis.register_function must get a callback argument".into()),
        ("redis.register_function({function_name='f', callback=1})".into(), "callback argument given to redis.register_function must be a function".into()),
        ("redis.register_function({function_name='f', callback=false})".into(), "callback argument given to redis.register_function must be a function".into()),
        ("redis.register_function{function_name='a-b', callback=1}".into(), "callback argument given to redis.register_function must be a function".into()),
        (format!("redis.register_function({{function_name=false, callback={fn_}}})"), "function_name argument given to redis.register_function must be a string".into()),
        (format!("redis.register_function{{function_name=function() return 1 end, callback={fn_}, description='some desc'}}"), "function_name argument given to redis.register_function must be a string".into()),
        (format!("redis.register_function({{function_name='f', callback={fn_}, flags='x'}})"), "flags argument to redis.register_function must be a table representing function flags".into()),
        (format!("redis.register_function({{function_name='f', callback={fn_}, flags=false}})"), "flags argument to redis.register_function must be a table representing function flags".into()),
        (format!("redis.register_function({{function_name='f', callback={fn_}, flags={{'x'}}}})"), "unknown flag given".into()),
        (format!("redis.register_function({{function_name='f', callback={fn_}, flags={{1}}}})"), "unknown flag given".into()),
        (format!("redis.register_function({{function_name='f', callback={fn_}, flags={{function() return 1 end}}}})"), "unknown flag given".into()),
        (format!("redis.register_function({{function_name='f', callback={fn_}, flags={{'no-writes', 'bad'}}}})"), "unknown flag given".into()),
        ("redis.register_function{function_name='f', flags={'bad'}}".into(), "unknown flag given".into()),
        ("redis.register_function{function_name='a-b', flags={'bad'}}".into(), "unknown flag given".into()),
        (format!("redis.register_function({{function_name='f', callback={fn_}, description=1, extra=1}})"), "unknown argument given to redis.register_function".into()),
        (format!("redis.register_function({{function_name='f', callback={fn_}, [1]=2}})"), "unknown argument given to redis.register_function".into()),
        (format!("redis.register_function({{[1]='f', callback={fn_}}})"), "unknown argument given to redis.register_function".into()),
        (format!("redis.register_function({{function_name='f', callback={fn_}, [true]=2}})"), "named argument key given to redis.register_function is not a string".into()),
        (format!("redis.register_function({{function_name='f', callback={fn_}, description=false}})"), "description argument given to redis.register_function must be a string".into()),
        ("redis.register_function{description=false}".into(), "description argument given to redis.register_function must be a string".into()),
        (format!("redis.register_function{{function_name='f', callback={fn_}, description=function() return 1 end}}"), "description argument given to redis.register_function must be a string".into()),
        (format!("redis.register_function({{function_name='', callback={fn_}}})"), "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long".into()),
        (format!("redis.register_function('f1', {fn_}) redis.register_function('g', 'x')"), "second argument to redis.register_function must be a function".into()),
    ];
    for (body, want) in &cases {
        assert_eq!(
            load_err(&lib("lib", body)),
            format!("{pre}{want}"),
            "{body}"
        );
    }
    // The test suite's registration failure.
    assert_eq!(
        load_err(&lib(
            "lib1",
            "local function add1(a) return a + 2 end
redis.register_function('f1', function(keys, args) return add1(1) end)
redis.register_function('f2', 'not a function')"
        )),
        "ERR Error registering functions: ERR second argument to redis.register_function must be a function"
    );
}

#[test]
fn register_function_forms() {
    let fn_ = "function() return 1 end";
    let listed = |body: &str| {
        let mut e = engine();
        load(&mut e, &lib("lib", body)).unwrap();
        let l = e.libraries();
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].engine, "LUA");
        l[0].functions
            .iter()
            .map(|f| {
                let fl = f.flags;
                assert!(fl.shebang);
                let flags: Vec<&str> = [
                    (fl.no_writes, "no-writes"),
                    (fl.allow_oom, "allow-oom"),
                    (fl.allow_stale, "allow-stale"),
                    (fl.no_cluster, "no-cluster"),
                    (fl.allow_cross_slot_keys, "allow-cross-slot-keys"),
                ]
                .iter()
                .filter(|(on, _)| *on)
                .map(|(_, n)| *n)
                .collect();
                format!(
                    "{}|{}|{}",
                    f.name,
                    f.description
                        .as_ref()
                        .map_or("nil".to_string(), |d| String::from_utf8_lossy(d)
                            .into_owned()),
                    flags.join(",")
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        listed(&format!("redis.register_function(1, {fn_})")),
        ["1|nil|"]
    );
    assert_eq!(
        listed(&format!(
            "redis.register_function({{function_name=1, callback={fn_}}})"
        )),
        ["1|nil|"]
    );
    assert_eq!(listed(&format!("redis.register_function({{function_name='f', callback={fn_}, flags={{x='no-writes'}}}})")), ["f|nil|"]);
    assert_eq!(listed(&format!("redis.register_function({{function_name='f', callback={fn_}, flags={{[2]='no-writes'}}}})")), ["f|nil|"]);
    assert_eq!(listed(&format!("redis.register_function({{function_name='f', callback={fn_}, flags={{'no-writes', nil, 'bad'}}}})")), ["f|nil|no-writes"]);
    assert_eq!(listed(&format!("redis.register_function({{function_name='f', callback={fn_}, flags={{'no-writes', 'no-writes'}}}})")), ["f|nil|no-writes"]);
    assert_eq!(
        listed(&format!(
            "redis.register_function({{function_name='f', callback={fn_}, description=1}})"
        )),
        ["f|1|"]
    );
    assert_eq!(listed(&format!("redis.register_function{{function_name='f', callback={fn_}, flags={{}}, description=nil}}")), ["f|nil|"]);
    assert_eq!(listed(&format!("redis.register_function{{function_name='f1', callback={fn_}, description='some desc'}}")), ["f1|some desc|"]);
    assert_eq!(
        listed(&format!("redis.register_function{{function_name='g', callback={fn_}, flags={{'allow-cross-slot-keys','no-cluster','no-writes','allow-stale','allow-oom'}}}}")),
        ["g|nil|no-writes,allow-oom,allow-stale,no-cluster,allow-cross-slot-keys"]
    );
    // Functions are listed by name; registration returns nothing.
    assert_eq!(
        listed(&format!("redis.register_function('zeta', {fn_}) redis.register_function('alpha', {fn_}) redis.register_function('Q', {fn_})")),
        ["Q|nil|", "alpha|nil|", "zeta|nil|"]
    );
    assert_eq!(
        listed(&format!("local ok = redis.register_function('f', {fn_}) if ok == nil then redis.register_function('nil', {fn_}) end")),
        ["f|nil|", "nil|nil|"]
    );
    assert_eq!(
        listed(&format!("local t = {{function_name='f', callback={fn_}}} redis.register_function(t) t.function_name='g' redis.register_function(t)")),
        ["f|nil|", "g|nil|"]
    );
}

#[test]
fn run_time_globals() {
    let body =
        "local t={} for k,v in pairs(_G) do t[#t+1]=k..':'..type(v) end table.sort(t) return t";
    assert_eq!(
        run(body),
        words(
            "_G:table _VERSION:string assert:function bit:table cjson:table cmsgpack:table collectgarbage:function \
             coroutine:table error:function gcinfo:function getmetatable:function ipairs:function \
             load:function loadstring:function math:table next:function pairs:function \
             pcall:function rawequal:function rawget:function rawset:function redis:table \
             select:function setmetatable:function string:table struct:table table:table \
             tonumber:function tostring:function type:function unpack:function xpcall:function"
        )
    );
    assert_eq!(
        run("local t={} for k,v in pairs(redis) do t[#t+1]=k..':'..type(v) end table.sort(t) return t"),
        words(
            "LOG_DEBUG:number LOG_NOTICE:number LOG_VERBOSE:number LOG_WARNING:number \
             REDIS_VERSION:string REDIS_VERSION_NUM:number REPL_ALL:number REPL_AOF:number \
             REPL_NONE:number REPL_REPLICA:number REPL_SLAVE:number acl_check_cmd:function \
             call:function error_reply:function log:function pcall:function set_repl:function \
             setresp:function sha1hex:function status_reply:function"
        )
    );
    assert_eq!(run("return type(getmetatable(_G))"), bulk("table"));
    assert_eq!(run("return _G._G == _G"), Frame::Integer(1));
    assert_eq!(run("return _G"), Frame::Array(vec![]));
    assert_eq!(run("return type(loadstring)"), bulk("function"));
    assert_eq!(run("return rawget(_G, 'redis') == nil"), Frame::Null);
    assert_eq!(run("return KEYS"), Frame::Array(vec![]));
    assert_eq!(run("return #KEYS"), Frame::Integer(0));
    assert_eq!(run("return redis.REDIS_VERSION"), bulk("7.0.15"));
    assert_eq!(run("return redis.nothing"), Frame::Null);
    assert_eq!(
        run("return {ok='fine'}"),
        Frame::Simple(Bytes::from_static(b"fine"))
    );
    assert_eq!(
        run("return {1,2,3,'ciao',{1,2}}"),
        Frame::Array(vec![
            Frame::Integer(1),
            Frame::Integer(2),
            Frame::Integer(3),
            bulk("ciao"),
            Frame::Array(vec![Frame::Integer(1), Frame::Integer(2)])
        ])
    );
    assert_eq!(
        run("return redis.sha1hex('Pizza & Mandolino')"),
        bulk("74822d82031af7493c20eefa13bd07ec4fada82f")
    );
    assert_eq!(run("return ('x'):rep(3)"), bulk("xxx"));
    assert_eq!(
        run("return loadstring('return redis.REDIS_VERSION_NUM')()"),
        Frame::Integer(0x07000f)
    );
}

#[test]
fn run_time_errors() {
    let cases: &[(&str, Frame)] = &[
        ("error('x')", ferr("ERR user_function:3: x", 3)),
        ("error('x', 0)", ferr("ERR x", 3)),
        ("error({err='MY x'})", ferr("MY x", 3)),
        ("error({err='x'})", ferr("x", 3)),
        ("error(nil)", ferr("ERR nil", 3)),
        ("error(12)", ferr("ERR user_function:3: 12", 3)),
        ("error(true)", ferr("ERR true", 3)),
        ("error({err=5})", ferr("5", 3)),
        ("error({err=5.5})", ferr("5.5", 3)),
        ("error('x\\ny')", ferr("ERR user_function:3: x y", 3)),
        ("local t = nil; t.x = 1", ferr("ERR user_function:3: attempt to index local 't' (a nil value)", 3)),
        ("return redis.call('nosuch')", ferr("ERR Unknown Redis command called from script", 3)),
        ("return redis.call('incr')", ferr("ERR Wrong number of args calling Redis command from script", 3)),
        ("return redis.call()", ferr("ERR Please specify at least one argument for this redis lib call", 3)),
        ("x = 1", ferr("ERR user_function:3: Attempt to modify a readonly table", 3)),
        ("return y", ferr("ERR user_function:3: Script attempted to access nonexistent global variable 'y'", 3)),
        ("redis.breakpoint()", ferr("ERR user_function:3: attempt to call field 'breakpoint' (a nil value)", 3)),
        ("redis.debug('x')", ferr("ERR user_function:3: attempt to call field 'debug' (a nil value)", 3)),
        ("redis.replicate_commands()", ferr("ERR user_function:3: attempt to call field 'replicate_commands' (a nil value)", 3)),
        ("return redis.register_function('g', function() end)", ferr("ERR user_function:3: attempt to call field 'register_function' (a nil value)", 3)),
        ("return math.random(0)", ferr("ERR user_function:3: bad argument #1 to 'random' (interval is empty)", 3)),
        ("return redis.sha1hex()", ferr("ERR wrong number of arguments", 3)),
        ("return redis.log()", ferr("ERR redis.log() requires two arguments or more.", 3)),
        ("redis.set_repl(12345)", ferr("ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.", 3)),
        ("mt = getmetatable(_G)\noriginal_globals = mt.__index\noriginal_globals['redis'] = function() return 1 end", ferr("ERR user_function:3: Attempt to modify a readonly table", 3)),
        ("local mt = getmetatable(_G)\nmt.__index = 1", ferr("ERR user_function:4: Attempt to modify a readonly table", 4)),
        ("return {err='bad'}", err("bad")),
        ("return redis.error_reply('x')", err("ERR x")),
        ("return redis.pcall('nosuch')", err("ERR Unknown Redis command called from script")),
        ("return redis.setresp(3)", Frame::Null),
        ("return {pcall(error, {err='x'})}", Frame::Array(vec![Frame::Null, bulk("x")])),
        ("return pcall(error, {err='x'})", Frame::Null),
    ];
    for (body, want) in cases {
        assert_eq!(&run(body), want, "{body}");
    }
    // The error is located in the innermost frame of library code.
    let mut e = engine();
    let mut h = Mock::default();
    load(
        &mut e,
        &lib(
            "lib",
            "local function h(x)
  return redis.call(x)
end
local function h2() local t = nil
  return t.x end
redis.register_function('f', function(keys, args)
  return h(args[1])
end)
redis.register_function('g', function(keys, args)
  return h2()
end)
redis.register_function('MyFn', function(k, a) error('boom') end)",
        ),
    )
    .unwrap();
    assert_eq!(
        fcall(&mut e, &mut h, "f", &[], &["nosuch"]),
        err("ERR Unknown Redis command called from script script: f, on @user_function:3.")
    );
    assert_eq!(
        fcall(&mut e, &mut h, "g", &[], &[]),
        err("ERR user_function:6: attempt to index local 't' (a nil value) script: g, on @user_function:6.")
    );
    // The name is the registered one, whatever the case FCALL used.
    assert_eq!(
        fcall(&mut e, &mut h, "MYFN", &[], &[]),
        err("ERR user_function:13: boom script: MyFn, on @user_function:13.")
    );
}

#[test]
fn load_time_api_after_load() {
    // The test suite's "malicious access test".
    let mut e = engine();
    let mut h = Mock::default();
    load(
        &mut e,
        &lib(
            "lib1",
            "local lib = redis
lib.register_function('f1', function ()
    lib.redis = redis
    lib.math = math
    return {ok='OK'}
end)

lib.register_function('f2', function ()
    lib.register_function('f1', function ()
        lib.redis = redis
        lib.math = math
        return {ok='OK'}
    end)
end)
lib.register_function('f3', function() return {pcall(lib.register_function, 'x', function() end)} end)
lib.register_function('f4', function() return lib.log(lib.LOG_WARNING, 'rt log') end)
lib.register_function('f5', function() return lib.REDIS_VERSION end)
lib.register_function('f6', function() return lib.nothing end)
lib.register_function('f7', function() return lib.call('ping') end)
lib.register_function('f8', function() return lib.register_function() end)",
        ),
    )
    .unwrap();
    assert_eq!(
        fcall(&mut e, &mut h, "f1", &[], &[]),
        err("ERR user_function:4: Attempt to modify a readonly table script: f1, on @user_function:4.")
    );
    assert_eq!(
        fcall(&mut e, &mut h, "f2", &[], &[]),
        err("ERR redis.register_function can only be called on FUNCTION LOAD command script: f2, on @user_function:10.")
    );
    assert_eq!(
        fcall(&mut e, &mut h, "f3", &[], &[]),
        Frame::Array(vec![
            Frame::Null,
            bulk("ERR redis.register_function can only be called on FUNCTION LOAD command")
        ])
    );
    assert_eq!(fcall(&mut e, &mut h, "f4", &[], &[]), Frame::Null);
    assert_eq!(h.log, vec![(LogLevel::Warning, "rt log".to_string())]);
    assert_eq!(fcall(&mut e, &mut h, "f5", &[], &[]), bulk("7.0.15"));
    assert_eq!(
        fcall(&mut e, &mut h, "f6", &[], &[]),
        err("ERR user_function:19: Script attempted to access nonexistent global variable 'nothing' script: f6, on @user_function:19.")
    );
    assert_eq!(
        fcall(&mut e, &mut h, "f7", &[], &[]),
        err("ERR user_function:20: Script attempted to access nonexistent global variable 'call' script: f7, on @user_function:20.")
    );
    assert_eq!(
        fcall(&mut e, &mut h, "f8", &[], &[]),
        err("ERR redis.register_function can only be called on FUNCTION LOAD command script: f8, on @user_function:21.")
    );
    // Nothing was registered by f2.
    assert_eq!(e.counts(), (8, 1));
    // The load-time table as a callback sees it.
    load(
        &mut e,
        &lib(
            "lib2",
            "local lib = redis
lib.register_function('g1', function() local t={} for k,v in pairs(lib) do t[#t+1]=k..':'..type(v) end table.sort(t) return t end)
lib.register_function('g2', function() return {type(getmetatable(lib)), rawget(lib, 'nothing') == nil, rawget(lib, 'LOG_NOTICE'), #lib} end)
lib.register_function('g3', function() local mt = getmetatable(lib) local t={} for k,v in pairs(mt) do t[#t+1]=k..':'..type(v) end table.sort(t) return t end)
lib.register_function('g4', function() return rawset(lib, 'x', 1) end)",
        ),
    )
    .unwrap();
    assert_eq!(
        fcall(&mut e, &mut h, "g1", &[], &[]),
        words("LOG_DEBUG:number LOG_NOTICE:number LOG_VERBOSE:number LOG_WARNING:number REDIS_VERSION:string REDIS_VERSION_NUM:number log:function register_function:function")
    );
    assert_eq!(
        fcall(&mut e, &mut h, "g2", &[], &[]),
        Frame::Array(vec![
            bulk("table"),
            Frame::Integer(1),
            Frame::Integer(2),
            Frame::Integer(0)
        ])
    );
    assert_eq!(
        fcall(&mut e, &mut h, "g3", &[], &[]),
        words("__index:function")
    );
    assert_eq!(
        fcall(&mut e, &mut h, "g4", &[], &[]),
        err("ERR Attempt to modify a readonly table script: g4, on @user_function:6.")
    );
}

#[test]
fn load_log_is_kept() {
    let mut e = engine();
    load(
        &mut e,
        &lib("lib", "redis.log(redis.LOG_WARNING, 'at load', 5, 'x')\nredis.log(redis.LOG_DEBUG, 'dbg')\nredis.register_function('f', function() return 1 end)"),
    )
    .unwrap();
    // Lines of a failed load are kept too.
    assert!(load(
        &mut e,
        &lib("lib2", "redis.log(redis.LOG_NOTICE, 'failed')")
    )
    .is_err());
    assert_eq!(
        e.take_load_log(),
        vec![
            (LogLevel::Warning, "at load 5 x".to_string()),
            (LogLevel::Debug, "dbg".to_string()),
            (LogLevel::Notice, "failed".to_string()),
        ]
    );
    assert!(e.take_load_log().is_empty());
}

#[test]
fn replace_and_clashes() {
    let mut e = engine();
    let mut h = Mock::default();
    let f = |name: &str, v: i64| {
        format!("redis.register_function('{name}', function() return {v} end)")
    };
    assert_eq!(
        e.load(lib("L1", &f("a", 1)).as_bytes(), false),
        Ok("L1".into())
    );
    assert_eq!(
        e.load(lib("L2", &f("b", 2)).as_bytes(), false),
        Ok("L2".into())
    );
    let cases: Vec<(String, bool, &str)> = vec![
        (
            lib("L3", &f("A", 1)),
            false,
            "ERR Function A already exists",
        ),
        (
            lib("L3", &format!("{} {} {}", f("x", 1), f("B", 1), f("A", 1))),
            true,
            "ERR Function B already exists",
        ),
        (
            lib("L1", "bad code"),
            false,
            "ERR Library 'L1' already exists",
        ),
        (
            "#!lua name=L1\n".to_string(),
            false,
            "ERR Library 'L1' already exists",
        ),
        (
            "#!lua name=L1\nlocal x = y".to_string(),
            false,
            "ERR Library 'L1' already exists",
        ),
        (
            lib("L1", &f("c", 1)),
            false,
            "ERR Library 'L1' already exists",
        ),
        (
            "#!bad name=L1\nx".to_string(),
            false,
            "ERR Engine 'bad' not found",
        ),
        (
            "#!lua name=L1 x\nx".to_string(),
            false,
            "ERR Invalid metadata value given: x",
        ),
        (lib("L1", &f("b", 1)), true, "ERR Function b already exists"),
        // A failing new version leaves the old one.
        (
            lib("L1", "bad code"),
            true,
            "ERR Error compiling function: user_function:2: '=' expected near 'code'",
        ),
        (
            lib("L1", "error"),
            true,
            "ERR Error compiling function: user_function:2: '=' expected near '<eof>'",
        ),
    ];
    for (code, replace, want) in &cases {
        assert_eq!(e.load(code.as_bytes(), *replace), Err(err(want)), "{code}");
    }
    assert_eq!(names(&e), vec![fl("L1", &["a"]), fl("L2", &["b"])]);
    assert_eq!(fcall(&mut e, &mut h, "a", &[], &[]), Frame::Integer(1));
    // Library names are case-sensitive.
    assert_eq!(
        e.load(lib("l1", &f("c", 3)).as_bytes(), false),
        Ok("l1".into())
    );
    // REPLACE may keep or drop the library's own names.
    assert_eq!(
        e.load(
            lib("L1", &format!("{} {}", f("A", 11), f("d", 4))).as_bytes(),
            true
        ),
        Ok("L1".into())
    );
    assert_eq!(fcall(&mut e, &mut h, "a", &[], &[]), Frame::Integer(11));
    assert_eq!(
        names(&e),
        vec![fl("L1", &["A", "d"]), fl("L2", &["b"]), fl("l1", &["c"])]
    );
    assert_eq!(e.counts(), (4, 3));
    // REPLACE of a library that does not exist is a load.
    assert_eq!(
        e.load(lib("L9", &f("z", 9)).as_bytes(), true),
        Ok("L9".into())
    );
    // DELETE is case-sensitive too.
    assert_eq!(e.delete(b"l9"), Err(err("ERR Library not found")));
    assert_eq!(e.delete(b"L9"), Ok(()));
    assert_eq!(
        fcall(&mut e, &mut h, "z", &[], &[]),
        err("ERR Function not found")
    );
    assert_eq!(e.delete(b"L9"), Err(err("ERR Library not found")));
    // Names of deleted libraries are free again.
    assert_eq!(
        e.load(lib("L8", &f("z", 8)).as_bytes(), false),
        Ok("L8".into())
    );
    assert_eq!(fcall(&mut e, &mut h, "Z", &[], &[]), Frame::Integer(8));
    e.flush().unwrap();
    assert_eq!(e.counts(), (0, 0));
    assert!(e.libraries().is_empty());
    assert!(e.codes().is_empty());
    assert_eq!(
        fcall(&mut e, &mut h, "a", &[], &[]),
        err("ERR Function not found")
    );
    assert_eq!(
        e.load(lib("L1", &f("a", 1)).as_bytes(), false),
        Ok("L1".into())
    );
}

fn codes(items: &[String]) -> Vec<Bytes> {
    items.iter().map(|s| Bytes::from(s.clone())).collect()
}

#[test]
fn restore_policies() {
    let f = |name: &str| format!("redis.register_function('{name}', function() return 1 end)");
    let setup = || {
        let mut e = engine();
        e.load(lib("L1", &f("a")).as_bytes(), false).unwrap();
        e.load(lib("L2", &f("b")).as_bytes(), false).unwrap();
        e
    };
    use RestorePolicy::*;
    type Listing = Vec<(String, Vec<String>)>;
    let ok: Vec<(Vec<String>, RestorePolicy, Listing)> = vec![
        (
            vec![lib("L3", &f("c"))],
            Append,
            vec![fl("L1", &["a"]), fl("L2", &["b"]), fl("L3", &["c"])],
        ),
        (
            vec![lib("L1", &f("c"))],
            Replace,
            vec![fl("L1", &["c"]), fl("L2", &["b"])],
        ),
        (vec![lib("L3", &f("a"))], Flush, vec![fl("L3", &["a"])]),
        (
            vec![lib("L1", &f("b")), lib("L2", &f("a"))],
            Replace,
            vec![fl("L1", &["b"]), fl("L2", &["a"])],
        ),
        (vec![], Append, vec![fl("L1", &["a"]), fl("L2", &["b"])]),
        (vec![], Flush, vec![]),
    ];
    for (payload, policy, want) in ok {
        let mut e = setup();
        assert_eq!(
            e.restore(&codes(&payload), policy),
            Ok(()),
            "{payload:?} {policy:?}"
        );
        assert_eq!(names(&e), want, "{payload:?} {policy:?}");
    }
    let bad: Vec<(Vec<String>, RestorePolicy, &str)> = vec![
        (
            vec![lib("L1", &f("c"))],
            Append,
            "ERR Library L1 already exists",
        ),
        (
            vec![lib("L1", &f("b"))],
            Replace,
            "ERR Function b already exists",
        ),
        (
            vec![lib("L3", &f("b"))],
            Replace,
            "ERR Function b already exists",
        ),
        (
            vec![lib("L3", &f("b"))],
            Append,
            "ERR Function b already exists",
        ),
        (
            vec![lib("L3", &f("c")), lib("L3", &f("d"))],
            Append,
            "ERR Library 'L3' already exists",
        ),
        (
            vec![lib("L3", &f("c")), lib("L3", &f("d"))],
            Replace,
            "ERR Library 'L3' already exists",
        ),
        (
            vec![lib("L3", &f("c")), lib("L3", &f("d"))],
            Flush,
            "ERR Library 'L3' already exists",
        ),
        (
            vec![lib("L3", &f("c")), lib("L4", &f("c"))],
            Append,
            "ERR Function c already exists",
        ),
        (
            vec![lib("L3", &f("c")), lib("L4", &f("c"))],
            Flush,
            "ERR Function c already exists",
        ),
        (
            vec![lib("L3", "bad code")],
            Append,
            "ERR Error compiling function: user_function:2: '=' expected near 'code'",
        ),
        (
            vec![lib("L3", &f("c")), "nometa".into()],
            Append,
            "ERR Missing library metadata",
        ),
        (
            vec!["#!lua name=L5".into()],
            Append,
            "ERR Invalid library metadata",
        ),
        (vec![lib("L3", "")], Append, "ERR No functions registered"),
        (
            vec![format!("#!bad name=x\n{}", f("z"))],
            Append,
            "ERR Engine 'bad' not found",
        ),
    ];
    for (payload, policy, want) in bad {
        let mut e = setup();
        assert_eq!(
            e.restore(&codes(&payload), policy),
            Err(err(want)),
            "{payload:?} {policy:?}"
        );
        assert_eq!(
            names(&e),
            vec![fl("L1", &["a"]), fl("L2", &["b"])],
            "{payload:?} {policy:?}"
        );
    }
    // The upstream test "function restore with function name collision".
    let mut e = engine();
    let lib1 = lib(
        "lib1",
        "local function add1(a) return a + 1 end
redis.register_function('f1', function(keys, args) return add1(1) end)
redis.register_function('f2', function(keys, args) return add1(2) end)
redis.register_function('f3', function(keys, args) return add1(3) end)",
    );
    e.load(lib1.as_bytes(), false).unwrap();
    let dump = e.codes();
    assert_eq!(dump, vec![Bytes::from(lib1.clone())]);
    e.flush().unwrap();
    e.load(
        lib(
            "lib1",
            "redis.register_function('f6', function(keys, args) return 7 end)",
        )
        .as_bytes(),
        false,
    )
    .unwrap();
    e.load(
        lib(
            "lib2",
            "local function add1(a) return a + 1 end
redis.register_function('f4', function(keys, args) return add1(4) end)
redis.register_function('f5', function(keys, args) return add1(5) end)
redis.register_function('f3', function(keys, args) return add1(3) end)",
        )
        .as_bytes(),
        false,
    )
    .unwrap();
    assert_eq!(
        e.restore(&dump, Append),
        Err(err("ERR Library lib1 already exists"))
    );
    assert_eq!(
        e.restore(&dump, Replace),
        Err(err("ERR Function f3 already exists"))
    );
    let mut h = Mock::default();
    for (name, v) in [("f3", 4), ("f4", 5), ("f5", 6), ("f6", 7)] {
        assert_eq!(fcall(&mut e, &mut h, name, &[], &[]), Frame::Integer(v));
    }
    assert_eq!(e.restore(&dump, Flush), Ok(()));
    assert_eq!(fcall(&mut e, &mut h, "f1", &[], &[]), Frame::Integer(2));
    assert_eq!(
        fcall(&mut e, &mut h, "f4", &[], &[]),
        err("ERR Function not found")
    );
}

#[test]
fn load_timeout() {
    let mut e = engine();
    let t = Instant::now();
    assert_eq!(
        e.load(
            lib("lib", "local a = 1\nwhile 1 do a = a + 1 end").as_bytes(),
            false
        ),
        Err(err(
            "ERR Error registering functions: ERR FUNCTION LOAD timeout"
        ))
    );
    let took = t.elapsed();
    assert!(took >= LOAD_TIMEOUT && took < LOAD_TIMEOUT * 4, "{took:?}");
    // The engine is usable afterwards, and calls are not limited.
    e.set_load_timeout(Duration::from_millis(50));
    assert_eq!(
        e.restore(
            &codes(&[lib(
                "lib",
                "redis.register_function('f', function() return 1 end) while true do end"
            )]),
            RestorePolicy::Append
        ),
        Err(err(
            "ERR Error registering functions: ERR FUNCTION LOAD timeout"
        ))
    );
    load(&mut e, &lib("lib", "redis.register_function('f', function() local a = 0 for i = 1, 3000000 do a = a + 1 end return a end)")).unwrap();
    let mut h = Mock::default();
    assert_eq!(
        fcall(&mut e, &mut h, "f", &[], &[]),
        Frame::Integer(3_000_000)
    );
    assert!(h.ticks > 0);
}

#[test]
fn kill_from_tick() {
    let mut e = engine();
    load(
        &mut e,
        &lib(
            "lib",
            "redis.register_function('test', function() local a = 1 while true do a = a + 1 end end)
redis.register_function('caught', function() while true do pcall(function() while true do end end) end end)
redis.register_function('ok', function() return 'fine' end)",
        ),
    )
    .unwrap();
    let mut h = Mock {
        kill_after: Some(3),
        ..Mock::default()
    };
    assert_eq!(
        fcall(&mut e, &mut h, "test", &[], &[]),
        err("ERR Script killed by user with SCRIPT KILL... script: test, on @user_function:2.")
    );
    assert_eq!(h.ticks, 4);
    let mut h = Mock {
        kill_after: Some(0),
        ..Mock::default()
    };
    assert!(
        matches!(fcall(&mut e, &mut h, "caught", &[], &[]), Frame::Error(t) if t.starts_with(b"ERR Script killed by user with SCRIPT KILL..."))
    );
    assert_eq!(
        fcall(&mut e, &mut Mock::default(), "ok", &[], &[]),
        bulk("fine")
    );
    // Loads after a killed call still time out normally.
    e.set_load_timeout(Duration::from_millis(20));
    assert_eq!(
        e.load(lib("lib2", "while true do end").as_bytes(), false),
        Err(err(
            "ERR Error registering functions: ERR FUNCTION LOAD timeout"
        ))
    );
}

#[test]
fn math_random_is_shared_with_eval() {
    // On a fresh reference server: EVAL, FCALL, EVAL, FCALL, then a seed in
    // EVAL moves the functions' sequence too.
    let mut it = Interpreter::new().unwrap();
    let mut e = engine();
    e.set_rand_source(it.rand_source());
    assert!(e.rand_source().same(&it.rand_source()));
    struct H;
    impl Host for H {
        fn call(&mut self, _: Vec<Bytes>, _: &CallContext) -> Frame {
            Frame::Null
        }
        fn acl_check_cmd(&mut self, _: &[Bytes]) -> Option<bool> {
            None
        }
        fn log(&mut self, _: LogLevel, _: &str) {}
    }
    load(
        &mut e,
        &lib(
            "lib",
            "redis.register_function('f', function() return tostring(math.random()) end)",
        ),
    )
    .unwrap();
    let ev = |it: &mut Interpreter, body: &str| it.eval(&mut H, body.as_bytes(), &[], &[]);
    assert_eq!(
        ev(&mut it, "return tostring(math.random())"),
        bulk("0.39646477363839")
    );
    assert_eq!(e.call(&mut H, b"f", &[], &[]), bulk("0.84048536971234"));
    assert_eq!(
        ev(&mut it, "return tostring(math.random())"),
        bulk("0.35333609737146")
    );
    assert_eq!(e.call(&mut H, b"f", &[], &[]), bulk("0.44658343468168"));
    assert_eq!(
        ev(&mut it, "math.randomseed(5) return tostring(math.random())"),
        bulk("0.52483957937213")
    );
    assert_eq!(e.call(&mut H, b"f", &[], &[]), bulk("0.27285430173988"));
    // Neither flush resets it.
    it.flush().unwrap();
    e.flush().unwrap();
    load(
        &mut e,
        &lib(
            "lib",
            "redis.register_function('f', function() return tostring(math.random()) end)",
        ),
    )
    .unwrap();
    assert_eq!(e.call(&mut H, b"f", &[], &[]), bulk("0.7885994686692"));
    // An engine on its own has its own generator.
    let mut lone = engine();
    load(
        &mut lone,
        &lib(
            "lib",
            "redis.register_function('f', function() return tostring(math.random()) end)",
        ),
    )
    .unwrap();
    assert_eq!(lone.call(&mut H, b"f", &[], &[]), bulk("0.39646477363839"));
}

#[test]
fn memory_figures() {
    let mut e = engine();
    assert_eq!(e.libraries_memory(), 200);
    assert!(e.used_memory() > 0);
    // The reference's figures for these libraries, each loaded alone.
    let fig = |e: &mut FunctionEngine, code: &str| {
        e.flush().unwrap();
        e.load(code.as_bytes(), false).unwrap();
        e.libraries_memory()
    };
    let f = "redis.register_function(\"a\", function() return 1 end)";
    assert_eq!(fig(&mut e, &format!("#!lua name=L1\n{f}")), 440);
    for (pad, want) in [
        (0, 440),
        (13, 456),
        (29, 472),
        (45, 488),
        (61, 520),
        (100, 552),
        (200, 680),
    ] {
        assert_eq!(
            fig(&mut e, &format!("#!lua name=L1\n{f} {}", "-".repeat(pad))),
            want,
            "{pad}"
        );
    }
    assert_eq!(fig(&mut e, "#!lua name=L2\nredis.register_function(\"b\", function() return 1 end) redis.register_function{function_name=\"c\", callback=function() return 1 end, description=\"0123456789\"}"), 656);
    assert_eq!(fig(&mut e, "#!lua name=L2\nredis.register_function(\"b\", function() return 1 end) redis.register_function{function_name=\"c\", callback=function() return 1 end, description=\"0123456789012345678901234567890\"}"), 720);
    assert_eq!(fig(&mut e, "#!lua name=L2\nredis.register_function(\"b\", function() return 1 end) redis.register_function{function_name=\"c\", callback=function() return 1 end}"), 608);
    for (n, want) in [
        (1, 440),
        (2, 576),
        (3, 728),
        (4, 880),
        (5, 1096),
        (6, 1248),
        (7, 1400),
    ] {
        let body: Vec<String> = (0..n)
            .map(|i| format!("redis.register_function(\"f{i}\", function() return 1 end)"))
            .collect();
        assert_eq!(
            fig(&mut e, &format!("#!lua name=L1\n{}", body.join(" "))),
            want,
            "{n}"
        );
    }
    assert_eq!(e.counts(), (7, 1));
    e.flush().unwrap();
    assert_eq!(e.libraries_memory(), 200);
}

#[test]
fn engine_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<FunctionEngine>();
}

#[test]
fn list_with_code() {
    let mut e = engine();
    let code =
        "#!lua name=library1\nredis.register_function('f6', function(keys, args) return 7 end)";
    e.load(code.as_bytes(), false).unwrap();
    let l = e.libraries();
    assert_eq!(l.len(), 1);
    assert_eq!(l[0].name, "library1");
    assert_eq!(l[0].code, Bytes::from(code));
    assert_eq!(l[0].functions[0].library, "library1");
}

#[test]
fn odd_inputs_do_not_panic() {
    let mut e = engine();
    let mut h = Mock::default();
    for code in [
        &b"#!"[..],
        b"#!\n",
        b"#!\"",
        b"#!lua name=a\n\xff\xfe",
        b"#!lua name=a\x00",
        b"#!lua name=\"\\x\"\n",
        b"#!lua name='\n",
        b"#!lua name=a\nredis.register_function(string, nil)",
    ] {
        assert!(e.load(code, false).is_err());
    }
    assert_eq!(
        e.call(&mut h, b"\xff", &[], &[]),
        err("ERR Function not found")
    );
    assert_eq!(e.delete(b"\xff"), Err(err("ERR Library not found")));
    // Recursive results and deep errors.
    load(
        &mut e,
        &lib(
            "lib",
            "redis.register_function('r', function() local a = {} a[1] = a return a end)",
        ),
    )
    .unwrap();
    assert!(matches!(
        fcall(&mut e, &mut h, "r", &[], &[]),
        Frame::Array(_)
    ));
}
