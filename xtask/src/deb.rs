//! `cargo xtask deb`: builds Debian packages that replace Debian bookworm's
//! own `redis-tools`, `redis-server` and `redis-sentinel`, with the same
//! split, paths, conffiles, system user and systemd units, so guides
//! written for Debian's packages apply as is.
//!
//! Debian's split: `redis-tools` carries every executable and creates the
//! `redis` user and the shared directories; `redis-server` and
//! `redis-sentinel` carry a `/usr/bin` link to their daemon, the config,
//! the units (plain and `@` template) and a logrotate file. Debian's link
//! target is `redis-check-rdb` because upstream builds one multi-call
//! binary; ours are separate programs, so the daemons live in
//! `/usr/libexec/redis/` (the only path Debian does not have).
//!
//! Plain `dpkg-deb` rather than debhelper or cargo-deb: the packages are
//! mostly configuration, maintainer scripts and units, which this file and
//! `debian/` spell out one to one; debhelper needs a full source-package
//! tree and cargo-deb has no notion of one binary shipped by one package
//! and linked from another. `dpkg-shlibdeps` still computes the library
//! dependencies and `gzip -n`/`strip` do what debhelper would.
//!
//! The version comes from the first line of `debian/changelog`.

use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// One executable shipped in `redis-tools`: the cargo package that builds
/// it, its binary name and where it is installed.
struct Binary {
    cargo_package: &'static str,
    name: &'static str,
    dest: &'static str,
}

/// The executables that exist today. Adding a tool is one line here; a
/// daemon's line also turns on its package in [`DAEMONS`].
const BINARIES: &[Binary] = &[
    Binary {
        cargo_package: "redis-cli",
        name: "redis-cli",
        dest: "usr/bin/redis-cli",
    },
    Binary {
        cargo_package: "redis-server",
        name: "redis-server",
        dest: "usr/libexec/redis/redis-server",
    },
    // `redis-server --sentinel` execs the `redis-sentinel` beside it, so
    // both daemons share /usr/libexec/redis/.
    Binary {
        cargo_package: "redis-sentinel",
        name: "redis-sentinel",
        dest: "usr/libexec/redis/redis-sentinel",
    },
    Binary {
        cargo_package: "redis-proxy",
        name: "redis-proxy",
        dest: "usr/libexec/redis/redis-proxy",
    },
    Binary {
        cargo_package: "redis-benchmark",
        name: "redis-benchmark",
        dest: "usr/bin/redis-benchmark",
    },
    // Binary { cargo_package: "redis-rdb", name: "redis-check-rdb", dest: "usr/bin/redis-check-rdb" },
    // Binary { cargo_package: "redis-check-aof", name: "redis-check-aof", dest: "usr/bin/redis-check-aof" },
];

/// A daemon package (`redis-server`, `redis-sentinel`): built when its
/// binary is in [`BINARIES`].
struct Daemon {
    package: &'static str,
    /// The binary in `redis-tools` that `/usr/bin/<package>` links to.
    binary: &'static str,
    /// Source of `/etc/redis/<conf>`, relative to the repository.
    conf_src: &'static str,
    conf: &'static str,
    synopsis: &'static str,
    description: &'static str,
}

const DAEMONS: &[Daemon] = &[
    Daemon {
        package: "redis-server",
        binary: "redis-server",
        conf_src: "configs/redis.conf",
        conf: "redis.conf",
        synopsis: "Persistent key-value database with network interface",
        description: "The dataset is stored entirely in memory and periodically flushed to disk.\n\
                      This package contains the server, its configuration and systemd units.",
    },
    Daemon {
        package: "redis-sentinel",
        binary: "redis-sentinel",
        conf_src: "debian/sentinel.conf",
        conf: "sentinel.conf",
        synopsis: "Persistent key-value database with network interface (monitoring)",
        description: "This package contains the Redis Sentinel monitoring and failover daemon.",
    },
    Daemon {
        package: "redis-proxy",
        binary: "redis-proxy",
        conf_src: "debian/proxy.conf",
        conf: "proxy.conf",
        synopsis: "Persistent key-value database with network interface (proxy)",
        description:
            "This package contains redis-proxy, one endpoint in front of a Sentinel-managed\n\
                      primary or a Redis Cluster for clients that know neither.",
    },
];

