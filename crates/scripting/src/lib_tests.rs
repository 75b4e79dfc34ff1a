//! Unit tests: every expectation below was observed on the reference
//! `redis-server` 7.0.15 running the same script with `EVAL <body> 0`.

use bytes::Bytes;
use redis_common::log::LogLevel;
use redis_resp::{Frame, Protocol};

use crate::host::{CallContext, Host};
use crate::rand48::Rand48;
use crate::shebang::{self, ScriptFlags};
use crate::Interpreter;

/// A tiny fake server: a string keyspace, a few commands.
#[derive(Default)]
struct Mock {
    kv: std::collections::HashMap<Vec<u8>, Vec<u8>>,
    log: Vec<(LogLevel, String)>,
    calls: Vec<(Vec<Bytes>, CallContext)>,
}

impl Host for Mock {
    fn call(&mut self, argv: Vec<Bytes>, ctx: &CallContext) -> Frame {
        self.calls.push((argv.clone(), *ctx));
        let name = argv[0].to_ascii_lowercase();
        match (name.as_slice(), argv.len()) {
            (b"set", 3) => {
                self.kv.insert(argv[1].to_vec(), argv[2].to_vec());
                Frame::ok()
            }
            (b"get", 2) => match self.kv.get(argv[1].as_ref()) {
                Some(v) => Frame::bulk(v.clone()),
                None => Frame::Null,
            },
            (b"incr", 2) => Frame::error("ERR value is not an integer or out of range"),
            (b"zscore", 3) => match ctx.resp {
                Protocol::Resp3 => Frame::Double(1.5),
                Protocol::Resp2 => Frame::bulk("1.5"),
            },
            (b"hgetall", 2) => Frame::Map(vec![(Frame::bulk("f"), Frame::bulk("v"))]),
            (b"smembers", 2) => Frame::Set(vec![Frame::bulk("m")]),
            (b"lrange", _) => Frame::Array(vec![]),
            (b"bool", 1) => Frame::Boolean(true),
            (b"big", 1) => Frame::BigNumber(Bytes::from_static(b"1234567890123456789012")),
            (b"verb", 1) => Frame::Verbatim {
                format: *b"txt",
                text: Bytes::from_static(b"hi"),
            },
            _ => Frame::error("ERR Unknown Redis command called from script"),
        }
    }

    fn acl_check_cmd(&mut self, argv: &[Bytes]) -> Option<bool> {
        match argv[0].as_ref() {
            b"get" | b"set" => Some(true),
            b"flushall" => Some(false),
            _ => None,
        }
    }

    fn log(&mut self, level: LogLevel, msg: &str) {
        self.log.push((level, msg.to_string()));
    }
}

fn eval_with(it: &mut Interpreter, host: &mut Mock, body: &str) -> Frame {
    it.eval(host, body.as_bytes(), &[], &[])
}

pub(crate) fn eval(body: &str) -> Frame {
    let mut it = Interpreter::new().unwrap();
    eval_with(&mut it, &mut Mock::default(), body)
}

/// A compact text form of a reply: `i:` integer, `b:` bulk, `s:` status,
/// `e:` error, `nil`, `[a,b]` arrays.
pub(crate) fn canon(f: &Frame) -> String {
    match f {
        Frame::Integer(i) => format!("i:{i}"),
        Frame::Bulk(b) => format!("b:{}", String::from_utf8_lossy(b)),
        Frame::Simple(b) => format!("s:{}", String::from_utf8_lossy(b)),
        Frame::Error(b) => format!("e:{}", String::from_utf8_lossy(b)),
        Frame::Null | Frame::NullArray => "nil".into(),
        Frame::Array(v) => format!("[{}]", v.iter().map(canon).collect::<Vec<_>>().join(",")),
        other => format!("{other:?}"),
    }
}

fn sha(body: &str) -> String {
    redis_common::sha1::sha1_hex(body.as_bytes())
}

fn err(text: &str) -> Frame {
    Frame::Error(Bytes::from(text.to_string()))
}

/// `<msg> script: <sha>, on @user_script:<line>.` for `body`.
fn script_err(body: &str, msg: &str, line: u32) -> Frame {
    err(&format!(
        "{msg} script: {}, on @user_script:{line}.",
        sha(body)
    ))
}

fn bulk(s: &str) -> Frame {
    Frame::bulk(s.to_string())
}

fn strings(items: &[&str]) -> Frame {
    Frame::Array(items.iter().map(|s| bulk(s)).collect())
}

#[test]
fn globals_are_those_of_7_0() {
    let body =
        "local t={} for k,v in pairs(_G) do t[#t+1]=k..':'..type(v) end table.sort(t) return t";
    let expected = "ARGV:table KEYS:table _G:table _VERSION:string __redis__err__handler:function \
        assert:function bit:table cjson:table cmsgpack:table collectgarbage:function coroutine:table \
        error:function gcinfo:function \
        getmetatable:function ipairs:function load:function loadstring:function math:table \
        next:function pairs:function pcall:function rawequal:function rawget:function \
        rawset:function redis:table select:function setmetatable:function string:table \
        struct:table table:table tonumber:function tostring:function type:function unpack:function \
        xpcall:function";
    assert_eq!(
        eval(body),
        strings(&expected.split_whitespace().collect::<Vec<_>>())
    );
    let redis_keys =
        "local t={} for k,v in pairs(redis) do t[#t+1]=k..':'..type(v) end table.sort(t) return t";
    let expected = "LOG_DEBUG:number LOG_NOTICE:number LOG_VERBOSE:number LOG_WARNING:number \
        REDIS_VERSION:string REDIS_VERSION_NUM:number REPL_ALL:number REPL_AOF:number \
        REPL_NONE:number REPL_REPLICA:number REPL_SLAVE:number acl_check_cmd:function \
        breakpoint:function call:function debug:function error_reply:function log:function \
        pcall:function replicate_commands:function set_repl:function setresp:function \
        sha1hex:function status_reply:function";
    assert_eq!(
        eval(redis_keys),
        strings(&expected.split_whitespace().collect::<Vec<_>>())
    );
    assert_eq!(eval("return _VERSION"), bulk("Lua 5.1"));
}

