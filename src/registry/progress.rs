//! Progress reporting for a copy: bars on a TTY, periodic lines in CI,
//! nothing in tests. Both write through the [`Shell`], which scrubs secrets.
//! The engine calls the sink from many tasks at once, so implementations are
//! `Send + Sync` and keep their own locking.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
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
    fn image_started(&self, _image: &str, _total_bytes: u64) {}
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

/// Progress on the shell: on a terminal, a bar per image in flight under an
/// overall one; elsewhere (CI logs, where redrawn bars turn into noise) the
/// bars are hidden and their totals written as a line at most every
/// `interval`. A line per finished image either way.
pub struct ShellProgress {
    shell: Shell,
    images: usize,
    /// Bytes copied or skipped, of those known so far.
    overall: ProgressBar,
    bars: Mutex<HashMap<String, ProgressBar>>,
    copied: AtomicU64,
    done: AtomicU64,
    interval: Duration,
    last_line: Mutex<Instant>,
}

impl ShellProgress {
    /// `images` is how many jobs the copy has, for the overall bar.
    pub fn new(shell: &Shell, images: usize) -> Self {
        let overall = shell.progress_bar(0);
        overall.set_style(style(
            "{prefix:.bold} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} {msg}",
        ));
        overall.set_prefix("mirror");
        overall.set_message(format!("0/{images} images"));
        ShellProgress {
            shell: shell.clone(),
            images,
            overall,
            bars: Default::default(),
            copied: Default::default(),
            done: Default::default(),
            interval: Duration::from_secs(10),
            last_line: Mutex::new(Instant::now()),
        }
    }

    fn bars(&self) -> MutexGuard<'_, HashMap<String, ProgressBar>> {
        self.bars.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `n` more bytes of `image` are in place, copied or skipped.
    fn advance(&self, image: &str, n: u64) {
        if let Some(b) = self.bars().get(image) {
            b.inc(n);
        }
        self.overall.inc(n);
    }

    /// The overall bar as a line, where bars are not drawn.
    fn totals_line(&self) {
        if self.shell.is_fancy() {
            return;
        }
        {
            let mut last = self.last_line.lock().unwrap_or_else(|e| e.into_inner());
            if last.elapsed() < self.interval {
                return;
            }
            *last = Instant::now();
        }
        let copied = self.copied.load(Relaxed);
        let secs = self.overall.elapsed().as_secs_f64().max(0.001);
        self.shell.status(format!(
            "mirror: {} images done, {} MiB copied, {} MiB skipped of {} MiB known, {:.1} MiB/s",
            self.done.load(Relaxed),
            copied >> 20,
            self.overall.position().saturating_sub(copied) >> 20,
            self.overall.length().unwrap_or(0) >> 20,
            copied as f64 / 1048576.0 / secs
        ));
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

impl ProgressSink for ShellProgress {
    fn image_started(&self, image: &str, total_bytes: u64) {
        let bar = self.shell.progress_bar(total_bytes);
        bar.set_style(style("  {msg:40!} [{bar:20}] {bytes}/{total_bytes}"));
        bar.set_message(crate::secret::scrub(image));
        self.overall.inc_length(total_bytes);
        self.bars().insert(image.to_string(), bar);
    }

    fn bytes_copied(&self, image: &str, n: u64) {
        self.copied.fetch_add(n, Relaxed);
        self.advance(image, n);
        self.totals_line();
    }

    fn blob_skipped(&self, image: &str, bytes: u64) {
        self.advance(image, bytes);
    }

    fn image_done(&self, image: &str, outcome: &ImageOutcome) {
        let bar = self.bars().remove(image);
        if let Some(b) = bar {
            b.finish_and_clear();
            self.shell.remove_bar(&b);
        }
        let done = self.done.fetch_add(1, Relaxed) + 1;
        self.overall
            .set_message(format!("{done}/{} images", self.images));
        match outcome {
            ImageOutcome::Copied => self.shell.status(format!("mirror: copied {image}")),
            ImageOutcome::AlreadyPresent => self
                .shell
                .status(format!("mirror: already present {image}")),
            ImageOutcome::Failed(e) => self.shell.err_line(&format!("mirror: FAILED {image}: {e}")),
        }
    }
}

impl Drop for ShellProgress {
    fn drop(&mut self) {
        self.overall.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::OutputFormat;

    #[test]
    fn line_progress_prints_outcomes_and_totals() {
        let (shell, cap) = Shell::capture(OutputFormat::Text);
        let mut p = ShellProgress::new(&shell, 1);
        p.interval = Duration::ZERO;
        let sink: &dyn ProgressSink = &p;
        sink.image_started("a", 4 << 20);
        sink.blob_skipped("a", 1 << 20);
        sink.bytes_copied("a", 3 << 20);
        sink.image_done("a", &ImageOutcome::Copied);
        let text = cap.stderr();
        assert!(
            text.contains("3 MiB copied, 1 MiB skipped of 4 MiB"),
            "{text}"
        );
        assert!(text.contains("mirror: copied a"), "{text}");
    }

    #[test]
    fn progress_lines_are_scrubbed_of_known_secrets() {
        let secret = crate::secret::Secret::new("progress-secret-6119");
        crate::secret::register(&secret);
        let (shell, cap) = Shell::capture(OutputFormat::Text);
        let p = ShellProgress::new(&shell, 1);
        let failure = format!("token {} refused", secret.expose());
        p.image_done("a", &ImageOutcome::Failed(failure));
        let text = cap.stderr();
        assert!(text.contains("mirror: FAILED a"), "{text}");
        assert!(!text.contains(secret.expose()), "{text}");
    }
}
