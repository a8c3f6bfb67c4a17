//! A mocked Kubernetes API server (tower-test) for the async `kube` code,
//! answering like an apiserver on the points that hide bugs:
//!
//! - lists carry `metadata.resourceVersion`; a watch is a *stream* of
//!   newline-delimited events (each object with its `resourceVersion`) that
//!   stays open until the test's script closes it, may carry BOOKMARKs (only
//!   when the client asked with `allowWatchBookmarks=true`) and a 410 Gone
//!   ERROR event ([`gone`]) that makes the client relist;
//! - objects registered with [`Server::object`] live in a small store: GET,
//!   list, watch (by `metadata.name` field selector) and DELETE, where an
//!   object with finalizers only gets a `deletionTimestamp` and stays until
//!   [`Server::remove_finalizers`] (MODIFIED, then DELETED, to its watchers);
//! - server-side apply PATCHes must say `application/apply-patch+yaml`, a
//!   `fieldManager` and (ours always do) `force=true`, else the answer is the
//!   apiserver's 415/422; a metadata list (`Accept: ...;as=PartialObjectMetadataList`)
//!   gets PartialObjectMetadata items;
//! - every 4xx/5xx body is a `Status` (a route's bare `{}` is wrapped).
//!
//! A test routes the rest with `route(&Req) -> Reply`, or with the older
//! `(method, uri, body) -> Option<(code, body)>` closure of [`Server::start`].

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::channel::mpsc;
use http::{HeaderMap, Request, Response};
use http_body_util::StreamBody;
use hyper::body::Frame;
use kube::client::Body;
use kube::Client;
use serde_json::{json, Value};

type Chunk = Result<Frame<Bytes>, Infallible>;
type RespBody = StreamBody<mpsc::UnboundedReceiver<Chunk>>;
type Handle = tower_test::mock::Handle<Request<Body>, Response<RespBody>>;
type Route = Box<dyn Fn(&Req) -> Reply + Send + Sync>;

/// A request as the mock saw it.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: String,
    /// Path and query, as sent.
    pub uri: String,
    pub path: String,
    pub body: String,
    pub headers: HeaderMap,
}

impl Req {
    /// A query parameter, percent-decoded.
    pub fn query(&self, key: &str) -> Option<String> {
        let q = self.uri.split_once('?')?.1;
        q.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k == key).then(|| decode(v))
        })
    }
    pub fn is_watch(&self) -> bool {
        self.query("watch").as_deref() == Some("true")
    }
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One step of a scripted watch stream.
#[derive(Debug, Clone)]
pub enum Step {
    /// A watch event (`{"type": ..., "object": ...}`), sent as one line.
    Event(Value),
    /// Pause before the next step.
    After(Duration),
}

/// What the API server answers.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A whole JSON body. A 4xx/5xx body that is not a Status is wrapped in one.
    Json(u16, String),
    /// A watch: the steps in order, then the stream closes (`close`, as the
    /// apiserver does at `timeoutSeconds`) or stays open, quiet.
    Watch { steps: Vec<Step>, close: bool },
    /// No answer, ever.
    Pending,
}

impl Reply {
    pub fn ok(body: impl ToString) -> Reply {
        Reply::Json(200, body.to_string())
    }
    /// A watch that sends `events` and stays open.
    pub fn watch(events: Vec<Value>) -> Reply {
        Reply::Watch {
            steps: events.into_iter().map(Step::Event).collect(),
            close: false,
        }
    }
}

/// A watch event of `type_` ("ADDED", "MODIFIED", "DELETED") for `obj`.
pub fn event(type_: &str, obj: &Value) -> Value {
    json!({"type": type_, "object": obj})
}

/// The BOOKMARK an apiserver sends to a watch that allows them.
pub fn bookmark(kind: &str, api_version: &str, rv: &str) -> Value {
    json!({"type": "BOOKMARK", "object": {"kind": kind, "apiVersion": api_version,
        "metadata": {"resourceVersion": rv, "annotations": {"k8s.io/initial-events-end": "true"}}}})
}

