//! The `offerflow` command: the server and every tool, wiring Offerflow's crates together.
//! It owns what only a program needs: the command line (clap), `anyhow`, the log subscriber
//! and progress bars.

mod cli;

/// mimalloc rather than the system allocator: every event allocates many small values that live
/// for one batch (parsed JSON, results, states, SQLite's own buffers), and mimalloc's
/// thread-local free lists make that markedly cheaper (BENCHMARKS.md has the figures).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::run()
}
