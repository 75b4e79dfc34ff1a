//! Tests of the `struct` library: each script ran on the reference
//! `redis-server` 7.0.15 with `EVAL <body> 0`; the expectation is its reply
//! in a compact text form (`i:` integer, `b:` bulk, `e:` error, `[..]`).

use redis_resp::Frame;

use crate::tests::{canon, eval};

const CASES: &[(&str, &str)] = &[
    (
        "local function hx(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end return {hx(struct.pack('>i', 1)), hx(struct.pack('<i', 1)), hx(struct.pack('i', -2)), hx(struct.pack('>I2', 65535)), hx(struct.pack('b', -1)), hx(struct.pack('B', 255)), hx(struct.pack('>h', -2)), hx(struct.pack('>l', 1)), hx(struct.pack('>L', 1)), hx(struct.pack('T', 3))}",
        "[b:00000001,b:01000000,b:feffffff,b:ffff,b:ff,b:ff,b:fffe,b:0000000000000001,b:0000000000000001,b:0300000000000000]",
    ),
    (
        "local function hx(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end return {hx(struct.pack('>d', 1.5)), hx(struct.pack('<f', 1.5)), hx(struct.pack('s', 'ab')), hx(struct.pack('c3', 'abcd')), hx(struct.pack('c0', 'xyz')), hx(struct.pack('x')), hx(struct.pack('!4 b i', 1, 2)), hx(struct.pack('!b d', 1, 2)), hx(struct.pack('! b h', 1, 2)), hx(struct.pack('>i3', -1)), hx(struct.pack('>i10', -1)), hx(struct.pack('<I9', 2^63))}",
        "[b:3ff8000000000000,b:0000c03f,b:616200,b:616263,b:78797a,b:00,b:0100000002000000,b:01000000000000000000000000000040,b:01000200,b:ffffff,b:0000ffffffffffffffff,b:000000000000008000]",
    ),
    (
        "return {struct.unpack('>i', '\\0\\0\\1\\0')}",
        "[i:256,i:5]",
    ),
    (
        "return {struct.unpack('<i2', '\\255\\255')}",
        "[i:-1,i:3]",
    ),
    (
        "return {struct.unpack('<I2', '\\255\\255')}",
        "[i:65535,i:3]",
    ),
    (
        "return {struct.unpack('s', 'ab\\0cd')}",
        "[b:ab,i:4]",
    ),
    (
        "return {struct.unpack('c2', 'abcd', 2)}",
        "[b:bc,i:4]",
    ),
    (
        "return {struct.unpack('b c0', '\\2hello')}",
        "[b:he,i:4]",
    ),
    (
        "return {struct.unpack('!4 b i', '\\1\\0\\0\\0\\2\\0\\0\\0')}",
        "[i:1,i:2,i:9]",
    ),
    (
        "return {struct.unpack('>d', struct.pack('>d', 2.25))}",
        "[i:2,i:9]",
    ),
    (
        "return {struct.unpack('<f', struct.pack('<f', 0.5))}",
        "[i:0,i:5]",
    ),
    (
        "return {struct.size('i'), struct.size('!8 b d'), struct.size('bhi'), struct.size('c10'), struct.size('x'), struct.size('<>=! b'), struct.size('z'), struct.size('i3')}",
        "e:ERR user_script:1: bad argument #1 to 'size' (invalid format option '=') script: cd7aacf45ca9d41261152c420b5cc57c03d6fe26, on @user_script:1.",
    ),
    (
        "return struct.size('s')",
        "e:ERR user_script:1: bad argument #1 to 'size' (option 's' has no fixed size) script: a2a0525826ab7939ccd3f54427a862205642f28f, on @user_script:1.",
    ),
    (
        "return struct.size('c0')",
        "e:ERR user_script:1: bad argument #1 to 'size' (option 'c0' has no fixed size) script: 18f217e7d560de92703dc71e9797e043b536e0e6, on @user_script:1.",
    ),
    (
        "return struct.pack('z', 1)",
        "e:ERR user_script:1: bad argument #1 to 'pack' (invalid format option 'z') script: b1a49a62278d772f47cfca6a679bc33c0fa64430, on @user_script:1.",
    ),
    (
        "return struct.pack('i')",
        "e:ERR user_script:1: bad argument #2 to 'pack' (number expected, got nil) script: 63b299178a495d059d925846f3a5f58587cb30c9, on @user_script:1.",
    ),
    (
        "return struct.pack('i', 'x')",
        "e:ERR user_script:1: bad argument #2 to 'pack' (number expected, got string) script: 72d01f23645269179316b093775c7fa64478554a, on @user_script:1.",
    ),
    (
        "return struct.pack('c5', 'ab')",
        "e:ERR user_script:1: bad argument #3 to 'pack' (string too short) script: cec53901ab5000b5eccda51f64e59e716bdfd4ba, on @user_script:1.",
    ),
    (
        "return struct.pack('s')",
        "e:ERR user_script:1: bad argument #2 to 'pack' (string expected, got nil) script: aa45743b6c6a6f76399978833a91435142020cfd, on @user_script:1.",
    ),
    (
        "return struct.pack('i33', 1)",
        "e:ERR user_script:1: integral size 33 is larger than limit of 32 script: 0a76c071d82805e752befa6958961c98c39f358f, on @user_script:1.",
    ),
    (
        "return struct.pack('!3 i', 1)",
        "e:ERR user_script:1: alignment 3 is not a power of 2 script: ceba564af1ec234f144dd411387773dddb742900, on @user_script:1.",
    ),
    (
        "return struct.unpack('i', 'ab')",
        "e:ERR user_script:1: bad argument #2 to 'unpack' (data string too short) script: e930e4fb36d046f0e264ac634fbe097e3f8b897d, on @user_script:1.",
    ),
    (
        "return struct.unpack('s', 'ab')",
        "e:ERR user_script:1: unfinished string in data script: 9c7491f053871f61d28a808e1476c7ec12a5e99e, on @user_script:1.",
    ),
    (
        "return struct.unpack('c0', 'ab')",
        "e:ERR user_script:1: format 'c0' needs a previous size script: 1194ec226e35add4f9e71fd60070cb29f56d3b57, on @user_script:1.",
    ),
    (
        "return struct.unpack('i', 'abcd', 0)",
        "e:ERR user_script:1: bad argument #3 to 'unpack' (offset must be 1 or greater) script: 136d17dc2e5c23430c74865741f12a14ece019d4, on @user_script:1.",
    ),
    (
        "return struct.unpack('i', 'abcd', 2)",
        "e:ERR user_script:1: bad argument #2 to 'unpack' (data string too short) script: d33d81fedb63dfb2b88fddf5021f8112312cf546, on @user_script:1.",
    ),
    (
        "return struct.unpack()",
        "e:ERR user_script:1: bad argument #1 to 'unpack' (string expected, got no value) script: 11f6b89e7df5d47a3c2a516ceb347b9bf03ed9b1, on @user_script:1.",
    ),
    (
        "return struct.unpack('i')",
        "e:ERR user_script:1: bad argument #2 to 'unpack' (string expected, got no value) script: 4ee79d1061e5d659d3613fc2005d726a976a16be, on @user_script:1.",
    ),
    (
        "return struct.pack()",
        "e:ERR user_script:1: bad argument #1 to 'pack' (string expected, got no value) script: c9b8aed4f0633591e6252db264bf8b86b82828d5, on @user_script:1.",
    ),
    (
        "return {struct.unpack('i', 'abcdabcd', 5)}",
        "[i:1684234849,i:9]",
    ),
    (
        "return {struct.unpack('>I8', '\\255\\255\\255\\255\\255\\255\\255\\255')}",
        "[i:-9223372036854775808,i:9]",
    ),
    (
        "return {struct.unpack('>i8', '\\128\\0\\0\\0\\0\\0\\0\\0')}",
        "[i:-9223372036854775808,i:9]",
    ),
    (
        "return {tostring(struct.unpack('>I8', '\\128\\0\\0\\0\\0\\0\\0\\1'))}",
        "[b:9.2233720368548e+18]",
    ),
    (
        "local function hx(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end return {hx(struct.pack('>i', 2^31)), hx(struct.pack('>i', 2^32+5)), hx(struct.pack('>I8', 2^63)), hx(struct.pack('>i', 1.9)), hx(struct.pack('>i', -1.9)), hx(struct.pack('>i8', 2^64))}",
        "[b:80000000,b:00000005,b:8000000000000000,b:00000001,b:ffffffff,b:0000000000000000]",
    ),
    (
        "return struct.pack('i99999999999', 1)",
        "e:ERR user_script:1: integral size overflow script: 55da9dc87c031781cab77cd7caa7180a2f334e7e, on @user_script:1.",
    ),
    (
        "return {struct.unpack('<i2 x i2', '\\1\\0\\0\\2\\0')}",
        "[i:1,i:2,i:6]",
    ),
    (
        "return {struct.unpack('=i2', '\\1\\0')}",
        "e:ERR user_script:1: bad argument #1 to 'unpack' (invalid format option '=') script: 03129dff50701c962b642ffc3b7d52388b8cf9bd, on @user_script:1.",
    ),
    (
        "return struct.pack('c', 'abc')",
        "b:a",
    ),
    (
        "return struct.unpack('z', 'abc')",
        "e:ERR user_script:1: bad argument #1 to 'unpack' (invalid format option 'z') script: 6eff02399290c615e76c752d19068039e224c20d, on @user_script:1.",
    ),
    (
        "bit.x = 1",
        "e:ERR user_script:1: Attempt to modify a readonly table script: 902810e13d3aefd4d9a780b3b1f6c6f716481d08, on @user_script:1.",
    ),
    (
        "return struct.size('z')",
        "i:0",
    ),
    (
        "return struct.size('bz')",
        "i:1",
    ),
    (
        "return struct.size('b!')",
        "i:1",
    ),
    (
        "return struct.size('!2 b i')",
        "i:6",
    ),
    (
        "return struct.size('b ')",
        "i:1",
    ),
    (
        "return struct.size('#')",
        "e:ERR user_script:1: bad argument #1 to 'size' (invalid format option '#') script: 437946402a785fe590f91d530cd3ccb765494eee, on @user_script:1.",
    ),
    (
        "return struct.pack(' ')",
        "b:",
    ),
    (
        "return {struct.unpack('', 'abc')}",
        "[i:1]",
    ),
    (
        "return {struct.unpack('i', '1234', '2')}",
        "e:ERR user_script:1: bad argument #2 to 'unpack' (data string too short) script: ffafd58053e16627696a1ac46ec20e37a9a74c51, on @user_script:1.",
    ),
    (
        "return struct.unpack('i', '1234', 'x')",
        "e:ERR user_script:1: bad argument #3 to 'unpack' (number expected, got string) script: 115363fc4a89a1cb75254037ccda1a64a430a5c5, on @user_script:1.",
    ),
    (
        "return struct.pack('i', '12')",
        "b:\u{c}\u{0}\u{0}\u{0}",
    ),
    (
        "return {struct.unpack('!8 b d', struct.pack('!8 b d', 1, 2))}",
        "[i:1,i:2,i:17]",
    ),
    (
        "return struct.size('c')",
        "i:1",
    ),
    (
        "return struct.pack('s', 5)",
        "b:5\u{0}",
    ),
    (
        "return struct.pack('s', {})",
        "e:ERR user_script:1: bad argument #2 to 'pack' (string expected, got table) script: 5cf444f359bf1c8e7834932265689f94ec6774d9, on @user_script:1.",
    ),
    (
        "return struct.pack('x', 1)",
        "b:\u{0}",
    ),
    (
        "return struct.size('i0')",
        "i:0",
    ),
    (
        "return {struct.unpack('i0 b', 'ab')}",
        "[i:0,i:97,i:2]",
    ),
];

#[test]
fn struct_library_matches_the_reference() {
    for (body, expected) in CASES {
        assert_eq!(canon(&eval(body)), *expected, "{body}");
    }
}

#[test]
fn struct_round_trip() {
    assert_eq!(
        eval("return {struct.unpack('>i2 <I4 b s c3', struct.pack('>i2 <I4 b s c3', -2, 7, -1, 'ab', 'xyz'))}"),
        Frame::Array(vec![
            Frame::Integer(-2),
            Frame::Integer(7),
            Frame::Integer(-1),
            Frame::bulk("ab"),
            Frame::bulk("xyz"),
            Frame::Integer(14),
        ])
    );
}