/// Shared first paragraph of every long description, as in Debian's.
const ABOUT: &str = "Redis is a key-value database in a similar vein to memcache but the dataset\n\
                     is non-volatile. Redis additionally provides native support for atomically\n\
                     manipulating and querying data structures such as lists and sets.\n\
                     These packages hold redis-rs, a Redis 7.0 compatible implementation in Rust,\n\
                     as drop-in replacements for Debian's redis packages.";

const MAINTAINER: &str = "redis-rs developers <redis-rs@example.invalid>";

/// Debian's redis packages shipped SysV init scripts up to this version;
/// ours remove them on upgrade (`dpkg-maintscript-helper rm_conffile`).
/// Sorts above every Debian 7.0.15 revision and below all of ours.
const DROP_SYSV_VERSION: &str = "5:7.0.15+rs~";

/// Built packages: name and path of the `.deb`.
#[derive(Debug, Clone)]
pub struct Built {
    pub package: String,
    pub path: PathBuf,
}

/// `cargo xtask deb`: build the release binaries and the packages.
pub fn run(args: &[String]) -> Result<(), String> {
    if !args.is_empty() {
        return Err("usage: cargo xtask deb".into());
    }
    for b in build()? {
        println!("{}", b.path.display());
    }
    Ok(())
}

/// The directory cargo builds into (honours `CARGO_TARGET_DIR`).
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => PathBuf::from(d),
        None => crate::repo_root().join("target"),
    }
}

/// Builds the release binaries and every package; returns the `.deb`s,
/// `redis-tools` first.
pub fn build() -> Result<Vec<Built>, String> {
    let root = crate::repo_root();
    let mut cargo = Command::new(crate::cargo());
    cargo.current_dir(&root).args(["build", "--release"]);
    for b in BINARIES {
        cargo.args(["-p", b.cargo_package, "--bin", b.name]);
    }
    run_cmd(&mut cargo)?;
    let bin_dir = target_dir().join("release");
    package_all(&root, &bin_dir, &target_dir().join("debian"))
}

/// Packages already built binaries from `bin_dir` into `out`.
pub fn package_all(root: &Path, bin_dir: &Path, out: &Path) -> Result<Vec<Built>, String> {
    let version = changelog_version(root)?;
    let arch = capture(Command::new("dpkg").arg("--print-architecture"))?;
    let stage_root = out.join("stage");
    if stage_root.exists() {
        fs::remove_dir_all(&stage_root).map_err(|e| format!("{}: {e}", stage_root.display()))?;
    }
    let ctx = Ctx {
        root,
        version: &version,
        arch: &arch,
        stage_root: &stage_root,
        out,
    };
    let mut built = vec![ctx.tools(bin_dir)?];
    for d in DAEMONS {
        if BINARIES.iter().any(|b| b.name == d.binary) {
            built.push(ctx.daemon(d)?);
        }
    }
    Ok(built)
}

/// The version of the newest entry in `debian/changelog`.
pub fn changelog_version(root: &Path) -> Result<String, String> {
    let text = read(&root.join("debian/changelog"))?;
    let first = text.lines().next().unwrap_or_default();
    match (first.find('('), first.find(')')) {
        (Some(a), Some(b)) if a < b => Ok(first[a + 1..b].to_string()),
        _ => Err(format!("debian/changelog: bad first line {first:?}")),
    }
}

struct Ctx<'a> {
    root: &'a Path,
    version: &'a str,
    arch: &'a str,
    stage_root: &'a Path,
    out: &'a Path,
}

