//! Unit tests of `tracking.rs` (kept apart so the module holds only
//! library code).

use super::*;

#[test]
fn prefixes_overlap_when_one_starts_the_other() {
    assert!(overlaps(b"foo", b"foobar"));
    assert!(overlaps(b"foobar", b"foo"));
    assert!(overlaps(b"", b"x"));
    assert!(overlaps(b"a", b"a"));
    assert!(!overlaps(b"bar", b"baz"));
}

#[test]
fn one_key_value_is_an_array_of_one_bulk() {
    assert_eq!(key_array(b"key"), b"*1\r\n$3\r\nkey\r\n".to_vec());
    assert_eq!(null_for(3), b"_\r\n");
    assert_eq!(null_for(2), b"$-1\r\n");
}

#[test]
fn broadcast_skips_the_keys_a_noloop_client_modified() {
    let mut keys = BTreeMap::new();
    keys.insert(Bytes::from_static(b"a"), Some(7));
    keys.insert(Bytes::from_static(b"b"), None);
    assert_eq!(
        broadcast_value(&keys, None).unwrap(),
        b"*2\r\n$1\r\na\r\n$1\r\nb\r\n".to_vec()
    );
    assert_eq!(
        broadcast_value(&keys, Some(7)).unwrap(),
        b"*1\r\n$1\r\nb\r\n".to_vec()
    );
    keys.remove(&Bytes::from_static(b"b"));
    assert!(broadcast_value(&keys, Some(7)).is_none());
}

#[test]
fn error_text_shows_a_prefix_like_printf() {
    assert_eq!(shown(b"ab\r\ncd"), "ab  cd");
    assert_eq!(shown(b"ab\0cd"), "ab");
}

#[test]
fn key_tracking_clients_are_counted_apart_from_bcast_ones() {
    let mut st = State::new(
        redis_config::Config::default(),
        1_000_000,
        crate::Registry::empty(),
    );
    let (tx, _rx) = redis_net::push_channel();
    let signal = std::sync::Arc::new(crate::client::ConnSignal::new(tx));
    let info = || {
        crate::client::ClientInfo::new(
            "127.0.0.1:1".into(),
            "127.0.0.1:2".into(),
            8,
            false,
            signal.clone(),
            1_000_000,
        )
    };
    let a = st.add_client(info());
    let b = st.add_client(info());
    let bcast = Options {
        bcast: true,
        ..Options::default()
    };
    st.tracking_enable(a, 0, bcast, &[Bytes::from_static(b"key:")]);
    assert_eq!((st.tracking.clients, st.tracking.key_clients), (1, 0));
    st.tracking_enable(b, 0, Options::default(), &[]);
    assert_eq!((st.tracking.clients, st.tracking.key_clients), (2, 1));
    // Enabling again (new options) counts once.
    let optin = Options {
        optin: true,
        ..Options::default()
    };
    st.tracking_enable(b, 0, optin, &[]);
    assert_eq!((st.tracking.clients, st.tracking.key_clients), (2, 1));
    st.tracking_disable(b);
    assert_eq!((st.tracking.clients, st.tracking.key_clients), (1, 0));
    st.tracking_disable(a);
    st.tracking_disable(a);
    assert_eq!((st.tracking.clients, st.tracking.key_clients), (0, 0));
}
