//! Tests of `hello.rs`.

use super::*;

#[test]
fn round_trip() {
    let p = "10.0.0.9,26379,aaaa,7,mymaster,10.0.0.1,6379,3";
    let h = Hello::parse(p).unwrap();
    assert_eq!(h.sentinel_port, 26379);
    assert_eq!(h.current_epoch, 7);
    assert_eq!(h.master_addr, Addr::new("10.0.0.1", 6379));
    assert_eq!(h.master_config_epoch, 3);
    assert_eq!(h.payload("ignored"), p);
    let mut h2 = h.clone();
    h2.sentinel_ip.clear();
    assert_eq!(h2.payload("10.0.0.9"), p);
}

#[test]
fn rejects_malformed() {
    assert!(Hello::parse("").is_none());
    assert!(Hello::parse("a,b,c").is_none());
    assert!(Hello::parse("ip,notaport,id,1,m,h,1,1").is_none());
    assert!(Hello::parse("ip,1,id,1,m,h,1,1,extra").is_none());
    assert!(Hello::parse("ip,1,id,-1,m,h,1,1").is_none());
}