impl Ctx<'_> {
    /// `redis-tools`: the executables, the user and the shared directories.
    fn tools(&self, bin_dir: &Path) -> Result<Built, String> {
        let pkg = "redis-tools";
        let stage = self.stage(pkg)?;
        let mut exes = Vec::new();
        for b in BINARIES {
            let src = bin_dir.join(b.name);
            let dest = stage.join(b.dest);
            copy(&src, &dest, 0o755)?;
            // What dh_strip does: debug info and symbol tables out.
            run_cmd(
                Command::new("strip")
                    .args([
                        "--strip-unneeded",
                        "--remove-section=.comment",
                        "--remove-section=.note",
                    ])
                    .arg(&dest),
            )?;
            exes.push(dest);
            // Daemons' pages go with their packages, as in Debian's.
            if b.dest.starts_with("usr/bin/") {
                self.man_page(&stage, b.name)?;
            }
        }
        self.docs(&stage, pkg)?;
        self.script(&stage, "postinst", "debian/redis-tools.postinst", None)?;
        self.script(&stage, "postrm", "debian/redis-tools.postrm", None)?;
        let depends = format!("adduser, {}", shlib_depends(&exes)?);
        let fields = vec![
            ("Depends", depends),
            // Debian's own (a file move from redis-server long ago) plus
            // any older redis-sentinel, i.e. Debian's, whose link points at
            // Debian's multi-call binary that our redis-tools replaces.
            (
                "Breaks",
                format!(
                    "redis-sentinel (<< {}), redis-server (<< 2:2.6.16-1)",
                    self.version
                ),
            ),
            ("Replaces", "redis-server (<< 2:2.6.16-1)".to_string()),
        ];
        self.finish(
            pkg,
            &stage,
            &fields,
            "Persistent key-value database with network interface (client)",
            "This package contains the command line client and the server binaries;\n\
             redis-server and redis-sentinel hold their configuration and services.",
        )
    }

    /// `redis-server` or `redis-sentinel`.
    fn daemon(&self, d: &Daemon) -> Result<Built, String> {
        let stage = self.stage(d.package)?;
        let target = BINARIES
            .iter()
            .find(|b| b.name == d.binary)
            .map(|b| b.dest)
            .ok_or_else(|| format!("{}: no binary {}", d.package, d.binary))?;
        // usr/bin/X -> ../libexec/redis/X: relative, within /usr.
        let link = stage.join("usr/bin").join(d.package);
        mkdirs(link.parent().unwrap_or(&stage))?;
        let rel = target.strip_prefix("usr/").unwrap_or(target);
        symlink(format!("../{rel}"), &link).map_err(|e| format!("{}: {e}", link.display()))?;
        copy(
            &self.root.join(d.conf_src),
            &stage.join("etc/redis").join(d.conf),
            0o644,
        )?;
        copy(
            &self.root.join(format!("debian/{}.logrotate", d.package)),
            &stage.join("etc/logrotate.d").join(d.package),
            0o644,
        )?;
        for unit in [
            format!("{}.service", d.package),
            format!("{}@.service", d.package),
        ] {
            copy(
                &self.root.join("systemd").join(&unit),
                &stage.join("lib/systemd/system").join(&unit),
                0o644,
            )?;
        }
        self.man_page(&stage, d.package)?;
        self.docs(&stage, d.package)?;
        let conffile = format!("/etc/redis/{}", d.conf);
        for s in ["preinst", "postinst", "prerm", "postrm"] {
            let subst = [
                ("#PACKAGE#", d.package),
                ("#CONFFILE#", conffile.as_str()),
                ("#DROP_SYSV#", DROP_SYSV_VERSION),
            ];
            self.script(&stage, s, &format!("debian/daemon.{s}"), Some(&subst))?;
        }
        let fields = vec![
            // deb-systemd-helper and deb-systemd-invoke in the scripts.
            ("Pre-Depends", "init-system-helpers (>= 1.54~)".to_string()),
            // Exactly our tools: the link points into them.
            ("Depends", format!("redis-tools (= {})", self.version)),
        ];
        self.finish(d.package, &stage, &fields, d.synopsis, d.description)
    }

    fn stage(&self, pkg: &str) -> Result<PathBuf, String> {
        let stage = self.stage_root.join(pkg);
        mkdirs(&stage.join("DEBIAN"))?;
        Ok(stage)
    }

    /// `debian/man/<name>.1`, gzipped, when there is one.
    fn man_page(&self, stage: &Path, name: &str) -> Result<(), String> {
        let src = self.root.join(format!("debian/man/{name}.1"));
        if src.is_file() {
            gzip_to(&src, &stage.join(format!("usr/share/man/man1/{name}.1.gz")))?;
        }
        Ok(())
    }

    /// The copyright file and changelog every package must carry.
    fn docs(&self, stage: &Path, pkg: &str) -> Result<(), String> {
        let doc = stage.join("usr/share/doc").join(pkg);
        copy(
            &self.root.join("debian/copyright"),
            &doc.join("copyright"),
            0o644,
        )?;
        gzip_to(
            &self.root.join("debian/changelog"),
            &doc.join("changelog.Debian.gz"),
        )
    }

    /// Installs a maintainer script, substituting `#NAME#` placeholders.
    fn script(
        &self,
        stage: &Path,
        name: &str,
        src: &str,
        subst: Option<&[(&str, &str)]>,
    ) -> Result<(), String> {
        let mut text = read(&self.root.join(src))?;
        for (k, v) in subst.unwrap_or_default() {
            text = text.replace(k, v);
        }
        if text.contains("#PACKAGE#") || text.contains("#CONFFILE#") {
            return Err(format!("{src}: placeholder left"));
        }
        write(&stage.join("DEBIAN").join(name), &text, 0o755)
    }

    /// Writes `conffiles`, `md5sums` and `control`, then runs dpkg-deb.
    fn finish(
        &self,
        pkg: &str,
        stage: &Path,
        fields: &[(&str, String)],
        synopsis: &str,
        description: &str,
    ) -> Result<Built, String> {
        let mut files = Vec::new();
        walk(stage, stage, &mut files)?;
        files.sort();
        let conffiles: Vec<&String> = files
            .iter()
            .filter(|f| f.starts_with("etc/") && stage.join(f).is_file())
            .collect();
        let mut conf_text = String::new();
        let mut md5_text = String::new();
        let mut size_kib = 0u64;
        for f in &files {
            let path = stage.join(f);
            let meta = fs::symlink_metadata(&path).map_err(|e| format!("{f}: {e}"))?;
            // Like dpkg-gencontrol: file sizes rounded up to KiB, one KiB
            // for each directory and link.
            size_kib += if meta.is_file() {
                meta.len().div_ceil(1024)
            } else {
                1
            };
            if !meta.is_file() {
                continue;
            }
            if conffiles.contains(&f) {
                let _ = writeln!(conf_text, "/{f}");
            } else {
                let sum = capture(Command::new("md5sum").arg(&path))?;
                let hash = sum.split_whitespace().next().unwrap_or_default();
                let _ = writeln!(md5_text, "{hash}  {f}");
            }
        }
        if !conf_text.is_empty() {
            write(&stage.join("DEBIAN/conffiles"), &conf_text, 0o644)?;
        }
        write(&stage.join("DEBIAN/md5sums"), &md5_text, 0o644)?;
        let mut control = format!(
            "Package: {pkg}\nSource: redis-rs\nVersion: {}\nArchitecture: {}\n\
             Maintainer: {MAINTAINER}\nInstalled-Size: {size_kib}\n",
            self.version, self.arch
        );
        for (k, v) in fields {
            let _ = writeln!(control, "{k}: {v}");
        }
        let _ = write!(
            control,
            "Section: database\nPriority: optional\nDescription: {synopsis}\n"
        );
        let long = format!("{ABOUT}\n\n{description}");
        for line in long.lines() {
            let line = line.trim();
            let _ = writeln!(control, " {}", if line.is_empty() { "." } else { line });
        }
        write(&stage.join("DEBIAN/control"), &control, 0o644)?;
        // The file name drops the epoch, as Debian's archive does.
        let file_version = self
            .version
            .split_once(':')
            .map_or(self.version, |(_, v)| v);
        let deb = self
            .out
            .join(format!("{pkg}_{file_version}_{}.deb", self.arch));
        run_cmd(
            Command::new("dpkg-deb")
                .args(["--root-owner-group", "-Zxz", "--build"])
                .arg(stage)
                .arg(&deb),
        )?;
        Ok(Built {
            package: pkg.to_string(),
            path: deb,
        })
    }
}

