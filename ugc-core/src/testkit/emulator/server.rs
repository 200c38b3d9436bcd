use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use bytes::Bytes;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::Fault;

/// One request an emulator received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// HTTP method.
    pub method: String,
    /// Path, without the query.
    pub path: String,
    /// The query string, if any.
    pub query: Option<String>,
    /// Headers as sent (lower-case names).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Bytes,
}

impl Recorded {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The fault queue and request log an emulator's handlers share.
#[derive(Default)]
pub struct Control {
    faults: Mutex<VecDeque<Fault>>,
    requests: Mutex<Vec<Recorded>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Control {
    /// The fault for the request being handled, if one is queued.
    pub fn next_fault(&self) -> Option<Fault> {
        lock(&self.faults).pop_front()
    }

    /// Queues `fault` for a later request.
    pub fn push_fault(&self, fault: Fault) {
        lock(&self.faults).push_back(fault);
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.requests).clone()
    }
}

impl fmt::Debug for Control {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Control")
            .field("faults", &lock(&self.faults).len())
            .field("requests", &lock(&self.requests).len())
            .finish()
    }
}

/// A running emulator on 127.0.0.1; it stops when dropped.
pub struct Emulator {
    base_url: String,
    control: Arc<Control>,
    _shutdown: oneshot::Sender<()>,
}

impl fmt::Debug for Emulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emulator")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl Emulator {
    /// Serves `app` on a free loopback port, recording every request into `control`.
    /// Needs a Tokio runtime; the server task runs until the emulator is dropped.
    pub async fn serve(app: axum::Router, control: Arc<Control>) -> io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let app = app.layer(middleware::from_fn_with_state(control.clone(), record));
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let shutdown = async move {
                let _ = rx.await;
            };
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await;
        });
        Ok(Self {
            base_url,
            control,
            _shutdown: tx,
        })
    }

    /// `http://127.0.0.1:<port>`: point an adapter's base URL here.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Queues `fault` for the next request not yet faulted.
    pub fn push_fault(&self, fault: Fault) {
        self.control.push_fault(fault);
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.control.requests()
    }

    /// The shared control.
    pub fn control(&self) -> &Arc<Control> {
        &self.control
    }
}

async fn record(State(control): State<Arc<Control>>, request: Request, next: Next) -> Response {
    const MAX_RECORDED: usize = 16 * 1024 * 1024;
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, MAX_RECORDED)
        .await
        .unwrap_or_default();
    lock(&control.requests).push(Recorded {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.clone(),
    });
    next.run(Request::from_parts(parts, axum::body::Body::from(body)))
        .await
}
