//! The `offerflow` command.

/// mimalloc rather than the system allocator: every event allocates many small values that live
/// for one batch (parsed JSON, results, states, SQLite's own buffers), and mimalloc's
/// thread-local free lists make that markedly cheaper (BENCHMARKS.md has the figures).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    api::cli::run()
}
