//! `cargo xtask e2e`: the Debian packages from `cargo xtask deb`, proven on
//! a real Debian bookworm system (needs root; CI runs it after `test`):
//!
//! 1. layout: every path of our packages is one Debian's own packages
//!    have (the daemon binaries under /usr/libexec/redis/ excepted), and
//!    `lintian` finds no errors and only the warnings listed below;
//! 2. chroot: `dpkg -i` into a clean `debootstrap --variant=minbase` root
//!    puts user, directories, permissions and conffiles where Debian does;
//!    an edited conffile survives reinstalling; `dpkg -r` keeps configs,
//!    data and user; `dpkg -P` leaves the root exactly as before;
//! 3. boot: the root booted with `systemd-nspawn -b` (own network
//!    namespace, so ports 6379 and 26379 are the container's): install,
//!    both services are up and answer, `requirepass` + `systemctl restart`
//!    works, the sandbox never kills the server, SIGTERM stops it cleanly,
//!    the template unit runs a second instance, `systemd-analyze verify` is
//!    silent, logrotate keeps the log going; then seed 002's Sentinel
//!    scenario (see [`sentinel_checks`]): a failover to the replica and
//!    back, Sentinel's rewritten config, its sandbox, template, logrotate
//!    and SIGTERM;
//! 4. Debian's own three packages with edited configs, upgraded to ours
//!    and back: the edits are kept, the services answer each time,
//!    Sentinel keeps its ID across both daemons, and user and directories
//!    are the same under both.
//!
//! Commands run in the booted container through `nsenter` into its
//! namespaces: `machinectl`/`systemd-run --machine` need the container
//! registered with a host systemd, which CI machines do not have.
//!
//! The debootstrap root is cached in `target/e2e/base` (delete it to
//! refresh); each run works on copies.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::deb::{self, capture, run_cmd, Built};

/// Packages the base root gets besides minbase: systemd to boot, adduser
/// for our redis-tools (and Debian's), the libraries of Debian's redis
/// (installed later with `dpkg -i` for the upgrade test), logrotate.
const BASE_PACKAGES: &[&str] = &[
    "systemd",
    "systemd-sysv",
    "dbus",
    "adduser",
    "logrotate",
    "lsb-base",
    "libjemalloc2",
    "liblzf1",
    "libssl3",
    "libatomic1",
    "libsystemd0",
];

const MIRROR: &str = "http://deb.debian.org/debian";

/// Lintian warnings we accept (errors never are), with the reason.
const ACCEPTED_LINTIAN: &[(&str, &str)] = &[
    // Wants debhelper's debian/*.maintscript files; we build without
    // debhelper, so the maintainer scripts call the helper themselves,
    // exactly the lines debhelper would generate.
    (
        "maintainer-script-should-not-use-dpkg-maintscript-helper",
        "no debhelper",
    ),
    // For uploads to Debian's archive, which these packages never are.
    ("initial-upload-closes-no-bugs", "not uploaded to Debian"),
];

const PASSWORD: &str = "e2e-secret";

/// `cargo xtask e2e`.
pub fn run(args: &[String]) -> Result<(), String> {
    if !args.is_empty() {
        return Err("usage: cargo xtask e2e".into());
    }
    let start = Instant::now();
    if capture(Command::new("id").arg("-u"))? != "0" {
        return Err("e2e needs root (debootstrap, chroot, systemd-nspawn)".into());
    }
    ensure_tools()?;
    let work = crate::repo_root().join("target/e2e");
    mkdir(&work)?;
    let base = work.join("base");
    // Fetching the root is network-bound, building is CPU-bound: overlap.
    let mut bootstrap = if base.join("etc/os-release").is_file() {
        None
    } else {
        Some(start_debootstrap(&work)?)
    };
    let built = deb::build();
    if let Some(child) = bootstrap.take() {
        finish_debootstrap(child, &work)?;
    }
    let built = built?;
    let debian_debs = download_debian(&work)?;
    step("layout vs Debian", || check_layout(&built, &debian_debs))?;
    step("lintian", || lintian(&built))?;
    step("chroot install/remove/purge", || {
        chroot_phase(&work, &built)
    })?;
    step("booted system", || boot_phase(&work, &built, &debian_debs))?;
    println!("e2e: all passed in {:.0?}", start.elapsed());
    Ok(())
}

fn step(name: &str, f: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    let t = Instant::now();
    println!("e2e: {name} ...");
    f().map_err(|e| format!("{name}: {e}"))?;
    println!("e2e: {name}: ok ({:.1?})", t.elapsed());
    Ok(())
}

/// Installs debootstrap, systemd-nspawn, lintian and the packaging tools
/// when missing.
fn ensure_tools() -> Result<(), String> {
    let needed = [
        ("/usr/sbin/debootstrap", "debootstrap"),
        ("/usr/bin/systemd-nspawn", "systemd-container"),
        ("/usr/bin/lintian", "lintian"),
        ("/usr/bin/dpkg-shlibdeps", "dpkg-dev"),
        ("/usr/bin/strip", "binutils"),
        ("/usr/bin/nsenter", "util-linux"),
    ];
    let missing: Vec<&str> = needed
        .iter()
        .filter(|(p, _)| !Path::new(p).exists())
        .map(|(_, pkg)| *pkg)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    run_cmd(Command::new("apt-get").arg("update"))?;
    run_cmd(
        Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

fn start_debootstrap(work: &Path) -> Result<Child, String> {
    let tmp = work.join("base.tmp");
    if tmp.exists() {
        remove(&tmp)?;
    }
    println!("e2e: debootstrap bookworm (cached in {})", work.display());
    let log = fs::File::create(work.join("debootstrap.log")).map_err(|e| e.to_string())?;
    let log2 = log.try_clone().map_err(|e| e.to_string())?;
    Command::new("debootstrap")
        .args([
            "--variant=minbase",
            &format!("--include={}", BASE_PACKAGES.join(",")),
        ])
        .arg("bookworm")
        .arg(&tmp)
        .arg(MIRROR)
        .stdout(log)
        .stderr(log2)
        .spawn()
        .map_err(|e| format!("debootstrap: {e}"))
}

fn finish_debootstrap(mut child: Child, work: &Path) -> Result<(), String> {
    let status = child.wait().map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!(
            "debootstrap failed ({status}); see {}",
            work.join("debootstrap.log").display()
        ));
    }
    // apt's package cache is not needed in the copies.
    let _ = Command::new("chroot")
        .arg(work.join("base.tmp"))
        .args(["apt-get", "clean"])
        .status();
    fs::rename(work.join("base.tmp"), work.join("base")).map_err(|e| e.to_string())
}

