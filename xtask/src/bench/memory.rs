//! Memory per item: a fresh pair per dataset, both loaded with the same
//! pipelined command stream; reported as the growth of the resident set
//! (/proc/<pid>/statm) and of INFO `used_memory`, divided by the number of
//! keys loaded.

use std::time::Duration;

use super::client::Dataset;
use super::report::{fmt, obj, pair, ratio, s, Table};
use super::server::{rss, Side, Srv};
use super::Ctx;
use crate::json::Json;

struct Usage {
    rss: u64,
    used: f64,
}

fn usage(ctx: &Ctx, srv: &Srv) -> Result<Usage, String> {
    let used = srv.client()?.info_num("memory", "used_memory")?;
    let rss = rss(srv.pid(), ctx.page).ok_or("cannot read statm")?;
    Ok(Usage { rss, used })
}

pub fn run(ctx: &Ctx) -> Result<(Table, Json), String> {
    let mut t = Table::new(
        "memory: bytes per key (growth after loading)",
        &[
            "dataset",
            "keys",
            "rss ours",
            "rss ref",
            "ratio",
            "used ours",
            "used ref",
            "ratio",
        ],
    );
    let sets = [
        (Dataset::Strings, ctx.opts.keys()),
        (Dataset::Hashes, ctx.opts.collections()),
        (Dataset::Lists, ctx.opts.collections()),
        (Dataset::ZSets, ctx.opts.collections()),
    ];
    let mut json = Vec::new();
    for (turn, (ds, n)) in sets.into_iter().enumerate() {
        let pair_srv = ctx.start_pair(&[])?;
        let mut rss_per = [None, None];
        let mut used_per = [None, None];
        for side in Side::order(turn) {
            let srv = &pair_srv[side.idx()];
            let before = usage(ctx, srv)?;
            let mut c = srv.client()?;
            ds.load(&mut c, n)?;
            let size = c.dbsize()?;
            if size != n as i64 {
                return Err(format!(
                    "{side:?} has {size} keys after loading {n} {}",
                    ds.name()
                ));
            }
            // Let a lazily freeing or resizing server settle.
            std::thread::sleep(Duration::from_millis(300));
            let after = usage(ctx, srv)?;
            rss_per[side.idx()] = Some(after.rss.saturating_sub(before.rss) as f64 / n as f64);
            used_per[side.idx()] = Some((after.used - before.used) / n as f64);
        }
        let [ro, rr] = rss_per;
        let [uo, ur] = used_per;
        t.row(vec![
            ds.name().into(),
            n.to_string(),
            fmt(ro, 1),
            fmt(rr, 1),
            fmt(ratio(ro, rr), 2),
            fmt(uo, 1),
            fmt(ur, 1),
            fmt(ratio(uo, ur), 2),
        ]);
        json.push(obj(vec![
            ("dataset", s(ds.name())),
            ("keys", Json::Num(n.to_string())),
            ("rss_bytes_per_key", pair(ro, rr)),
            ("used_memory_bytes_per_key", pair(uo, ur)),
        ]));
    }
    t.notes.push(
        "strings: SET key:<12 digits> <10-byte value>; collections: 10 fields/elements/members of ~10 bytes each; a fresh server pair per dataset."
            .into(),
    );
    Ok((t, Json::Arr(json)))
}