#[test]
fn missing_globals() {
    for name in [
        "print", "os", "io", "dofile", "loadfile", "require", "module", "setfenv", "getfenv",
        "debug", "package", "newproxy", "zz",
    ] {
        let body = format!("return type({name})");
        assert_eq!(
            eval(&body),
            script_err(
                &body,
                &format!(
                    "ERR user_script:1: Script attempted to access nonexistent global variable '{name}'"
                ),
                1
            ),
            "{name}"
        );
    }
    let body = "return _G.zz";
    assert_eq!(
        eval(body),
        script_err(
            body,
            "ERR user_script:1: Script attempted to access nonexistent global variable 'zz'",
            1
        )
    );
    assert_eq!(eval("return rawget(_G,'zz')"), Frame::Null);
    assert_eq!(eval("return type(loadstring)"), bulk("function"));
}

#[test]
fn read_only_tables() {
    let ro = "ERR user_script:1: Attempt to modify a readonly table";
    for body in [
        "x=1 return x",
        "function foo() return 1 end return foo()",
        "redis = 1",
        "string.len = nil",
        "string.foo = 1",
        "KEYS = 1",
        "string = nil",
        "redis.call = nil",
        "redis.foo = 1",
        "math.random = nil",
        "getmetatable('').__index = 1",
    ] {
        assert_eq!(eval(body), script_err(body, ro, 1), "{body}");
    }
    for body in [
        "rawset(_G,'y',5) return y",
        "setmetatable(_G, nil) return 1",
    ] {
        assert_eq!(
            eval(body),
            script_err(body, "ERR Attempt to modify a readonly table", 1),
            "{body}"
        );
    }
    assert_eq!(eval("KEYS[1] = 5 return KEYS[1]"), Frame::Integer(5));
    assert_eq!(eval("ARGV.x=1 return 1"), Frame::Integer(1));
    assert_eq!(eval("local t = {} t.x=1 return t.x"), Frame::Integer(1));
    assert_eq!(eval("return type(setmetatable({}, {}))"), bulk("table"));
    assert_eq!(
        eval("return getmetatable('').__index == string"),
        Frame::Integer(1)
    );
    assert_eq!(
        eval("local ok,e = pcall(function() x=1 end) return e"),
        bulk("user_script:1: Attempt to modify a readonly table")
    );
    assert_eq!(eval("return ('abc'):upper()"), bulk("ABC"));
}

#[test]
fn script_errors() {
    let cases: &[(&str, &str)] = &[
        ("error('boom')", "ERR user_script:1: boom"),
        ("error({err='MY boom'})", "MY boom"),
        ("error({err='noprefix'})", "noprefix"),
        ("error()", "ERR nil"),
        ("error(nil)", "ERR nil"),
        ("error(12)", "ERR user_script:1: 12"),
        ("error('boom',0)", "ERR boom"),
        (
            "local x = nil + 1",
            "ERR user_script:1: attempt to perform arithmetic on a nil value",
        ),
        (
            "local function g() error('x') end g()",
            "ERR user_script:1: x",
        ),
        ("error({err='-x'})", "-x"),
    ];
    for (body, msg) in cases {
        assert_eq!(eval(body), script_err(body, msg, 1), "{body}");
    }
    let body = "error({err='x\\ny'})";
    assert_eq!(eval(body), script_err(body, "x y", 1));
    let body = "\n\nerror('late')";
    assert_eq!(eval(body), script_err(body, "ERR user_script:3: late", 3));
}

#[test]
fn compile_errors() {
    let cases = [
        ("return +", "user_script:1: unexpected symbol near '+'"),
        ("return 1 1", "user_script:1: '<eof>' expected near '1'"),
        ("#x\nreturn 1", "user_script:1: unexpected symbol near '#'"),
        (
            "return \"a",
            "user_script:1: unfinished string near '<eof>'",
        ),
    ];
    let mut it = Interpreter::new().unwrap();
    for (body, msg) in cases {
        assert_eq!(
            it.load(body.as_bytes()),
            Err(err(&format!(
                "ERR Error compiling script (new function): {msg}"
            ))),
            "{body}"
        );
    }
    assert_eq!(it.cached_scripts(), 0);
}

#[test]
fn lua_to_resp() {
    assert_eq!(
        eval("return {1,2,3,nil,5}"),
        Frame::Array(vec![
            Frame::Integer(1),
            Frame::Integer(2),
            Frame::Integer(3)
        ])
    );
    assert_eq!(
        eval("return {1,'a',3.9,-3.9,true,false,{1,{2}}}"),
        Frame::Array(vec![
            Frame::Integer(1),
            bulk("a"),
            Frame::Integer(3),
            Frame::Integer(-3),
            Frame::Integer(1),
            Frame::Null,
            Frame::Array(vec![
                Frame::Integer(1),
                Frame::Array(vec![Frame::Integer(2)])
            ]),
        ])
    );
    assert_eq!(eval("return 3.99"), Frame::Integer(3));
    assert_eq!(eval("return -3.99"), Frame::Integer(-3));
    assert_eq!(eval("return true"), Frame::Integer(1));
    assert_eq!(eval("return false"), Frame::Null);
    assert_eq!(eval("return nil"), Frame::Null);
    assert_eq!(eval("return 1e20"), Frame::Integer(i64::MIN));
    assert_eq!(eval("return -1e20"), Frame::Integer(i64::MIN));
    assert_eq!(eval("return 0/0"), Frame::Integer(i64::MIN));
    assert_eq!(eval("return {double=3.5}"), Frame::Double(3.5));
    assert_eq!(
        eval("return {map={a=1}}"),
        Frame::Map(vec![(bulk("a"), Frame::Integer(1))])
    );
    assert_eq!(eval("return {set={a=true}}"), Frame::Set(vec![bulk("a")]));
    assert_eq!(
        eval("return {big_number='12a'}"),
        Frame::BigNumber(Bytes::from_static(b"12a"))
    );
    assert_eq!(
        eval("return {verbatim_string={format='txt',string='hi'}}"),
        Frame::Verbatim {
            format: *b"txt",
            text: Bytes::from_static(b"hi")
        }
    );
    assert_eq!(eval("return {ok='a', err='b'}"), err("b"));
    assert_eq!(eval("return {foo='b'}"), Frame::Array(vec![]));
    assert_eq!(eval("return {err={}}"), Frame::Array(vec![]));
    assert_eq!(eval("return {ok=1}"), Frame::Array(vec![]));
    assert_eq!(
        eval("return {map={a=1}, 5}"),
        Frame::Map(vec![(bulk("a"), Frame::Integer(1))])
    );
    assert_eq!(eval("return {err=''}"), err(""));
    assert_eq!(eval("return {err='-x'}"), err("-x"));
    assert_eq!(eval("return {err='a\\r\\nb'}"), err("a  b"));
    assert_eq!(
        eval("return redis.status_reply('a\\r\\nb')"),
        Frame::simple("a  b")
    );
    assert_eq!(
        eval("return {1,{err='bad'},3}"),
        Frame::Array(vec![Frame::Integer(1), err("bad"), Frame::Integer(3)])
    );
    assert_eq!(
        eval("redis.setresp(3) return {true,false,nil}"),
        Frame::Array(vec![Frame::Boolean(true), Frame::Boolean(false)])
    );
}