/// Debian's own redis-tools, redis-server and redis-sentinel `.deb`s.
fn download_debian(work: &Path) -> Result<BTreeMap<String, PathBuf>, String> {
    let dir = work.join("debian-debs");
    mkdir(&dir)?;
    let pkgs = ["redis-tools", "redis-server", "redis-sentinel"];
    let find = |dir: &Path| -> BTreeMap<String, PathBuf> {
        let mut m = BTreeMap::new();
        for e in fs::read_dir(dir).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if let Some((pkg, _)) = name.split_once('_') {
                if name.ends_with(".deb") {
                    m.insert(pkg.to_string(), e.path());
                }
            }
        }
        m
    };
    let have = find(&dir);
    if pkgs.iter().all(|p| have.contains_key(*p)) {
        return Ok(have);
    }
    let download = || {
        Command::new("apt-get")
            .arg("download")
            .args(pkgs)
            .current_dir(&dir)
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    if !download() {
        run_cmd(Command::new("apt-get").arg("update"))?;
        if !download() {
            return Err("apt-get download redis-server redis-tools redis-sentinel failed".into());
        }
    }
    Ok(find(&dir))
}

/// Paths in a `.deb` (no leading `./`, no trailing `/`).
fn deb_paths(deb: &Path) -> Result<BTreeSet<String>, String> {
    let out = capture(Command::new("dpkg-deb").arg("-c").arg(deb))?;
    let mut set = BTreeSet::new();
    for line in out.lines() {
        // mode owner size date time path [-> target]
        let Some(path) = line.split_whitespace().nth(5) else {
            continue;
        };
        let path = path.trim_start_matches("./").trim_end_matches('/');
        if !path.is_empty() {
            set.insert(path.to_string());
        }
    }
    Ok(set)
}

/// Packages Debian does not ship.
const OURS_ONLY_PACKAGES: &[&str] = &["redis-proxy"];

/// Every path of ours is one of Debian's, except the daemons' home.
fn check_layout(built: &[Built], debian: &BTreeMap<String, PathBuf>) -> Result<(), String> {
    let ours_only_ok = |p: &str| p == "usr/libexec" || p.starts_with("usr/libexec/redis");
    let mut problems = Vec::new();
    for b in built {
        // Packages of our own (redis-proxy) have no Debian counterpart to
        // compare with; every other package must have one.
        if OURS_ONLY_PACKAGES.contains(&b.package.as_str()) {
            println!(
                "e2e:   {}: ours only, no Debian package to compare",
                b.package
            );
            continue;
        }
        let theirs = debian
            .get(&b.package)
            .ok_or_else(|| format!("no Debian package {}", b.package))?;
        let ours = deb_paths(&b.path)?;
        let theirs = deb_paths(theirs)?;
        for p in ours.difference(&theirs) {
            if !ours_only_ok(p) {
                problems.push(format!("{}: {p} is not in Debian's package", b.package));
            }
        }
        let missing: Vec<&String> = theirs.difference(&ours).collect();
        println!(
            "e2e:   {}: {} paths; Debian's has {} more: {}",
            b.package,
            ours.len(),
            missing.len(),
            missing
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        );
        // The control fields that make the packages interchangeable.
        let info = capture(Command::new("dpkg-deb").arg("-f").arg(&b.path))?;
        if !info.contains("Section: database") {
            problems.push(format!("{}: section", b.package));
        }
    }
    // Ours must sort above Debian's so `dpkg -i`/apt treat it as upgrade.
    let ours = capture(
        Command::new("dpkg-deb")
            .arg("-f")
            .arg(&built[0].path)
            .arg("Version"),
    )?;
    let tools = debian.get("redis-tools").ok_or("no Debian redis-tools")?;
    let theirs = capture(Command::new("dpkg-deb").arg("-f").arg(tools).arg("Version"))?;
    let newer = Command::new("dpkg")
        .args(["--compare-versions", &ours, "gt", &theirs])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !newer {
        problems.push(format!("version {ours} is not above Debian's {theirs}"));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

fn lintian(built: &[Built]) -> Result<(), String> {
    let out = Command::new("lintian")
        .args(["--allow-root", "--tag-display-limit", "0"])
        .args(built.iter().map(|b| &b.path))
        .output()
        .map_err(|e| format!("lintian: {e}"))?;
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let mut bad = Vec::new();
    for line in text.lines() {
        // "E: pkg: tag extra" / "W: pkg: tag extra"
        let severity = line.get(..2).unwrap_or_default();
        if severity != "E:" && severity != "W:" {
            continue;
        }
        let tag = line.split_whitespace().nth(2).unwrap_or_default();
        if severity == "E:" || !ACCEPTED_LINTIAN.iter().any(|(t, _)| *t == tag) {
            bad.push(line.to_string());
        } else {
            println!("e2e:   accepted: {line}");
        }
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(bad.join("\n"))
    }
}

/// A fresh copy of the cached base root.
fn fresh_root(work: &Path, name: &str) -> Result<PathBuf, String> {
    let root = work.join(name);
    if root.exists() {
        remove(&root)?;
    }
    run_cmd(
        Command::new("cp")
            .args(["-a", "--reflink=auto"])
            .arg(work.join("base"))
            .arg(&root),
    )?;
    let debs = root.join("var/cache/e2e-debs");
    mkdir(&debs)?;
    Ok(root)
}

fn copy_debs(root: &Path, debs: &[&Path]) -> Result<Vec<String>, String> {
    let mut inside = Vec::new();
    for d in debs {
        let name = d
            .file_name()
            .ok_or("deb name")?
            .to_string_lossy()
            .to_string();
        fs::copy(d, root.join("var/cache/e2e-debs").join(&name)).map_err(|e| e.to_string())?;
        inside.push(format!("/var/cache/e2e-debs/{name}"));
    }
    Ok(inside)
}

/// Runs `script` with `sh -e` in the chroot; returns its output or the
/// failure. (`sh -e` ignores a failing `! cmd`: scripts write
/// `! cmd || exit 1`.)
fn chroot_sh(root: &Path, script: &str) -> Result<String, String> {
    let out = Command::new("chroot")
        .arg(root)
        .args(["/usr/bin/env", "-i"])
        .args(CLEAN_ENV)
        .args(["/bin/sh", "-ec", script])
        .output()
        .map_err(|e| format!("chroot: {e}"))?;
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!("{script}\n=> {}:\n{text}", out.status))
    }
}

