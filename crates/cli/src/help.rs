//! The interactive `help` command, rendered from the server's `COMMAND DOCS`.
//!
//! Like upstream 7.0 we ask the server for its documentation instead of shipping
//! a table, so help always matches the server we talk to. Argument synopses are
//! rebuilt from the structured argument specs.

use redis_resp::Frame;

/// One documented command or subcommand.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Upper-case words, e.g. `["CLIENT", "LIST"]`.
    pub words: Vec<String>,
    pub params: String,
    pub summary: String,
    pub since: String,
    pub group: String,
}

impl Entry {
    fn full(&self) -> String {
        self.words.join(" ")
    }
}

fn text(f: &Frame) -> Option<String> {
    match f {
        Frame::Bulk(b) | Frame::Simple(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Frame::Verbatim { text, .. } => Some(String::from_utf8_lossy(text).into_owned()),
        _ => None,
    }
}

/// Key/value pairs of a map reply, or of a flat RESP2 array of alternating items.
fn pairs(f: &Frame) -> Vec<(&Frame, &Frame)> {
    match f {
        Frame::Map(p) => p.iter().map(|(k, v)| (k, v)).collect(),
        Frame::Array(items) => items.chunks_exact(2).map(|c| (&c[0], &c[1])).collect(),
        _ => Vec::new(),
    }
}

fn items(f: &Frame) -> &[Frame] {
    match f {
        Frame::Array(v) | Frame::Set(v) => v,
        _ => &[],
    }
}

/// Appends the synopsis of one argument spec.
fn add_argument(params: &mut String, spec: &Frame) {
    let mut name = String::new();
    let mut token = String::new();
    let mut kind = String::new();
    let mut nested: &[Frame] = &[];
    let (mut optional, mut multiple, mut multiple_token) = (false, false, false);
    for (k, v) in pairs(spec) {
        match text(k).as_deref() {
            Some("name") => name = text(v).unwrap_or_default(),
            Some("token") => token = text(v).unwrap_or_default(),
            Some("type") => kind = text(v).unwrap_or_default(),
            Some("arguments") => nested = items(v),
            Some("flags") => {
                for flag in items(v).iter().filter_map(text) {
                    match flag.as_str() {
                        "optional" => optional = true,
                        "multiple" => multiple = true,
                        "multiple_token" => multiple_token = true,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    let repeat = match kind.as_str() {
        "oneof" => join_arguments(nested, "|"),
        "block" => join_arguments(nested, " "),
        "pure-token" => String::new(),
        _ => name,
    };
    if !token.is_empty() && kind != "pure-token" {
        token.push(' ');
    }
    if optional {
        params.push('[');
    }
    params.push_str(&token);
    params.push_str(&repeat);
    if multiple {
        params.push_str(" [");
        if multiple_token {
            params.push_str(&token);
        }
        params.push_str(&repeat);
        params.push_str(" ...]");
    }
    if optional {
        params.push(']');
    }
}

fn join_arguments(args: &[Frame], sep: &str) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        add_argument(&mut out, a);
    }
    out
}

fn collect(docs: &Frame, out: &mut Vec<Entry>) {
    for (name, doc) in pairs(docs) {
        let Some(name) = text(name) else { continue };
        let mut e = Entry {
            words: name.split('|').map(|w| w.to_ascii_uppercase()).collect(),
            params: String::new(),
            summary: String::new(),
            since: String::new(),
            group: String::new(),
        };
        for (k, v) in pairs(doc) {
            match text(k).as_deref() {
                Some("summary") => e.summary = text(v).unwrap_or_default(),
                Some("since") => e.since = text(v).unwrap_or_default(),
                Some("group") => e.group = text(v).unwrap_or_default(),
                Some("arguments") => e.params = join_arguments(items(v), " "),
                Some("subcommands") => collect(v, out),
                _ => {}
            }
        }
        out.push(e);
    }
}

/// Builds the sorted help table from a `COMMAND DOCS` reply.
pub fn entries_from_docs(docs: &Frame) -> Vec<Entry> {
    let mut out = Vec::new();
    collect(docs, &mut out);
    out.sort_by_key(|a| a.full());
    out
}

/// Groups upstream accepts after `help @`.
const GROUPS: &[&str] = &[
    "generic",
    "string",
    "list",
    "set",
    "sorted-set",
    "hash",
    "pubsub",
    "transactions",
    "connection",
    "server",
    "scripting",
    "hyperloglog",
    "cluster",
    "geo",
    "stream",
    "bitmap",
];

fn generic_help() -> String {
    format!(
        "redis-cli {}\n\
         To get help about Redis commands type:\n      \
         \"help @<group>\" to get a list of commands in <group>\n      \
         \"help <command>\" for help on <command>\n      \
         \"help <tab>\" to get a list of possible help topics\n      \
         \"quit\" to exit\n\
         \n\
         To set redis-cli preferences:\n      \
         \":set hints\" enable online hints\n      \
         \":set nohints\" disable online hints\n\
         Set your preferences in ~/.redisclirc\n",
        crate::opts::VERSION
    )
}

fn entry_help(e: &Entry, with_group: bool, out: &mut String) {
    out.push_str(&format!(
        "\r\n  \x1b[1m{}\x1b[0m \x1b[90m{}\x1b[0m\r\n",
        e.full(),
        e.params
    ));
    out.push_str(&format!("  \x1b[33msummary:\x1b[0m {}\r\n", e.summary));
    out.push_str(&format!("  \x1b[33msince:\x1b[0m {}\r\n", e.since));
    if with_group {
        out.push_str(&format!("  \x1b[33mgroup:\x1b[0m {}\r\n", e.group));
    }
}

/// Renders `help [args...]`.
pub fn render(entries: &[Entry], args: &[String]) -> String {
    let Some(first) = args.first() else {
        return generic_help();
    };
    let group = first
        .strip_prefix('@')
        .and_then(|g| GROUPS.iter().find(|k| k.eq_ignore_ascii_case(g)));
    let mut out = String::new();
    for e in entries {
        match group {
            Some(g) => {
                if e.group.eq_ignore_ascii_case(g) {
                    entry_help(e, false, &mut out);
                }
            }
            None => {
                // Every given word must match, in order; extra entry words are fine.
                if args.len() <= e.words.len()
                    && args
                        .iter()
                        .zip(&e.words)
                        .all(|(a, w)| a.eq_ignore_ascii_case(w))
                {
                    entry_help(e, true, &mut out);
                }
            }
        }
    }
    out.push_str("\r\n");
    out
}