/// `Depends` entries for the shared libraries the executables link, from
/// `dpkg-shlibdeps` (which needs a `debian/control` to run in).
fn shlib_depends(exes: &[PathBuf]) -> Result<String, String> {
    let dir = std::env::temp_dir().join(format!("xtask-shlibdeps-{}", std::process::id()));
    mkdirs(&dir.join("debian"))?;
    write(
        &dir.join("debian/control"),
        "Source: redis-rs\n\nPackage: redis-tools\nArchitecture: any\n",
        0o644,
    )?;
    let mut cmd = Command::new("dpkg-shlibdeps");
    cmd.current_dir(&dir).arg("-O");
    for e in exes {
        cmd.arg(format!("-e{}", e.display()));
    }
    let out = capture(&mut cmd);
    let _ = fs::remove_dir_all(&dir);
    let out = out?;
    out.lines()
        .find_map(|l| l.strip_prefix("shlibs:Depends="))
        .map(str::to_string)
        .ok_or_else(|| format!("dpkg-shlibdeps printed no dependencies: {out}"))
}

/// Relative paths (no leading `./`) of everything under `dir` except
/// `DEBIAN/`, and fixes directory modes to 0755 on the way.
fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) -> Result<(), String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
        let path = entry.path();
        let rel = path
            .strip_prefix(base)
            .map_err(|e| e.to_string())?
            .to_string_lossy()
            .to_string();
        if rel == "DEBIAN" {
            continue;
        }
        let ft = entry.file_type().map_err(|e| format!("{rel}: {e}"))?;
        out.push(rel);
        if ft.is_dir() {
            set_mode(&path, 0o755)?;
            walk(base, &path, out)?;
        }
    }
    Ok(())
}