const CLEAN_ENV: &[&str] = &[
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME=/root",
    "LANG=C.UTF-8",
    "DEBIAN_FRONTEND=noninteractive",
];

/// Owner, group and mode of the paths Debian's maintainer scripts set up,
/// and the user's shape; uids are left out (they depend on what else
/// exists).
const FACTS: &str = r#"
getent passwd redis | awk -F: '{print "user", $1, $5, $6, $7}'
getent group redis | awk -F: '{print "group", $1}'
for p in /var/lib/redis /var/log/redis /etc/redis /etc/redis/redis.conf /etc/redis/sentinel.conf \
    /usr/bin/redis-server /usr/bin/redis-sentinel /usr/bin/redis-cli; do
  stat -c 'path %n %U %G %a %F' "$p"
done
test -x /usr/bin/redis-server && echo server-executable
test -x /usr/bin/redis-sentinel && echo sentinel-executable
for f in /etc/redis/redis.conf /etc/redis/sentinel.conf; do
  dpkg-statoverride --list "$f" | sed 's/^/override /'
done
dpkg-query -W -f='${Conffiles}\n' redis-server redis-sentinel | awk '$1 ~ /^\/etc\/(redis|logrotate)/ {print "conffile", $1}'
"#;

/// The install-time facts both Debian's packages and ours must produce.
const EXPECTED_FACTS: &[&str] = &[
    "user redis  /var/lib/redis /usr/sbin/nologin",
    "group redis",
    "path /var/lib/redis redis redis 750 directory",
    "path /var/log/redis redis adm 2750 directory",
    "path /etc/redis redis redis 2770 directory",
    "path /etc/redis/redis.conf redis redis 640 regular file",
    "path /etc/redis/sentinel.conf redis redis 640 regular file",
    "path /usr/bin/redis-server root root 777 symbolic link",
    "path /usr/bin/redis-sentinel root root 777 symbolic link",
    "path /usr/bin/redis-cli root root 755 regular file",
    "server-executable",
    "sentinel-executable",
    "override redis redis 640 /etc/redis/redis.conf",
    "override redis redis 640 /etc/redis/sentinel.conf",
    "conffile /etc/logrotate.d/redis-server",
    "conffile /etc/redis/redis.conf",
    "conffile /etc/logrotate.d/redis-sentinel",
    "conffile /etc/redis/sentinel.conf",
];

fn check_facts(out: &str) -> Result<(), String> {
    let got: BTreeSet<&str> = out
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let want: BTreeSet<&str> = EXPECTED_FACTS.iter().copied().collect();
    if got == want {
        return Ok(());
    }
    Err(format!(
        "install facts differ from Debian's:\n missing: {:?}\n unexpected: {:?}",
        want.difference(&got).collect::<Vec<_>>(),
        got.difference(&want).collect::<Vec<_>>()
    ))
}

/// Everything under `root` that a package could leave behind: type, mode,
/// owner, and content hash for regular files. Logs, caches and dpkg's own
/// database are not part of "the system as before".
fn snapshot(root: &Path) -> Result<BTreeSet<String>, String> {
    let out = capture(
        Command::new("find")
            .arg(root)
            .args(["-xdev", "(", "-path"])
            .arg(root.join("proc"))
            .args(["-o", "-path"])
            .arg(root.join("sys"))
            .args(["-o", "-path"])
            .arg(root.join("dev"))
            .args(["-o", "-path"])
            .arg(root.join("run"))
            .args(["-o", "-path"])
            .arg(root.join("tmp"))
            .args(["-o", "-path"])
            .arg(root.join("var/lib/dpkg"))
            .args(["-o", "-path"])
            .arg(root.join("var/log"))
            .args(["-o", "-path"])
            .arg(root.join("var/cache"))
            .args([")", "-prune", "-o", "-printf", "%P %y %m %u %g\\n"]),
    )?;
    let mut set: BTreeSet<String> = out
        .lines()
        .filter(|l| !is_backup(l))
        .map(str::to_string)
        .collect();
    let sums = capture(
        Command::new("sh")
            .arg("-c")
            .arg("cd \"$1\" && find etc -type f -exec md5sum {} +")
            .arg("sh")
            .arg(root),
    )?;
    set.extend(
        sums.lines()
            .filter(|l| !is_backup(l))
            .map(|l| format!("md5 {l}")),
    );
    Ok(set)
}

/// shadow's backup copies (`/etc/passwd-` …) and its lock file change
/// whenever a user is added or removed, even when the result is the same.
fn is_backup(line: &str) -> bool {
    line.split_whitespace().any(|w| {
        let w = w.trim_start_matches("etc/");
        matches!(
            w,
            "passwd-" | "group-" | "shadow-" | "gshadow-" | "subuid-" | "subgid-" | ".pwd.lock"
        )
    })
}

fn diff_snapshots(before: &BTreeSet<String>, after: &BTreeSet<String>) -> Result<(), String> {
    if before == after {
        return Ok(());
    }
    let gone: Vec<&String> = before.difference(after).take(20).collect();
    let new: Vec<&String> = after.difference(before).take(20).collect();
    Err(format!(
        "purge did not restore the system:\n  missing now: {gone:?}\n  left behind: {new:?}"
    ))
}

/// Our package names, dependents first (the order `dpkg -r` wants).
fn removal_order(built: &[Built]) -> String {
    let names: Vec<&str> = built.iter().rev().map(|b| b.package.as_str()).collect();
    names.join(" ")
}

