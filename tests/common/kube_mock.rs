//! A mocked Kubernetes API server (tower-test) for the async `kube` code,
//! answering with realistic Kubernetes JSON: lists with
//! `metadata.resourceVersion`, watch streams as newline-delimited events,
//! Status objects for 404s.

use std::sync::{Arc, Mutex};

use http::{Request, Response};
use kube::client::Body;
use kube::Client;
use serde_json::{json, Value};

type Handle = tower_test::mock::Handle<Request<Body>, Response<Body>>;

/// Records every request the client sends as `METHOD URI BODY` (trimmed, so
/// a request without a body is `METHOD URI`).
pub struct Server {
    requests: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts the fake API server. `route(method, uri, body)` answers
    /// Some((status, body)), or None to leave the request pending forever
    /// (a watch that stays quiet).
    pub fn start(
        route: impl Fn(&str, &str, &str) -> Option<(u16, String)> + Send + Sync + 'static,
    ) -> (Client, Server) {
        let (svc, mut handle): (_, Handle) = tower_test::mock::pair();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = requests.clone();
        tokio::spawn(async move {
            let mut parked = Vec::new();
            while let Some((req, send)) = handle.next_request().await {
                let method = req.method().to_string();
                let uri = req.uri().to_string();
                let body = req.into_body().collect_bytes().await.unwrap_or_default();
                let body = String::from_utf8_lossy(&body).to_string();
                log.lock()
                    .unwrap()
                    .push(format!("{method} {uri} {body}").trim().to_string());
                match route(&method, &uri, &body) {
                    Some((code, text)) => send.send_response(
                        Response::builder()
                            .status(code)
                            .header("content-type", "application/json")
                            .body(Body::from(text.into_bytes()))
                            .unwrap(),
                    ),
                    None => parked.push(send),
                }
            }
        });
        (Client::new(svc, "default"), Server { requests })
    }

    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

/// A JSON file of tests/fixtures/k8s.
pub fn fixture(name: &str) -> Value {
    let text = std::fs::read_to_string(format!(
        "{}/tests/fixtures/k8s/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

pub fn list(kind: &str, items: Vec<Value>, rv: &str) -> String {
    json!({"apiVersion": "v1", "kind": kind, "metadata": {"resourceVersion": rv}, "items": items})
        .to_string()
}

/// The Status a 404 answers with.
pub fn not_found(kind: &str, name: &str) -> String {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": format!("{kind} \"{name}\" not found"), "reason": "NotFound",
        "details": {"name": name, "kind": kind}, "code": 404})
    .to_string()
}

/// The Status a successful DELETE answers with.
pub fn delete_ok() -> String {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Success", "metadata": {}}).to_string()
}

pub fn is_watch(uri: &str) -> bool {
    uri.contains("watch=true")
}
