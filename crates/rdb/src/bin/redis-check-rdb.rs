//! `redis-check-rdb <file>`: validates an RDB file and prints a report in
//! upstream's format; exit status 0 when the file is sound, 1 otherwise.

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 2 {
        eprintln!("Usage: redis-check-rdb <rdb-file-name>");
        std::process::exit(1);
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let code = redis_rdb::check::check_file(&args[1], &mut out);
    drop(out);
    std::process::exit(code);
}