fn chroot_phase(work: &Path, built: &[Built]) -> Result<(), String> {
    let names = removal_order(built);
    let root = fresh_root(work, "root-chroot")?;
    let debs = copy_debs(
        &root,
        &built.iter().map(|b| b.path.as_path()).collect::<Vec<_>>(),
    )?;
    let before = snapshot(&root)?;
    chroot_sh(&root, &format!("dpkg -i {}", debs.join(" ")))?;
    check_facts(&chroot_sh(&root, FACTS)?)?;
    // Enabled like Debian's: the wants links and the redis.service and
    // sentinel.service aliases.
    chroot_sh(
        &root,
        "test -L /etc/systemd/system/multi-user.target.wants/redis-server.service
         test -L /etc/systemd/system/redis.service
         test -f /lib/systemd/system/redis-server@.service
         test -f /etc/logrotate.d/redis-server
         test -L /etc/systemd/system/multi-user.target.wants/redis-sentinel.service
         test -L /etc/systemd/system/sentinel.service
         test -f /lib/systemd/system/redis-sentinel@.service
         test -f /etc/logrotate.d/redis-sentinel
         readlink /usr/bin/redis-sentinel | grep -qx ../libexec/redis/redis-sentinel
         /usr/bin/redis-server --check-config /etc/redis/redis.conf
         /usr/bin/redis-sentinel --check-config /etc/redis/sentinel.conf | grep -q 'Configuration OK'
         /usr/bin/redis-sentinel --version | grep -q redis-rs
         /usr/bin/redis-cli --version",
    )?;
    // User edits survive reinstalling the packages.
    chroot_sh(
        &root,
        &format!(
            "echo 'maxmemory 64mb # e2e edit' >> /etc/redis/redis.conf
             echo '# e2e edit' >> /etc/redis/sentinel.conf
             dpkg -i {}
             grep -q 'e2e edit' /etc/redis/redis.conf
             grep -q 'e2e edit' /etc/redis/sentinel.conf
             test ! -e /etc/redis/redis.conf.dpkg-dist
             test ! -e /etc/redis/sentinel.conf.dpkg-dist",
            debs.join(" ")
        ),
    )?;
    // remove: programs and units gone; configs, data, logs, user stay.
    chroot_sh(
        &root,
        &format!(
            "dpkg -r {names}
         test ! -e /usr/bin/redis-server && test ! -e /usr/bin/redis-cli
         test ! -e /usr/bin/redis-sentinel
         test ! -e /usr/libexec/redis && test ! -e /lib/systemd/system/redis-server.service
         test ! -e /lib/systemd/system/redis-sentinel.service
         grep -q 'e2e edit' /etc/redis/redis.conf
         grep -q 'e2e edit' /etc/redis/sentinel.conf
         test -d /var/lib/redis && test -d /var/log/redis
         getent passwd redis >/dev/null
         dpkg-query -W -f='${{db:Status-Abbrev}}' redis-server | grep -q '^rc'
         dpkg-query -W -f='${{db:Status-Abbrev}}' redis-sentinel | grep -q '^rc'"
        ),
    )?;
    chroot_sh(&root, &format!("dpkg -P {names}"))?;
    let after = snapshot(&root)?;
    diff_snapshots(&before, &after)?;
    remove(&root)
}

/// A booted container and how to run commands in it.
struct Booted {
    nspawn: Child,
    pid: u32,
}

impl Booted {
    fn start(root: &Path, log: &Path) -> Result<Booted, String> {
        let logf = fs::File::create(log).map_err(|e| e.to_string())?;
        let logf2 = logf.try_clone().map_err(|e| e.to_string())?;
        let nspawn = Command::new("systemd-nspawn")
            .args([
                "-b",
                "--register=no",
                "--keep-unit",
                "--private-network",
                "-D",
            ])
            .arg(root)
            .stdin(Stdio::null())
            .stdout(logf)
            .stderr(logf2)
            .spawn()
            .map_err(|e| format!("systemd-nspawn: {e}"))?;
        let mut booted = Booted { nspawn, pid: 0 };
        match booted.wait_boot(log) {
            Ok(()) => Ok(booted),
            Err(e) => {
                booted.shutdown();
                Err(e)
            }
        }
    }

    /// Finds the container's PID 1 and waits until its boot is done.
    fn wait_boot(&mut self, log: &Path) -> Result<(), String> {
        let booted = self;
        let deadline = Instant::now() + Duration::from_secs(90);
        // The container's PID 1 is nspawn's child, running systemd.
        while booted.pid == 0 {
            if Instant::now() > deadline {
                return Err(format!("container did not start; see {}", log.display()));
            }
            if let Ok(Some(status)) = booted.nspawn.try_wait() {
                return Err(format!(
                    "systemd-nspawn exited {status}; see {}",
                    log.display()
                ));
            }
            let kids = capture(Command::new("pgrep").args(["-P", &booted.nspawn.id().to_string()]))
                .unwrap_or_default();
            // nspawn forks helpers first: wait for the one that became
            // the container's systemd.
            let init = kids
                .lines()
                .filter_map(|l| l.trim().parse::<u32>().ok())
                .find(|pid| {
                    fs::read_to_string(format!("/proc/{pid}/comm"))
                        .is_ok_and(|c| c.trim() == "systemd")
                });
            if let Some(pid) = init {
                booted.pid = pid;
            } else {
                sleep(Duration::from_millis(200));
            }
        }
        loop {
            let state = booted.sh_status("systemctl is-system-running || true");
            let state = state.1.trim().to_string();
            if state == "running" {
                break;
            }
            if state == "degraded" {
                let failed = booted.sh_status("systemctl --failed --no-legend --plain");
                println!("e2e:   boot degraded (not ours): {}", failed.1.trim());
                break;
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "boot did not finish ({state}); see {}",
                    log.display()
                ));
            }
            sleep(Duration::from_millis(500));
        }
        Ok(())
    }

    /// Runs a shell script in the container; (success, output).
    fn sh_status(&self, script: &str) -> (bool, String) {
        let out = Command::new("nsenter")
            .args([
                "-t",
                &self.pid.to_string(),
                "-m",
                "-u",
                "-i",
                "-n",
                "-p",
                "--",
            ])
            .args(["/usr/bin/env", "-i"])
            .args(CLEAN_ENV)
            .args(["/bin/sh", "-ec", script])
            .output();
        match out {
            Ok(o) => (
                o.status.success(),
                String::from_utf8_lossy(&o.stdout).to_string()
                    + &String::from_utf8_lossy(&o.stderr),
            ),
            Err(e) => (false, format!("nsenter: {e}")),
        }
    }

    fn sh(&self, script: &str) -> Result<String, String> {
        match self.sh_status(script) {
            (true, out) => Ok(out),
            (false, out) => {
                let journal = self
                    .sh_status("journalctl --no-pager -n 40 -u 'redis*' || true")
                    .1;
                Err(format!("{script}\n=> failed:\n{out}\njournal:\n{journal}"))
            }
        }
    }

    fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        // nspawn turns SIGTERM into an orderly poweroff of the container.
        let _ = Command::new("kill")
            .args(["-TERM", &self.nspawn.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.nspawn.try_wait() {
                return;
            }
            sleep(Duration::from_millis(200));
        }
        let _ = self.nspawn.kill();
        let _ = self.nspawn.wait();
    }
}

