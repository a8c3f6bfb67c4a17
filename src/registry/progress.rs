//! Progress reporting for a copy: bars on a TTY, periodic lines in CI,
//! nothing in tests. Both write through the [`Shell`], which scrubs secrets.
//! The engine calls the sink from many tasks at once, so implementations are
//! `Send + Sync` and keep their own locking.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::ui::Shell;

/// How one image ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageOutcome {
    /// Some content was copied or mounted and the manifest pushed.
    Copied,
    /// The destination already had the manifest with the same digest.
    AlreadyPresent,
    /// The copy failed; the message is the error's one line.
    Failed(String),
}

/// Receives progress events. `image` is the source reference as given in the
/// job. Every event is ignored unless implemented.
pub trait ProgressSink: Send + Sync {
    /// The image's manifests were resolved; `total_bytes` sums its distinct blobs.
    fn image_started(&self, _image: &str, _total_bytes: Option<u64>) {}
    /// `n` more bytes were streamed (may count bytes of an attempt that is retried).
    fn bytes_copied(&self, _image: &str, _n: u64) {}
    /// A blob of `bytes` was already present or was mounted, so it was not copied.
    fn blob_skipped(&self, _image: &str, _bytes: u64) {}
    fn image_done(&self, _image: &str, _outcome: &ImageOutcome) {}
}

/// Reports nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl ProgressSink for NoProgress {}

/// One bar per image in flight plus an overall bar, for interactive terminals.
pub struct BarProgress {
    shell: Shell,
    overall: ProgressBar,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl BarProgress {
    /// `images` is how many jobs the copy has, for the overall bar.
    pub fn new(shell: &Shell, images: usize) -> Self {
        let overall = shell.progress_bar(0);
        overall.set_style(style(
            "{prefix:.bold} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} {msg}",
        ));
        overall.set_prefix("mirror");
        overall.set_message(format!("0/{images} images"));
        BarProgress {
            shell: shell.clone(),
            overall,
            bars: Mutex::new(HashMap::new()),
        }
    }

    fn bars(&self) -> MutexGuard<'_, HashMap<String, ProgressBar>> {
        self.bars.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

impl ProgressSink for BarProgress {
    fn image_started(&self, image: &str, total_bytes: Option<u64>) {
        let bar = self.shell.progress_bar(total_bytes.unwrap_or(0));
        bar.set_style(style("  {msg:40!} [{bar:20}] {bytes}/{total_bytes}"));
        bar.set_message(crate::secret::scrub(image));
        self.overall.inc_length(total_bytes.unwrap_or(0));
        self.bars().insert(image.to_string(), bar);
    }

    fn bytes_copied(&self, image: &str, n: u64) {
        if let Some(b) = self.bars().get(image) {
            b.inc(n);
        }
        self.overall.inc(n);
    }

    /// Skipped bytes fill the bars as copied ones do.
    fn blob_skipped(&self, image: &str, bytes: u64) {
        self.bytes_copied(image, bytes);
    }

    fn image_done(&self, image: &str, outcome: &ImageOutcome) {
        let bar = self.bars().remove(image);
        if let Some(b) = bar {
            b.finish_and_clear();
            self.shell.remove_bar(&b);
        }
        match outcome {
            ImageOutcome::Copied => self.shell.status(format!("copied  {image}")),
            ImageOutcome::AlreadyPresent => self.shell.status(format!("present {image}")),
            ImageOutcome::Failed(e) => self.shell.err_line(&format!("FAILED  {image}: {e}")),
        }
    }
}

impl Drop for BarProgress {
    fn drop(&mut self) {
        self.overall.finish_and_clear();
    }
}

/// Plain lines, one per finished image and a totals line at most every
/// `interval`, for CI logs where redrawn bars turn into noise.
pub struct LineProgress {
    shell: Shell,
    interval: Duration,
    start: Instant,
    totals: Mutex<Totals>,
}

/// Bytes and images so far, and when the last totals line was written.
#[derive(Default)]
struct Totals {
    last: Option<Instant>,
    copied: u64,
    skipped: u64,
    known: u64,
    done: u64,
}

impl LineProgress {
    /// Totals every 10 s, as status lines of `shell`.
    pub fn every_10s(shell: &Shell) -> Self {
        Self::new(shell, Duration::from_secs(10))
    }

    pub fn new(shell: &Shell, interval: Duration) -> Self {
        LineProgress {
            shell: shell.clone(),
            interval,
            start: Instant::now(),
            totals: Default::default(),
        }
    }

    fn totals(&self) -> MutexGuard<'_, Totals> {
        self.totals.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl ProgressSink for LineProgress {
    fn image_started(&self, _image: &str, total_bytes: Option<u64>) {
        self.totals().known += total_bytes.unwrap_or(0);
    }

    fn bytes_copied(&self, _image: &str, n: u64) {
        let mut t = self.totals();
        t.copied += n;
        if t.last.unwrap_or(self.start).elapsed() < self.interval {
            return;
        }
        t.last = Some(Instant::now());
        let secs = self.start.elapsed().as_secs_f64().max(0.001);
        let line = format!(
            "mirror: {} images done, {} MiB copied, {} MiB skipped of {} MiB known, {:.1} MiB/s",
            t.done,
            t.copied >> 20,
            t.skipped >> 20,
            t.known >> 20,
            t.copied as f64 / 1048576.0 / secs
        );
        drop(t);
        self.shell.status(line);
    }

    fn blob_skipped(&self, _image: &str, bytes: u64) {
        self.totals().skipped += bytes;
    }

    fn image_done(&self, image: &str, outcome: &ImageOutcome) {
        self.totals().done += 1;
        match outcome {
            ImageOutcome::Copied => self.shell.status(format!("mirror: copied {image}")),
            ImageOutcome::AlreadyPresent => self.shell.status(format!("mirror: already present {image}")),
            ImageOutcome::Failed(e) => self.shell.err_line(&format!("mirror: FAILED {image}: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::OutputFormat;

    #[test]
    fn line_progress_prints_outcomes_and_totals() {
        let (shell, cap) = Shell::capture(OutputFormat::Text);
        let p = LineProgress::new(&shell, Duration::ZERO);
        let sink: &dyn ProgressSink = &p;
        sink.image_started("a", Some(4 << 20));
        sink.bytes_copied("a", 3 << 20);
        sink.blob_skipped("a", 1 << 20);
        sink.image_done("a", &ImageOutcome::Copied);
        let text = cap.stderr();
        assert!(text.contains("3 MiB copied"), "{text}");
        assert!(text.contains("mirror: copied a"), "{text}");
    }

    #[test]
    fn progress_lines_are_scrubbed_of_known_secrets() {
        let secret = crate::secret::Secret::new("progress-secret-6119");
        crate::secret::register(&secret);
        let (shell, cap) = Shell::capture(OutputFormat::Text);
        let p = LineProgress::new(&shell, Duration::ZERO);
        let failure = format!("token {} refused", secret.expose());
        p.image_done("a", &ImageOutcome::Failed(failure));
        let text = cap.stderr();
        assert!(text.contains("mirror: FAILED a"), "{text}");
        assert!(!text.contains(secret.expose()), "{text}");
    }
}
