//! Tests for `catalog`: category names and lookups of the sample catalog.

use super::*;

#[test]
fn categories_in_acl_cat_order() {
    let names: Vec<&str> = Category::ALL.iter().map(|c| c.name()).collect();
    assert_eq!(
        names.join(" "),
        "keyspace read write set sortedset list hash string bitmap hyperloglog geo stream \
         pubsub admin fast slow blocking dangerous connection transaction scripting"
    );
    assert_eq!(Category::from_name(b"READ"), Some(Category::Read));
    assert_eq!(Category::from_name(b"all"), None);
}

#[test]
fn lookups() {
    let c = StaticCatalog::sample();
    let config = c.lookup("config").unwrap();
    let get = c.lookup_full("config|get").unwrap();
    assert_eq!(c.parent(get), Some(config));
    assert_eq!(c.full_name(get), "config|get");
    assert_eq!(c.lookup("config|get"), None);
    assert_eq!(c.lookup_full("get|x"), None);
    assert_eq!(c.lookup_full("config|get|x"), None);
    assert_eq!(c.lookup_full("|"), None);
    let admin: Vec<String> = c
        .commands_in_category(Category::Admin)
        .into_iter()
        .map(|id| c.full_name(id))
        .collect();
    assert_eq!(
        admin,
        [
            "debug",
            "config|get",
            "config|set",
            "config|resetstat",
            "client|list",
            "client|kill"
        ]
    );
}