fn mkdirs(dir: &Path) -> Result<(), String> {
    fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))
}

fn set_mode(path: &Path, mode: u32) -> Result<(), String> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn read(path: &Path) -> Result<String, String> {
    fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn write(path: &Path, text: &str, mode: u32) -> Result<(), String> {
    mkdirs(path.parent().unwrap_or(Path::new(".")))?;
    fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    set_mode(path, mode)
}

fn copy(src: &Path, dest: &Path, mode: u32) -> Result<(), String> {
    mkdirs(dest.parent().unwrap_or(Path::new(".")))?;
    fs::copy(src, dest).map_err(|e| format!("{} -> {}: {e}", src.display(), dest.display()))?;
    set_mode(dest, mode)
}

/// `gzip -9n`: maximum compression without name or timestamp, so the
/// package is reproducible (lintian checks both).
fn gzip_to(src: &Path, dest: &Path) -> Result<(), String> {
    mkdirs(dest.parent().unwrap_or(Path::new(".")))?;
    let out = Command::new("gzip")
        .args(["-9n", "-c"])
        .arg(src)
        .output()
        .map_err(|e| format!("gzip: {e}"))?;
    if !out.status.success() {
        return Err(format!("gzip {}: {}", src.display(), out.status));
    }
    fs::write(dest, &out.stdout).map_err(|e| format!("{}: {e}", dest.display()))?;
    set_mode(dest, 0o644)
}

/// Runs a command with inherited output; Ok if it exited 0.
pub fn run_cmd(cmd: &mut Command) -> Result<(), String> {
    let desc = format!("{cmd:?}");
    let status = cmd.status().map_err(|e| format!("{desc}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{desc}: {status}"))
    }
}

/// Runs a command and returns its trimmed standard output.
pub fn capture(cmd: &mut Command) -> Result<String, String> {
    let desc = format!("{cmd:?}");
    let out = cmd.output().map_err(|e| format!("{desc}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{desc}: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}
