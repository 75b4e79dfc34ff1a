//! `redis-sentinel`: the Sentinel daemon (see [`redis_sentinel::daemon`]).
//! `redis-server --sentinel` hands over to this binary.

fn main() {
    std::process::exit(redis_sentinel::daemon::main());
}
