//! The dataset of a `SCRIPT DEBUG YES` session.
//!
//! Upstream forks the server for a debugging session in this mode: the
//! child runs the script on the fork's copy of the dataset, the parent
//! goes on serving everyone else, and the child's changes vanish when it
//! exits ("dataset changes rolled back"). This server never forks; it
//! copies what a script can reach into a [`State`] of the session's own
//! instead, run by the session's thread without the server lock and
//! dropped with the session:
//! - the databases (keys, values, deadlines) and whether this is a
//!   replica (a replica's copy refuses writes and hides expired keys);
//! - the configuration, the users, the log, and this client's entry.
//!
//! What the copy has not: the replicas, the AOF, the cluster and the other
//! clients. So nothing a session does is propagated or persisted, and
//! `maxmemory` and `min-replicas-to-write` are off in it (the copy has
//! no replicas, and the process's memory now includes the copy).

use std::sync::Arc;

use crate::client::{Client, ClientInfo};
use crate::State;

/// A state for `client`'s `SCRIPT DEBUG YES` session, copied from `st`.
pub fn fork_for_debugging(st: &State, client: &Client) -> State {
    let mut config = st.config.clone();
    let off = [
        (b"maxmemory".to_vec(), b"0".to_vec()),
        (b"min-replicas-to-write".to_vec(), b"0".to_vec()),
    ];
    // Both values are in range for both parameters: this cannot fail.
    let _ = config.set(&off);
    let mut copy = State::new(config, redis_common::time::now_ms(), st.registry);
    copy.ks.copy_data_from(&st.ks);
    copy.acl.users = st.acl.users.clone();
    copy.acl.refresh();
    copy.log_sink = Arc::clone(&st.log_sink);
    copy.port = st.port;
    copy.executable = st.executable.clone();
    copy.config_file = st.config_file.clone();
    copy.run_id = st.run_id.clone();
    copy.start_ms = st.start_ms;
    copy.used_memory = st.used_memory;
    copy.mem_allocator = st.mem_allocator;
    copy.version = st.version;
    copy.next_client_id = st.next_client_id;
    if let Some(info) = st.clients.get(&client.id) {
        let mut mine = ClientInfo::new(
            info.addr.clone(),
            info.laddr.clone(),
            info.fd,
            info.is_unix,
            Arc::clone(&info.signal),
            info.created_ms,
        );
        mine.id = info.id;
        mine.name = info.name.clone();
        mine.user = info.user.clone();
        mine.db = info.db;
        mine.resp = info.resp;
        copy.clients.insert(client.id, mine);
    }
    copy
}
