//! Unit tests of `lib.rs` (kept apart so the module holds only
//! library code).

#[test]
fn every_binding_has_metadata() {
    if let Err(e) = redis_engine::Registry::build(super::MODULES) {
        panic!("{e}");
    }
}

#[test]
fn renamed_commands_keep_their_identity() {
    let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
    let plain = super::registry();
    let reg = super::build_registry(&[
        pair("config", "CFG"),
        pair("flushall", ""),
        pair("get", "g2"),
        pair("g2", "MyGet"),
    ])
    .unwrap();
    assert!(reg.lookup(b"config").is_none());
    assert!(reg.lookup(b"flushall").is_none());
    assert!(reg.lookup(b"get").is_none());
    assert!(reg.lookup(b"g2").is_none());
    let get = reg.lookup(b"myget").unwrap();
    assert_eq!(get.full_name, "get");
    assert_eq!(reg.lookup(b"cfg").unwrap().full_name, "config");
    assert_eq!(reg.by_name.len(), plain.by_name.len() - 1);
    // Statistics slots are per command, whatever its name.
    assert_eq!(reg.names, plain.names);
    // The container keeps its subcommands and is named as sent in
    // the unknown-subcommand error.
    let argv = [bytes::Bytes::from_static(b"Cfg"), "nosuch".into()];
    let e = reg.resolve(&argv).unwrap_err().0;
    assert_eq!(&e.0[..], b"ERR unknown subcommand 'nosuch'. Try CFG HELP.");
    let argv = [bytes::Bytes::from_static(b"cfg"), "get".into()];
    assert_eq!(reg.resolve(&argv).unwrap().full_name, "config|get");
    for (renames, msg) in [
        (
            vec![pair("nosuch", "x")],
            "No such command in rename-command",
        ),
        (
            vec![pair("get", "set")],
            "Target command name already exists",
        ),
        (
            vec![pair("get", ""), pair("get", "x")],
            "No such command in rename-command",
        ),
    ] {
        assert_eq!(
            super::build_registry(&renames).unwrap_err().to_string(),
            msg
        );
    }
    assert!(super::command_names().iter().any(|n| n == "config"));
}