/// The ERROR event of a watch whose resourceVersion was compacted away:
/// the client must list again.
pub fn gone(rv: &str) -> Value {
    json!({"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": format!("too old resource version: {rv} (9999)"),
        "reason": "Expired", "code": 410}})
}

/// A Status as the apiserver answers a failure.
pub fn status(code: u16, reason: &str, message: &str) -> String {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code})
    .to_string()
}

fn reason_of(code: u16) -> &'static str {
    match code {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        409 => "Conflict",
        410 => "Expired",
        415 => "UnsupportedMediaType",
        422 => "Invalid",
        429 => "TooManyRequests",
        _ => "InternalError",
    }
}

/// The 409 a server-side apply answers when another manager owns a field.
pub fn apply_conflict(kind: &str, name: &str, manager: &str, field: &str) -> String {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": format!("Apply failed with 1 conflict: conflict with \"{manager}\": {field}"),
        "reason": "Conflict", "code": 409,
        "details": {"name": name, "kind": kind, "causes": [{"reason": "FieldManagerConflict",
            "message": format!("conflict with \"{manager}\""), "field": field}]}})
    .to_string()
}

/// What the mock keeps of objects registered with [`Server::object`].
#[derive(Default)]
struct Store {
    /// item path → object
    objects: BTreeMap<String, Value>,
    /// collection paths the store answers for
    collections: Vec<String>,
    rv: u64,
    /// (collection, name filter, stream) of open watches
    watches: Vec<(String, Option<String>, mpsc::UnboundedSender<Chunk>)>,
}

fn paths_of(obj: &Value) -> (String, String) {
    let api_version = obj["apiVersion"].as_str().unwrap_or("v1");
    let prefix = if api_version.contains('/') {
        format!("/apis/{api_version}")
    } else {
        format!("/api/{api_version}")
    };
    let plural = format!("{}s", obj["kind"].as_str().unwrap().to_lowercase());
    let ns = obj["metadata"]["namespace"].as_str();
    let name = obj["metadata"]["name"].as_str().unwrap();
    let coll = match ns {
        Some(ns) => format!("{prefix}/namespaces/{ns}/{plural}"),
        None => format!("{prefix}/{plural}"),
    };
    let item = format!("{coll}/{name}");
    (coll, item)
}

fn line(v: &Value) -> Chunk {
    Ok(Frame::data(Bytes::from(format!("{v}\n"))))
}

impl Store {
    fn bump(&mut self, obj: &mut Value) {
        self.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(self.rv.to_string());
    }

    fn notify(&mut self, coll: &str, type_: &str, obj: &Value) {
        let name = obj["metadata"]["name"].as_str().unwrap_or("").to_string();
        self.watches.retain(|(c, only, tx)| {
            if c != coll || only.as_ref().is_some_and(|n| *n != name) {
                return !tx.is_closed();
            }
            tx.unbounded_send(line(&event(type_, obj))).is_ok()
        });
    }

    fn remove(&mut self, item: &str) {
        if let Some(mut obj) = self.objects.remove(item) {
            let (coll, _) = paths_of(&obj);
            self.bump(&mut obj);
            self.notify(&coll, "DELETED", &obj);
        }
    }

