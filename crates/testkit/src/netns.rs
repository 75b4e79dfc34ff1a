//! Multi-host labs in network namespaces, for scenarios that need several
//! machines (Sentinel deployments from the operator guides).
//!
//! A [`Lab`] owns a "switch" namespace holding a bridge, and "hosts": one
//! namespace each, joined to the bridge by a veth pair created directly in
//! the two namespaces, so nothing is added to the root namespace and the
//! machine's own network is never touched. Every host has its loopback up
//! and one or more addresses on `eth0` (`eth0:1`... labels for the extra
//! ones, as a guide's sub-interfaces).
//!
//! Daemons run with `ip netns exec <ns> <binary> <args>`: `ip` enters the
//! namespace and then execs the binary, so the child's PID is the
//! daemon's (checked through `/proc/<pid>/exe` at every start) and it is
//! killed by that PID. Each daemon has its own directory for its config
//! file, log and stdout; [`Lab::logs`] gathers all of them, and a lab
//! dropped during a panic prints them.
//!
//! Failure injection: [`Lab::power_off`] kills -9 everything on a host and
//! takes its link down, [`Lab::power_on`] brings it up and restarts the
//! host's daemons with the same command line (so from the config files
//! they rewrote); [`Lab::partition`] installs nftables drop rules inside
//! every host's namespace and [`Lab::heal`] deletes them.
//!
//! Names carry the test process id and a counter, so labs of tests running
//! in parallel never collide; teardown (on drop, also on panic) kills the
//! processes first, then deletes the namespaces, which removes the veths
//! and the bridge with them. Namespaces left by a test process that died
//! without its teardown are swept by the next lab.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::dir::TempDir;
use crate::process::{children, require_tool, run_bounded, run_bounded_with_input, signal};
use crate::ChildGuard;

/// iproute2's `ip`.
pub const IP: &str = "/usr/sbin/ip";
/// nftables' `nft`, for partitions.
pub const NFT: &str = "/usr/sbin/nft";
/// Every lab namespace name starts with this, then the owner's pid.
const PREFIX: &str = "rlab";
/// Bound on one `ip`/`nft` configuration command.
const CMD_LIMIT: Duration = Duration::from_secs(20);
/// How long `ip netns exec` may take to exec the daemon.
const EXEC_LIMIT: Duration = Duration::from_secs(5);
/// The nftables table that partitions live in.
const TABLE: &str = "lab";

static LAB_COUNTER: AtomicU32 = AtomicU32::new(0);

/// A host of a lab (index into the lab's hosts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostId(usize);

/// A daemon of a lab (index into the lab's daemons).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DaemonId(usize);

#[derive(Debug)]
struct Host {
    name: String,
    ns: String,
    /// Addresses without their prefix length.
    addrs: Vec<String>,
    /// True while partition rules are installed in the namespace.
    partitioned: bool,
}

#[derive(Debug)]
struct Daemon {
    name: String,
    host: usize,
    dir: PathBuf,
    program: PathBuf,
    args: Vec<String>,
    child: Option<ChildGuard>,
    starts: u32,
}

/// A set of network namespaces on one bridge, with the daemons running in
/// them. Everything is removed on drop.
#[derive(Debug)]
pub struct Lab {
    name: String,
    index: u8,
    switch: String,
    hosts: Vec<Host>,
    daemons: Vec<Daemon>,
    dir: TempDir,
}

