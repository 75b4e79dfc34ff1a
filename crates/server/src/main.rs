//! `redis-server`: loads the configuration, sets up logging, binds the
//! listeners and runs the server until a signal or `SHUTDOWN`.
//!
//! This is the only place that builds the runtime, installs signal handlers,
//! forks (for `daemonize yes`, before any thread exists) or exits.

use std::alloc::{GlobalAlloc, Layout};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::sync::OnceLock;

use redis_common::os::strerror;
use redis_config::Config;
use redis_engine::state::REDIS_VERSION;
use redis_engine::{Registry, State};
use redis_server::error::ServerError;
use redis_server::{log, notify, now_ms, Shared};

/// Bytes currently allocated, for `INFO memory` and (later) `maxmemory`.
static ALLOCATED: AtomicUsize = AtomicUsize::new(0);

/// jemalloc (as upstream ships with) with a running byte count. Its small
/// size classes carry no per-allocation header, unlike glibc's 16-byte
/// header and 32-byte minimum chunk, which matters for millions of small keys.
struct CountingAlloc;

/// The allocator that does the work.
static JEMALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// The bytes jemalloc hands out for a block of `layout`: its size class,
/// computed from the request (`nallocx`) rather than looked up from the
/// pointer (`malloc_usable_size` walks jemalloc's radix tree on every call,
/// which showed as several percent of a script-heavy profile). The same
/// layout gives the same figure when the block is allocated and freed, so
/// the counter stays exact; the flags mirror the ones tikv-jemallocator
/// passes for the layout (an explicit alignment only past 16 bytes or
/// past the size).
///
/// Blocks of the default alignment up to 4 GiB skip even `nallocx` (a
/// call per allocation and free, 2% of a script-heavy profile): their
/// class is [`default_class`], which a test checks against `nallocx`.
#[allow(unsafe_code)]
#[inline]
fn class_size(size: usize, align: usize) -> usize {
    let flags = if align <= 16 && align <= size {
        if size <= 1 << 32 {
            return default_class(size);
        }
        0
    } else {
        align.trailing_zeros() as std::os::raw::c_int
    };
    // SAFETY: `nallocx` only computes a size class; Rust never asks the
    // global allocator for zero bytes, and the flags are a valid
    // MALLOCX_ALIGN encoding (log2 of a power of two) or zero.
    let n = unsafe { tikv_jemalloc_sys::nallocx(size, flags) };
    if n == 0 {
        size
    } else {
        n
    }
}

/// jemalloc's size class for `size` bytes (1 to 4 GiB) at the default
/// alignment on this platform (16-byte quantum, four classes per
/// doubling): 8, 16, then the next multiple of a quarter of the power of
/// two below, that quarter being at least 16 (32, 48, 64, 80, ..., 128,
/// 160, 192, 224, 256, 320, ..., 32 KiB); past 32 KiB, whole pages.
#[inline]
fn default_class(size: usize) -> usize {
    if size <= 8 {
        return 8;
    }
    if size > 32 << 10 {
        return (size + 4095) & !4095;
    }
    // The power of two at or above `size` is 2^k (k >= 4 here).
    let k = usize::BITS - (size - 1).leading_zeros();
    let step = (1usize << k.saturating_sub(3)).max(16);
    (size + step - 1) & !(step - 1)
}

