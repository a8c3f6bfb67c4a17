//! The cost of a warm re-`up`, whole command: on the world of
//! tests/common/warm_up.rs (stand-in kind node, real local registry
//! container already holding the mirrored charts and images, a fake API
//! server with Phase 1 deployed and healthy, the upstream replaced by a
//! connection counter), runs the release binary's `up` `RUNS` times, and
//! `status` (verification only, the same checks) as many times. Prints JSON:
//! medians, helm calls that change a release, upstream connections, API
//! requests per run. Used by scripts/bench-reup.sh.
//!
//! Usage: bench_reup <nvcf-dev binary>

use std::sync::atomic::Ordering;
use std::time::Instant;

// The tests' world, shared rather than copied.
#[path = "../tests/common/mod.rs"]
mod common;

use serde_json::json;

const RUNS: usize = 10;

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    xs[xs.len() / 2]
}

#[tokio::main]
async fn main() {
    let bin = std::env::args()
        .nth(1)
        .expect("usage: bench_reup <nvcf-dev>");
    let (world, first) =
        common::warm_up::WarmWorld::after_first_up(bin.as_ref(), "bench-reup", 15881).await;
    if !first.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&first.stderr));
        panic!("the first up failed");
    }
    let timed = |args: &[&str]| {
        let before = world.api_log.lock().unwrap().len();
        let started = Instant::now();
        let out = world.run(args);
        let secs = started.elapsed().as_secs_f64();
        if !out.status.success() {
            eprintln!("{}", String::from_utf8_lossy(&out.stderr));
            panic!("{args:?} failed");
        }
        (secs, world.api_log.lock().unwrap().len() - before)
    };
    let (mut up, mut status) = (Vec::new(), Vec::new());
    let (mut up_requests, mut status_requests) = (0, 0);
    for _ in 0..RUNS {
        let (s, n) = timed(&["up"]);
        up.push(s);
        up_requests = n;
        let (s, n) = timed(&["status"]);
        status.push(s);
        status_requests = n;
    }
    let (up_median, status_median) = (median(up.clone()), median(status));
    println!(
        "{}",
        json!({
            "runs": RUNS,
            "up_median_s": up_median,
            "up_max_s": up.iter().cloned().fold(0.0, f64::max),
            "status_median_s": status_median,
            "overhead_beyond_verification_s": up_median - status_median,
            "helm_release_changes": world.helm_changes(),
            "upstream_connections": world.upstream_connections.load(Ordering::SeqCst),
            "api_requests_per_up": up_requests,
            "api_requests_per_status": status_requests,
        })
    );
}