/// Waits for `redis-cli {args} ping` to answer PONG.
fn wait_pong(c: &Booted, args: &str) -> Result<(), String> {
    c.sh(&format!(
        "i=0; until [ \"$(redis-cli {args} ping 2>/dev/null)\" = PONG ]; do
           i=$((i+1)); [ $i -lt 100 ] || {{ redis-cli {args} ping; exit 1; }}; sleep 0.1
         done"
    ))
    .map(|_| ())
}

/// The service is active, never restarted, and its main process is the
/// binary we expect (`redis-rs` in `--version` or not).
fn check_service(c: &Booted, unit: &str, ours: bool) -> Result<(), String> {
    let out = c.sh(&format!(
        "systemctl is-active {unit}
         systemctl show -p NRestarts --value {unit}
         pid=$(systemctl show -p MainPID --value {unit})
         exe=$(readlink /proc/$pid/exe)
         echo \"exe=$exe user=$(stat -c %U /proc/$pid)\"
         \"$exe\" --version"
    ))?;
    let lines: Vec<&str> = out.lines().collect();
    if lines.first() != Some(&"active") || lines.get(1) != Some(&"0") {
        return Err(format!("{unit} not running cleanly:\n{out}"));
    }
    if !out.contains(" user=redis") {
        return Err(format!("{unit}: server not running as redis:\n{out}"));
    }
    if out.contains("redis-rs") != ours {
        return Err(format!("{unit}: wrong server (ours={ours}):\n{out}"));
    }
    Ok(())
}

fn boot_phase(
    work: &Path,
    built: &[Built],
    debian: &BTreeMap<String, PathBuf>,
) -> Result<(), String> {
    let root = fresh_root(work, "root-boot")?;
    // Dependents first, the order apt unpacks them in: our redis-tools
    // Breaks Debian's redis-sentinel, so over Debian's packages plain
    // `dpkg -i` must unpack our redis-sentinel before our redis-tools.
    let ours = copy_debs(
        &root,
        &built
            .iter()
            .rev()
            .map(|b| b.path.as_path())
            .collect::<Vec<_>>(),
    )?;
    let theirs_paths: Vec<&Path> = built
        .iter()
        .filter_map(|b| debian.get(&b.package).map(PathBuf::as_path))
        .collect();
    let theirs = copy_debs(&root, &theirs_paths)?;
    let names = removal_order(built);
    let c = Booted::start(&root, &work.join("boot.log"))?;
    let result = boot_checks(&c, &ours.join(" "), &names)
        .and_then(|()| upgrade_checks(&c, &ours.join(" "), &theirs.join(" "), &names));
    c.stop();
    result?;
    remove(&root)
}

