//! One benchmark from start to report: clients are created and spread
//! over the worker threads, the threads run the load loop while this
//! thread prints the progress line every 250 ms (and aborts when every
//! client is gone), then the report is printed.

use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use crate::engine::{self, now_ms, Settings, Shared, Template, Worker};
use crate::hdr::Layout;
use crate::opts::Config;
use crate::out::{self, clean_line};
use crate::report::{self, Mode, NodeReport};
use crate::setup::ServerConfig;

/// Upstream's `SHOW_THROUGHPUT_INTERVAL`.
const TICK: Duration = Duration::from_millis(250);

/// Program-wide state that outlives one benchmark (the progress timer
/// runs across benchmarks, as upstream's single timer event does).
pub struct Runner {
    pub cfg: Config,
    pub settings: Arc<Settings>,
    pub server: Option<ServerConfig>,
    pub nodes: Option<Vec<NodeReport>>,
    next_tick: Instant,
    previous_tick_ms: i64,
    last_printed_bytes: usize,
}

impl Runner {
    pub fn new(
        cfg: Config,
        settings: Settings,
        server: Option<ServerConfig>,
        nodes: Option<Vec<NodeReport>>,
        program_start: Instant,
    ) -> Runner {
        Runner {
            cfg,
            settings: Arc::new(settings),
            server,
            nodes,
            next_tick: program_start + Duration::from_millis(1),
            previous_tick_ms: 0,
            last_printed_bytes: 0,
        }
    }

    fn mode(&self) -> Mode {
        if self.cfg.csv {
            Mode::Csv
        } else if self.cfg.quiet {
            Mode::Quiet
        } else {
            Mode::Full
        }
    }

    /// Creates the workers and the clients of one run.
    fn setup(&self, t: &Template, shared: &Shared) -> Vec<Worker> {
        let threads = usize::try_from(self.cfg.threads).unwrap_or(0);
        let mut workers = Vec::with_capacity(threads.max(1));
        for i in 0..threads.max(1) {
            match Worker::new(i) {
                Ok(w) => workers.push(w),
                Err(e) => {
                    eprintln!("Error: {}", redis_common::os::strerror(&e));
                    std::process::exit(1);
                }
            }
        }
        let node_count = self.settings.cluster.as_ref().map_or(0, |c| c.len());
        // Upstream always creates the first client, then adds clients
        // until there are `-c`, pausing 50 ms after every 65 (listen
        // backlogs are short).
        let total = usize::try_from(self.cfg.clients).unwrap_or(0).max(1);
        let mut since_pause = 0;
        for k in 0..total {
            let thread = if threads > 0 { k % threads } else { 0 };
            let node = (node_count > 0).then(|| {
                if threads < node_count {
                    k % node_count
                } else {
                    thread % node_count
                }
            });
            workers[thread].add_client(&self.settings, t, shared, node);
            if k > 0 {
                since_pause += 1;
                if since_pause > 64 {
                    std::thread::sleep(Duration::from_millis(50));
                    since_pause = 0;
                }
            }
        }
        engine::set_wakers(shared, workers.iter().map(Worker::waker).collect());
        workers
    }

    /// Runs the workers to the end while printing progress; returns the
    /// duration in ms.
    fn drive(&mut self, title: &str, t: &Template, shared: &Shared, workers: Vec<Worker>) -> i64 {
        let start_ms = now_ms();
        if self.settings.requests <= 0 && !self.settings.idle {
            // Nothing to send: upstream would wait forever.
            return 0;
        }
        let settings = self.settings.clone();
        let count = workers.len();
        let (tx, rx) = mpsc::channel::<()>();
        let mut previous_finished = 0i64;
        std::thread::scope(|scope| {
            for mut w in workers {
                let tx = tx.clone();
                let settings = &settings;
                scope.spawn(move || {
                    w.run(settings, t, shared);
                    drop(w);
                    let _ = tx.send(());
                });
            }
            let mut exited = 0;
            while exited < count {
                let wait = self.next_tick.saturating_duration_since(Instant::now());
                match rx.recv_timeout(wait) {
                    Ok(()) => exited += 1,
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        self.tick(title, shared, start_ms, &mut previous_finished);
                        self.next_tick = Instant::now() + TICK;
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
            }
        });
        now_ms() - start_ms
    }

    /// Upstream's `showThroughput`.
    fn tick(&mut self, title: &str, shared: &Shared, start_ms: i64, previous_finished: &mut i64) {
        let now = now_ms();
        let live = shared.live.load(Ordering::Acquire);
        let finished = shared.finished.load(Ordering::Acquire);
        if live == 0 && finished != self.settings.requests {
            eprintln!("All clients disconnected... aborting.");
            std::process::exit(1);
        }
        if self.cfg.csv {
            return;
        }
        if self.cfg.idle {
            out::print(&format!("clients: {live}\r"));
            return;
        }
        let dt = (f64::from((now - start_ms) as f32) / 1000.0) as f32;
        let rps = finished as f32 / dt;
        let idt = (f64::from((now - self.previous_tick_ms) as f32) / 1000.0) as f32;
        let irps = (finished - *previous_finished) as f32 / idt;
        self.previous_tick_ms = now;
        *previous_finished = finished;
        let line = report::progress(
            title,
            irps,
            rps,
            shared.sec_hist.snapshot().mean() / 1000.0,
            shared.hist.snapshot().mean() / 1000.0,
        );
        out::print(&format!("{}{line}", clean_line(self.last_printed_bytes)));
        self.last_printed_bytes = line.len();
        shared.sec_hist.reset();
    }

    /// One benchmark of `cmd` (one encoded request) titled `title`.
    pub fn benchmark(&mut self, title: &str, cmd: &[u8], datasize: i32) {
        self.last_printed_bytes = 0;
        let shared = Shared::new(Layout::latency(self.cfg.precision));
        let t = Template::new(
            cmd,
            usize::try_from(self.cfg.pipeline).unwrap_or(1),
            self.cfg.randomkeys,
            self.settings.cluster.is_some(),
        );
        let workers = self.setup(&t, &shared);
        let totlatency_ms = self.drive(title, &t, &shared, workers);
        let hist = shared.hist.snapshot();
        let input = report::Input {
            title,
            finished: shared.finished.load(Ordering::Acquire),
            totlatency_ms,
            clients: self.cfg.clients,
            datasize,
            keepalive: self.cfg.keepalive,
            server: self.server.as_ref(),
            cluster: self.nodes.as_deref(),
            threads: self.cfg.threads,
            last_printed_bytes: self.last_printed_bytes,
            hist: &hist,
        };
        out::print(&report::render(&input, self.mode()));
    }

    /// `-I`: opens the clients and keeps them open, forever.
    pub fn idle(&mut self) -> ! {
        let shared = Shared::new(Layout::latency(self.cfg.precision));
        let t = Template::new(b"", 1, false, false);
        let workers = self.setup(&t, &shared);
        self.drive("", &t, &shared, workers);
        std::process::exit(0);
    }
}
