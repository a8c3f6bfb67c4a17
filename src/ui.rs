//! All user-facing output goes through [`Shell`], as in cargo: status lines and
//! progress go to stderr, results (tables, JSON) to stdout. Tests build a
//! [`Shell::capture`] and read both streams back.
//!
//! On a terminal, steps show a spinner; otherwise (CI, pipes, `NO_COLOR`) they
//! print plain lines, one when a step starts and one when it ends.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

type Sink = Arc<Mutex<dyn Write + Send>>;

#[derive(Clone)]
pub struct Shell {
    out: Sink,
    err: Sink,
    quiet: bool,
    format: OutputFormat,
    /// A terminal is attached to stdin, so prompting is possible.
    interactive: bool,
    /// Spinners and progress bars, only on a terminal and never with NO_COLOR
    /// (the shell is then "fancy"). Steps that run at once (installs in
    /// parallel) share it, so they and the status lines printed meanwhile do
    /// not overwrite each other.
    multi: Option<MultiProgress>,
}

/// The two streams of a [`Shell::capture`], readable after the fact.
#[derive(Clone, Default)]
pub struct Captured {
    out: Arc<Mutex<Vec<u8>>>,
    err: Arc<Mutex<Vec<u8>>>,
}

impl Captured {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.lock().unwrap()).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.err.lock().unwrap()).into_owned()
    }
}

impl Shell {
    /// The shell of a real run: stdout and stderr of this process.
    pub fn stdio(format: OutputFormat, quiet: bool) -> Shell {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false");
        let fancy = std::io::stderr().is_terminal() && !no_color && !ci;
        Shell {
            out: Arc::new(Mutex::new(std::io::stdout())),
            err: Arc::new(Mutex::new(std::io::stderr())),
            quiet,
            format,
            interactive: std::io::stdin().is_terminal() && std::io::stderr().is_terminal() && !ci,
            multi: fancy.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
        }
    }

    /// A shell whose output is kept in memory, for tests. Never fancy, never interactive.
    pub fn capture(format: OutputFormat) -> (Shell, Captured) {
        let cap = Captured::default();
        let shell = Shell {
            out: cap.out.clone(),
            err: cap.err.clone(),
            quiet: false,
            format,
            interactive: false,
            multi: None,
        };
        (shell, cap)
    }

    pub fn is_json(&self) -> bool {
        self.format == OutputFormat::Json
    }

    pub fn is_interactive(&self) -> bool {
        self.interactive
    }

    pub fn is_quiet(&self) -> bool {
        self.quiet
    }

    pub fn is_fancy(&self) -> bool {
        self.multi.is_some()
    }

    /// A result line, on stdout.
    pub fn out(&self, line: impl AsRef<str>) {
        write_line(&self.out, &crate::secret::scrub(line.as_ref()));
    }

    /// One JSON document, on stdout.
    pub fn json<T: serde::Serialize>(&self, value: &T) {
        let text = serde_json::to_string_pretty(value).expect("our output types serialize");
        self.out(text);
    }

    /// A status line, on stderr. Silenced by `-q`.
    pub fn status(&self, line: impl AsRef<str>) {
        if !self.quiet {
            self.err_line(line.as_ref());
        }
    }

    /// A warning, on stderr, shown even with `-q`.
    pub fn warn(&self, line: impl AsRef<str>) {
        self.err_line(&format!("warning: {}", line.as_ref()));
    }

    /// A line on stderr that `-q` does not silence (errors, confirmations).
    pub fn err_line(&self, line: &str) {
        let line = &crate::secret::scrub(line);
        // Through the spinners, when there are, so they do not tear the line.
        if self.multi.as_ref().is_none_or(|m| m.println(line).is_err()) {
            write_line(&self.err, line);
        }
    }

    /// A progress bar drawn with the shell's spinners, so status lines
    /// printed meanwhile do not tear it; hidden unless the shell is fancy.
    pub fn progress_bar(&self, len: u64) -> ProgressBar {
        match &self.multi {
            Some(m) if !self.quiet => m.add(ProgressBar::new(len)),
            // Hidden, but keeping its length: callers read its totals.
            _ => ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::hidden()),
        }
    }

    pub fn remove_bar(&self, bar: &ProgressBar) {
        if let Some(m) = &self.multi {
            m.remove(bar);
        }
    }

    /// Starts a step; its line ends ✓ or ✗ with the duration.
    pub fn step(&self, title: impl Into<String>) -> Step {
        let title = title.into();
        let spinner = if let Some(m) = self.multi.as_ref().filter(|_| !self.quiet) {
            let style = ProgressStyle::with_template(" {spinner:.cyan} {msg} {elapsed:.dim}");
            let style = style.expect("static template").tick_chars("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏ ");
            let pb = m.add(ProgressBar::new_spinner().with_style(style));
            pb.set_message(title.clone());
            pb.enable_steady_tick(Duration::from_millis(100));
            Some(pb)
        } else {
            self.status(format!(" • {title} ..."));
            None
        };
        Step {
            shell: self.clone(),
            title: Some(title),
            started: Instant::now(),
            spinner,
        }
    }
}

