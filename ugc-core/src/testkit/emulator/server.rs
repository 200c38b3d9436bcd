use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
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
    /// Body bytes actually sent for each response, in request order.
    sent: Mutex<Vec<Arc<AtomicU64>>>,
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

    /// Response body bytes the emulator actually sent, one entry per request in order: a
    /// client that aborts a large body while streaming leaves its entry far below the size.
    pub fn bytes_sent(&self) -> Vec<u64> {
        lock(&self.sent)
            .iter()
            .map(|n| n.load(Ordering::Relaxed))
            .collect()
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

    /// Response body bytes sent per request (see [`Control::bytes_sent`]).
    pub fn bytes_sent(&self) -> Vec<u64> {
        self.control.bytes_sent()
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
    let sent = Arc::new(AtomicU64::new(0));
    lock(&control.sent).push(sent.clone());
    let response = next
        .run(Request::from_parts(parts, axum::body::Body::from(body)))
        .await;
    let (parts, body) = response.into_parts();
    // Count what the client actually pulls from the body, not what it would have been.
    let counted =
        futures::TryStreamExt::inspect_ok(body.into_data_stream(), move |chunk: &Bytes| {
            sent.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        });
    Response::from_parts(parts, axum::body::Body::from_stream(counted))
}
