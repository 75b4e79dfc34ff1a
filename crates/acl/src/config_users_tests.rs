//! Tests of the `user` directives: the checks while reading the file and
//! the users made at startup, with upstream 7.0's texts.

use super::*;
use crate::Catalog;

fn argv(line: &str) -> Vec<String> {
    line.split(' ').map(str::to_string).collect()
}

#[test]
fn syntax_errors_name_the_rule_position_as_upstream() {
    assert_eq!(
        check_config_line(&argv("user alice on >p ~k* +get")),
        Ok(())
    );
    // Unknown commands are not errors yet.
    assert_eq!(check_config_line(&argv("user alice on +nosuch")), Ok(()));
    assert_eq!(
        check_config_line(&argv("user alice on badrule")),
        Err((1, "Syntax error".to_string()))
    );
    assert_eq!(
        check_config_line(&argv("user alice badrule")),
        Err((0, "Syntax error".to_string()))
    );
    assert_eq!(
        check_config_line(&argv("user alice (+get")),
        Err((0, "Unknown command or category name in ACL".to_string()))
    );
    assert_eq!(check_config_line(&argv("user alice on (+get ~x)")), Ok(()));
}

#[test]
fn new_users_are_not_reset_but_default_is() {
    let catalog = StaticCatalog::sample();
    let mut users = Users::new();
    let notices = users
        .load_configured(
            &[
                argv("alice on >pw ~* +@all"),
                argv("default on nopass ~* &* +@all"),
                argv("bob"),
            ],
            &catalog,
        )
        .unwrap();
    assert_eq!(
        notices,
        vec!["The user 'bob' is disabled (there is no 'on' modifier in the user description). Make sure this is not a configuration error.".to_string()]
    );
    let line = |n: &[u8]| String::from_utf8(users.get(n).unwrap().acl_list_line(&catalog)).unwrap();
    assert!(
        !line(b"alice").contains("sanitize-payload"),
        "{}",
        line(b"alice")
    );
    assert!(
        line(b"default").contains("sanitize-payload"),
        "{}",
        line(b"default")
    );
    assert!(catalog.lookup("get").is_some());
}

#[test]
fn load_errors_are_upstreams() {
    let catalog = StaticCatalog::sample();
    assert_eq!(
        Users::new().load_configured(&[argv("alice on +nosuchcmd")], &catalog),
        Err("Error loading ACL rule '+nosuchcmd' for the user named 'alice': Unknown command or category name in ACL".to_string())
    );
    assert_eq!(
        Users::new().load_configured(&[vec!["al ice".to_string(), "on".to_string()]], &catalog),
        Err("Spaces not allowed in ACL usernames".to_string())
    );
}
