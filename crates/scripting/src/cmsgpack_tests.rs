//! Tests of the `cmsgpack` library. [`CASES`] ran on the reference
//! `redis-server` 7.0.15 as `EVAL "<PRELUDE> <case>" 0`; the expectation is
//! its reply: the returned string, `i:<n>` for an integer, or `E!<message>`
//! for an error (without `ERR ` and the ` script: ...` suffix). Here the
//! same code runs in a bare Lua state with the table as global `cmsgpack`,
//! compiled as `@user_script` so positions read `user_script:1:`. Errors
//! caught by `pcall` are turned into their text by `__errtext` (upstream's
//! are plain strings already).

use mlua::{Lua, Value};

use super::{create, Encoder, MAX_OUTPUT};
use crate::redislib::Raise;

/// Helpers shared by the cases (one line, so every position is line 1):
/// `hx` (hex dump), `ser` (canonical text of a value, sorted table keys),
/// `all` (`ser` of every argument), `perr` (pcall, `E:<text>` on error),
/// `ck` (length and checksum), `depth` (how deep `t[k][k]...` goes).
const PRELUDE: &str = r#"local function hx(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end local function ser(v) if type(v) == 'number' then return string.format('%.17g', v) elseif type(v) == 'string' then return '"' .. (v:gsub('[^%w ]', function(c) return '\\' .. c:byte() end)) .. '"' elseif type(v) == 'table' then local r = {} for k, x in pairs(v) do r[#r + 1] = ser(k) .. '=' .. ser(x) end table.sort(r) return '{' .. table.concat(r, ',') .. '}' else return tostring(v) end end local function all(...) local r = {} for i = 1, select('#', ...) do r[i] = ser((select(i, ...))) end return table.concat(r, ' ') end local function perr(...) local ok, e = pcall(...) if ok then return 'ok' end return 'E:' .. __errtext(e) end local function ck(s) local h = 0 for i = 1, #s do h = (h * 31 + s:byte(i)) % 2147483647 end return #s .. '/' .. h end local function depth(t, k) local d = 0 while type(t) == 'table' do t = t[k] d = d + 1 end return d .. ':' .. ser(t) end"#;

