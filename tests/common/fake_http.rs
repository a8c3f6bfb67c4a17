//! A minimal HTTP/1.1 server on 127.0.0.1 for the CLI tests' fake API
//! servers: the binary under test talks to it as to a kube-apiserver, so it
//! must be a real socket (not tower-test). Keep-alive, Content-Length bodies,
//! and exec over a WebSocket (`v4.channel.k8s.io`), as kube's `ws` feature
//! speaks it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// What an exec in a pod prints and how it ends.
pub struct ExecReply {
    pub stdout: String,
    pub exit_code: i32,
}

/// Serves `route(method, path, body) -> (status, json)` on a free port.
/// Returns the address and the log of `METHOD PATH BODY` lines.
pub fn serve(
    route: impl Fn(&str, &str, &str) -> (u16, String) + Send + Sync + 'static,
) -> (String, Arc<Mutex<Vec<String>>>) {
    serve_with_exec(route, |_| None)
}

/// [`serve`], answering WebSocket upgrades (pod exec) with `exec(path)`;
/// None refuses the upgrade with a 404 Status.
pub fn serve_with_exec(
    route: impl Fn(&str, &str, &str) -> (u16, String) + Send + Sync + 'static,
    exec: impl Fn(&str) -> Option<ExecReply> + Send + Sync + 'static,
) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen = log.clone();
    let route = Arc::new(route);
    let exec = Arc::new(exec);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let (seen, route, exec) = (seen.clone(), route.clone(), exec.clone());
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut len = 0usize;
                    let mut ws_key = None;
                    loop {
                        let mut h = String::new();
                        if reader.read_line(&mut h).unwrap_or(0) == 0 {
                            return;
                        }
                        if h.trim().is_empty() {
                            break;
                        }
                        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap_or(0);
                        }
                        if let Some((name, v)) = h.split_once(':') {
                            if name.eq_ignore_ascii_case("sec-websocket-key") {
                                ws_key = Some(v.trim().to_string());
                            }
                        }
                    }
                    let mut body = vec![0u8; len];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    let body = String::from_utf8_lossy(&body).to_string();
                    let mut parts = line.split_whitespace();
                    let method = parts.next().unwrap_or("").to_string();
                    let path = parts.next().unwrap_or("").to_string();
                    seen.lock()
                        .unwrap()
                        .push(format!("{method} {path} {body}").trim_end().to_string());
                    if let Some(key) = ws_key {
                        match exec(&path) {
                            Some(reply) => answer_exec(stream, &key, reply),
                            None => {
                                let _ = write!(
                                    stream,
                                    "HTTP/1.1 404 X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{NOT_FOUND}",
                                    NOT_FOUND.len()
                                );
                            }
                        }
                        return;
                    }
                    let (code, reply) = route(&method, &path, &body);
                    let sent = write!(
                        stream,
                        "HTTP/1.1 {code} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{reply}",
                        reply.len()
                    );
                    if sent.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, log)
}

/// Switches to WebSocket and answers as the kubelet does over
/// `v4.channel.k8s.io`: stdout on channel 1, then the exit Status on
/// channel 3, then a close.
fn answer_exec(mut stream: std::net::TcpStream, key: &str, reply: ExecReply) {
    use tungstenite::protocol::{Message, Role, WebSocket};
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    let head = format!(
        "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: {accept}\r\nsec-websocket-protocol: v4.channel.k8s.io\r\n\r\n"
    );
    if stream.write_all(head.as_bytes()).is_err() {
        return;
    }
    let mut ws = WebSocket::from_raw_socket(stream, Role::Server, None);
    let status = if reply.exit_code == 0 {
        r#"{"metadata":{},"status":"Success"}"#.to_string()
    } else {
        format!(
            r#"{{"metadata":{{}},"status":"Failure","message":"command terminated with non-zero exit code","reason":"NonZeroExitCode","details":{{"causes":[{{"reason":"ExitCode","message":"{}"}}]}}}}"#,
            reply.exit_code
        )
    };
    let frame = |channel: u8, data: &[u8]| {
        let mut f = vec![channel];
        f.extend_from_slice(data);
        Message::Binary(f.into())
    };
    let _ = ws.send(frame(1, reply.stdout.as_bytes()));
    let _ = ws.send(frame(3, status.as_bytes()));
    let _ = ws.close(None);
    // Drain until the client's close arrives, so the close handshake completes.
    while ws.read().is_ok() {}
}

/// The Status a 404 answers with.
pub const NOT_FOUND: &str = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","reason":"NotFound","code":404}"#;

/// What `/version` answers: a Kubernetes 1.33 API server.
pub const VERSION: &str =
    r#"{"major":"1","minor":"33","gitVersion":"v1.33.1","platform":"linux/amd64"}"#;