    /// Answers `req` if it is about the store's objects.
    fn answer(&mut self, req: &Req) -> Option<StoreReply> {
        let coll_match = self.collections.contains(&req.path);
        let item_match = self.collections.iter().any(|c| {
            req.path
                .strip_prefix(c.as_str())
                .is_some_and(|r| r.starts_with('/') && !r[1..].contains('/'))
        });
        let name_filter = req
            .query("fieldSelector")
            .and_then(|f| f.strip_prefix("metadata.name=").map(str::to_string));
        if coll_match && req.method == "GET" {
            let items: Vec<Value> = self
                .objects
                .iter()
                .filter(|(p, _)| p.rsplit_once('/').map(|(c, _)| c) == Some(req.path.as_str()))
                .map(|(_, o)| o.clone())
                .filter(|o| {
                    name_filter
                        .as_ref()
                        .is_none_or(|n| o["metadata"]["name"] == json!(n))
                })
                .collect();
            if req.is_watch() {
                let (tx, rx) = mpsc::unbounded();
                if req.query("allowWatchBookmarks").as_deref() == Some("true") {
                    let kind = items
                        .first()
                        .map(|o| o["kind"].clone())
                        .unwrap_or(json!(""));
                    let _ = tx.unbounded_send(line(&bookmark(
                        kind.as_str().unwrap_or(""),
                        "v1",
                        &self.rv.to_string(),
                    )));
                }
                self.watches.push((req.path.clone(), name_filter, tx));
                return Some(StoreReply::Stream(rx));
            }
            return Some(StoreReply::Json(
                200,
                list("List", items, &self.rv.to_string()),
            ));
        }
        if !item_match {
            return None;
        }
        let name = req.path.rsplit('/').next().unwrap().to_string();
        match req.method.as_str() {
            "GET" => Some(match self.objects.get(&req.path) {
                Some(o) => StoreReply::Json(200, o.to_string()),
                None => StoreReply::Json(404, not_found("", &name)),
            }),
            "DELETE" => {
                let Some(mut obj) = self.objects.get(&req.path).cloned() else {
                    return Some(StoreReply::Json(404, not_found("", &name)));
                };
                let held = obj["metadata"]["finalizers"]
                    .as_array()
                    .is_some_and(|f| !f.is_empty());
                if held {
                    if obj["metadata"]["deletionTimestamp"].is_null() {
                        obj["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
                        obj["metadata"]["deletionGracePeriodSeconds"] = json!(0);
                        self.bump(&mut obj);
                        self.objects.insert(req.path.clone(), obj.clone());
                        let (coll, _) = paths_of(&obj);
                        self.notify(&coll, "MODIFIED", &obj);
                    }
                    Some(StoreReply::Json(200, obj.to_string()))
                } else {
                    self.remove(&req.path);
                    Some(StoreReply::Json(200, obj.to_string()))
                }
            }
            _ => Some(StoreReply::Json(
                405,
                status(
                    405,
                    "MethodNotAllowed",
                    "the server does not allow this method on the requested resource",
                ),
            )),
        }
    }
}

enum StoreReply {
    Json(u16, String),
    Stream(mpsc::UnboundedReceiver<Chunk>),
}

/// Records every request the client sends as `METHOD URI BODY` (trimmed, so
/// a request without a body is `METHOD URI`).
#[derive(Clone)]
pub struct Server {
    requests: Arc<Mutex<Vec<Req>>>,
    store: Arc<Mutex<Store>>,
}

impl Server {
    /// Starts the fake API server. `route(method, uri, body)` answers
    /// Some((status, body)), or None to leave the request pending forever
    /// (a watch that stays quiet).
    pub fn start(
        route: impl Fn(&str, &str, &str) -> Option<(u16, String)> + Send + Sync + 'static,
    ) -> (Client, Server) {
        Server::serve(move |r: &Req| match route(&r.method, &r.uri, &r.body) {
            Some((code, body)) => Reply::Json(code, body),
            None => Reply::Pending,
        })
    }