fn write_line(sink: &Sink, line: &str) {
    let mut w = sink.lock().unwrap();
    let _ = writeln!(w, "{line}");
    let _ = w.flush();
}

/// A running step. Dropping it unfinished marks it failed, so an early `?`
/// still leaves a ✗ on screen.
pub struct Step {
    shell: Shell,
    /// None once the step's last line is shown.
    title: Option<String>,
    started: Instant,
    spinner: Option<ProgressBar>,
}

impl Step {
    pub fn done(mut self) {
        self.finish(true, None);
    }

    pub fn done_with(mut self, note: impl AsRef<str>) {
        self.finish(true, Some(note.as_ref().to_string()));
    }

    pub fn fail(mut self) {
        self.finish(false, None);
    }

    fn finish(&mut self, ok: bool, note: Option<String>) {
        let Some(title) = self.title.take() else {
            return;
        };
        let mark = if ok { "✓" } else { "✗" };
        let note = note.map(|n| format!(": {n}")).unwrap_or_default();
        let took = format_duration(self.started.elapsed());
        let line = format!(" {mark} {title}{note} ({took})");
        if let Some(pb) = self.spinner.take() {
            pb.finish_and_clear();
        }
        if ok {
            self.shell.status(line);
        } else {
            self.shell.err_line(&line);
        }
    }
}

impl Drop for Step {
    fn drop(&mut self) {
        self.finish(false, None);
    }
}

pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.1}s")
    } else {
        format!("{}m{:02}s", d.as_secs() / 60, d.as_secs() % 60)
    }
}

/// Renders rows as left-aligned columns, as kubectl does.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    let lines: Vec<&Vec<String>> = std::iter::once(&header).chain(rows).collect();
    let width = |i: usize| {
        let cells = lines.iter().filter_map(|row| row.get(i));
        cells.map(|cell| cell.chars().count()).max().unwrap_or(0)
    };
    let widths: Vec<usize> = (0..header.len()).map(width).collect();
    let render = |row: &&Vec<String>| {
        let cells = row.iter().enumerate();
        let padded = cells.map(|(i, cell)| format!("{cell:<w$}", w = widths.get(i).unwrap_or(&0)));
        padded
            .collect::<Vec<_>>()
            .join("   ")
            .trim_end()
            .to_string()
    };
    lines.iter().map(render).collect::<Vec<_>>().join("\n")
}

/// A one-line description of an error including its causes.
pub fn describe_error(e: &dyn std::error::Error) -> String {
    let chain = std::iter::successors(Some(e), |e| e.source());
    chain.map(|e| e.to_string()).collect::<Vec<_>>().join(": ")
}

/// Another library's message flattened to one line: every error nvcf-dev
/// prints is one line.
pub fn one_line(e: &dyn std::fmt::Display) -> String {
    let text = e.to_string();
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_end_with_a_mark_and_duration() {
        let (sh, cap) = Shell::capture(OutputFormat::Text);
        sh.step("Creating cluster").done();
        {
            let _s = sh.step("Installing nats");
            // dropped unfinished: an early return
        }
        let err = cap.stderr();
        assert!(err.contains(" • Creating cluster ..."), "{err}");
        assert!(err.contains(" ✓ Creating cluster ("), "{err}");
        assert!(err.contains(" ✗ Installing nats ("), "{err}");
        assert!(cap.stdout().is_empty());
    }

    #[test]
    fn results_go_to_stdout() {
        let (sh, cap) = Shell::capture(OutputFormat::Json);
        sh.json(&serde_json::json!({"a": 1}));
        sh.status("working");
        assert_eq!(cap.stdout(), "{\n  \"a\": 1\n}\n");
        assert_eq!(cap.stderr(), "working\n");
    }

    #[test]
    fn table_aligns_columns() {
        let t = table(
            &["NAME", "STATUS"],
            &[
                vec!["nats".into(), "ok".into()],
                vec!["cassandra".into(), "fail".into()],
            ],
        );
        assert_eq!(t, "NAME        STATUS\nnats        ok\ncassandra   fail");
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_duration(Duration::from_secs(125)), "2m05s");
    }
}
