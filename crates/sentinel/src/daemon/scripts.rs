//! Notification and client-reconfig scripts, as upstream runs them: a
//! queue of at most 256 jobs, at most 16 running, each killed after 60 s;
//! a script exiting with 1 is retried up to 10 times with a doubling
//! delay (30 s first), any other failure is reported as `-script-error`.
//!
//! The driver calls [`Scripts::tick`] with its periodic timer: children
//! are polled with `try_wait`, so nothing here blocks or needs a task.

use std::process::{Child, Command, Stdio};

use crate::reply::Reply;

/// Most queued jobs (running ones included).
const MAX_QUEUE: usize = 256;
/// Most jobs running at once.
const MAX_RUNNING: usize = 16;
/// Most retries of a script exiting with 1.
const MAX_RETRY: u32 = 10;

/// One queued or running script.
#[derive(Debug)]
struct Job {
    argv: Vec<String>,
    /// Start time when running; earliest start when waiting (0 = now).
    start_time: u64,
    retry_num: u32,
    child: Option<Child>,
}

/// The script queue.
#[derive(Debug, Default)]
pub struct Scripts {
    jobs: Vec<Job>,
}

/// An event the queue reports: name and message.
pub type ScriptEvent = (&'static str, String);

impl Scripts {
    /// Queues `path args...`. When the queue is full the oldest waiting
    /// job is dropped, as upstream does.
    pub fn queue(&mut self, path: String, args: Vec<String>) {
        if self.jobs.len() >= MAX_QUEUE {
            if let Some(i) = self.jobs.iter().position(|j| j.child.is_none()) {
                self.jobs.remove(i);
            } else {
                return;
            }
        }
        let mut argv = vec![path];
        argv.extend(args);
        self.jobs.push(Job {
            argv,
            start_time: 0,
            retry_num: 0,
            child: None,
        });
    }

    /// Running jobs (`sentinel_running_scripts`).
    pub fn running(&self) -> usize {
        self.jobs.iter().filter(|j| j.child.is_some()).count()
    }

    /// Queued jobs (`sentinel_scripts_queue_length`).
    pub fn queued(&self) -> usize {
        self.jobs.len()
    }

    /// Starts due jobs, collects finished ones, kills the ones running
    /// longer than `max_runtime` ms; retries wait `retry_delay` ms, doubled
    /// at each retry (`SENTINEL DEBUG script-max-runtime`,
    /// `script-retry-delay`).
    pub fn tick(&mut self, now: u64, max_runtime: u64, retry_delay: u64) -> Vec<ScriptEvent> {
        let mut events = Vec::new();
        self.collect(now, max_runtime, retry_delay, &mut events);
        self.start(now, &mut events);
        events
    }

    fn start(&mut self, now: u64, events: &mut Vec<ScriptEvent>) {
        let mut running = self.running();
        for j in &mut self.jobs {
            if running >= MAX_RUNNING {
                break;
            }
            if j.child.is_some() || j.start_time > now {
                continue;
            }
            let spawned = Command::new(&j.argv[0])
                .args(&j.argv[1..])
                .stdin(Stdio::null())
                .spawn();
            j.start_time = now;
            match spawned {
                Ok(c) => {
                    events.push(("+script-child", c.id().to_string()));
                    j.child = Some(c);
                    running += 1;
                }
                Err(_) => {
                    // Upstream's child exits with 2 when exec fails.
                    events.push(("-script-error", format!("{} 0 2", j.argv[0])));
                    j.retry_num = MAX_RETRY + 1;
                }
            }
        }
        self.jobs
            .retain(|j| j.retry_num <= MAX_RETRY || j.child.is_some());
    }

    fn collect(
        &mut self,
        now: u64,
        max_runtime: u64,
        retry_delay: u64,
        events: &mut Vec<ScriptEvent>,
    ) {
        let delay = |n: u32| retry_delay.saturating_mul(1u64 << n.saturating_sub(1).min(20));
        let mut keep = Vec::with_capacity(self.jobs.len());
        for mut j in std::mem::take(&mut self.jobs) {
            let Some(child) = j.child.as_mut() else {
                keep.push(j);
                continue;
            };
            match child.try_wait() {
                Ok(None) => {
                    if now.saturating_sub(j.start_time) > max_runtime {
                        let _ = child.kill();
                        let _ = child.wait();
                        events.push(("-script-timeout", format!("{} {}", j.argv[0], child.id())));
                        // Reaped; a killed script is retried like upstream.
                        j.child = None;
                        j.retry_num += 1;
                        j.start_time = now + delay(j.retry_num);
                        if j.retry_num <= MAX_RETRY {
                            keep.push(j);
                        }
                    } else {
                        keep.push(j);
                    }
                }
                Ok(Some(status)) => {
                    use std::os::unix::process::ExitStatusExt;
                    let code = status.code().unwrap_or(0);
                    let sig = status.signal().unwrap_or(0);
                    events.push(("-script-child", format!("{} {sig} {code}", child.id())));
                    j.child = None;
                    if (code == 1 || sig != 0) && j.retry_num < MAX_RETRY {
                        j.retry_num += 1;
                        j.start_time = now + delay(j.retry_num);
                        keep.push(j);
                    } else if code != 0 || sig != 0 {
                        events.push(("-script-error", format!("{} {sig} {code}", j.argv[0])));
                    }
                }
                Err(_) => {}
            }
        }
        self.jobs = keep;
    }

    /// `SENTINEL PENDING-SCRIPTS`.
    pub fn pending_reply(&self, now: u64) -> Reply {
        let jobs = self.jobs.iter().map(|j| {
            let int = |n: u64| Reply::Bulk(n.to_string());
            let mut fields = vec![
                (
                    Reply::bulk("argv"),
                    Reply::Array(j.argv.iter().map(|a| Reply::bulk(a.as_str())).collect()),
                ),
                (
                    Reply::bulk("flags"),
                    Reply::bulk(if j.child.is_some() {
                        "running"
                    } else {
                        "scheduled"
                    }),
                ),
                (
                    Reply::bulk("pid"),
                    int(j.child.as_ref().map_or(0, |c| u64::from(c.id()))),
                ),
            ];
            if j.child.is_some() {
                fields.push((
                    Reply::bulk("run-time"),
                    int(now.saturating_sub(j.start_time)),
                ));
            } else {
                let delay = j.start_time.saturating_sub(now);
                fields.push((Reply::bulk("run-delay"), int(delay)));
            }
            fields.push((Reply::bulk("retry-num"), int(u64::from(j.retry_num))));
            Reply::Map(fields)
        });
        Reply::Array(jobs.collect())
    }

    /// Kills every running script (shutdown).
    pub fn kill_all(&mut self) {
        for j in &mut self.jobs {
            if let Some(c) = j.child.as_mut() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}
