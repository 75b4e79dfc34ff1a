//! `redis-proxy`: parses the command line, sets up logging, builds the
//! runtime (one thread, or `io-threads` workers) and hands over to
//! [`redis_proxy::serve`].

use clap::Parser;

fn main() {
    let cli = redis_proxy::Cli::parse();
    let cfg = match cli.into_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("\n*** FATAL CONFIG ERROR (redis-proxy) ***\n{e}");
            std::process::exit(1);
        }
    };
    let level = redis_common::logger::parse_level(&cfg.loglevel);
    if let Err(e) = redis_common::logger::configure(&cfg.logfile, level) {
        eprintln!("Can't open the log file: {e}");
        std::process::exit(1);
    }
    // `io-threads 1` (the default): one thread serves everything, as
    // twemproxy does; more spread clients over that many workers.
    let built = if cfg.io_threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(cfg.io_threads)
            .enable_all()
            .build()
    };
    let runtime = match built {
        Ok(r) => r,
        Err(e) => {
            eprintln!("Can't start the runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = runtime.block_on(redis_proxy::serve(cfg));
    runtime.shutdown_background();
    std::process::exit(code);
}