// SAFETY: every method forwards to jemalloc unchanged. The counter adds and
// subtracts the size class of each block (like upstream's zmalloc counting
// usable sizes), computed from the layout: the same layout is passed when
// a block is allocated and when it is freed or reallocated.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = JEMALLOC.alloc(layout);
        if !p.is_null() {
            ALLOCATED.fetch_add(class_size(layout.size(), layout.align()), Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        ALLOCATED.fetch_sub(class_size(layout.size(), layout.align()), Ordering::Relaxed);
        JEMALLOC.dealloc(ptr, layout);
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = JEMALLOC.alloc_zeroed(layout);
        if !p.is_null() {
            ALLOCATED.fetch_add(class_size(layout.size(), layout.align()), Ordering::Relaxed);
        }
        p
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = JEMALLOC.realloc(ptr, layout, new_size);
        if !p.is_null() {
            ALLOCATED.fetch_add(class_size(new_size, layout.align()), Ordering::Relaxed);
            ALLOCATED.fetch_sub(class_size(layout.size(), layout.align()), Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

fn used_memory() -> usize {
    ALLOCATED.load(Ordering::Relaxed)
}

/// `jemalloc-X.Y.Z` as upstream's `INFO` `mem_allocator` and `--version`
/// print it, from the linked library's own version string.
fn mem_allocator() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        let version = jemalloc_version().unwrap_or_default();
        // "5.3.0-0-g<commit>": upstream shows the release part only.
        let release = version.split('-').next().unwrap_or_default();
        if release.is_empty() {
            "jemalloc".to_string()
        } else {
            format!("jemalloc-{release}")
        }
    })
}

/// jemalloc's `version` control value.
#[allow(unsafe_code)]
fn jemalloc_version() -> Option<String> {
    let mut ptr: *const std::ffi::c_char = std::ptr::null();
    let mut len = std::mem::size_of::<*const std::ffi::c_char>();
    // SAFETY: "version" is a read-only control whose value is a `const
    // char *` to a static NUL-terminated string; `ptr` and `len` describe a
    // buffer of exactly that type, and no new value is written.
    let rc = unsafe {
        tikv_jemalloc_sys::mallctl(
            c"version".as_ptr(),
            (&mut ptr as *mut *const std::ffi::c_char).cast(),
            &mut len,
            std::ptr::null_mut(),
            0,
        )
    };
    if rc != 0 || ptr.is_null() {
        return None;
    }
    // SAFETY: non-null and NUL-terminated per jemalloc's contract above.
    let s = unsafe { std::ffi::CStr::from_ptr(ptr) };
    Some(s.to_string_lossy().into_owned())
}

/// `jemalloc-bg-thread`: turns jemalloc's background purging threads on
/// or off (its `background_thread` control), as upstream does at startup
/// and on `CONFIG SET`.
#[allow(unsafe_code)]
fn set_jemalloc_bg_thread(on: bool) {
    let mut value = on;
    // SAFETY: "background_thread" is a read-write boolean control; we pass
    // no old-value buffer and a pointer to a live `bool` of exactly the
    // size we declare as the new value.
    let _ = unsafe {
        tikv_jemalloc_sys::mallctl(
            c"background_thread".as_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            (&mut value as *mut bool).cast(),
            std::mem::size_of::<bool>(),
        )
    };
}

/// True when the kernel's transparent huge pages mode is `always` (the
/// bracketed word of `/sys/kernel/mm/transparent_hugepage/enabled`).
fn thp_always(setting: &str) -> bool {
    setting.contains("[always]")
}

/// `disable-thp yes` (the default): with THP in `always` mode, turn it off
/// for this process (latency spikes and memory bloat, as upstream's
/// warning explains); otherwise, or when that fails, log upstream's
/// warning.
#[allow(unsafe_code)]
fn handle_thp(disable: bool) {
    let mode =
        std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled").unwrap_or_default();
    if !thp_always(&mode) {
        return;
    }
    if disable {
        // SAFETY: PR_SET_THP_DISABLE takes plain integer arguments and
        // only changes a flag of the calling process.
        let rc = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
        if rc == 0 {
            return;
        }
    }
    log::warning("WARNING you have Transparent Huge Pages (THP) support enabled in your kernel. This will create latency and memory usage issues with Redis. To fix this issue run the command 'echo madvise > /sys/kernel/mm/transparent_hugepage/enabled' as root, and add it to your /etc/rc.local in order to retain the setting after a reboot. Redis must be restarted after THP is disabled (set to 'madvise' or 'never').");
}

fn usage() -> ! {
    eprintln!(
        "Usage: ./redis-server [/path/to/redis.conf] [options] [-]\n       ./redis-server - (read config from stdin)\n       ./redis-server -v or --version\n       ./redis-server -h or --help\n       ./redis-server --check-config /path/to/redis.conf\n\nExamples:\n       ./redis-server (run the server with default conf)\n       ./redis-server /etc/redis/6379.conf\n       ./redis-server --port 7777\n       ./redis-server /etc/myredis.conf --loglevel verbose -\n       ./redis-server /etc/myredis.conf --loglevel verbose\n"
    );
    std::process::exit(1);
}

fn version_line() -> String {
    format!(
        "Redis server v={REDIS_VERSION} sha=00000000:0 malloc={} bits=64 build=0 (redis-rs {})",
        mem_allocator(),
        env!("CARGO_PKG_VERSION")
    )
}

struct Args {
    config_file: Option<PathBuf>,
    rest: Vec<String>,
    check_only: bool,
}

fn parse_args() -> Args {
    let mut argv: Vec<String> = std::env::args().skip(1).collect();
    let mut check_only = false;
    if let Some(first) = argv.first().map(String::as_str) {
        match first {
            "-v" | "--version" => {
                println!("{}", version_line());
                std::process::exit(0);
            }
            "-h" | "--help" => usage(),
            "--check-config" => {
                check_only = true;
                argv.remove(0);
                if argv.is_empty() {
                    usage();
                }
            }
            _ => {}
        }
    }
    let mut config_file = None;
    if let Some(first) = argv.first() {
        if !first.starts_with("--") && first != "-" {
            config_file = Some(PathBuf::from(argv.remove(0)));
        }
    }
    Args {
        config_file,
        rest: argv,
        check_only,
    }
}

/// Sentinel mode (`redis-server [sentinel.conf] --sentinel`, or this
/// binary started under the name `redis-sentinel`): the sentinel is its
/// own program, `redis-sentinel`, installed beside this one; the process
/// becomes it (same PID, same arguments less `--sentinel`), so units and
/// scripts written for either form keep working.
fn hand_over_to_sentinel() {
    let argv0 = std::env::args().next().unwrap_or_default();
    let as_sentinel = Path::new(&argv0)
        .file_name()
        .is_some_and(|n| n == "redis-sentinel");
    if !as_sentinel && !std::env::args().skip(1).any(|a| a == "--sentinel") {
        return;
    }
    // Without /proc (a chroot, an image build) the path we were started
    // by says where we are.
    let beside = std::env::current_exe()
        .ok()
        .or_else(|| Some(PathBuf::from(&argv0)))
        .and_then(|p| p.parent().map(|d| d.join("redis-sentinel")));
    let Some(sentinel) = beside.filter(|p| p.is_file()) else {
        eprintln!(
            "Sentinel mode needs the redis-sentinel program beside redis-server \
             (install the redis-sentinel package). Exiting."
        );
        std::process::exit(1);
    };
    use std::os::unix::process::CommandExt;
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--sentinel")
        .collect();
    let err = std::process::Command::new(&sentinel)
        .arg0("redis-sentinel")
        .args(args)
        .exec();
    eprintln!("Can't start {}: {err}", sentinel.display());
    std::process::exit(1);
}

fn main() {
    hand_over_to_sentinel();
    let args = parse_args();
    // Before any thread starts: the environment moves out of the memory
    // the process title will use.
    redis_server::proctitle::init();
    // `rename-command` lines are checked against the command table while
    // the file loads, so a bad one is reported at its line like upstream.
    let opts = redis_config::LoadOptions {
        commands: Some(redis_commands::command_names()),
        user_check: Some(redis_engine::acl::check_config_line),
        ..redis_config::LoadOptions::default()
    };
    let config = match Config::load_with(args.config_file.as_deref(), &args.rest, &opts) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    // The command table as renamed by the configuration, built once and
    // kept for the life of the process (every `State` borrows it).
    let registry: &'static Registry =
        match redis_commands::build_registry(&config.rename_commands()) {
            Ok(r) => Box::leak(Box::new(r)),
            Err(e) => {
                // The loader already validated the pairs; this is a safeguard.
                eprintln!("{e}");
                std::process::exit(1);
            }
        };
    if args.check_only {
        println!("Configuration OK");
        return;
    }
    let level = log::parse_level(config.get_str("loglevel"));
    if let Err(e) = log::configure(config.get_str("logfile"), level) {
        eprintln!("{e}");
        std::process::exit(1);
    }
    let daemonize = config.get_bool("daemonize");
    if daemonize {
        redis_net::process::daemonize();
    }
    let pid = std::process::id();
    handle_thp(config.get_bool("disable-thp"));
    log::warning("oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo");
    log::warning(&format!(
        "Redis version={REDIS_VERSION}, bits=64, commit=00000000, modified=0, pid={pid}, just started"
    ));
    if args.config_file.is_none() && args.rest.is_empty() {
        log::warning("Warning: no config file specified, using the default config. In order to specify a config file use redis-server /path/to/redis.conf");
    } else {
        log::warning("Configuration loaded");
    }
    for w in redis_engine::inactive::startup_warnings(&config) {
        log::warning(&w);
    }
    let dir = config.get_str("dir").to_string();
    if !dir.is_empty() {
        if let Err(e) = std::env::set_current_dir(&dir) {
            log::warning(&format!("Can't chdir to '{dir}': {}", strerror(&e)));
            std::process::exit(1);
        }
    }
    // `io-threads 1` (the default) runs everything on one worker thread
    // like upstream's event loop: on small machines the other cores are
    // better left to clients and the kernel than spent on cross-thread
    // wake-ups. It is tokio's multi-thread scheduler with one worker, not
    // the current-thread one, so that a script turning busy on the worker
    // can hand the worker's other connections to a new thread (see
    // `release_worker`) and they get `-BUSY` as upstream's do. Its LIFO
    // slot (the task woken last polled first) is off: it reordered
    // commands arriving together on different connections, which
    // upstream's tests of blocked clients and WATCH saw under load. That
    // switch needs `--cfg tokio_unstable` (.cargo/config.toml); a build
    // without it keeps the single-threaded runtime for one thread.
    let io_threads = config.get_int("io-threads").clamp(1, 128) as usize;
    let built = runtime_builder(io_threads).enable_all().build();
    redis_engine::script::set_busy_hook(release_worker);
    let runtime = match built {
        Ok(r) => r,
        Err(e) => {
            log::warning(&format!(
                "Failed creating the event loop. Error message: '{e}'"
            ));
            std::process::exit(1);
        }
    };
    // On a worker, as every connection: the main thread only waits.
    let code = runtime.block_on(async move {
        tokio::spawn(serve(config, registry, args.config_file, daemonize))
            .await
            .unwrap_or(1)
    });
    // Connection tasks may still be parked on sockets; do not wait for them.
    runtime.shutdown_background();
    std::process::exit(code);
}

/// The runtime for `io_threads` workers: the multi-thread scheduler in
/// FIFO order (see `main`).
#[cfg(tokio_unstable)]
fn runtime_builder(io_threads: usize) -> tokio::runtime::Builder {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    b.worker_threads(io_threads).disable_lifo_slot();
    b
}

/// Without `tokio_unstable` the LIFO slot cannot be turned off: one
/// thread keeps upstream's order on the current-thread scheduler (where a
/// quick script turning busy holds everyone), more threads use the
/// multi-thread one as it is.
#[cfg(not(tokio_unstable))]
fn runtime_builder(io_threads: usize) -> tokio::runtime::Builder {
    if io_threads <= 1 {
        return tokio::runtime::Builder::new_current_thread();
    }
    let mut b = tokio::runtime::Builder::new_multi_thread();
    b.worker_threads(io_threads);
    b
}

/// A script running on a runtime worker (one that was quick before, run
/// in line by its connection) has turned busy: the worker's other tasks
/// move to a new thread while this one goes on with the script, so the
/// other connections are served (`-BUSY`, `SCRIPT KILL`). The short wait
/// lets the new thread take them; elsewhere (a script's own thread) this
/// only waits. Only the multi-thread scheduler can do this.
fn release_worker() {
    redis_server::off_worker(|| std::thread::sleep(std::time::Duration::from_millis(1)));
}

async fn serve(
    mut config: Config,
    registry: &'static Registry,
    config_file: Option<PathBuf>,
    daemonize: bool,
) -> i32 {
    log::set_role('M');
    let port = config.get_int("port").clamp(0, 65535) as u16;
    let supervised = redis_net::process::supervised_mode(config.get_str("supervised"));
    // A daemon without a pidfile gets upstream's default one, which
    // `CONFIG GET` and `CONFIG REWRITE` then show, as upstream's do.
    if daemonize && config.get_str("pidfile").is_empty() {
        config.set_pidfile("/var/run/redis.pid");
    }
    let pidfile = config.get_str("pidfile").to_string();
    if port == 0 && config.get_str("unixsocket").is_empty() {
        log::warning("Configured to not listen anywhere, exiting.");
        return 1;
    }
    let Some(listeners) = bind_listeners(&config, port) else {
        return 1;
    };
    // Upstream draws its logo when asked to (`always-show-logo`, which
    // test harnesses set and then wait for its "PID:" line) or when
    // logging to a terminal; otherwise one line says the same.
    let tty = config.get_str("logfile").is_empty()
        && std::io::IsTerminal::is_terminal(&std::io::stdout());
    let cluster = config.get_bool("cluster-enabled");
    let mode = if cluster { "cluster" } else { "standalone" };
    if config.get_bool("always-show-logo") || tty {
        show_banner(port, mode);
    } else {
        log::notice(&format!("Running mode={mode}, port={port}."));
    }
    let bus_listeners = if cluster {
        let bus_port = redis_engine::cluster::bus_port(&config, port);
        match redis_engine::cluster::ClusterNode::start(&config, port, now_ms().max(0) as u64) {
            Ok(started) => match redis_server::cluster_bus::bind(&config.bind_addrs(), bus_port) {
                Ok(l) => Some((started, l)),
                Err(line) => {
                    log::warning(&line);
                    return 1;
                }
            },
            Err(e) => {
                for l in e.0 {
                    log::warning(&l);
                }
                return 1;
            }
        }
    } else {
        None
    };
    let mut state = new_state(config, registry, port, config_file.as_deref(), supervised);
    if let Err(e) = state.acl_startup() {
        for line in e.lines() {
            log::warning(line);
        }
        return 1;
    }
    let bus_listeners = match bus_listeners {
        Some((started, l)) => {
            state.cluster_install(started, now_ms());
            l
        }
        None => Vec::new(),
    };
    // The dataset loads while the listeners already accept clients, which
    // get -LOADING meanwhile (upstream serves clients during loading too).
    let load_cfg = state.config.clone();
    let load_sink = state.log_sink.clone();
    let aof_on = state.config.get_bool("appendonly");
    state.persistence.loading = true;
    let notify_shutdown = state.shutdown_notify.clone();
    let shared = Shared::new(state);
    if let Ok(mut l) = shared.bus_listeners.lock() {
        *l = bus_listeners;
    }
    log::warning("Server initialized");
    if !pidfile.is_empty() {
        if let Err(e) = std::fs::write(&pidfile, format!("{}\n", std::process::id())) {
            log::warning(&format!("Failed to write PID file: {}", strerror(&e)));
        }
    }
    // Like upstream, which only serves clients (with -LOADING) between
    // chunks of a big load: little or nothing to load is loaded before any
    // client is served, so a client connecting right after start never
    // sees -LOADING for an empty dataset.
    let quick = data_size_on_disk(&load_cfg, aof_on) < QUICK_LOAD_BYTES;
    let load = move || load_dataset(load_cfg, load_sink, registry, aof_on);
    let Some(server) = load_and_serve(&shared, listeners, load, quick).await else {
        shared.shutdown.cancel();
        return 1;
    };
    log::notice("Ready to accept connections tcp");
    if supervised == "systemd" {
        notify::notify("STATUS=Ready to accept connections\nREADY=1\n");
    }
    let code = wait_for_exit(&shared, &notify_shutdown).await;
    if supervised == "systemd" {
        notify::notify("STOPPING=1\n");
    }
    if !pidfile.is_empty() {
        log::notice("Removing the pid file.");
        let _ = std::fs::remove_file(Path::new(&pidfile));
    }
    shared.shutdown.cancel();
    let _ = server.await;
    if code == 0 {
        log::warning("Redis is now ready to exit, bye bye...");
    }
    code
}

/// Binds every configured address (TCP and the unix socket); on failure
/// logs upstream's lines and returns `None` (the server exits).
fn bind_listeners(config: &Config, port: u16) -> Option<redis_server::Listeners> {
    match redis_net::bind_all(
        &config.bind_addrs(),
        port,
        config.get_int("tcp-backlog") as i32,
        config.get_str("unixsocket"),
        config.get_int("unixsocketperm").clamp(0, 0o7777) as u32,
    ) {
        Ok(l) => Some(l),
        Err(e) => {
            for l in e.lines {
                log::warning(&l);
            }
            None
        }
    }
}

/// The server state before loading: what the process knows about itself
/// (executable, configuration file, allocator, log) and the replication
/// role the configuration gives it.
fn new_state(
    config: Config,
    registry: &'static Registry,
    port: u16,
    config_file: Option<&Path>,
    supervised: &str,
) -> State {
    let mut state = State::new(config, now_ms(), registry);
    state.port = port;
    state.executable = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    state.config_file = config_file
        .and_then(|p| std::fs::canonicalize(p).ok())
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    state.supervised = supervised.to_string();
    state.used_memory = used_memory;
    state.mem_allocator = mem_allocator();
    state.set_allocator_bg_thread = set_jemalloc_bg_thread;
    state.set_proc_title = redis_server::proctitle::set;
    state.exec_argv0 = std::env::args().next().unwrap_or_default();
    state.allocator_bg_thread = None;
    state.apply_config();
    state.startup_memory = used_memory() as u64;
    state.log_sink = Arc::new(log::log);
    state.set_log_level = log::set_level;
    state.set_log_role = log::set_role;
    if let Some((host, port)) = state.config.replica_of() {
        state.become_replica(host, port, now_ms());
    }
    state
}

/// Loads the dataset on disk (the AOF with `appendonly yes`, else the
/// RDB file) into a state of its own, which the server then adopts.
fn load_dataset(
    config: Config,
    log_sink: redis_engine::state::LogSink,
    registry: &'static Registry,
    aof_on: bool,
) -> Result<State, ServerError> {
    let now = now_ms();
    let mut tmp = State::new(config, now, registry);
    tmp.log_sink = log_sink;
    tmp.used_memory = used_memory;
    if let Some((host, port)) = tmp.config.replica_of() {
        tmp.become_replica(host, port, now);
    }
    if aof_on {
        tmp.aof_open_and_load(now)?;
    } else {
        tmp.load_rdb_at_startup(now)?;
    }
    Ok(tmp)
}

/// `dbfilename` did not load at startup: upstream's lines for the
/// failure, then (for a damaged file) redis-check-rdb's report on stdout
/// and the line that ends the server.
fn report_bad_rdb(e: &redis_rdb::Error, path: &str) {
    use redis_rdb::ErrorKind;
    let internal = |msg: &str| {
        log::warning(&format!(
            "Internal error in RDB reading offset 0, function at rdb.c:0 -> {msg}"
        ));
    };
    match &e.kind {
        ErrorKind::WrongSignature | ErrorKind::BadVersion(_) => {
            log::warning(&e.kind.to_string());
            log::warning("Fatal error loading the DB: Invalid argument. Exiting.");
            return;
        }
        ErrorKind::Io(err) => {
            log::warning(&format!(
                "Fatal error loading the DB: {}. Exiting.",
                strerror(err)
            ));
            return;
        }
        ErrorKind::UnexpectedEof => {
            log::warning("Short read or OOM loading DB. Unrecoverable error, aborting now.");
            internal("Unexpected EOF reading RDB file");
        }
        ErrorKind::ReadError { .. } => log::warning(&e.kind.to_string()),
        other => internal(&other.to_string()),
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    redis_rdb::check::check_file(path, &mut out);
    let _ = std::io::Write::flush(&mut out);
    drop(out);
    // Upstream's checker ends the process itself after a truncated file
    // or a bad checksum; a damaged value ends it with this line.
    if matches!(e.kind, ErrorKind::Corrupt(_) | ErrorKind::ReadError { .. }) {
        log::warning("Terminating server after rdb file reading failure.");
    }
}

/// Runs `load` and starts serving `listeners`: after the load when it is
/// `quick`, else at once, with the load on a blocking thread (clients get
/// -LOADING meanwhile). The server task, or `None` when loading failed
/// (logged).
async fn load_and_serve(
    shared: &Arc<Shared>,
    listeners: redis_server::Listeners,
    load: impl FnOnce() -> Result<State, ServerError> + Send + 'static,
    quick: bool,
) -> Option<tokio::task::JoinHandle<()>> {
    let rdb_file = match shared.state.lock() {
        Ok(st) => st.config.get_str("dbfilename").to_string(),
        Err(_) => String::new(),
    };
    let mut listeners = Some(listeners);
    let mut server = None;
    let loaded = if quick {
        Ok(load())
    } else {
        server = listeners
            .take()
            .map(|l| tokio::spawn(redis_server::run(l, shared.clone())));
        tokio::task::spawn_blocking(load).await
    };
    match loaded {
        Ok(Ok(tmp)) => {
            if let Ok(mut st) = shared.state.lock() {
                st.adopt_loaded(tmp);
                if let Err(e) = st.cluster_verify_data(now_ms()) {
                    for l in e.0 {
                        log::warning(&l);
                    }
                    return None;
                }
            }
        }
        Ok(Err(ServerError::RdbLoad(redis_engine::persist::LoadError::Corrupt(e)))) => {
            report_bad_rdb(&e, &rdb_file);
            return None;
        }
        Ok(Err(e)) => {
            log::warning(&e.to_string());
            return None;
        }
        Err(e) => {
            log::warning(&format!("Loading failed: {e}"));
            return None;
        }
    }
    match (server, listeners.take()) {
        (Some(s), _) => Some(s),
        (None, Some(l)) => Some(tokio::spawn(redis_server::run(l, shared.clone()))),
        (None, None) => None,
    }
}

/// Waits until the server is to exit, returning the exit status.
///
/// Signals run the same shutdown as SHUTDOWN, with the flags of
/// `shutdown-on-sigterm` / `shutdown-on-sigint`; a failed final save
/// keeps the server running, and a shutdown waiting for replicas is
/// finished by the cron, which wakes us like a command does.
async fn wait_for_exit(shared: &Shared, notify_shutdown: &tokio::sync::Notify) -> i32 {
    loop {
        let directive = match wait_for_shutdown(notify_shutdown).await {
            Woke::Command => match shared.state.lock().ok().and_then(|st| st.shutdown) {
                Some(req) => return req.exit_code,
                None => continue,
            },
            Woke::Term => "shutdown-on-sigterm",
            Woke::Int => "shutdown-on-sigint",
        };
        let step = match shared.state.lock() {
            Ok(st) if st.shutdown_pending.is_some() => {
                // A second SIGINT while waiting: exit now, uncleanly.
                if directive == "shutdown-on-sigint" {
                    log::warning("You insist... exiting now.");
                    return 1;
                }
                redis_engine::shutdown::ShutdownStep::Waiting
            }
            Ok(mut st) => {
                let flags = st.config.get_str(directive).to_string();
                let req = redis_engine::state::ShutdownRequest::from_signal_config(&flags);
                st.request_shutdown(req, now_ms())
            }
            Err(_) => return 0,
        };
        if step == redis_engine::shutdown::ShutdownStep::Exit {
            return 0;
        }
    }
}

/// Below this much data on disk the startup load runs before clients are
/// served (upstream processes events only every 2 MB of loading).
const QUICK_LOAD_BYTES: u64 = 2 * 1024 * 1024;

/// Bytes the startup load will read: the RDB file, or with `appendonly yes`
/// the AOF directory plus a legacy single-file AOF (relative to `dir`, the
/// current directory by now). Unknown sizes count as large.
fn data_size_on_disk(cfg: &redis_config::Config, aof_on: bool) -> u64 {
    let size = |p: &Path| match std::fs::metadata(p) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(_) => u64::MAX,
    };
    if !aof_on {
        return size(Path::new(cfg.get_str("dbfilename")));
    }
    let mut total = size(Path::new(cfg.get_str("appendfilename")));
    match std::fs::read_dir(cfg.get_str("appenddirname")) {
        Ok(entries) => {
            for e in entries {
                let len = e
                    .ok()
                    .and_then(|e| e.metadata().ok())
                    .map_or(u64::MAX, |m| m.len());
                total = total.saturating_add(len);
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(_) => return u64::MAX,
    }
    total
}

/// The startup banner (our own drawing, not upstream's logo), with the
/// lines scripts look for: version, mode, port and PID.
fn show_banner(port: u16, mode: &str) {
    let pid = std::process::id();
    let lines = [
        String::new(),
        "    ____  _____ ____  ___ ____          ____  ____".to_string(),
        format!("   |  _ \\| ____|  _ \\|_ _/ ___|        |  _ \\/ ___|     Redis {REDIS_VERSION} (redis-rs {}) 64 bit", env!("CARGO_PKG_VERSION")),
        "   | |_) |  _| | | | || |\\___ \\  _____ | |_) \\___ \\".to_string(),
        format!("   |  _ <| |___| |_| || | ___) ||_____||  _ < ___) |    Running in {mode} mode"),
        format!("   |_| \\_\\_____|____/|___|____/        |_| \\_\\____/     Port: {port}"),
        format!("                                                        PID: {pid}"),
        String::new(),
    ];
    for l in lines {
        log::raw_line(&l);
    }
}

/// What ended a wait for shutdown.
enum Woke {
    /// A command finished a shutdown (or the cron did).
    Command,
    Term,
    Int,
}

/// Waits for SIGTERM, SIGINT or a finished shutdown.
async fn wait_for_shutdown(cmd: &tokio::sync::Notify) -> Woke {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).ok();
    let mut int = signal(SignalKind::interrupt()).ok();
    let sig_line = |name: &str| {
        // Upstream logs from its signal handler with this distinct prefix.
        let line = format!(
            "{}:signal-handler ({}) Received {name} scheduling shutdown...",
            std::process::id(),
            now_ms() / 1000
        );
        log::raw_line(&line);
    };
    tokio::select! {
        _ = cmd.notified() => Woke::Command,
        Some(_) = async { match term.as_mut() { Some(s) => s.recv().await, None => std::future::pending().await } } => { sig_line("SIGTERM"); Woke::Term }
        Some(_) = async { match int.as_mut() { Some(s) => s.recv().await, None => std::future::pending().await } } => { sig_line("SIGINT"); Woke::Int }
    }
}

#[cfg(test)]
#[path = "main_tests.rs"]
mod tests;