/// (case, reference reply).
const CASES: &[(&str, &str)] = &[
    (
        r#"return hx(cmsgpack.pack(nil, true, false, 0, 1, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296, 2^53, 2^62))"#,
        r#"c0c3c200017fcc80ccffcd0100cdffffce00010000ceffffffffcf0000000100000000cf0020000000000000cf4000000000000000"#,
    ),
    (
        r#"return hx(cmsgpack.pack(-1, -32, -33, -128, -129, -32768, -32769, -2147483648, -2147483649, -2^53, -2^63))"#,
        r#"ffe0d0dfd080d1ff7fd18000d2ffff7fffd280000000d3ffffffff7fffffffd3ffe0000000000000d38000000000000000"#,
    ),
    (
        r#"return hx(cmsgpack.pack(-1099511627776))"#,
        r#"d3ffffff0000000000"#,
    ),
    (r#"return hx(cmsgpack.pack(0.1))"#, r#"cb3fb999999999999a"#),
    (
        r#"return hx(cmsgpack.pack(2^63, 2^64, 1e300, -1e300, 1/0, -1/0, 0/0, -(0/0), -0.0, 0.5, -2.25, 3.5, 3.4028234663852886e38, 3.4028235677973366e38, 16777217, 16777216.5, 2^-52, -2^-52))"#,
        r#"ca5f000000ca5f800000cb7e37e43c8800759ccbfe37e43c8800759cca7f800000caff800000cbfff8000000000000cb7ff800000000000000ca3f000000cac0100000ca40600000ca7f7fffffcb47effffff0000000ce01000001cb4170000008000000ca25800000caa5800000"#,
    ),
    (
        r#"return hx(cmsgpack.pack({1.5e-45, 1e-300, 2^-149, -1e-300, 2^-53, 0, -0.0, 1e-17}, {x = 1e-300}))"#,
        r#"98cb36a1208141e9900bcb01a56e1fc2f8f359ca00000001cb81a56e1fc2f8f359ca250000000000cb3c670ef54646d49781a178cb01a56e1fc2f8f359"#,
    ),
    (
        r#"return all(cmsgpack.unpack(cmsgpack.pack({1e-300, {y = -1e-20}})))"#,
        r#"{1=1e-300,2={"y"=-9.9999999999999995e-21}}"#,
    ),
    (
        r#"return all(cmsgpack.unpack('\129\203\1\165\110\31\194\248\243\89\1'))"#,
        r#"{1e-300=1}"#,
    ),
    (
        r#"return hx(cmsgpack.pack(2^63 - 1024, -2^63 - 2048, 123456789.25, 1/3))"#,
        r#"cf7ffffffffffffc00cbc3e0000000000001cb419d6f3455000000cb3fd5555555555555"#,
    ),
    (
        r#"return hx(cmsgpack.pack('', 'a', 'hello\0world', string.rep('x', 31)))"#,
        r#"a0a161ab68656c6c6f00776f726c64bf78787878787878787878787878787878787878787878787878787878787878"#,
    ),
    (
        r#"return all(hx(cmsgpack.pack(string.rep('x', 32))):sub(1, 8), hx(cmsgpack.pack(string.rep('y', 255))):sub(1, 8), hx(cmsgpack.pack(string.rep('z', 256))):sub(1, 8), hx(cmsgpack.pack(string.rep('w', 65535))):sub(1, 8), hx(cmsgpack.pack(string.rep('v', 65536))):sub(1, 12), ck(cmsgpack.pack(string.rep('u', 70000))))"#,
        r#""d9207878" "d9ff7979" "da01007a" "daffff77" "db0001000076" "70005\471165288676""#,
    ),
    (
        r#"return all(hx(cmsgpack.pack({})), hx(cmsgpack.pack({1, 2, 3})), hx(cmsgpack.pack({a = 1})), hx(cmsgpack.pack({[2] = 1})), hx(cmsgpack.pack({[1] = 1, [3] = 3})), hx(cmsgpack.pack({['1'] = 5})), hx(cmsgpack.pack({[1.5] = 1})), hx(cmsgpack.pack({[0] = 1})), hx(cmsgpack.pack({[-1] = 1})))"#,
        r#""90" "93010203" "81a16101" "810201" "8201010303" "81a13105" "81ca3fc0000001" "810001" "81ff01""#,
    ),
    (
        r#"return all(hx(cmsgpack.pack({[2^31] = 1})), hx(cmsgpack.pack({[1] = 1, [2^31] = 1})), hx(cmsgpack.pack({[2^31 - 1] = 1})), hx(cmsgpack.pack({1, nil, 3})), hx(cmsgpack.pack({[true] = 1})), hx(cmsgpack.pack({[{}] = 1})), hx(cmsgpack.pack({f = type})), hx(cmsgpack.pack(type, coroutine.create(function() end))), hx(cmsgpack.pack({{1}, {a = {}}, 'x'})))"#,
        r#""81ce8000000001" "820101ce8000000001" "81ce7fffffff01" "8201010303" "81c301" "819001" "81a166c0" "c0c0" "93910181a16190a178""#,
    ),
    (
        r#"return all(hx(cmsgpack.pack({1, 2, x = 3})), hx(cmsgpack.pack({[1] = 'a', [2] = 'b', [4] = 'd'})), hx(cmsgpack.pack({[1] = true, [1.0000001] = false})))"#,
        r#""8301010202a17803" "8301a16102a16204a164" "8201c3cb3ff000001ad7f29bc2""#,
    ),
    (
        r#"local t = {} for i = 1, 15 do t[i] = i end local u = {} for i = 1, 16 do u[i] = i end local m = {} for i = 1, 15 do m['k' .. i] = i end local m2 = {} for i = 1, 16 do m2['k' .. i] = i end return all(hx(cmsgpack.pack(t)), hx(cmsgpack.pack(u)), hx(cmsgpack.pack(m)), hx(cmsgpack.pack(m2)))"#,
        r#""9f0102030405060708090a0b0c0d0e0f" "dc00100102030405060708090a0b0c0d0e0f10" "8fa36b31320ca26b3909a26b3808a26b3101a36b31350fa26b3303a26b3202a36b31340ea36b31330da36b31300aa36b31310ba26b3606a26b3707a26b3404a26b3505" "de0010a36b31320ca36b313610a26b3909a26b3808a26b3101a36b31350fa26b3303a26b3202a36b31340ea36b31330da36b31300aa36b31310ba26b3606a26b3707a26b3404a26b3505""#,
    ),
    (
        r#"local t = {} for i = 1, 65535 do t[i] = i end local u = {} for i = 1, 65536 do u[i] = i end local m = {} for i = 1, 65535 do m['k' .. i] = i end local m2 = {} for i = 1, 65536 do m2['k' .. i] = i end return all(hx(cmsgpack.pack(t)):sub(1, 8), ck(cmsgpack.pack(t)), hx(cmsgpack.pack(u)):sub(1, 12), ck(cmsgpack.pack(u)), hx(cmsgpack.pack(m)):sub(1, 8), ck(cmsgpack.pack(m)), hx(cmsgpack.pack(m2)):sub(1, 12), ck(cmsgpack.pack(m2)))"#,
        r#""dcffff01" "196226\471444438291" "dd0001000001" "196233\47145488468" "deffffa6" "643865\471203781110" "df00010000a6" "643879\47102331296""#,
    ),
    (
        r#"local t = {} for i = 1, 40 do t['key' .. i] = i * 3 end t[1.5] = 'f' t[true] = false t[-7] = {1} return hx(cmsgpack.pack(t))"#,
        r#"de002ba56b6579313630c3c2a46b6579391ba56b6579333569f99101a56b6579323448a56b657931342aa46b65793818a56b657933315da56b657932364ea56b6579313733a56b6579333975a56b6579313327a56b657932313fa46b6579340ca56b6579333260a46b65793206a46b65793103ca3fc00000a166a56b6579323751a56b6579343078a56b6579333872a56b6579323242a56b6579333363a46b65793309a56b657932354ba56b657931352da46b65793612a56b6579333466a56b6579313121a46b6579350fa56b657933305aa56b657931301ea56b6579313939a56b6579323957a46b65793715a56b657933376fa56b657932303ca56b6579313224a56b6579313836a56b6579323345a56b657933366ca56b6579323854"#,
    ),
    (
        r#"return hx(cmsgpack:pack())"#,
        r#"88ac5f4445534352495054494f4ed9244d6573736167655061636b204320696d706c656d656e746174696f6e20666f72204c7561a47061636bc0a55f4e414d45a8636d73677061636ba6756e7061636bc0aa5f434f50595249474854d928436f707972696768742028432920323031322c2053616c7661746f72652053616e66696c6970706fa85f56455253494f4eb26c75612d636d73677061636b20302e342e30aa756e7061636b5f6f6e65c0ac756e7061636b5f6c696d6974c0"#,
    ),
    (
        r#"local t = {} local c = t for i = 1, 20 do c[1] = {} c = c[1] end return hx(cmsgpack.pack(t))"#,
        r#"91919191919191919191919191919191c0"#,
    ),
    (
        r#"local t = {} local c = t for i = 1, 20 do c.a = {} c = c.a end return hx(cmsgpack.pack(t, t))"#,
        r#"81a16181a16181a16181a16181a16181a16181a16181a16181a16181a16181a16181a16181a16181a16181a16181a161c081a16181a16181a16181a16181a16181a16181a16181a16181a16181a16181a16181a16181a16181a16181a16181a161c0"#,
    ),
    (
        r#"local t = {} for i = 1, 2 do t[i] = t end return ck(cmsgpack.pack(t, 1))"#,
        r#"131072/2094725157"#,
    ),
    (
        r#"local a = {x = nil, y = 5} local b = {x = a} a['x'] = b local encoded = cmsgpack.pack(a) local re = cmsgpack.unpack(encoded) assert(re.x.x.x.x.x.x.x.x.x.x.x.x.x.x.y == re.y) assert(re.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x) assert(re.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x == nil) return all(hx(encoded), re.x.x.x.x.x.x.x.x.y == re.y, re.y == 5)"#,
        r#""82a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a178c0" true true"#,
    ),
    (
        r#"return cmsgpack.pack()"#,
        r#"E!user_script:1: bad argument #0 to 'pack' (MessagePack pack needs input.)"#,
    ),
    (
        r#"local x = cmsgpack.pack() return x"#,
        r#"E!user_script:1: bad argument #0 to 'pack' (MessagePack pack needs input.)"#,
    ),
    (
        r#"local p = cmsgpack.pack local x = p() return x"#,
        r#"E!user_script:1: bad argument #0 to 'p' (MessagePack pack needs input.)"#,
    ),
    (
        r#"return perr(cmsgpack.pack)"#,
        r#"E:bad argument #0 to '?' (MessagePack pack needs input.)"#,
    ),
    (
        r#"local t = {} for i = 1, 4000 do t[i] = i end return perr(cmsgpack.pack, unpack(t))"#,
        r#"ok"#,
    ),
    (
        r#"local t = {} for i = 1, 4001 do t[i] = i end return perr(cmsgpack.pack, unpack(t))"#,
        r#"E:bad argument #0 to '?' (Too many arguments for MessagePack pack.)"#,
    ),
    (
        r#"local t = {} for i = 1, 4001 do t[i] = i end local x = cmsgpack.pack(unpack(t)) return x"#,
        r#"E!user_script:1: bad argument #0 to 'pack' (Too many arguments for MessagePack pack.)"#,
    ),
    (
        r#"local t = {} for i = 1, 4000 do t[i] = 'a' .. i end return ck(cmsgpack.pack(unpack(t)))"#,
        r#"22893/1668294220"#,
    ),
    (
        r#"local t = {} for i = 1, 3999 do t[i] = i end return ck(cmsgpack.pack(nil, unpack(t)))"#,
        r#"11616/1540519351"#,
    ),
    (
        r#"return all(cmsgpack.unpack(cmsgpack.pack(1, 2, 'a', {1, 2}, true, {a = {b = 'c'}}, nil, false, -5, 0.25)))"#,
        r#"1 2 "a" {1=1,2=2} true {"a"={"b"="c"}} nil false -5 0.25"#,
    ),
    (r#"return all(cmsgpack.unpack(''))"#, r#""#),
    (r#"return all(cmsgpack.unpack_one(''))"#, r#"-1"#),
    (r#"return all(cmsgpack.unpack_one('\1\2\3'))"#, r#"1 1"#),
    (r#"return all(cmsgpack.unpack_one('\1\2\3', 1))"#, r#"2 2"#),
    (r#"return all(cmsgpack.unpack_one('\1\2\3', 2))"#, r#"-1 3"#),
    (r#"return all(cmsgpack.unpack_one('\1\2\3', 3))"#, r#"-1"#),
    (
        r#"return all(cmsgpack.unpack_one('\1\2\3', 4))"#,
        r#"E!user_script:1: Start offset 4 greater than input length 3."#,
    ),
    (
        r#"return all(cmsgpack.unpack_one('\1\2\3', -1))"#,
        r#"E!user_script:1: Invalid request to unpack with offset of -1 and limit of 3."#,
    ),
    (
        r#"return all(cmsgpack.unpack_limit('\1\2\3', 2))"#,
        r#"2 1 2"#,
    ),
    (
        r#"return all(cmsgpack.unpack_limit('\1\2\3', 0))"#,
        r#"1 2 3"#,
    ),
    (
        r#"return all(cmsgpack.unpack_limit('\1\2\3', 0, 1))"#,
        r#"1"#,
    ),
    (
        r#"return all(cmsgpack.unpack_limit('\1\2\3', 0, 3))"#,
        r#"-1"#,
    ),
    (
        r#"return all(cmsgpack.unpack_limit('\1\2\3', 5, 1))"#,
        r#"-1 2 3"#,
    ),
    (
        r#"return all(cmsgpack.unpack_limit('\1\2\3', -1, 1))"#,
        r#"E!user_script:1: Invalid request to unpack with offset of 1 and limit of 3."#,
    ),
    (
        r#"return all(cmsgpack.unpack_limit('\1\2\3', 1, -1))"#,
        r#"E!user_script:1: Invalid request to unpack with offset of -1 and limit of 3."#,
    ),
    (
        r#"return all(cmsgpack.unpack_limit('\1\2\3', 1, 4))"#,
        r#"E!user_script:1: Start offset 4 greater than input length 3."#,
    ),
    (r#"return all(cmsgpack.unpack_limit('', 1, 0))"#, r#"-1"#),
    (
        r#"return all(cmsgpack.unpack_limit('\1\2\3', 2^32 + 1, 0))"#,
        r#"-1 1 2 3"#,
    ),
    (
        r#"return all(cmsgpack.unpack_limit('\1\2\3', 2^63, 0))"#,
        r#"E!user_script:1: Invalid request to unpack with offset of 0 and limit of 3."#,
    ),
    (
        r#"return all(cmsgpack.unpack_limit('\1\2\3', 1, 2^32 + 1))"#,
        r#"E!user_script:1: Start offset 1 greater than input length 3."#,
    ),
    (
        r#"return all(cmsgpack.unpack_limit('\1\2\3', 1, -2^32 + 1))"#,
        r#"E!user_script:1: Invalid request to unpack with offset of 1 and limit of 3."#,
    ),
    (
        r#"return all(cmsgpack.unpack_one('\1\2', 2^63))"#,
        r#"E!user_script:1: Invalid request to unpack with offset of 0 and limit of 2."#,
    ),
    (
        r#"return all(cmsgpack.unpack_one('\1\2', 2^32 + 1))"#,
        r#"E!user_script:1: Start offset 1 greater than input length 2."#,
    ),
    (r#"return all(cmsgpack.unpack_one('\1\2', 1.9))"#, r#"-1 2"#),
    (r#"return all(cmsgpack.unpack_one('\1\2', -0.5))"#, r#"1 1"#),
    (
        r#"return all(cmsgpack.unpack_one('\1\2', 0/0))"#,
        r#"E!user_script:1: Invalid request to unpack with offset of 0 and limit of 2."#,
    ),
    (r#"return all(cmsgpack.unpack_one('\1\2', '1'))"#, r#"-1 2"#),
    (
        r#"return all(cmsgpack.unpack_one('\1\2', ' 0x1 '))"#,
        r#"-1 2"#,
    ),
    (r#"return all(cmsgpack.unpack_one('\1\2', nil))"#, r#"1 1"#),
    (
        r#"return all(cmsgpack.unpack_one('\1\2', 1, 'ignored', {}))"#,
        r#"-1 2"#,
    ),
    (
        r#"return all(cmsgpack.unpack(12), cmsgpack.unpack(1.5))"#,
        r#"49 49 46 53"#,
    ),
    (
        r#"return all(cmsgpack.unpack('abc', 1, 2, 3))"#,
        r#"97 98 99"#,
    ),
    (
        r#"return cmsgpack.unpack_limit({}, 'x')"#,
        r#"E!user_script:1: bad argument #2 to 'unpack_limit' (number expected, got string)"#,
    ),
    (
        r#"return cmsgpack.unpack_limit({}, 1, 'x')"#,
        r#"E!user_script:1: bad argument #3 to 'unpack_limit' (number expected, got string)"#,
    ),
    (
        r#"return cmsgpack.unpack_limit('\1')"#,
        r#"E!user_script:1: bad argument #2 to 'unpack_limit' (number expected, got no value)"#,
    ),
    (
        r#"return cmsgpack.unpack_limit('\1', true)"#,
        r#"E!user_script:1: bad argument #2 to 'unpack_limit' (number expected, got boolean)"#,
    ),
    (
        r#"return cmsgpack.unpack_one({}, 'x')"#,
        r#"E!user_script:1: bad argument #2 to 'unpack_one' (number expected, got string)"#,
    ),
    (
        r#"return cmsgpack.unpack_one({})"#,
        r#"E!user_script:1: bad argument #1 to 'unpack_one' (string expected, got table)"#,
    ),
    (
        r#"return cmsgpack.unpack_one()"#,
        r#"E!user_script:1: bad argument #1 to 'unpack_one' (string expected, got no value)"#,
    ),
    (
        r#"return cmsgpack.unpack(nil)"#,
        r#"E!user_script:1: bad argument #1 to 'unpack' (string expected, got nil)"#,
    ),
    (
        r#"return cmsgpack.unpack()"#,
        r#"E!user_script:1: bad argument #1 to 'unpack' (string expected, got no value)"#,
    ),
    (
        r#"return cmsgpack.unpack(type)"#,
        r#"E!user_script:1: bad argument #1 to 'unpack' (string expected, got function)"#,
    ),
    (
        r#"return cmsgpack:unpack()"#,
        r#"E!user_script:1: calling 'unpack' on bad self (string expected, got table)"#,
    ),
    (
        r#"return cmsgpack:unpack_one(1)"#,
        r#"E!user_script:1: calling 'unpack_one' on bad self (string expected, got table)"#,
    ),
    (
        r#"return cmsgpack:unpack_limit(1)"#,
        r#"E!user_script:1: calling 'unpack_limit' on bad self (string expected, got table)"#,
    ),
    (
        r#"return cmsgpack:unpack_limit('x')"#,
        r#"E!user_script:1: bad argument #1 to 'unpack_limit' (number expected, got string)"#,
    ),
    (
        r#"return perr(cmsgpack.unpack, {})"#,
        r#"E:bad argument #1 to '?' (string expected, got table)"#,
    ),
    (
        r#"return perr(cmsgpack.unpack_one, '\193')"#,
        r#"E:Bad data format in input."#,
    ),
    (
        r#"return all(cmsgpack.unpack('\207\255\255\255\255\255\255\255\255\207\128\0\0\0\0\0\0\1\207\0\32\0\0\0\0\0\1\207\0\0\0\0\0\0\0\5'))"#,
        r#"-1 -9.2233720368547758e+18 9007199254740992 5"#,
    ),
    (
        r#"return all(cmsgpack.unpack('\211\255\255\255\255\255\255\255\255\211\128\0\0\0\0\0\0\0\210\128\0\0\0\209\128\0\208\128\255\224\204\255\205\255\255\206\255\255\255\255\0\127\208\5'))"#,
        r#"-1 -9.2233720368547758e+18 -2147483648 -32768 -128 -1 -32 255 65535 4294967295 0 127 5"#,
    ),
    (
        r#"return all(cmsgpack.unpack('\202\63\192\0\0\203\63\185\153\153\153\153\153\154\202\127\192\0\0\203\255\248\0\0\0\0\0\0\202\255\128\0\0\203\0\0\0\0\0\0\0\1'))"#,
        r#"1.5 0.10000000000000001 nan -nan -inf 4.9406564584124654e-324"#,
    ),
    (
        r#"return all(cmsgpack.unpack('\217\1e\218\0\1f\219\0\0\0\1g\160\192\194\195\162hi'))"#,
        r#""e" "f" "g" "" nil false true "hi""#,
    ),
    (
        r#"return all(cmsgpack.unpack('\220\0\2\1\2\221\0\0\0\2\1\2\222\0\1\1\2\223\0\0\0\1\1\2\128\144\145\192\146\192\1\129\1\192'))"#,
        r#"{1=1,2=2} {1=1,2=2} {1=2} {1=2} {} {} {} {2=1} {}"#,
    ),
    (
        r#"return all(cmsgpack.unpack('\130\161a\1\161a\2\131\1\2\3\4\5\6'))"#,
        r#"{"a"=2} {1=2,3=4,5=6}"#,
    ),
    (
        r#"return all(cmsgpack.unpack('\129\145\1\161v\129\129\1\2\3'))"#,
        r#"{{1=1}="v"} {{1=2}=3}"#,
    ),
    (
        r#"return perr(cmsgpack.unpack, '\196\2ab')"#,
        r#"E:Bad data format in input."#,
    ),
    (
        r#"return perr(cmsgpack.unpack, '\197\0\1c')"#,
        r#"E:Bad data format in input."#,
    ),
    (
        r#"return perr(cmsgpack.unpack, '\198\0\0\0\1d')"#,
        r#"E:Bad data format in input."#,
    ),
    (
        r#"return perr(cmsgpack.unpack, '\196')"#,
        r#"E:Bad data format in input."#,
    ),
    (
        r#"return perr(cmsgpack.unpack, '\199\1\1\2')"#,
        r#"E:Bad data format in input."#,
    ),
    (
        r#"return perr(cmsgpack.unpack, '\200\0\1\1\2')"#,
        r#"E:Bad data format in input."#,
    ),
    (
        r#"return perr(cmsgpack.unpack, '\201\0\0\0\1\1\2')"#,
        r#"E:Bad data format in input."#,
    ),
    (
        r#"return perr(cmsgpack.unpack, '\212\1\2')"#,
        r#"E:Bad data format in input."#,
    ),
    (
        r#"return perr(cmsgpack.unpack, '\213\1\2\3')"#,
        r#"E:Bad data format in input."#,
    ),
    (
        r#"return perr(cmsgpack.unpack, '\214\1\2\3\4\5')"#,
        r#"E:Bad data format in input."#,
    ),
    (
        r#"return perr(cmsgpack.unpack, '\215\1\2\3\4\5\6\7\8\9')"#,
        r#"E:Bad data format in input."#,
    ),
    (
        r#"return perr(cmsgpack.unpack, '\216\1')"#,
        r#"E:Bad data format in input."#,
    ),
    (
        r#"return perr(cmsgpack.unpack, '\193')"#,
        r#"E:Bad data format in input."#,
    ),
    (
        r#"return perr(cmsgpack.unpack, '\1\193')"#,
        r#"E:Bad data format in input."#,
    ),
    (
        r#"return perr(cmsgpack.unpack, '\145\193')"#,
        r#"E:Bad data format in input."#,
    ),
    (
        r#"return perr(cmsgpack.unpack, '\205\1')"#,
        r#"E:Missing bytes in input."#,
    ),
    (
        r#"return perr(cmsgpack.unpack, '\147\1\2')"#,
        r#"E:Missing bytes in input."#,
    ),
    (
        r#"return perr(cmsgpack.unpack, '\221\255\255\255\255')"#,
        r#"E:Missing bytes in input."#,
    ),
    (
        r#"return perr(cmsgpack.unpack, '\223\255\255\255\255\1')"#,
        r#"E:Missing bytes in input."#,
    ),
    (
        r#"return perr(cmsgpack.unpack, '\219\255\255\255\255abc')"#,
        r#"E:Missing bytes in input."#,
    ),
    (
        r#"return perr(cmsgpack.unpack, '\217\2a')"#,
        r#"E:Missing bytes in input."#,
    ),
    (
        r#"return perr(cmsgpack.unpack, '\217')"#,
        r#"E:Missing bytes in input."#,
    ),
    (
        r#"return perr(cmsgpack.unpack, '\130\1\2\3')"#,
        r#"E:Missing bytes in input."#,
    ),
    (
        r#"return perr(cmsgpack.unpack, '\143')"#,
        r#"E:Missing bytes in input."#,
    ),
    (
        r#"return perr(cmsgpack.unpack, '\220')"#,
        r#"E:Missing bytes in input."#,
    ),
    (
        r#"return perr(cmsgpack.unpack, '\220\0')"#,
        r#"E:Missing bytes in input."#,
    ),
    (
        r#"return perr(cmsgpack.unpack, '\206\0')"#,
        r#"E:Missing bytes in input."#,
    ),
    (
        r#"return perr(cmsgpack.unpack, '\202\0\0\0')"#,
        r#"E:Missing bytes in input."#,
    ),
    (
        r#"return perr(cmsgpack.unpack, '\203')"#,
        r#"E:Missing bytes in input."#,
    ),
    (
        r#"return perr(cmsgpack.unpack, '\211\1\2\3\4\5\6\7')"#,
        r#"E:Missing bytes in input."#,
    ),
    (
        r#"return cmsgpack.unpack('\193')"#,
        r#"E!user_script:1: Bad data format in input."#,
    ),
    (
        r#"return cmsgpack.unpack('\205\1')"#,
        r#"E!user_script:1: Missing bytes in input."#,
    ),
    (
        r#"local x = cmsgpack.unpack('\205\1') return x"#,
        r#"E!user_script:1: Missing bytes in input."#,
    ),
    (
        r#"return perr(cmsgpack.unpack, '\129\192\1')"#,
        r#"E:table index is nil"#,
    ),
    (
        r#"return perr(cmsgpack.unpack, '\129\203\255\248\0\0\0\0\0\0\1')"#,
        r#"E:table index is NaN"#,
    ),
    (
        r#"return perr(cmsgpack.unpack, '\129\192\205')"#,
        r#"E:Missing bytes in input."#,
    ),
    (
        r#"return perr(cmsgpack.unpack, '\130\1\1\192\1')"#,
        r#"E:table index is nil"#,
    ),
    (
        r#"return cmsgpack.unpack('\129\192\1')"#,
        r#"E!table index is nil"#,
    ),
    (r#"return all(cmsgpack.unpack('\129\1\192'))"#, r#"{}"#),
    (r#"return all(cmsgpack.unpack('\130\1\5\1\192'))"#, r#"{}"#),
    (
        r#"return all(cmsgpack.unpack_one('\129\161k\147\1\2\3\161x', 0))"#,
        r#"7 {"k"={1=1,2=2,3=3}}"#,
    ),
    (
        r#"return all(cmsgpack.unpack_limit('\129\161k\147\1\2\3\161x\5', 2, 0))"#,
        r#"9 {"k"={1=1,2=2,3=3}} "x""#,
    ),
    (
        r#"return all(cmsgpack.unpack_limit('\129\161k\147\1\2\3\161x\5', 2, 7))"#,
        r#"-1 "x" 5"#,
    ),
    (
        r#"return depth(cmsgpack.unpack(string.rep('\145', 3999) .. '\1'), 1)"#,
        r#"3999:1"#,
    ),
    (
        r#"return perr(cmsgpack.unpack, string.rep('\145', 4000) .. '\1')"#,
        r#"E:stack overflow (in function mp_decode_to_lua_array)"#,
    ),
    (
        r#"return perr(cmsgpack.unpack, string.rep('\145', 100000) .. '\1')"#,
        r#"E:stack overflow (in function mp_decode_to_lua_array)"#,
    ),
    (
        r#"return perr(cmsgpack.unpack, string.rep('\145', 3999))"#,
        r#"E:Missing bytes in input."#,
    ),
    (
        r#"return perr(cmsgpack.unpack, string.rep('\145', 4000))"#,
        r#"E:stack overflow (in function mp_decode_to_lua_array)"#,
    ),
    (
        r#"return cmsgpack.unpack(string.rep('\145', 4000) .. '\1')"#,
        r#"E!user_script:1: stack overflow (in function mp_decode_to_lua_array)"#,
    ),
    (
        r#"return depth(cmsgpack.unpack(string.rep('\129\1', 3999) .. '\1'), 1)"#,
        r#"3999:1"#,
    ),
    (
        r#"return perr(cmsgpack.unpack, string.rep('\129\1', 4000) .. '\1')"#,
        r#"E:stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)"#,
    ),
    (
        r#"return perr(cmsgpack.unpack, string.rep('\129\1', 3999))"#,
        r#"E:Missing bytes in input."#,
    ),
    (
        r#"return perr(cmsgpack.unpack, string.rep('\129\1', 4000))"#,
        r#"E:stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)"#,
    ),
    (
        r#"return perr(cmsgpack.unpack, '\1' .. string.rep('\145', 3999))"#,
        r#"E:Missing bytes in input."#,
    ),
    (
        r#"return perr(cmsgpack.unpack, '\1' .. string.rep('\145', 3999) .. '\1')"#,
        r#"E:stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)"#,
    ),
    (
        r#"return perr(cmsgpack.unpack, '\1' .. string.rep('\145', 3998) .. '\1')"#,
        r#"ok"#,
    ),
    (
        r#"return perr(cmsgpack.unpack, string.rep('\145', 3998) .. '\1', 1, 2)"#,
        r#"ok"#,
    ),
    (
        r#"return perr(cmsgpack.unpack, string.rep('\145', 3999) .. '\1', 1, 2)"#,
        r#"E:stack overflow (in function mp_decode_to_lua_array)"#,
    ),
    (
        r#"return perr(cmsgpack.unpack_one, string.rep('\145', 3999) .. '\1', 0, 2)"#,
        r#"ok"#,
    ),
    (
        r#"return perr(cmsgpack.unpack_limit, string.rep('\145', 3999) .. '\1', 1, 0, 2)"#,
        r#"ok"#,
    ),
    (
        r#"return perr(cmsgpack.unpack, string.rep('\129', 7997) .. '\1\1' .. string.rep('\1', 7996))"#,
        r#"ok"#,
    ),
    (
        r#"return perr(cmsgpack.unpack, string.rep('\129', 7998) .. '\1\1' .. string.rep('\1', 7997))"#,
        r#"E:stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)"#,
    ),
    (
        r#"return perr(cmsgpack.unpack, string.rep('\145', 3998) .. '\144')"#,
        r#"ok"#,
    ),
    (
        r#"return perr(cmsgpack.unpack, string.rep('\145', 3999) .. '\144')"#,
        r#"E:stack overflow (in function mp_decode_to_lua_array)"#,
    ),
    (
        r#"return perr(cmsgpack.unpack, string.rep('\145', 3998) .. '\128')"#,
        r#"ok"#,
    ),
    (
        r#"return perr(cmsgpack.unpack, string.rep('\145', 3999) .. '\128')"#,
        r#"ok"#,
    ),
    (
        r#"return perr(cmsgpack.unpack, string.rep('\145', 3999) .. '\129')"#,
        r#"E:Missing bytes in input."#,
    ),
    (
        r#"return select('#', cmsgpack.unpack(string.rep('\1', 7000)))"#,
        r#"i:7000"#,
    ),
    (
        r#"return select('#', cmsgpack.unpack_limit(string.rep('\1', 7000), 6000))"#,
        r#"i:6001"#,
    ),
    (
        r#"local s = cmsgpack.pack(string.rep('x', 100)) return select('#', cmsgpack.unpack(string.rep(s, 3000)))"#,
        r#"i:3000"#,
    ),
    (
        r#"local t = {} for i = 1, 100000 do t[i] = i end local p = cmsgpack.pack(t) local r = cmsgpack.unpack(p) return all(#r, r[1], r[100000], ck(p))"#,
        r#"100000 1 100000 "368553\47465162231""#,
    ),
    (
        r#"local m = {} for i = 1, 100000 do m[tostring(i)] = i end local p = cmsgpack.pack(m) local r = cmsgpack.unpack(p) local n = 0 for k, v in pairs(r) do n = n + 1 assert(m[k] == v) end return all(n, ck(p), ck(cmsgpack.pack(r)))"#,
        r#"100000 "957448\471458677843" "957448\471201144068""#,
    ),
    (
        r#"local t = cmsgpack.unpack(cmsgpack.pack({a = 1, b = {1, 2, {c = 3}}, [3] = 'x', [1.5] = false})) return all(t, hx(cmsgpack.pack(t)))"#,
        r#"{"a"=1,"b"={1=1,2=2,3={"c"=3}},1.5=false,3="x"} "8403a178a16101ca3fc00000c2a16293010281a16303""#,
    ),
    (
        r#"local str_lt_32 = string.rep("x", 30) local str_lt_255 = string.rep("x", 250) local str_lt_65535 = string.rep("x", 65530) local str_long = string.rep("x", 100000) local array_lt_15 = {1, 2, 3, 4, 5} local array_lt_65535 = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18} local array_big = {} for i=1, 100000 do array_big[i] = i end local map_lt_15 = {a=1, b=2} local map_big = {} for i=1, 100000 do map_big[tostring(i)] = i end local some_map = { s1=str_lt_32, s2=str_lt_255, s3=str_lt_65535, s4=str_long, d1=0.1, i1=1, i2=250, i3=65530, i4=100000, i5=2^40, i6=-1, i7=-120, i8=-32000, i9=-100000, i10=-3147483648, a1=array_lt_15, a2=array_lt_65535, a3=array_big, m1=map_lt_15, m2=map_big, b1=false, b2=true, n=nil } local encoded = cmsgpack.pack(some_map) local decoded = cmsgpack.unpack(encoded) assert(table.concat(some_map) == table.concat(decoded)) local offset, decoded_one = cmsgpack.unpack_one(encoded, 0) assert(table.concat(some_map) == table.concat(decoded_one)) assert(offset == -1) local encoded_multiple = cmsgpack.pack(str_lt_32, str_lt_255, str_lt_65535, str_long) local offset, obj = cmsgpack.unpack_limit(encoded_multiple, 1, 0) assert(obj == str_lt_32) offset, obj = cmsgpack.unpack_limit(encoded_multiple, 1, offset) assert(obj == str_lt_255) offset, obj = cmsgpack.unpack_limit(encoded_multiple, 1, offset) assert(obj == str_lt_65535) offset, obj = cmsgpack.unpack_limit(encoded_multiple, 1, offset) assert(obj == str_long) assert(offset == -1) return all(ck(encoded), ck(encoded_multiple), decoded.i10, decoded.i5, decoded.d1, decoded.a3[100000], decoded.m2['77'])"#,
        r#""1491977\4728180612" "165821\471231451582" -3147483648 1099511627776 0.10000000000000001 100000 77"#,
    ),
    (
        r#"local r = {} for k, v in pairs(cmsgpack) do r[#r + 1] = k .. '=' .. (type(v) == 'string' and v or type(v)) end return table.concat(r, ';')"#,
        r#"_DESCRIPTION=MessagePack C implementation for Lua;pack=function;_NAME=cmsgpack;unpack=function;_COPYRIGHT=Copyright (C) 2012, Salvatore Sanfilippo;_VERSION=lua-cmsgpack 0.4.0;unpack_one=function;unpack_limit=function"#,
    ),
    (
        r#"return all(type(cmsgpack.pack), cmsgpack._NAME, cmsgpack._VERSION)"#,
        r#""function" "cmsgpack" "lua\45cmsgpack 0\464\460""#,
    ),
    (
        r#"return hx(cmsgpack.pack({[1e-300] = 1, [-1e-20] = 1e-20}))"#,
        r#"82cb01a56e1fc2f8f35901cbbbc79ca10c924223cb3bc79ca10c924223"#,
    ),
    (
        r#"return hx(cmsgpack.pack({'10', '0', [1e-300] = 0, x = 0, [2.5] = '7', ['5'] = 1e-30, [0] = -0.0}))"#,
        r#"8701a2313002a1300000a17800ca40200000a137a135cb39b4484bfeebc2a0cb01a56e1fc2f8f35900"#,
    ),
    (
        r#"local t = {} for i = 1, 30 do t[i * 1e-310] = '1' .. i end t.s = '42' return hx(cmsgpack.pack(t))"#,
        r#"de001fcb0000a5ace6f81783a23139cb00003739a252b281a23133cb0001de9e2977605ea3313236cb000215d7cbca12dfa3313239cb0001a7648724addda3313233cb000138f1427f48dba3313137cb0001702ae4d1fb5ca3313230cb000101b7a02c965aa3313134cb000093445b873158a23138cb0000ca7dfdd9e3d9a3313131cb00005c0ab9347ed7a23135a173a23432cb0002036f40592cb4a3313238cb000194fbfbb3c7b2a3313232cb0001cc359e067a33a3313235cb00015dc259611531a3313139cb0000ef4f14bbb02fa3313133cb00012688b70e62b0a3313136cb0000b8157268fdaea3313130cb000049a22dc398aca23134cb000080dbd0164b2da23137cb000012688b70e62ba23131cb00022840573af90aa3313330cb0001b9cd12959408a3313234cb0001f106b4e84689a3313237cb000182937042e187a3313231cb000114202b9d7c85a3313135cb00014b59cdf02f06a3313138cb0000dce6894aca04a3313132cb00006e7344a56502a23136cb000024d116e1cc56a23132"#,
    ),
];

/// The text of an error as the script would see it.
fn err_text(e: &mlua::Error) -> String {
    match e {
        mlua::Error::CallbackError { cause, .. } => err_text(cause),
        mlua::Error::WithContext { cause, .. } => err_text(cause),
        mlua::Error::RuntimeError(m) => m.clone(),
        other => match other.downcast_ref::<Raise>() {
            Some(r) => r.to_string(),
            None => other.to_string(),
        },
    }
}

/// A bare Lua state with `cmsgpack` and `__errtext`.
fn state() -> Lua {
    let lua = Lua::new();
    let g = lua.globals();
    g.set("cmsgpack", create(&lua).unwrap()).unwrap();
    g.set(
        "__errtext",
        lua.create_function(|_, v: Value| {
            Ok(match v {
                Value::Error(e) => err_text(&e),
                Value::String(s) => s.to_string_lossy(),
                other => format!("{other:?}"),
            })
        })
        .unwrap(),
    )
    .unwrap();
    lua
}

/// Runs `PRELUDE body` as a script and renders the reply like the cases.
fn run_in(lua: &Lua, body: &str) -> String {
    let code = format!("{PRELUDE} {body}");
    match lua.load(&code).set_name("@user_script").eval::<Value>() {
        Ok(Value::String(s)) => String::from_utf8_lossy(&s.as_bytes()).into_owned(),
        Ok(Value::Integer(i)) => format!("i:{i}"),
        Ok(Value::Number(n)) => format!("i:{}", n as i64),
        Ok(Value::Nil) => "nil".into(),
        Ok(other) => format!("{other:?}"),
        Err(e) => format!("E!{}", err_text(&e)),
    }
}

fn run(body: &str) -> String {
    run_in(&state(), body)
}

#[test]
fn reference_cases() {
    let mut failures = Vec::new();
    for (body, want) in CASES {
        let got = run(body);
        if got != *want {
            failures.push(format!("case: {body}\n want: {want}\n  got: {got}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Documented difference: the reference packs these tiny numbers exactly
/// (`cb01a56e1fc2f8f359`), but as direct arguments mlua hands them over as
/// the integer 0. Inside tables (keys and values) they are exact.
#[test]
fn tiny_numbers_as_arguments() {
    assert_eq!(run("return hx(cmsgpack.pack(1e-300, -1e-300))"), "0000");
    // The reference decodes the string "1e-300": 49 101 45 51 48 48.
    assert_eq!(run("return all(cmsgpack.unpack(1e-300))"), "48");
    assert_eq!(
        run("return hx(cmsgpack.pack({1e-300}))"),
        "91cb01a56e1fc2f8f359"
    );
}

/// Documented difference: one call returns at most 7900 values (the
/// reference: 7999), at most 4000 of them strings or tables.
#[test]
fn result_limits() {
    let too_many = "E!user_script:1: stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)";
    assert_eq!(
        run("return select('#', cmsgpack.unpack(string.rep('\\1', 7900)))"),
        "i:7900"
    );
    assert_eq!(
        run("return select('#', cmsgpack.unpack(string.rep('\\1', 7901)))"),
        too_many
    );
    assert_eq!(
        run("return select('#', cmsgpack.unpack_limit(string.rep('\\1', 8000), 7899))"),
        "i:7900"
    );
    assert_eq!(
        run("return select('#', cmsgpack.unpack_limit(string.rep('\\1', 8000), 7900))"),
        too_many
    );
    assert_eq!(
        run("return select('#', cmsgpack.unpack(string.rep('\\161x', 4000)))"),
        "i:4000"
    );
    assert_eq!(
        run("return select('#', cmsgpack.unpack(string.rep('\\144', 4000) .. '\\1'))"),
        "i:4001"
    );
    assert_eq!(
        run("return select('#', cmsgpack.unpack(string.rep('\\161x', 4001)))"),
        too_many
    );
    assert_eq!(
        run("return select('#', cmsgpack.unpack(string.rep('\\144', 4001)))"),
        too_many
    );
}

/// Documented difference: output beyond the limit raises `not enough
/// memory` (the reference grows until the allocator fails).
#[test]
fn output_limit() {
    let lua = state();
    let t: mlua::Table = lua
        .load("local t = {string.rep('x', 40)} t[2] = t t[3] = t return t")
        .eval()
        .unwrap();
    let mut enc = Encoder {
        buf: Vec::new(),
        max: 1000,
    };
    let e = enc.value(&Value::Table(t.clone()), 0).unwrap_err();
    assert_eq!(err_text(&e), "not enough memory");
    assert!(enc.buf.len() <= 1000);
    let mut enc = Encoder {
        buf: Vec::new(),
        max: MAX_OUTPUT,
    };
    enc.value(&Value::Table(t), 14).unwrap();
    // Depth 14 and 15 are tables of 3, depth 16 is nil.
    assert_eq!(enc.buf.len(), 1 + 42 + 2 * (1 + 42 + 2));
}

/// Decoding keeps O(1) mlua references whatever the nesting: with most of
/// mlua's ~8000 reference slots taken, the deepest inputs upstream accepts
/// still decode (an O(depth) decoder would make mlua panic).
#[test]
fn deep_nesting_uses_few_references() {
    let lua = state();
    let held: Vec<mlua::String> = (0..7000)
        .map(|i| lua.create_string(format!("s{i}")).unwrap())
        .collect();
    let cases = [
        (
            "return depth(cmsgpack.unpack(string.rep('\\145', 3999) .. '\\1'), 1)",
            "3999:1",
        ),
        (
            "return depth(cmsgpack.unpack(string.rep('\\129\\161k', 3999) .. '\\161v'), 'k')",
            "3999:\"v\"",
        ),
        (
            "local t = cmsgpack.unpack(string.rep('\\129', 7997) .. '\\1\\1' .. string.rep('\\161v', 7996)) local d = 0 while type(t) == 'table' do t = next(t) d = d + 1 end return d .. ':' .. t",
            "7997:1",
        ),
        (
            "local t = cmsgpack.unpack(string.rep('\\130\\161a\\1\\161k', 3999) .. '\\161v') return depth(t, 'k')",
            "3999:\"v\"",
        ),
    ];
    for (body, want) in cases {
        assert_eq!(run_in(&lua, body), want, "{body}");
    }
    assert_eq!(held.len(), 7000);
}

/// Tiny deterministic generator for the garbage tests.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

/// Garbage, truncated and mutated input never panics and only fails with
/// the library's own errors.
#[test]
fn garbage_never_panics() {
    let lua = state();
    // Results are counted in Lua: handing hundreds of results to a C
    // caller (`pcall`, or `Function::call` from Rust) trips Lua's API check
    // in debug builds (`L->top < L->ci->top`), whatever function made them.
    let probe: mlua::Function = lua
        .load(
            "return function(s) local r = {} \
             for _, f in ipairs({function() return select('#', cmsgpack.unpack(s)) end, \
             function() return select('#', cmsgpack.unpack_one(s, 0)) end, \
             function() return select('#', cmsgpack.unpack_limit(s, 3, 0)) end}) do \
             local ok, e = pcall(f) if not ok then r[#r + 1] = __errtext(e) end end \
             return table.concat(r, '|') end",
        )
        .eval()
        .unwrap();
    let valid: mlua::String = lua
        .load(
            "return cmsgpack.pack({1, -200, 70000, -5000000000, 0.5, 0.1, 'str', string.rep('y', 40), \
             {a = {b = {true, false}}, [3.5] = 'f'}, string.rep('z', 300)}, 2^40, 'tail')",
        )
        .eval()
        .unwrap();
    let valid = valid.as_bytes().to_vec();
    let allowed = [
        "Missing bytes in input.",
        "Bad data format in input.",
        "table index is nil",
        "table index is NaN",
    ];
    let check = |input: &[u8]| {
        let s = lua.create_string(input).unwrap();
        let errors: String = probe.call(s).unwrap();
        for text in errors.split('|').filter(|t| !t.is_empty()) {
            assert!(
                allowed.iter().any(|a| text.ends_with(a)) || text.contains("stack overflow ("),
                "unexpected error {text:?} for {input:?}"
            );
        }
    };
    for n in 0..=valid.len() {
        check(&valid[..n]);
    }
    let mut rng = Lcg(42);
    for _ in 0..3000 {
        let mut v = valid.clone();
        for _ in 0..1 + rng.next() % 4 {
            let i = (rng.next() as usize) % v.len();
            v[i] = rng.next() as u8;
        }
        check(&v);
    }
    for _ in 0..3000 {
        let n = (rng.next() % 40) as usize;
        let v: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
        check(&v);
    }
    // Huge declared lengths with little data behind them.
    for head in [
        &b"\xdb\xff\xff\xff\xff"[..],
        b"\xdd\xff\xff\xff\xff\x01",
        b"\xdf\xff\xff\xff\xff\x01\x01",
        b"\xdc\xff\xff",
        b"\xde\xff\xff\xa1k",
    ] {
        check(head);
    }
}

/// Every value survives a round trip, with the exact bytes for a few
/// hand-checked encodings.
#[test]
fn round_trips() {
    assert_eq!(
        run("return hx(cmsgpack.pack({1, 2, {3, 'x'}}))"),
        "9301029203a178"
    );
    assert_eq!(
        run("local a, b, c = cmsgpack.unpack(cmsgpack.pack(0.25, -7, 'hi')) return all(a, b, c)"),
        "0.25 -7 \"hi\""
    );
    assert_eq!(
        run("return all(cmsgpack.unpack(cmsgpack.pack(2^53 + 2, -2^62, 4294967296.5)))"),
        "9007199254740994 -4.6116860184273879e+18 4294967296.5"
    );
}