    /// Starts the fake API server with a route that sees the whole request
    /// and may answer a scripted watch stream.
    pub fn serve(route: impl Fn(&Req) -> Reply + Send + Sync + 'static) -> (Client, Server) {
        let route: Route = Box::new(route);
        let (svc, mut handle): (_, Handle) = tower_test::mock::pair();
        let server = Server {
            requests: Arc::default(),
            store: Arc::default(),
        };
        let me = server.clone();
        tokio::spawn(async move {
            let mut parked = Vec::new();
            while let Some((req, send)) = handle.next_request().await {
                let (parts, body) = req.into_parts();
                let body = body.collect_bytes().await.unwrap_or_default();
                let uri = parts.uri.to_string();
                let req = Req {
                    method: parts.method.to_string(),
                    path: uri.split('?').next().unwrap().to_string(),
                    uri,
                    body: String::from_utf8_lossy(&body).to_string(),
                    headers: parts.headers,
                };
                me.requests.lock().unwrap().push(req.clone());
                let (tx, rx) = mpsc::unbounded();
                let reply = match check_request(&req) {
                    Some(refusal) => Reply::Json(refusal.0, refusal.1),
                    None => match me.store.lock().unwrap().answer(&req) {
                        Some(StoreReply::Json(c, b)) => Reply::Json(c, b),
                        Some(StoreReply::Stream(srx)) => {
                            send.send_response(response(200, StreamBody::new(srx)));
                            continue;
                        }
                        None => route(&req),
                    },
                };
                match reply {
                    Reply::Pending => {
                        parked.push(send);
                        continue;
                    }
                    Reply::Json(code, text) if req.is_watch() && code == 200 => {
                        // An older script's watch body: its lines, then the end.
                        let steps = text
                            .lines()
                            .filter(|l| !l.trim().is_empty())
                            .map(|l| {
                                Step::Event(serde_json::from_str(l).expect("watch line is JSON"))
                            })
                            .collect();
                        send.send_response(response(200, StreamBody::new(rx)));
                        tokio::spawn(stream_watch(req, steps, true, tx));
                    }
                    Reply::Json(code, text) => {
                        let text = as_apiserver_body(&req, code, text);
                        send.send_response(response(code, StreamBody::new(rx)));
                        let _ = tx.unbounded_send(Ok(Frame::data(Bytes::from(text))));
                    }
                    Reply::Watch { steps, close } => {
                        assert!(
                            req.is_watch(),
                            "a watch answer to a non-watch request: {}",
                            req.uri
                        );
                        send.send_response(response(200, StreamBody::new(rx)));
                        tokio::spawn(stream_watch(req, steps, close, tx));
                    }
                }
            }
            drop(parked);
        });
        (Client::new(svc, "default"), server)
    }

    /// Registers an object in the store (see the module doc).
    pub fn object(&self, obj: Value) -> &Self {
        let mut store = self.store.lock().unwrap();
        let (coll, item) = paths_of(&obj);
        if !store.collections.contains(&coll) {
            store.collections.push(coll.clone());
        }
        let mut obj = obj;
        store.bump(&mut obj);
        store.notify(&coll, "ADDED", &obj);
        store.objects.insert(item, obj);
        self
    }

    /// Makes a collection answer from the store even while it is empty.
    pub fn collection(&self, path: &str) -> &Self {
        let mut store = self.store.lock().unwrap();
        if !store.collections.iter().any(|c| c == path) {
            store.collections.push(path.to_string());
        }
        self
    }

    /// Whether the store still holds the object at `item` (a path).
    pub fn holds(&self, item: &str) -> Option<Value> {
        self.store.lock().unwrap().objects.get(item).cloned()
    }

    /// A controller removes the finalizers of the object at `item`: if it
    /// was being deleted, it is gone now (MODIFIED, then DELETED, to watchers).
    pub fn remove_finalizers(&self, item: &str) {
        let mut store = self.store.lock().unwrap();
        let Some(mut obj) = store.objects.get(item).cloned() else {
            return;
        };
        obj["metadata"]["finalizers"] = json!([]);
        store.bump(&mut obj);
        let (coll, _) = paths_of(&obj);
        store.notify(&coll, "MODIFIED", &obj);
        let terminating = !obj["metadata"]["deletionTimestamp"].is_null();
        store.objects.insert(item.to_string(), obj);
        if terminating {
            store.remove(item);
        }
    }