#[test]
fn error_and_status_reply() {
    let cases = [
        ("return redis.error_reply('My err')", err("My err")),
        ("return redis.error_reply('-My err')", err("My err")),
        ("return redis.error_reply('-x y')", err("x y")),
        ("return redis.error_reply('')", err("ERR ")),
        ("return redis.error_reply('-ERR')", err("ERR ERR")),
        ("return redis.error_reply('x')", err("ERR x")),
        ("return redis.error_reply('x y')", err("x y")),
        (
            "local t = redis.error_reply('-x') return t.err",
            bulk("ERR x"),
        ),
        ("return redis.status_reply('FINE')", Frame::simple("FINE")),
        ("return {ok='x'}", Frame::simple("x")),
        (
            "return redis.error_reply()",
            err("ERR wrong number or type of arguments"),
        ),
        (
            "return redis.error_reply(1)",
            err("ERR wrong number or type of arguments"),
        ),
        (
            "return redis.status_reply(1)",
            err("ERR wrong number or type of arguments"),
        ),
        (
            "return redis.status_reply({})",
            err("ERR wrong number or type of arguments"),
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(eval(body), expected, "{body}");
    }
}

#[test]
fn redis_call_and_pcall() {
    let mut it = Interpreter::new().unwrap();
    let mut h = Mock::default();
    let mut ev = |body: &str| eval_with(&mut it, &mut h, body);
    let body = "return redis.call('nosuch')";
    assert_eq!(
        ev(body),
        script_err(body, "ERR Unknown Redis command called from script", 1)
    );
    assert_eq!(
        ev("return redis.pcall('nosuch')"),
        err("ERR Unknown Redis command called from script")
    );
    let body = "return redis.call()";
    assert_eq!(
        ev(body),
        script_err(
            body,
            "ERR Please specify at least one argument for this redis lib call",
            1
        )
    );
    assert_eq!(
        ev("return redis.pcall()"),
        err("ERR Please specify at least one argument for this redis lib call")
    );
    let body = "return redis.call('set','a',{})";
    assert_eq!(
        ev(body),
        script_err(
            body,
            "ERR Lua redis lib command arguments must be strings or integers",
            1
        )
    );
    assert_eq!(
        ev("return redis.pcall('set','a',{})"),
        err("ERR Lua redis lib command arguments must be strings or integers")
    );
    let body = "return redis.call(1)";
    assert_eq!(
        ev(body),
        script_err(body, "ERR Unknown Redis command called from script", 1)
    );
    assert_eq!(
        ev("local ok,e=pcall(redis.call) return {tostring(ok),type(e),e}"),
        strings(&[
            "false",
            "string",
            "ERR Please specify at least one argument for this redis lib call"
        ])
    );
    assert_eq!(
        ev("local ok,e=pcall(redis.call,'incr','s') return e"),
        bulk("ERR value is not an integer or out of range")
    );
    assert_eq!(
        ev("local r = redis.pcall('incr','s') return type(r)..':'..tostring(r.err)"),
        bulk("table:ERR value is not an integer or out of range")
    );
    assert_eq!(ev("local ok,e=pcall(error, {err='x'}) return e"), bulk("x"));
    assert_eq!(
        ev("local ok,e=pcall(error, {foo='x'}) return type(e)"),
        bulk("table")
    );
    assert_eq!(
        ev("local ok,e=xpcall(function() error({err='x'}) end, function(m) return type(m) end) return e"),
        bulk("table")
    );
    // Numbers become arguments as %.17g (-0.0 as "-0", as the reference).
    assert_eq!(ev("return redis.call('set','a',1.5)"), Frame::simple("OK"));
    assert_eq!(
        ev("redis.call('set','n1',0.1+0.2) redis.call('set','n2',1e15) redis.call('set','n3',2^53) \
            redis.call('set','n4',-0.0) redis.call('set','n5',1/3) redis.call('set','n6',1e17) \
            return {redis.call('get','n1'),redis.call('get','n2'),redis.call('get','n3'),\
            redis.call('get','n4'),redis.call('get','n5'),redis.call('get','n6')}"),
        strings(&[
            "0.30000000000000004",
            "1000000000000000",
            "9007199254740992",
            "-0",
            "0.33333333333333331",
            "1e+17"
        ])
    );
    assert_eq!(
        ev("local r = redis.call('get','nokey') return {type(r), tostring(r)}"),
        strings(&["boolean", "false"])
    );
    assert_eq!(
        ev("redis.setresp(3) local r = redis.call('get','nokey') return {type(r), tostring(r)}"),
        strings(&["nil", "nil"])
    );
    assert_eq!(
        ev("local r = redis.call('set','x','y') return {type(r), r.ok}"),
        strings(&["table", "OK"])
    );
    assert_eq!(
        ev("local r = redis.call('zscore','z','m') return {type(r), r}"),
        strings(&["string", "1.5"])
    );
    assert_eq!(
        ev("redis.setresp(3) local r = redis.call('zscore','z','m') return {type(r), type(r.double), tostring(r.double)}"),
        strings(&["table", "number", "1.5"])
    );
    assert_eq!(
        ev("redis.setresp(3) local r = redis.call('hgetall','h') return {type(r), type(r.map), r.map.f}"),
        strings(&["table", "table", "v"])
    );
    assert_eq!(
        ev("local r = redis.call('hgetall','h') return r"),
        strings(&["f", "v"])
    );
    assert_eq!(
        ev("redis.setresp(3) local r = redis.call('smembers','st') return {type(r.set), tostring(r.set.m)}"),
        strings(&["table", "true"])
    );
    assert_eq!(
        ev("local r = redis.call('lrange','nolist',0,-1) return {type(r), #r}"),
        Frame::Array(vec![bulk("table"), Frame::Integer(0)])
    );
    assert_eq!(
        ev("redis.setresp(3) local r = redis.call('bool') return {type(r), tostring(r)}"),
        strings(&["boolean", "true"])
    );
    assert_eq!(
        ev("redis.setresp(3) return redis.call('big').big_number"),
        bulk("1234567890123456789012")
    );
    assert_eq!(
        ev("redis.setresp(3) local v = redis.call('verb').verbatim_string return {v.format, v.string}"),
        strings(&["txt", "hi"])
    );
    // The protocol resets to RESP2 for each script.
    assert_eq!(
        ev("local r = redis.call('zscore','z','m') return type(r)"),
        bulk("string")
    );
    assert_eq!(eval_with(&mut it, &mut h, "return 1"), Frame::Integer(1));
}

#[test]
fn keys_and_argv() {
    let mut it = Interpreter::new().unwrap();
    let mut h = Mock::default();
    let b = |s: &str| Bytes::from(s.to_string());
    assert_eq!(
        it.eval(
            &mut h,
            b"return redis.call('set',KEYS[1],ARGV[1])",
            &[b("k")],
            &[b("v")]
        ),
        Frame::ok()
    );
    assert_eq!(h.kv.get(&b"k"[..]).map(|v| v.as_slice()), Some(&b"v"[..]));
    assert_eq!(
        it.eval(
            &mut h,
            b"return {#KEYS,#ARGV}",
            &[b("a"), b("b")],
            &[b("c")]
        ),
        Frame::Array(vec![Frame::Integer(2), Frame::Integer(1)])
    );
    assert_eq!(
        it.eval(&mut h, b"return {#KEYS,#ARGV}", &[], &[]),
        Frame::Array(vec![Frame::Integer(0), Frame::Integer(0)])
    );
}

#[test]
fn redis_library_helpers() {
    let mut it = Interpreter::new().unwrap();
    let mut h = Mock::default();
    let mut ev = |body: &str| eval_with(&mut it, &mut h, body);
    assert_eq!(
        ev("return {redis.REPL_NONE,redis.REPL_AOF,redis.REPL_SLAVE,redis.REPL_REPLICA,redis.REPL_ALL,\
            redis.LOG_DEBUG,redis.LOG_VERBOSE,redis.LOG_NOTICE,redis.LOG_WARNING,redis.REDIS_VERSION,\
            redis.REDIS_VERSION_NUM}"),
        Frame::Array(vec![
            Frame::Integer(0),
            Frame::Integer(1),
            Frame::Integer(2),
            Frame::Integer(2),
            Frame::Integer(3),
            Frame::Integer(0),
            Frame::Integer(1),
            Frame::Integer(2),
            Frame::Integer(3),
            bulk("7.0.15"),
            Frame::Integer(458767),
        ])
    );
    assert_eq!(ev("return redis.replicate_commands()"), Frame::Integer(1));
    assert_eq!(ev("return redis.set_repl(redis.REPL_ALL)"), Frame::Null);
    assert_eq!(ev("return redis.breakpoint()"), Frame::Null);
    assert_eq!(ev("return redis.breakpoint()==false"), Frame::Integer(1));
    assert_eq!(ev("return redis.debug('x')"), Frame::Null);
    assert_eq!(ev("return redis.setresp(3)"), Frame::Null);
    assert_eq!(ev("return redis.setresp('3')"), Frame::Null);
    assert_eq!(
        ev("return redis.sha1hex('')"),
        bulk("da39a3ee5e6b4b0d3255bfef95601890afd80709")
    );
    assert_eq!(
        ev("return redis.sha1hex(1)"),
        bulk("356a192b7913b04c54574d18c28d46e6395428ab")
    );
    assert_eq!(
        ev("return redis.sha1hex({})"),
        bulk("da39a3ee5e6b4b0d3255bfef95601890afd80709")
    );
    assert_eq!(
        ev("return redis.acl_check_cmd('get','x')"),
        Frame::Integer(1)
    );
    let errors = [
        ("return redis.sha1hex()", "ERR wrong number of arguments"),
        (
            "return redis.sha1hex('a','b')",
            "ERR wrong number of arguments",
        ),
        (
            "return redis.setresp()",
            "ERR redis.setresp() requires one argument.",
        ),
        (
            "return redis.setresp(4)",
            "ERR RESP version must be 2 or 3.",
        ),
        (
            "return redis.setresp('x')",
            "ERR RESP version must be 2 or 3.",
        ),
        (
            "return redis.set_repl(9)",
            "ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
        ),
        (
            "return redis.set_repl()",
            "ERR redis.set_repl() requires two arguments.",
        ),
        (
            "return redis.log(redis.LOG_WARNING)",
            "ERR redis.log() requires two arguments or more.",
        ),
        ("return redis.log(7,'x')", "ERR Invalid debug level."),
        (
            "return redis.log('a','x')",
            "ERR First argument must be a number (log level).",
        ),
        (
            "return redis.acl_check_cmd('nosuch')",
            "ERR Invalid command passed to redis.acl_check_cmd()",
        ),
        (
            "return redis.acl_check_cmd()",
            "ERR Please specify at least one argument for this redis lib call",
        ),
        (
            "return redis.acl_check_cmd({})",
            "ERR Lua redis lib command arguments must be strings or integers",
        ),
        (
            "return tostring(redis.debug('x'))",
            "ERR user_script:1: bad argument #1 to 'tostring' (value expected)",
        ),
    ];
    for (body, msg) in errors {
        assert_eq!(ev(body), script_err(body, msg, 1), "{body}");
    }
    assert_eq!(
        ev("local ok,e = pcall(redis.acl_check_cmd,'nosuch') return e"),
        bulk("ERR Invalid command passed to redis.acl_check_cmd()")
    );
    assert_eq!(
        ev("redis.log(redis.LOG_WARNING,'L1',{},'L2',true,nil,3.5)"),
        Frame::Null
    );
    assert_eq!(ev("return redis.log(3.9,'LL')"), Frame::Null);
    assert_eq!(
        ev("return redis.log(redis.LOG_WARNING,'hi',1)"),
        Frame::Null
    );
    assert_eq!(
        h.log,
        vec![
            (LogLevel::Warning, "L1 L2 3.5".to_string()),
            (LogLevel::Warning, "LL".to_string()),
            (LogLevel::Warning, "hi 1".to_string()),
        ]
    );
}

#[test]
fn set_repl_and_resp_reach_the_host() {
    let mut it = Interpreter::new().unwrap();
    let mut h = Mock::default();
    eval_with(
        &mut it,
        &mut h,
        "redis.call('get','a') redis.set_repl(redis.REPL_AOF) redis.setresp(3) redis.pcall('get','a')",
    );
    let ctx: Vec<_> = h.calls.iter().map(|(_, c)| *c).collect();
    assert_eq!(ctx[0].resp, Protocol::Resp2);
    assert!(ctx[0].repl.aof && ctx[0].repl.replica && !ctx[0].pcall);
    assert_eq!(ctx[1].resp, Protocol::Resp3);
    assert!(ctx[1].repl.aof && !ctx[1].repl.replica && ctx[1].pcall);
}

#[test]
fn math_random_matches_the_reference() {
    let mut it = Interpreter::new().unwrap();
    let mut h = Mock::default();
    let mut ev = |body: &str| eval_with(&mut it, &mut h, body);
    // A fresh server: the state is never reset between scripts.
    assert_eq!(ev("return math.random()"), Frame::Integer(0));
    assert_eq!(
        ev("return tostring(math.random())"),
        bulk("0.84048536971234")
    );
    assert_eq!(
        ev("return {tostring(math.random()),tostring(math.random())}"),
        strings(&["0.35333609737146", "0.44658343468168"])
    );
    assert_eq!(
        ev("math.randomseed(42); return {tostring(math.random()), math.random(1000)}"),
        Frame::Array(vec![bulk("0.74452500033403"), Frame::Integer(343)])
    );
    let body = "return math.random(0)";
    assert_eq!(
        ev(body),
        script_err(
            body,
            "ERR user_script:1: bad argument #1 to 'random' (interval is empty)",
            1
        )
    );
    let body = "return math.random(1,2,3)";
    assert_eq!(
        ev(body),
        script_err(body, "ERR user_script:1: wrong number of arguments", 1)
    );
    let body = "return math.randomseed()";
    assert_eq!(
        ev(body),
        script_err(
            body,
            "ERR user_script:1: bad argument #1 to 'randomseed' (number expected, got no value)",
            1
        )
    );
}

#[test]
fn math_random_ranges() {
    // Seen on a fresh reference server after two `math.random()` calls:
    // {math.random(10) x3, math.random(5,100)} = {4,5,4,90}.
    let mut it = Interpreter::new().unwrap();
    let mut h = Mock::default();
    eval_with(&mut it, &mut h, "return math.random()");
    eval_with(&mut it, &mut h, "return math.random()");
    assert_eq!(
        eval_with(
            &mut it,
            &mut h,
            "return {math.random(10),math.random(10),math.random(10), math.random(5,100)}"
        ),
        Frame::Array(vec![
            Frame::Integer(4),
            Frame::Integer(5),
            Frame::Integer(4),
            Frame::Integer(90)
        ])
    );
}

#[test]
fn rand48_sequence() {
    let mut g = Rand48::default();
    assert_eq!(g.next_float(), 0.3964647736383904);
    assert_eq!(g.next_float(), 0.8404853697123403);
    let mut g = Rand48::seeded(42);
    assert_eq!(g.next_float(), 0.7445250003340305);
}

#[test]
fn shebang_parsing() {
    let ok = |b: &str| shebang::parse(b.as_bytes()).map(|p| p.flags);
    assert_eq!(ok("return 1"), Ok(ScriptFlags::default()));
    assert_eq!(
        ok("#!lua\nreturn 1"),
        Ok(ScriptFlags {
            shebang: true,
            ..Default::default()
        })
    );
    assert_eq!(
        ok("#!lua flags=no-writes,allow-oom,allow-stale,no-cluster,allow-cross-slot-keys\nreturn 1"),
        Ok(ScriptFlags {
            shebang: true,
            no_writes: true,
            allow_oom: true,
            allow_stale: true,
            no_cluster: true,
            allow_cross_slot_keys: true,
        })
    );
    assert!(ok("#!lua flags=\nreturn 1").is_ok());
    assert!(ok("#!lua  flags=no-writes  \nreturn 2").is_ok());
    assert!(ok("#!lua flags=no-writes,no-writes\nreturn 1").is_ok());
    let bad = |b: &str| shebang::parse(b.as_bytes()).unwrap_err();
    assert_eq!(
        bad("#!lua flags=bogus\nreturn 1"),
        "ERR Unexpected flag in script shebang: bogus"
    );
    assert_eq!(
        bad("#!lua flags=no-writes,,x\nreturn 1"),
        "ERR Unexpected flag in script shebang: "
    );
    assert_eq!(
        bad("#!lua name=x\nreturn 1"),
        "ERR Unknown lua shebang option: name=x"
    );
    assert_eq!(
        bad("#!lua foo\nreturn 1"),
        "ERR Unknown lua shebang option: foo"
    );
    assert_eq!(
        bad("#!luajit\nreturn 1"),
        "ERR Unexpected engine in script shebang: #!luajit"
    );
    assert_eq!(
        bad("#!py\nreturn 1"),
        "ERR Unexpected engine in script shebang: #!py"
    );
    assert_eq!(
        bad("#!\nreturn 1"),
        "ERR Unexpected engine in script shebang: #!"
    );
    assert_eq!(bad("#!lua"), "ERR Invalid script shebang");
    assert_eq!(bad("#!lua flags=no-writes"), "ERR Invalid script shebang");
}

#[test]
fn script_cache() {
    let mut it = Interpreter::new().unwrap();
    let mut h = Mock::default();
    assert_eq!(
        it.load(b"return 1"),
        Ok("e0e1f9fabfc9d4800c877a703b823ac0578ff8db".to_string())
    );
    assert!(it.exists(b"e0e1f9fabfc9d4800c877a703b823ac0578ff8db"));
    assert!(it.exists(b"E0E1F9FABFC9D4800C877A703B823AC0578FF8DB"));
    assert!(!it.exists(b"ffff"));
    assert_eq!(
        it.evalsha(
            &mut h,
            b"e0e1f9fabfc9d4800c877a703b823ac0578ff8db",
            &[],
            &[]
        ),
        Frame::Integer(1)
    );
    let noscript = err("NOSCRIPT No matching script. Please use EVAL.");
    assert_eq!(
        it.evalsha(
            &mut h,
            b"ffffffffffffffffffffffffffffffffffffffff",
            &[],
            &[]
        ),
        noscript
    );
    assert_eq!(it.evalsha(&mut h, b"abc", &[], &[]), noscript);
    // EVAL caches too.
    let body = "#!lua flags=no-writes\nreturn 2";
    assert_eq!(eval_with(&mut it, &mut h, body), Frame::Integer(2));
    let (flags, stored) = it.script(sha(body).as_bytes()).unwrap();
    assert!(flags.shebang && flags.no_writes);
    assert_eq!(stored, Bytes::from(body));
    assert_eq!(it.cached_scripts(), 2);
    // Line numbers count the shebang line.
    let body = "#!lua\nerror('x')";
    assert_eq!(
        eval_with(&mut it, &mut h, body),
        script_err(body, "ERR user_script:2: x", 2)
    );
    assert_eq!(
        eval_with(&mut it, &mut h, "#!lua flags=bogus\nreturn 1"),
        err("ERR Unexpected flag in script shebang: bogus")
    );
    it.flush().unwrap();
    assert_eq!(it.cached_scripts(), 0);
    assert!(!it.exists(b"e0e1f9fabfc9d4800c877a703b823ac0578ff8db"));
    assert_eq!(
        it.evalsha(
            &mut h,
            b"e0e1f9fabfc9d4800c877a703b823ac0578ff8db",
            &[],
            &[]
        ),
        noscript
    );
    // The sandbox is rebuilt after a flush.
    let body = "x = 1";
    assert_eq!(
        eval_with(&mut it, &mut h, body),
        script_err(
            body,
            "ERR user_script:1: Attempt to modify a readonly table",
            1
        )
    );
}

#[test]
fn bit_library() {
    let cases: &[(&str, &str)] = &[
        (
            "return {bit.tobit(0xffffffff), bit.tobit(0xffffffff + 1), bit.tobit(2^40 + 5), bit.tobit(-1), \
             bit.tobit(1.5), bit.tobit(2.5), bit.tobit(-1.5), bit.tobit('12')}",
            "-1 0 5 -1 2 2 -2 12",
        ),
        (
            "return {bit.bnot(0), bit.bnot(5), bit.band(0xff, 0x0f, 0x3), bit.bor(1, 2, 4, 8), \
             bit.bxor(0xff, 0x0f), bit.band(5)}",
            "-1 -6 3 15 240 5",
        ),
        (
            "return {bit.lshift(1, 31), bit.lshift(1, 32), bit.lshift(1, 33), bit.rshift(-1, 28), \
             bit.rshift(-1, 0), bit.arshift(-256, 4), bit.arshift(256, 4)}",
            "-2147483648 1 2 15 -1 -16 16",
        ),
        (
            "return {bit.rol(0x12345678, 8), bit.ror(0x12345678, 8), bit.rol(1, 32), \
             bit.bswap(0x12345678), bit.bswap(-1)}",
            "878082066 2014458966 1 2018915346 -1",
        ),
        (
            "return {bit.tobit(2^52), bit.tobit(2^53+3), bit.tobit(-2^31), bit.tobit(1e20)}",
            "0 2 -2147483648 2025163840",
        ),
        (
            "return {bit.tobit(' 0x10 '), bit.band(2^31, 2^31)}",
            "16 -2147483648",
        ),
    ];
    for (body, expected) in cases {
        let ints = expected
            .split(' ')
            .map(|n| Frame::Integer(n.parse().unwrap()))
            .collect();
        assert_eq!(eval(body), Frame::Array(ints), "{body}");
    }
    assert_eq!(
        eval(
            "return {bit.tohex(1), bit.tohex(-1), bit.tohex(0x1234, 2), bit.tohex(0xabcd, -4), \
              bit.tohex(255, 0), bit.tohex(255, 20), bit.tohex(255, -20), bit.tohex(1, 2.7)}"
        ),
        strings(&["00000001", "ffffffff", "34", "ABCD", "", "000000ff", "000000FF", "001"])
    );
    let errors = [
        (
            "return bit.tobit()",
            "ERR user_script:1: bad argument #1 to 'tobit' (number expected, got no value)",
        ),
        (
            "return bit.tobit({})",
            "ERR user_script:1: bad argument #1 to 'tobit' (number expected, got table)",
        ),
        (
            "return bit.band()",
            "ERR user_script:1: bad argument #1 to 'band' (number expected, got no value)",
        ),
        (
            "return bit.band(1, 'x')",
            "ERR user_script:1: bad argument #2 to 'band' (number expected, got string)",
        ),
        (
            "return bit.lshift(1)",
            "ERR user_script:1: bad argument #2 to 'lshift' (number expected, got no value)",
        ),
        (
            "return bit.tohex(1, 'x')",
            "ERR user_script:1: bad argument #2 to 'tohex' (number expected, got string)",
        ),
        (
            "bit.x = 1",
            "ERR user_script:1: Attempt to modify a readonly table",
        ),
    ];
    for (body, msg) in errors {
        assert_eq!(eval(body), script_err(body, msg, 1), "{body}");
    }
    assert_eq!(
        eval("local ok, e = pcall(bit.tobit) return e"),
        bulk("bad argument #1 to '?' (number expected, got no value)")
    );
    assert_eq!(eval("return tostring(getmetatable(bit))"), bulk("nil"));
}

#[test]
fn errors_seen_through_pcall() {
    let cases = [
        (
            "local ok, e = pcall(redis.log) return {type(e), e}",
            "ERR redis.log() requires two arguments or more.",
        ),
        (
            "local ok, e = pcall(redis.log, 'x', 'y') return {type(e), e}",
            "ERR First argument must be a number (log level).",
        ),
        (
            "local ok, e = pcall(redis.setresp) return {type(e), e}",
            "ERR redis.setresp() requires one argument.",
        ),
        (
            "local ok, e = pcall(redis.set_repl, 9) return {type(e), e}",
            "ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
        ),
        (
            "local ok, e = pcall(redis.log, 9, 'y') return {type(e), e}",
            "ERR Invalid debug level.",
        ),
        (
            "local ok, e = pcall(redis.sha1hex) return {type(e), e}",
            "ERR wrong number of arguments",
        ),
        (
            "local ok, e = pcall(math.random, 0) return {type(e), e}",
            "bad argument #1 to '?' (interval is empty)",
        ),
        (
            "local ok, e = pcall(function() return bit.tobit() end) return {type(e), e}",
            "user_script:1: bad argument #1 to 'tobit' (number expected, got no value)",
        ),
    ];
    for (body, msg) in cases {
        assert_eq!(eval(body), strings(&["string", msg]), "{body}");
    }
    assert_eq!(
        eval("local ok, e = xpcall(redis.sha1hex, function(e) return type(e) end) return e"),
        bulk("table")
    );
}

#[test]
fn loadstring_chunks_share_the_sandbox() {
    let cases = [
        (
            "local f, e = loadstring('return 1+') return e",
            "[string \"return 1+\"]:1: unexpected symbol near '<eof>'",
        ),
        (
            "local f = loadstring('x = 1') local ok, e = pcall(f) return e",
            "[string \"x = 1\"]:1: Attempt to modify a readonly table",
        ),
        (
            "local f = loadstring('return zz') local ok, e = pcall(f) return e",
            "[string \"return zz\"]:1: Script attempted to access nonexistent global variable 'zz'",
        ),
        (
            "local f = loadstring('string.x = 1') local ok, e = pcall(f) return e",
            "[string \"string.x = 1\"]:1: Attempt to modify a readonly table",
        ),
        (
            "local f = loadstring(\"return redis.sha1hex('a')\") return f()",
            "86f7e437faa5a7fce15d1ddcb9eaeaea377667b8",
        ),
        (
            "local f = load(function() return nil end) return type(f)",
            "function",
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(eval(body), bulk(expected), "{body}");
    }
    assert_eq!(eval("return loadstring('return 1+1')()"), Frame::Integer(2));
    assert_eq!(
        eval("local f = loadstring('local a = ... return a') return f(5)"),
        Frame::Integer(5)
    );
}

#[test]
fn base_library_behaviour() {
    // A sample of the 160 scripts compared with the reference.
    let cases: &[(&str, Frame)] = &[
        (
            "return string.format('%5.2f|%d|%s|%q', 3.14159, 42, 'x', 'a\\nb')",
            bulk(" 3.14|42|x|\"a\\\nb\""),
        ),
        ("return tostring(1e100)", bulk("1e+100")),
        ("return tostring(0.1)", bulk("0.1")),
        ("return type(string.gfind)", bulk("function")),
        ("return type(math.mod)", bulk("function")),
        ("return table.getn({1,2,3})", Frame::Integer(3)),
        ("return #string", Frame::Integer(0)),
        ("return tonumber('0x10')", Frame::Integer(16)),
        ("return 2^31", Frame::Integer(2147483648)),
        ("return 2^63", Frame::Integer(i64::MIN)),
        ("return math.huge", Frame::Integer(i64::MIN)),
        ("return gcinfo() > 0", Frame::Integer(1)),
        ("return _G == _G._G", Frame::Integer(1)),
        ("local ok, e = pcall(error) return tostring(e)", bulk("nil")),
        (
            "local ok, e = pcall(string.rep) return e",
            bulk("bad argument #1 to '?' (string expected, got no value)"),
        ),
        (
            "local co = coroutine.create(function(a) coroutine.yield(a+1) return 5 end) \
             local _, v = coroutine.resume(co, 1) return v",
            Frame::Integer(2),
        ),
        ("return type(getmetatable(_G).__index)", bulk("function")),
    ];
    for (body, expected) in cases {
        assert_eq!(&eval(body), expected, "{body}");
    }
    let errors = [
        ("error(true)", "ERR true"),
        ("assert(false)", "ERR user_script:1: assertion failed!"),
        ("assert(false, 'my assert')", "ERR user_script:1: my assert"),
        (
            "assert(nil, {err='ASSERT tbl'})",
            "ERR user_script:1: bad argument #2 to 'assert' (string expected, got table)",
        ),
        (
            "return string.rep()",
            "ERR user_script:1: bad argument #1 to 'rep' (string expected, got no value)",
        ),
    ];
    for (body, msg) in errors {
        assert_eq!(eval(body), script_err(body, msg, 1), "{body}");
    }
}

#[test]
fn interpreter_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<Interpreter>();
}

#[test]
fn error_tables_with_number_messages() {
    // The reference reads the `err` field as a string, numbers included.
    let body = "error({err=5})";
    assert_eq!(eval(body), script_err(body, "5", 1));
    let body = "error({err=5.5})";
    assert_eq!(eval(body), script_err(body, "5.5", 1));
}

#[test]
fn metatables_show_only_index() {
    assert_eq!(
        eval("local t={} for k,v in pairs(getmetatable(_G)) do t[#t+1]=k..':'..type(v) end table.sort(t) return t"),
        strings(&["__index:function"])
    );
    assert_eq!(
        eval("return {getmetatable(_G).__newindex == nil, getmetatable(_G).__metatable == nil}"),
        Frame::Array(vec![Frame::Integer(1), Frame::Integer(1)])
    );
    assert_eq!(
        eval("local t={} for k,v in pairs(getmetatable('')) do t[#t+1]=k..':'..type(v) end table.sort(t) return t"),
        strings(&["__index:table"])
    );
    assert_eq!(
        eval("return getmetatable('').__index == string"),
        Frame::Integer(1)
    );
    let body = "getmetatable('').__index = 1";
    assert_eq!(
        eval(body),
        script_err(
            body,
            "ERR user_script:1: Attempt to modify a readonly table",
            1
        )
    );
}

#[test]
fn base_functions_are_c_like() {
    // As the reference's C functions: named as called, located in the
    // script even when tail-called.
    let cases: &[(&str, &str)] = &[
        ("setmetatable(1, {})", "e:ERR user_script:1: bad argument #1 to 'setmetatable' (table expected, got number) script: ffabce3cc23f006ee7f408dacb056fa39cdb178f, on @user_script:1."),
        ("return rawset(1, 2, 3)", "e:ERR user_script:1: bad argument #1 to 'rawset' (table expected, got number) script: 589b9376ebf5c95bc82befcde10e84e9035b3b79, on @user_script:1."),
        ("return rawget(1)", "e:ERR user_script:1: bad argument #1 to 'rawget' (table expected, got number) script: 632c12304f535ca23a79c81359e7897d667d250b, on @user_script:1."),
        ("return pairs(nil)", "e:ERR user_script:1: bad argument #1 to 'pairs' (table expected, got nil) script: a535da6440828f635b77339d464e26606059706b, on @user_script:1."),
        ("return next(1)", "e:ERR user_script:1: bad argument #1 to 'next' (table expected, got number) script: 3f89bafea3b9a9791a5e0a9b6b2cb2beafa74b80, on @user_script:1."),
        ("pcall()", "nil"),
        ("return rawset(_G, 'x', 1)", "e:ERR Attempt to modify a readonly table script: 6ec33e5ae28ed74be2865c4f74dabce76f044b0e, on @user_script:1."),
        ("return setmetatable(_G, {})", "e:ERR Attempt to modify a readonly table script: 6272db8503d65d1a388d09238bbfa63398419ac5, on @user_script:1."),
        ("return getmetatable()", "e:ERR user_script:1: bad argument #1 to 'getmetatable' (value expected) script: 079907dcac7a4f1ecf68e10e298d3983826b55b6, on @user_script:1."),
        ("return loadstring(1)", "nil"),
        ("xpcall()", "e:ERR user_script:1: bad argument #2 to 'xpcall' (value expected) script: 4d5e3f44759c3410c81b3e34a722844bcd97a0a8, on @user_script:1."),
        ("return rawset({}, nil, 1)", "e:ERR table index is nil script: 5896009464192fbab25680c7f3a63b35ca0d9242, on @user_script:1."),
        ("return pcall()", "nil"),
        ("return {pcall()}", "[nil,b:attempt to call a boolean value]"),
        ("return {xpcall()}", "e:ERR user_script:1: bad argument #2 to 'xpcall' (value expected) script: d727c70de45f8a2f0b17e65e3aef5af48430e076, on @user_script:1."),
        ("return {loadstring(1)}", "[]"),
        ("return {pcall(1)}", "[nil,b:attempt to call a number value]"),
        ("return {xpcall(1)}", "e:ERR user_script:1: bad argument #2 to 'xpcall' (value expected) script: e40f239103323e6668595f5d650ac6e66f395afc, on @user_script:1."),
        ("return {xpcall(function() error('x') end)}", "e:ERR user_script:1: bad argument #2 to 'xpcall' (value expected) script: 43c43597fe9e92cf818fb0401984bcf66cf3f5dc, on @user_script:1."),
        ("return {loadstring()}", "e:ERR user_script:1: bad argument #1 to 'loadstring' (string expected, got no value) script: 4197a3e500e3826ec02ae91cd67b77e17cff7483, on @user_script:1."),
        ("return {load()}", "e:ERR user_script:1: bad argument #1 to 'load' (function expected, got no value) script: 5bbac19491bf2ead23f9d4b457f70a28fb483d4e, on @user_script:1."),
        ("return {load(1)}", "e:ERR user_script:1: bad argument #1 to 'load' (function expected, got number) script: ffe25487bc57e229fe86b200eddcc27493e3cc03, on @user_script:1."),
        ("return setmetatable({}, 1)", "e:ERR user_script:1: bad argument #2 to 'setmetatable' (nil or table expected) script: edfb36201dfdaf2c684477466ddae43ab9ff3c77, on @user_script:1."),
        ("local t = setmetatable({}, {__metatable=1}) return setmetatable(t, {})", "e:ERR user_script:1: cannot change a protected metatable script: 96a82f5d48fdb519bc44ecb1a807e2632b28cb77, on @user_script:1."),
        ("return rawget({})", "e:ERR user_script:1: bad argument #2 to 'rawget' (value expected) script: 158371e2706c5bc7b931bb809705f12ad3c1591b, on @user_script:1."),
        ("return rawset({}, 1)", "e:ERR user_script:1: bad argument #3 to 'rawset' (value expected) script: 0a7f1dc523ece10cd9e05cbd156450383b97300d, on @user_script:1."),
        ("return rawset({})", "e:ERR user_script:1: bad argument #2 to 'rawset' (value expected) script: 59b2548f7cb361a90806e28d78852e5e8e1fb78a, on @user_script:1."),
        ("return rawset({}, 0/0, 1)", "e:ERR table index is NaN script: d9b70d715d8762a13ec7b724f3cb6224edc36419, on @user_script:1."),
        ("return next({}, 'nokey')", "e:ERR invalid key to 'next' script: f27dc2a9951ade42a5f85a8b584e0390da6ce499, on @user_script:1."),
        ("return {next({})}", "[]"),
        ("return rawequal()", "e:ERR user_script:1: bad argument #1 to 'rawequal' (value expected) script: 5582a38f6c269d01f7dd86e19a58e213acf1bf21, on @user_script:1."),
    ];
    for (body, want) in cases {
        assert_eq!(canon(&eval(body)), *want, "{body}");
    }
}

#[test]
fn cjson_and_cmsgpack_are_read_only_globals() {
    let body = "cjson.x = 1";
    assert_eq!(
        eval(body),
        script_err(
            body,
            "ERR user_script:1: Attempt to modify a readonly table",
            1
        )
    );
    let body = "cmsgpack.x = 1";
    assert_eq!(
        eval(body),
        script_err(
            body,
            "ERR user_script:1: Attempt to modify a readonly table",
            1
        )
    );
    assert_eq!(
        eval("return {type(getmetatable(cjson)), type(getmetatable(cmsgpack)), rawget(cjson, 'encode') ~= nil, #cjson}"),
        Frame::Array(vec![bulk("nil"), bulk("nil"), Frame::Integer(1), Frame::Integer(0)])
    );
    // pairs visits them in upstream's order.
    assert_eq!(
        eval("local t={} for k in pairs(cjson) do t[#t+1]=k end return t"),
        strings(&[
            "_NAME",
            "encode",
            "decode_max_depth",
            "_VERSION",
            "decode_invalid_numbers",
            "encode_keep_buffer",
            "null",
            "encode_number_precision",
            "new",
            "encode_max_depth",
            "encode_invalid_numbers",
            "decode",
            "encode_sparse_array"
        ])
    );
    assert_eq!(
        eval("local t={} for k in pairs(cmsgpack) do t[#t+1]=k end return t"),
        strings(&[
            "_DESCRIPTION",
            "pack",
            "_NAME",
            "unpack",
            "_COPYRIGHT",
            "_VERSION",
            "unpack_one",
            "unpack_limit"
        ])
    );
    assert_eq!(
        eval("return cjson.null == cjson.decode('null')"),
        Frame::Integer(1)
    );
}
