//! Every `nvcf-dev <command>` a message, help text or example names must be
//! a real command: read out of src/ at test time and checked against the
//! clap command tree.

use std::path::{Path, PathBuf};

use clap::CommandFactory;
use nvcf_dev::cli::Cli;

/// The text of every string literal in `src` (escapes decoded), and of the
/// doc comments when `docs` (clap turns those into help text).
fn texts(src: &str, docs: bool) -> Vec<String> {
    let c: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        match c[i] {
            '/' if c.get(i + 1) == Some(&'/') => {
                let end = c[i..]
                    .iter()
                    .position(|&x| x == '\n')
                    .map_or(c.len(), |n| i + n);
                let line: String = c[i..end].iter().collect();
                if docs && (line.starts_with("///") || line.starts_with("//!")) {
                    out.push(line[3..].to_string());
                }
                i = end;
            }
            '/' if c.get(i + 1) == Some(&'*') => {
                let rest: String = c[i + 2..].iter().collect();
                i += 2 + rest
                    .find("*/")
                    .map_or(rest.chars().count(), |n| rest[..n].chars().count() + 2);
            }
            'r' if matches!(c.get(i + 1), Some('"') | Some('#'))
                && (i == 0 || !(c[i - 1].is_alphanumeric() || c[i - 1] == '_')) =>
            {
                let hashes = c[i + 1..].iter().take_while(|&&x| x == '#').count();
                if c.get(i + 1 + hashes) != Some(&'"') {
                    i += 1;
                    continue;
                }
                let close: String = std::iter::once('"')
                    .chain(std::iter::repeat_n('#', hashes))
                    .collect();
                let start = i + 2 + hashes;
                let rest: String = c[start..].iter().collect();
                let n = rest.find(&close).expect("raw string closes");
                out.push(rest[..n].to_string());
                i = start + rest[..n].chars().count() + close.chars().count();
            }
            '"' => {
                let mut s = String::new();
                i += 1;
                while i < c.len() && c[i] != '"' {
                    if c[i] == '\\' {
                        i += 1;
                        match c.get(i) {
                            Some('n') => s.push('\n'),
                            Some('t') => s.push('\t'),
                            Some('\n') => {
                                while c.get(i + 1).is_some_and(|x| x.is_whitespace()) {
                                    i += 1;
                                }
                            }
                            Some(&x) => s.push(x),
                            None => {}
                        }
                    } else {
                        s.push(c[i]);
                    }
                    i += 1;
                }
                out.push(s);
                i += 1;
            }
            // A char literal ('"', '\'', '\\'); a lifetime has no closing quote.
            '\'' if c.get(i + 1) == Some(&'\\') => {
                i += 2;
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
            }
            '\'' if c.get(i + 2) == Some(&'\'') => i += 3,
            _ => i += 1,
        }
    }
    out
}

/// The command words after each `nvcf-dev` that reads as a command line: in
/// backticks, or an example line (indented by two spaces or more).
fn mentions(text: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    for (at, _) in text.match_indices("nvcf-dev ") {
        let before = &text[..at];
        let line_start = before.rfind('\n').map_or(0, |n| n + 1);
        let indent = &before[line_start..];
        let example = indent.len() >= 2 && indent.chars().all(|c| c == ' ');
        if !(before.ends_with('`') || example) {
            continue;
        }
        let words = text[at + "nvcf-dev ".len()..]
            .split(|c: char| c.is_whitespace() || "`,;:)".contains(c))
            .take_while(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
            .filter(|w| !w.starts_with('-'))
            .map(str::to_string)
            .collect::<Vec<_>>();
        if !words.is_empty() {
            found.push(words);
        }
    }
    found
}

/// The mentioned command that does not exist, if any: the first word must be
/// a subcommand, and so must the next one of a command that has subcommands.
fn unknown(cmd: &clap::Command, words: &[String]) -> Option<String> {
    let first = cmd.find_subcommand(&words[0])?;
    let second = words.get(1)?;
    if first.has_subcommands() && first.find_subcommand(second).is_none() {
        return Some(format!("{} {second}", words[0]));
    }
    None
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn check(cmd: &clap::Command, texts: &[String]) -> Vec<String> {
    let mut bad = Vec::new();
    for t in texts {
        for words in mentions(t) {
            if cmd.find_subcommand(&words[0]).is_none() {
                bad.push(words[0].clone());
            } else if let Some(w) = unknown(cmd, &words) {
                bad.push(w);
            }
        }
    }
    bad
}

#[test]
fn every_command_a_message_names_exists() {
    let cmd = Cli::command();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut checked = 0;
    let mut bad = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let docs = f.starts_with(src.join("cli"));
        let t = texts(&text, docs);
        checked += t.iter().map(|t| mentions(t).len()).sum::<usize>();
        for b in check(&cmd, &t) {
            bad.push(format!("{}: `nvcf-dev {b}`", f.display()));
        }
    }
    // The examples alone name a few dozen: the reader did find them.
    assert!(checked > 30, "only {checked} mentions found");
    assert!(bad.is_empty(), "no such command: {bad:#?}");
}

#[test]
fn the_reader_finds_what_it_must_and_only_that() {
    let src = r##"
        let a = "run `nvcf-dev verify openbao` now"; // `nvcf-dev nope` in a comment
        let b = '"'; let c = '\''; fn f<'a>(x: &'a str) {}
        const E: &str = "Examples:\n  nvcf-dev up --yes\n  nvcf-dev registry frobnicate\n";
        let d = r#"`nvcf-dev {command}` and nvcf-dev automates"#;
        let e = "\
nvcf-dev automates things; `nvcf-dev registry up`, then `nvcf-dev logs openbao`";
    "##;
    let t = texts(src, false);
    let cmd = Cli::command();
    assert_eq!(check(&cmd, &t), ["verify", "registry frobnicate"]);
    let all: Vec<Vec<String>> = t.iter().flat_map(|t| mentions(t)).collect();
    assert_eq!(
        all,
        [
            vec!["verify", "openbao"],
            vec!["up"],
            vec!["registry", "frobnicate"],
            vec!["registry", "up"],
            vec!["logs", "openbao"],
        ]
    );
}
