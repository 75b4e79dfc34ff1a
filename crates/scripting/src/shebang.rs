//! The `#!lua` shebang of 7.0 scripts (`EVAL`/`SCRIPT LOAD`): the engine
//! name and the `flags=` option, with upstream's error texts.

/// Flags a script declares in its shebang. A script without a shebang
/// (`shebang == false`) runs in 7.0's compatibility mode, where the engine
/// decides from the commands it calls.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScriptFlags {
    /// The script started with `#!lua`.
    pub shebang: bool,
    pub no_writes: bool,
    pub allow_oom: bool,
    pub allow_stale: bool,
    pub no_cluster: bool,
    pub allow_cross_slot_keys: bool,
}

/// A parsed script body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parsed {
    pub flags: ScriptFlags,
    /// Where the code to compile starts: the shebang line's text is left
    /// out but its newline is kept, so line numbers match the body.
    pub code_start: usize,
}

/// Parses the shebang of `body`, if any. The error is the reply text
/// without the leading `-` (e.g. `ERR Unexpected flag in script shebang: x`).
pub fn parse(body: &[u8]) -> Result<Parsed, String> {
    if !body.starts_with(b"#!") {
        return Ok(Parsed {
            flags: ScriptFlags::default(),
            code_start: 0,
        });
    }
    let Some(nl) = body.iter().position(|&c| c == b'\n') else {
        return Err("ERR Invalid script shebang".to_string());
    };
    let line = String::from_utf8_lossy(body.get(..nl).unwrap_or_default());
    let mut parts = line.split([' ', '\t', '\r']).filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or_default();
    if engine != "#!lua" {
        return Err(format!("ERR Unexpected engine in script shebang: {engine}"));
    }
    let mut flags = ScriptFlags {
        shebang: true,
        ..ScriptFlags::default()
    };
    for part in parts {
        let Some(list) = part.strip_prefix("flags=") else {
            return Err(format!("ERR Unknown lua shebang option: {part}"));
        };
        if list.is_empty() {
            continue;
        }
        for flag in list.split(',') {
            match flag {
                "no-writes" => flags.no_writes = true,
                "allow-oom" => flags.allow_oom = true,
                "allow-stale" => flags.allow_stale = true,
                "no-cluster" => flags.no_cluster = true,
                "allow-cross-slot-keys" => flags.allow_cross_slot_keys = true,
                other => return Err(format!("ERR Unexpected flag in script shebang: {other}")),
            }
        }
    }
    Ok(Parsed {
        flags,
        code_start: nl,
    })
}
