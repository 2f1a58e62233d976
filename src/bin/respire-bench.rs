//! `respire-bench`: respire against the reference Redis and its own
//! database, in one run. See README.md, "Benchmark".

#[path = "respire_bench/mod.rs"]
mod bench;

use clap::Parser as _;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    bench::run(bench::Options::parse()).await
}