/// Our packages on a booted system: install, both daemons under their
/// sandboxes, the Sentinel failover scenario, remove and purge.
fn boot_checks(c: &Booted, ours: &str, names: &str) -> Result<(), String> {
    // Install: the postinst enables and starts the services.
    c.sh(&format!("dpkg -i {ours}"))?;
    wait_pong(c, "")?;
    check_service(c, "redis-server", true)?;
    // Sentinel starts on the packaged config (monitoring a `mymaster` at
    // 127.0.0.1:6379), exactly like Debian's package.
    wait_pong(c, "-p 26379")?;
    check_service(c, "redis-sentinel", true)?;
    check_facts(&c.sh(FACTS)?)?;
    // `redis-server --sentinel` hands over to the redis-sentinel beside it
    // (found through /proc/self/exe, so not checked in the chroot), as
    // Debian's multi-call binary does.
    c.sh("redis-server /etc/redis/sentinel.conf --sentinel --check-config | grep -qx 'Configuration OK'
          stat -c '%U %G %a' /run/redis | grep -qx 'redis redis 2755'
          test -s /run/redis/redis-server.pid
          systemctl is-enabled redis-server | grep -qx enabled
          stat -c '%U %G %a' /run/sentinel | grep -qx 'redis redis 2755'
          test -s /run/sentinel/redis-sentinel.pid
          systemctl is-enabled redis-sentinel | grep -qx enabled")?;
    // The units verify cleanly on the system they are installed on.
    // minbase has no `man`, so the Documentation= page is checked by hand.
    let verify = c.sh("test -s /usr/share/man/man1/redis-server.1.gz
         test -s /usr/share/man/man1/redis-sentinel.1.gz
         systemd-analyze verify --man=no /lib/systemd/system/redis-server.service \
         /lib/systemd/system/redis-server@.service \
         /lib/systemd/system/redis-sentinel.service \
         /lib/systemd/system/redis-sentinel@.service 2>&1")?;
    if !verify.trim().is_empty() {
        return Err(format!("systemd-analyze verify:\n{verify}"));
    }
    // Work the server a little inside its sandbox (writes, INFO, CONFIG,
    // a save into /var/lib/redis when persistence exists).
    c.sh("redis-cli set e2e:key hello | grep -qx OK
          redis-cli get e2e:key | grep -qx hello
          redis-cli info server | grep -q '^redis_version:'
          redis-cli config set maxmemory 100mb | grep -qx OK
          redis-cli save >/dev/null 2>&1 || true
          redis-cli client list >/dev/null")?;
    check_service(c, "redis-server", true)?;
    // The HA-guide workflow: edit the config, restart, authenticate.
    c.sh(&format!(
        "echo 'requirepass {PASSWORD}' >> /etc/redis/redis.conf
         systemctl restart redis-server"
    ))?;
    wait_pong(c, &format!("--no-auth-warning -a {PASSWORD}"))?;
    c.sh("redis-cli ping 2>&1 | grep -q NOAUTH")?;
    check_service(c, "redis-server", true)?;
    // A broken config is refused before start, with the server's message.
    c.sh("cp /etc/redis/redis.conf /root/redis.conf.good
          echo 'no-such-directive yes' >> /etc/redis/redis.conf
          ! systemctl restart redis-server || exit 1
          journalctl --no-pager -u redis-server | grep -qi 'no-such-directive'
          cp /root/redis.conf.good /etc/redis/redis.conf
          chown redis:redis /etc/redis/redis.conf
          systemctl reset-failed redis-server
          systemctl restart redis-server")?;
    wait_pong(c, &format!("--no-auth-warning -a {PASSWORD}"))?;
    // Template instance: a second server with its own config.
    c.sh("sed -e 's/^port .*/port 6380/' \
              -e 's#^pidfile .*#pidfile /run/redis-e2e/redis-server.pid#' \
              -e 's#^logfile .*#logfile /var/log/redis/redis-server-e2e.log#' \
              -e 's/^dbfilename .*/dbfilename dump-e2e.rdb/' \
              -e '/^requirepass/d' \
              /etc/redis/redis.conf > /etc/redis/redis-e2e.conf
          chown redis:redis /etc/redis/redis-e2e.conf
          chmod 640 /etc/redis/redis-e2e.conf
          systemctl start redis-server@e2e")?;
    wait_pong(c, "-p 6380")?;
    check_service(c, "redis-server@e2e", true)?;
    c.sh("systemctl stop redis-server@e2e
          rm -f /etc/redis/redis-e2e.conf /var/log/redis/redis-server-e2e.log /var/lib/redis/dump-e2e.rdb")?;
    // logrotate (copytruncate): the server keeps logging to the same file,
    // so its shutdown lines below must land in the fresh redis-server.log.
    c.sh("test -s /var/log/redis/redis-server.log
          logrotate -f /etc/logrotate.d/redis-server
          test -s /var/log/redis/redis-server.log.1
          test ! -s /var/log/redis/redis-server.log")?;
    // SIGTERM (systemctl stop) ends the server cleanly: exit status 0.
    c.sh("systemctl stop redis-server
          systemctl show -p Result --value redis-server | grep -qx success
          systemctl show -p ExecMainStatus --value redis-server | grep -qx 0
          test ! -e /run/redis")?;
    // The shutdown sequence is about six lines (signal, request, final save,
    // pid file, bye): look at enough of the tail.
    let stopped_log = c.sh("tail -20 /var/log/redis/redis-server.log")?;
    if !stopped_log.contains("Received SIGTERM") {
        return Err(format!("no SIGTERM shutdown in the log:\n{stopped_log}"));
    }
    c.sh("systemctl start redis-server")?;
    wait_pong(c, &format!("--no-auth-warning -a {PASSWORD}"))?;
    step("sentinel failover (seed 002)", || sentinel_checks(c))?;
    // Remove stops the services; purge clears everything.
    c.sh(&format!(
        "dpkg -r {names}
          ! systemctl is-active redis-server || exit 1
          ! systemctl is-active redis-sentinel || exit 1
          dpkg -P {names}
          ! getent passwd redis || exit 1
          test ! -e /etc/redis && test ! -e /var/lib/redis && test ! -e /var/log/redis"
    ))
    .map(|_| ())
}

/// Debian's own packages with edited configs, upgraded to ours and back:
/// the edits are kept, the services answer each time on the other side's
/// binaries, Sentinel keeps its identity, and user and directories are
/// the same under both.
fn upgrade_checks(c: &Booted, ours: &str, theirs: &str, names: &str) -> Result<(), String> {
    let auth = format!("--no-auth-warning -a {PASSWORD}");
    c.sh(&format!("dpkg -i {theirs}"))?;
    wait_pong(c, "")?;
    check_service(c, "redis-server", false)?;
    wait_pong(c, "-p 26379")?;
    check_service(c, "redis-sentinel", false)?;
    // Both packages must set the system up identically.
    check_facts(&c.sh(FACTS)?)?;
    // Sentinel rewrites its file while it runs, so it is edited stopped.
    // Debian's daemon dropped the default `down-after-milliseconds` line
    // when it first saved the file: the edit adds one.
    c.sh(&format!(
        "echo 'requirepass {PASSWORD}' >> /etc/redis/redis.conf
         systemctl restart redis-server
         systemctl stop redis-sentinel
         echo 'sentinel down-after-milliseconds mymaster 20000' >> /etc/redis/sentinel.conf
         systemctl start redis-sentinel"
    ))?;
    wait_pong(c, &auth)?;
    wait_pong(c, "-p 26379")?;
    let sentinel_facts = "redis-cli -p 26379 sentinel myid
         redis-cli -p 26379 sentinel master mymaster | sed -n '/^down-after-milliseconds$/{n;p}'";
    let debian_facts = c.sh(sentinel_facts)?;
    if !debian_facts.ends_with("\n20000\n") {
        return Err(format!(
            "Debian's sentinel did not take the edit:\n{debian_facts}"
        ));
    }
    // Upgrade to ours. dpkg asks about the edited conffiles (sentinel.conf
    // is always "modified": the daemon rewrote it); keeping the admin's
    // version is the default answer (what apt's users get too).
    c.sh(&format!(
        "dpkg -i --force-confdef --force-confold {ours}
         test ! -e /etc/init.d/redis-server
         ! ls /etc/rc?.d/*redis-server >/dev/null 2>&1 || exit 1
         test ! -e /etc/init.d/redis-sentinel
         ! ls /etc/rc?.d/*redis-sentinel >/dev/null 2>&1 || exit 1"
    ))?;
    wait_pong(c, &auth)?;
    check_service(c, "redis-server", true)?;
    // Ours reads the file Debian's daemon wrote: same ID, same settings.
    wait_pong(c, "-p 26379")?;
    check_service(c, "redis-sentinel", true)?;
    let our_facts = c.sh(sentinel_facts)?;
    if our_facts != debian_facts {
        return Err(format!(
            "our sentinel lost state over the upgrade:\nDebian's: {debian_facts}\nours: {our_facts}"
        ));
    }
    c.sh(&format!(
        "grep -qx 'requirepass {PASSWORD}' /etc/redis/redis.conf
         test -e /etc/redis/redis.conf.dpkg-dist
         grep -qx 'sentinel down-after-milliseconds mymaster 20000' /etc/redis/sentinel.conf
         test -e /etc/redis/sentinel.conf.dpkg-dist
         redis-cli {auth} get e2e:key >/dev/null"
    ))?;
    check_facts(&c.sh(FACTS)?)?;
    // And back to Debian's (a downgrade for dpkg: ours sort higher).
    // Packages Debian's set here lacks go first: they depend on exactly our
    // redis-tools.
    let extra: Vec<&str> = names
        .split(' ')
        .filter(|n| !theirs.contains(&format!("/{n}_")))
        .collect();
    if !extra.is_empty() {
        c.sh(&format!("dpkg -P {}", extra.join(" ")))?;
    }
    c.sh(&format!("dpkg -i --force-confdef --force-confold {theirs}"))?;
    wait_pong(c, &auth)?;
    check_service(c, "redis-server", false)?;
    // Debian's reads what ours wrote.
    wait_pong(c, "-p 26379")?;
    check_service(c, "redis-sentinel", false)?;
    let back_facts = c.sh(sentinel_facts)?;
    if back_facts != debian_facts {
        return Err(format!(
            "Debian's sentinel lost state over the downgrade:\nbefore: {debian_facts}\nnow: {back_facts}"
        ));
    }
    c.sh(&format!(
        "grep -qx 'requirepass {PASSWORD}' /etc/redis/redis.conf
         test -x /etc/init.d/redis-server
         test -x /etc/init.d/redis-sentinel
         test ! -e /usr/libexec/redis"
    ))?;
    c.sh(&format!("dpkg -P {names}")).map(|_| ())
}

/// What to show when a Sentinel step fails: the daemons log to files, so
/// the journal holds only systemd's side.
const SENTINEL_DIAG: &str = r#"
for u in redis-sentinel redis-server redis-server@replica; do
  echo "--- journalctl -u $u"; journalctl --no-pager -n 25 -u "$u" || true
done
for f in /var/log/redis/redis-sentinel.log /var/log/redis/redis-server.log \
    /var/log/redis/redis-server-replica.log; do
  echo "--- $f"; tail -n 40 "$f" || true
done
echo "--- /etc/redis/sentinel.conf"; grep -iv '^#' /etc/redis/sentinel.conf | grep -v '^$' || true
"#;

/// `c.sh(script)` with [`SENTINEL_DIAG`] on failure.
fn sentinel_sh(c: &Booted, script: &str) -> Result<String, String> {
    match c.sh_status(script) {
        (true, out) => Ok(out),
        (false, out) => Err(format!(
            "{script}\n=> failed:\n{out}\n{}",
            c.sh_status(SENTINEL_DIAG).1
        )),
    }
}

/// Polls `probe` (a command, run in the container, 5 s at most each time)
/// every 0.2 s for about `secs` until one line of its output is exactly
/// `line`; returns how long that took.
fn wait_line(c: &Booted, probe: &str, line: &str, secs: u64) -> Result<Duration, String> {
    let t = Instant::now();
    let tries = secs * 5;
    sentinel_sh(
        c,
        &format!(
            "i=0
             until timeout 5 {probe} 2>/dev/null | tr -d '\\r' | grep -qxF '{line}'; do
               i=$((i+1))
               if [ $i -ge {tries} ]; then
                 echo 'no line \"{line}\" after {secs}s; last output:'; {probe} 2>&1 || true; exit 1
               fi
               sleep 0.2
             done"
        ),
    )?;
    let took = t.elapsed();
    println!("e2e:   {line:?} after {took:.1?}");
    Ok(took)
}

/// Seed 002 of the operator guides (a primary, a replica, a Sentinel that
/// fails over between them) on one booted system: the packaged
/// `redis-server` is the primary, `redis-server@replica` its replica,
/// `redis-sentinel.service` watches them with the guide's settings. The
/// primary is stopped, the replica must be promoted; the old primary is
/// started again and must be turned into a replica by Sentinel. Sentinel
/// must have recorded all of it in its config, under its sandbox, without
/// ever being restarted.
fn sentinel_checks(c: &Booted) -> Result<(), String> {
    let auth = format!("--no-auth-warning -a {PASSWORD}");
    // The primary already has `requirepass`; as in the guide, every node
    // also gets `masterauth` so whichever ends up a replica can sync.
    sentinel_sh(
        c,
        &format!(
            "echo 'masterauth {PASSWORD}' >> /etc/redis/redis.conf
             systemctl restart redis-server
             redis-cli {auth} set e2e:sentinel before-failover >/dev/null"
        ),
    )?;
    wait_pong(c, &auth)?;
    // The replica: the primary's config with its own port, files and
    // `replicaof`, run by the template unit.
    sentinel_sh(
        c,
        "sed -e 's/^port .*/port 6380/' \
             -e 's#^pidfile .*#pidfile /run/redis-replica/redis-server.pid#' \
             -e 's#^logfile .*#logfile /var/log/redis/redis-server-replica.log#' \
             -e 's/^dbfilename .*/dbfilename dump-replica.rdb/' \
             /etc/redis/redis.conf > /etc/redis/redis-replica.conf
         echo 'replicaof 127.0.0.1 6379' >> /etc/redis/redis-replica.conf
         chown redis:redis /etc/redis/redis-replica.conf
         chmod 640 /etc/redis/redis-replica.conf
         systemctl start redis-server@replica",
    )?;
    wait_pong(c, &format!("-p 6380 {auth}"))?;
    check_service(c, "redis-server@replica", true)?;
    let replica_info = format!("redis-cli -p 6380 {auth} info replication");
    let primary_info = format!("redis-cli -p 6379 {auth} info replication");
    wait_line(c, &replica_info, "master_link_status:up", 30)?;
    // Sentinel: the guide's settings. It rewrites its file while running,
    // so stop, edit (in place: owner and mode stay), start. The packaged
    // `mymaster` lines go; global ones (myid, epoch) stay.
    sentinel_sh(
        c,
        &format!(
            "systemctl stop redis-sentinel
             {{ grep -vw mymaster /etc/redis/sentinel.conf
               echo 'sentinel monitor master01 127.0.0.1 6379 1'
               echo 'sentinel down-after-milliseconds master01 3000'
               echo 'sentinel failover-timeout master01 10000'
               echo 'sentinel parallel-syncs master01 1'
               echo 'sentinel auth-pass master01 {PASSWORD}'
             }} > /root/sentinel.conf.new
             cat /root/sentinel.conf.new > /etc/redis/sentinel.conf
             systemctl start redis-sentinel
             systemctl is-active redis-sentinel"
        ),
    )?;
    check_service(c, "redis-sentinel", true)?;
    let info = "redis-cli -p 26379 info sentinel";
    wait_line(
        c,
        info,
        "master0:name=master01,status=ok,address=127.0.0.1:6379,slaves=1,sentinels=1",
        30,
    )?;
    // Failover: the primary goes away; after down-after-milliseconds the
    // replica is promoted.
    sentinel_sh(c, "systemctl stop redis-server")?;
    let addr = "redis-cli -p 26379 sentinel get-master-addr-by-name master01";
    let failover = wait_line(c, addr, "6380", 60)?;
    wait_line(c, &replica_info, "role:master", 10)?;
    println!("e2e:   failover done {failover:.1?} after the primary stopped");
    let aborted = c
        .sh_status("grep -c -- '-failover-abort' /var/log/redis/redis-sentinel.log")
        .1;
    if aborted.trim() != "0" {
        println!(
            "e2e:   note: sentinel aborted {} failover attempt(s) first (see the report on \
             the sentinel's tick order)",
            aborted.trim()
        );
    }
    sentinel_sh(
        c,
        &format!(
            "redis-cli -p 6380 {auth} get e2e:sentinel | grep -qx before-failover
             redis-cli -p 6380 {auth} set e2e:sentinel after-failover | grep -qx OK"
        ),
    )?;
    // The old primary comes back as a master; Sentinel turns it into a
    // replica of the new one (REPLICAOF + CONFIG REWRITE into its file).
    sentinel_sh(c, "systemctl start redis-server")?;
    wait_pong(c, &auth)?;
    wait_line(c, &primary_info, "role:slave", 60)?;
    wait_line(c, &primary_info, "master_port:6380", 10)?;
    wait_line(c, &primary_info, "master_link_status:up", 30)?;
    wait_line(
        c,
        info,
        "master0:name=master01,status=ok,address=127.0.0.1:6380,slaves=1,sentinels=1",
        30,
    )?;
    sentinel_sh(
        c,
        &format!(
            "redis-cli -p 6379 {auth} get e2e:sentinel | grep -qx after-failover
             grep -q '^replicaof .*6380' /etc/redis/redis.conf
             ! grep -q '^replicaof' /etc/redis/redis-replica.conf || exit 1"
        ),
    )?;
    // Sentinel recorded what it learnt in its own file, under its sandbox,
    // and was never killed or restarted.
    sentinel_sh(
        c,
        &format!(
            "f=/etc/redis/sentinel.conf
             grep -Eq '^sentinel myid [0-9a-f]{{40}}$' $f
             grep -Eq '^sentinel current-epoch [1-9]' $f
             grep -qx 'sentinel monitor master01 127.0.0.1 6380 1' $f
             grep -qx 'sentinel known-replica master01 127.0.0.1 6379' $f
             grep -qx 'sentinel auth-pass master01 {PASSWORD}' $f
             stat -c '%U %G' $f | grep -qx 'redis redis'
             ! grep -q 'not able to save' /var/log/redis/redis-sentinel.log || exit 1
             systemctl show -p NRestarts --value redis-sentinel | grep -qx 0
             systemctl show -p NRestarts --value redis-server@replica | grep -qx 0
             ! journalctl --no-pager -u redis-sentinel | grep -E \
               'status=31/SYS|code=(killed|dumped)|Failed with result|Scheduled restart' || exit 1"
        ),
    )?;
    check_service(c, "redis-sentinel", true)?;
    // The template unit runs one more Sentinel on its own file.
    sentinel_sh(
        c,
        "printf '%s\\n' 'port 26380' 'daemonize no' \
             'pidfile /run/sentinel-e2e/redis-sentinel.pid' \
             'logfile /var/log/redis/redis-sentinel-e2e.log' 'dir /var/lib/redis' \
             > /etc/redis/sentinel-e2e.conf
         chown redis:redis /etc/redis/sentinel-e2e.conf
         chmod 640 /etc/redis/sentinel-e2e.conf
         systemctl start redis-sentinel@e2e",
    )?;
    wait_pong(c, "-p 26380")?;
    check_service(c, "redis-sentinel@e2e", true)?;
    sentinel_sh(
        c,
        "redis-cli -p 26380 info sentinel | tr -d '\\r' | grep -qx sentinel_masters:0
         test -s /run/sentinel-e2e/redis-sentinel.pid
         systemctl stop redis-sentinel@e2e
         systemctl show -p Result --value redis-sentinel@e2e | grep -qx success
         grep -Eq '^sentinel myid [0-9a-f]{40}$' /etc/redis/sentinel-e2e.conf
         rm -f /etc/redis/sentinel-e2e.conf /var/log/redis/redis-sentinel-e2e.log",
    )?;
    // A config Sentinel rejects fails in ExecStartPre with its message.
    sentinel_sh(
        c,
        "systemctl stop redis-sentinel
         cp -p /etc/redis/sentinel.conf /root/sentinel.conf.good
         echo 'sentinel monitor bad 127.0.0.1 6379 0' >> /etc/redis/sentinel.conf
         ! systemctl start redis-sentinel || exit 1
         journalctl --no-pager -u redis-sentinel | grep -q 'Quorum must be 1 or greater'
         cat /root/sentinel.conf.good > /etc/redis/sentinel.conf
         systemctl reset-failed redis-sentinel
         systemctl start redis-sentinel",
    )?;
    wait_pong(c, "-p 26379")?;
    // logrotate (copytruncate): Sentinel keeps logging to the same file,
    // so its shutdown lines below must land in the fresh log.
    sentinel_sh(
        c,
        "test -s /var/log/redis/redis-sentinel.log
         logrotate -f /etc/logrotate.d/redis-sentinel
         test -s /var/log/redis/redis-sentinel.log.1
         test ! -s /var/log/redis/redis-sentinel.log",
    )?;
    // SIGTERM (systemctl stop) ends Sentinel cleanly: exit status 0, the
    // config flushed, the runtime directory gone.
    sentinel_sh(
        c,
        "systemctl stop redis-sentinel
         systemctl is-active redis-sentinel | grep -qx inactive
         systemctl show -p Result --value redis-sentinel | grep -qx success
         systemctl show -p ExecMainStatus --value redis-sentinel | grep -qx 0
         test ! -e /run/sentinel
         grep -q 'Received SIGTERM' /var/log/redis/redis-sentinel.log
         grep -q 'bye bye' /var/log/redis/redis-sentinel.log
         grep -qx 'sentinel monitor master01 127.0.0.1 6380 1' /etc/redis/sentinel.conf",
    )?;
    // The replica instance is not the package's to stop: `dpkg -r` only
    // stops redis-server.service, as Debian's does.
    sentinel_sh(
        c,
        "systemctl stop redis-server@replica
         rm -f /etc/redis/redis-replica.conf /var/log/redis/redis-server-replica.log \
               /var/lib/redis/dump-replica.rdb",
    )
    .map(|_| ())
}

fn mkdir(p: &Path) -> Result<(), String> {
    fs::create_dir_all(p).map_err(|e| format!("{}: {e}", p.display()))
}

fn remove(p: &Path) -> Result<(), String> {
    fs::remove_dir_all(p).map_err(|e| format!("{}: {e}", p.display()))
}
