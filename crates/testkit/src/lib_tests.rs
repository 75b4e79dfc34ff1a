//! Tests of `lib.rs`.

#[test]
fn assert_resp_eq_accepts_equal() {
    assert_resp_eq!(b"+OK\r\n", "+OK\r\n");
    assert_resp_eq!(b"+OK\r\n".to_vec(), b"+OK\r\n", "with {}", "context");
}

#[test]
#[should_panic(expected = "left:  +OK\\r\\n")]
fn assert_resp_eq_shows_escaped_sides() {
    assert_resp_eq!(b"+OK\r\n", b"-ERR\r\n");
}