    /// Every request as `METHOD URI BODY`, trimmed.
    pub fn requests(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .map(|r| {
                format!("{} {} {}", r.method, r.uri, r.body)
                    .trim()
                    .to_string()
            })
            .collect()
    }

    /// Every request with its headers.
    pub fn received(&self) -> Vec<Req> {
        self.requests.lock().unwrap().clone()
    }
}

fn response(code: u16, body: RespBody) -> Response<RespBody> {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(body)
        .unwrap()
}

/// What a real apiserver refuses before any handler runs.
fn check_request(req: &Req) -> Option<(u16, String)> {
    let content_type = req.header("content-type");
    if req.method == "PATCH" {
        let apply = content_type == "application/apply-patch+yaml";
        let known = apply
            || [
                "application/json-patch+json",
                "application/merge-patch+json",
                "application/strategic-merge-patch+json",
            ]
            .contains(&content_type);
        if !known {
            return Some((
                415,
                status(415, "UnsupportedMediaType", &format!("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml; got {content_type:?}")),
            ));
        }
        let force = req.query("force").as_deref() == Some("true");
        if apply && req.query("fieldManager").is_none_or(|m| m.is_empty()) {
            return Some((
                422,
                status(422, "Invalid", "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"),
            ));
        }
        if !apply && force {
            return Some((
                422,
                status(422, "Invalid", "PatchOptions.meta.k8s.io \"\" is invalid: force: Forbidden: may not be specified for non-apply patch"),
            ));
        }
    }
    if ["POST", "PUT"].contains(&req.method.as_str())
        && !content_type.starts_with("application/json")
    {
        return Some((
            415,
            status(415, "UnsupportedMediaType", "expected application/json"),
        ));
    }
    None
}

/// A failure's body as a Status; a list asked for as metadata as a
/// PartialObjectMetadataList.
fn as_apiserver_body(req: &Req, code: u16, text: String) -> String {
    if code >= 400 {
        let is_status = serde_json::from_str::<Value>(&text)
            .is_ok_and(|v| v["kind"] == "Status" && v["code"] == json!(code));
        return if is_status {
            text
        } else {
            status(
                code,
                reason_of(code),
                &format!("{} {}: {}", req.method, req.path, text.trim()),
            )
        };
    }
    if req
        .header("accept")
        .contains("as=PartialObjectMetadataList")
    {
        if let Ok(mut v) = serde_json::from_str::<Value>(&text) {
            if v["kind"] != "PartialObjectMetadataList" {
                let items: Vec<Value> = v["items"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|o| json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata", "metadata": o["metadata"]}))
                    .collect();
                v = json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadataList",
                    "metadata": v["metadata"], "items": items});
                return v.to_string();
            }
        }
    }
    text
}

/// Sends a scripted watch, checking it is one an apiserver could send.
async fn stream_watch(req: Req, steps: Vec<Step>, close: bool, tx: mpsc::UnboundedSender<Chunk>) {
    let bookmarks = req.query("allowWatchBookmarks").as_deref() == Some("true");
    for step in steps {
        match step {
            Step::After(d) => tokio::time::sleep(d).await,
            Step::Event(ev) => {
                let t = ev["type"].as_str().unwrap_or("");
                match t {
                    "BOOKMARK" => assert!(
                        bookmarks,
                        "a BOOKMARK to a watch that did not allow them: {}",
                        req.uri
                    ),
                    "ERROR" => assert_eq!(
                        ev["object"]["kind"], "Status",
                        "an ERROR event carries a Status"
                    ),
                    "ADDED" | "MODIFIED" | "DELETED" => assert!(
                        ev["object"]["metadata"]["resourceVersion"].is_string(),
                        "a watched object carries its resourceVersion: {ev}"
                    ),
                    other => panic!("no such watch event type: {other}"),
                }
                if tx.unbounded_send(line(&ev)).is_err() {
                    return;
                }
            }
        }
    }
    if !close {
        // Open until the client hangs up.
        while !tx.is_closed() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
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