/// Runs `ip` with `args`; panics with its output when it fails.
fn ip(args: &[&str]) {
    let out = run_bounded(Command::new(IP).args(args), CMD_LIMIT);
    if !out.status.success() {
        panic!(
            "ip {}: {}\n{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Runs `ip` with `args`, reporting failure as false (teardown).
fn ip_quiet(args: &[&str]) -> bool {
    Command::new(IP)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// PIDs of the processes in namespace `ns`.
fn ns_pids(ns: &str) -> Vec<u32> {
    Command::new(IP)
        .args(["netns", "pids", ns])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Kills what runs in `ns` and deletes it.
fn delete_ns(ns: &str) {
    for pid in ns_pids(ns) {
        signal(pid, "-KILL");
    }
    if !ip_quiet(&["netns", "del", ns]) {
        eprintln!("netns lab: could not delete namespace {ns}");
    }
}

/// Deletes the namespaces of labs whose test process is gone (killed
/// before its teardown ran).
fn sweep_stale() {
    let Ok(out) = Command::new(IP)
        .args(["netns", "list"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
    else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some(ns) = line.split_whitespace().next() else {
            continue;
        };
        let Some(rest) = ns.strip_prefix(PREFIX) else {
            continue;
        };
        let Some(pid) = rest.split('x').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            delete_ns(ns);
        }
    }
}

fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

impl Lab {
    /// Creates the switch namespace and its bridge. Panics (failing the
    /// test) when `ip` or `nft` is missing or the namespace cannot be made.
    pub fn new() -> Lab {
        require_tool(IP, "apt-get install iproute2");
        require_tool(
            NFT,
            "apt-get install nftables (cargo xtask test installs it)",
        );
        sweep_stale();
        let n = LAB_COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("{PREFIX}{}x{n}", std::process::id());
        let switch = format!("{name}-sw");
        ip(&["netns", "add", &switch]);
        // From here on Drop removes what exists.
        let lab = Lab {
            index: u8::try_from(n % 250 + 1).unwrap_or(1),
            name,
            switch,
            hosts: Vec::new(),
            daemons: Vec::new(),
            dir: TempDir::new(),
        };
        let sw = lab.switch.as_str();
        ip(&["-n", sw, "link", "set", "lo", "up"]);
        ip(&["-n", sw, "link", "add", "br0", "type", "bridge"]);
        ip(&["-n", sw, "link", "set", "br0", "up"]);
        lab
    }

    /// An address of this lab: `10.<net>.<lab index>.<host>`. Labs are
    /// isolated from each other anyway; the index only makes logs of
    /// parallel tests tell apart.
    pub fn addr(&self, net: u8, host: u8) -> String {
        format!("10.{net}.{}.{host}", self.index)
    }

    /// Adds host `name` with the addresses `addrs` (CIDR, e.g.
    /// `10.77.3.51/24`) on its `eth0`, the second one labelled `eth0:1`
    /// and so on; loopback up.
    pub fn add_host(&mut self, name: &str, addrs: &[&str]) -> HostId {
        assert!(
            self.hosts.iter().all(|h| h.name != name),
            "host {name} exists"
        );
        let i = self.hosts.len();
        let ns = format!("{}-{name}", self.name);
        ip(&["netns", "add", &ns]);
        self.hosts.push(Host {
            name: name.to_string(),
            ns: ns.clone(),
            addrs: addrs
                .iter()
                .map(|a| a.split('/').next().unwrap_or(a).to_string())
                .collect(),
            partitioned: false,
        });
        let port = format!("p{i}");
        let sw = self.switch.clone();
        ip(&[
            "link", "add", "eth0", "netns", &ns, "type", "veth", "peer", "name", &port, "netns",
            &sw,
        ]);
        ip(&["-n", &sw, "link", "set", &port, "master", "br0"]);
        ip(&["-n", &sw, "link", "set", &port, "up"]);
        ip(&["-n", &ns, "link", "set", "lo", "up"]);
        for (k, a) in addrs.iter().enumerate() {
            if k == 0 {
                ip(&["-n", &ns, "addr", "add", a, "dev", "eth0"]);
            } else {
                let label = format!("eth0:{k}");
                ip(&["-n", &ns, "addr", "add", a, "dev", "eth0", "label", &label]);
            }
        }
        ip(&["-n", &ns, "link", "set", "eth0", "up"]);
        HostId(i)
    }

    /// The namespace of `host`.
    pub fn ns(&self, host: HostId) -> &str {
        &self.hosts[host.0].ns
    }

    /// The private directory of daemon `name` (created on first use):
    /// write its config there before [`Lab::spawn`].
    pub fn daemon_dir(&self, name: &str) -> PathBuf {
        let d = self.dir.join(name);
        std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("create {}: {e}", d.display()));
        d
    }

    /// Starts `program args` on `host` as daemon `name`, working in its
    /// [`Lab::daemon_dir`] with stdout and stderr appended to `stdout`
    /// there. Returns once `ip netns exec` has exec'd the program.
    pub fn spawn(&mut self, host: HostId, name: &str, program: &Path, args: &[&str]) -> DaemonId {
        assert!(
            self.daemons.iter().all(|d| d.name != name),
            "daemon {name} exists"
        );
        let dir = self.daemon_dir(name);
        self.daemons.push(Daemon {
            name: name.to_string(),
            host: host.0,
            dir,
            program: program.to_path_buf(),
            args: args.iter().map(|a| a.to_string()).collect(),
            child: None,
            starts: 0,
        });
        let id = DaemonId(self.daemons.len() - 1);
        self.start(id);
        id
    }

    /// (Re)starts daemon `id` with its command line; it must not be
    /// running.
    pub fn start(&mut self, id: DaemonId) {
        let ns = self.hosts[self.daemons[id.0].host].ns.clone();
        let d = &mut self.daemons[id.0];
        assert!(d.child.is_none(), "{} is already running", d.name);
        let out: File = OpenOptions::new()
            .create(true)
            .append(true)
            .open(d.dir.join("stdout"))
            .unwrap_or_else(|e| panic!("stdout file of {}: {e}", d.name));
        let err = out
            .try_clone()
            .unwrap_or_else(|e| panic!("stdout file of {}: {e}", d.name));
        let mut cmd = Command::new(IP);
        cmd.args(["netns", "exec", &ns])
            .arg(&d.program)
            .args(&d.args)
            .current_dir(&d.dir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        let mut child = ChildGuard::spawn(&mut cmd);
        d.starts += 1;
        // `ip netns exec` enters the namespace and execs the program in
        // the same process: wait for that, so the PID we kill by is the
        // daemon's.
        let want = canonical(&d.program);
        let deadline = Instant::now() + EXEC_LIMIT;
        loop {
            if let Ok(Some(status)) = child.0.try_wait() {
                let text = std::fs::read_to_string(d.dir.join("stdout")).unwrap_or_default();
                panic!("{} exited at once with {status}:\n{text}", d.name);
            }
            let exe = std::fs::read_link(format!("/proc/{}/exe", child.pid()));
            if exe.is_ok_and(|e| canonical(&e) == want) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{}: pid {} did not become {} within {EXEC_LIMIT:?}",
                d.name,
                child.pid(),
                want.display()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        d.child = Some(child);
    }

    /// Kills daemon `id` with SIGKILL (and whatever it had forked), by PID.
    pub fn kill(&mut self, id: DaemonId) {
        if let Some(mut child) = self.daemons[id.0].child.take() {
            let forked = children(child.pid());
            let _ = child.0.kill();
            let _ = child.0.wait();
            for pid in forked {
                signal(pid, "-KILL");
            }
        }
    }

    /// True while daemon `id` runs (it has not exited by itself).
    pub fn is_running(&mut self, id: DaemonId) -> bool {
        match self.daemons[id.0].child.as_mut() {
            Some(c) => matches!(c.0.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// The PID of daemon `id` while it is started.
    pub fn pid(&self, id: DaemonId) -> Option<u32> {
        self.daemons[id.0].child.as_ref().map(ChildGuard::pid)
    }

    /// The directory of daemon `id`.
    pub fn dir_of(&self, id: DaemonId) -> &Path {
        &self.daemons[id.0].dir
    }

    /// "Power off" `host`: kill -9 every daemon on it and take its link
    /// down, so its addresses stop answering (connections time out rather
    /// than being refused).
    pub fn power_off(&mut self, host: HostId) {
        for i in 0..self.daemons.len() {
            if self.daemons[i].host == host.0 {
                self.kill(DaemonId(i));
            }
        }
        let ns = self.hosts[host.0].ns.clone();
        ip(&["-n", &ns, "link", "set", "eth0", "down"]);
    }

    /// "Power on" `host`: link up, then every daemon of the host that is
    /// not running is started again with its command line, in the order
    /// they were first spawned.
    pub fn power_on(&mut self, host: HostId) {
        let ns = self.hosts[host.0].ns.clone();
        ip(&["-n", &ns, "link", "set", "eth0", "up"]);
        for i in 0..self.daemons.len() {
            if self.daemons[i].host == host.0 && !self.is_running(DaemonId(i)) {
                self.daemons[i].child = None;
                self.start(DaemonId(i));
            }
        }
    }

    /// Splits the network in two: `side` and every other host. Inside
    /// each host's namespace an nftables table drops all traffic to and
    /// from the addresses of the other side (loopback is left alone, so
    /// the daemons of one host still talk to each other).
    pub fn partition(&mut self, side: &[HostId]) {
        let inside: Vec<bool> = (0..self.hosts.len())
            .map(|i| side.iter().any(|h| h.0 == i))
            .collect();
        for i in 0..self.hosts.len() {
            let peers: Vec<&str> = self
                .hosts
                .iter()
                .enumerate()
                .filter(|(j, _)| inside[*j] == inside[i])
                .flat_map(|(_, h)| h.addrs.iter().map(String::as_str))
                .collect();
            let set = peers.join(", ");
            let script = format!(
                "table inet {TABLE} {{\n\
                 \tchain input {{\n\
                 \t\ttype filter hook input priority 0; policy accept;\n\
                 \t\tiifname \"lo\" accept\n\
                 \t\tip saddr {{ {set} }} accept\n\
                 \t\tdrop\n\
                 \t}}\n\
                 \tchain output {{\n\
                 \t\ttype filter hook output priority 0; policy accept;\n\
                 \t\toifname \"lo\" accept\n\
                 \t\tip daddr {{ {set} }} accept\n\
                 \t\tdrop\n\
                 \t}}\n\
                 }}\n"
            );
            self.heal_host(i);
            let ns = self.hosts[i].ns.clone();
            let out = run_bounded_with_input(
                Command::new(IP).args(["netns", "exec", &ns, NFT, "-f", "-"]),
                script.as_bytes(),
                CMD_LIMIT,
            );
            if !out.status.success() {
                panic!(
                    "nft in {ns}: {}\n{}\nscript:\n{script}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            self.hosts[i].partitioned = true;
        }
    }

    /// Isolates `host` from every other host (see [`Lab::partition`]).
    pub fn isolate(&mut self, host: HostId) {
        self.partition(&[host]);
    }

    fn heal_host(&mut self, i: usize) {
        if self.hosts[i].partitioned {
            let ns = self.hosts[i].ns.clone();
            let out = run_bounded(
                Command::new(IP)
                    .args(["netns", "exec", &ns, NFT, "delete", "table", "inet", TABLE]),
                CMD_LIMIT,
            );
            if !out.status.success() {
                panic!(
                    "nft delete table in {ns}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            self.hosts[i].partitioned = false;
        }
    }

    /// Removes every partition rule.
    pub fn heal(&mut self) {
        for i in 0..self.hosts.len() {
            self.heal_host(i);
        }
    }

    /// A command to run `program` inside `host`'s namespace (for
    /// [`run_bounded`] or a [`ChildGuard`]).
    pub fn command(&self, host: HostId, program: &Path) -> Command {
        let mut cmd = Command::new(IP);
        cmd.args(["netns", "exec", self.ns(host)]).arg(program);
        cmd
    }

    /// Runs `program args` inside `host`'s namespace, bounded by `limit`.
    pub fn exec(&self, host: HostId, program: &Path, args: &[&str], limit: Duration) -> Output {
        run_bounded(self.command(host, program).args(args), limit)
    }

    /// Every daemon's files (configs as rewritten, logs, stdout), for a
    /// failure report.
    pub fn logs(&self) -> String {
        let mut text = String::new();
        for d in &self.daemons {
            let host = &self.hosts[d.host].name;
            let pid = d.child.as_ref().map(ChildGuard::pid);
            text.push_str(&format!(
                "===== {} on {host} ({} start(s), pid {pid:?}): {} {}\n",
                d.name,
                d.starts,
                d.program.display(),
                d.args.join(" ")
            ));
            let mut files: Vec<PathBuf> = std::fs::read_dir(&d.dir)
                .map(|rd| rd.flatten().map(|e| e.path()).collect())
                .unwrap_or_default();
            files.sort();
            for f in files {
                let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if name.ends_with(".conf") || name.ends_with(".log") || name == "stdout" {
                    let body = std::fs::read_to_string(&f).unwrap_or_default();
                    text.push_str(&format!("----- {}/{name}:\n{body}\n", d.name));
                }
            }
        }
        text
    }
}

impl Default for Lab {
    fn default() -> Lab {
        Lab::new()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "netns lab {}: logs of all daemons\n{}",
                self.name,
                self.logs()
            );
        }
        for i in 0..self.daemons.len() {
            self.kill(DaemonId(i));
        }
        for h in &self.hosts {
            delete_ns(&h.ns);
        }
        delete_ns(&self.switch);
    }
}
