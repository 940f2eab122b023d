//! The accept loop. Every connection counts against a cap, checked before any request is read
//! (so before the token); request headers must arrive within a deadline, which also ends idle
//! keep-alive connections; and when the cap is reached, the connection idle longest (one that has
//! not sent a whole request) makes room for the new one. A flood of half-sent requests therefore
//! neither exhausts file descriptors nor keeps real clients out, and shutdown closes idle
//! connections at once instead of waiting for them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tower::ServiceExt;

/// How many connections may be open, and how long a client may take to send request headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Open connections at most; well below the usual limit of 1,024 open files.
    pub max_connections: usize,
    /// Deadline for a request's headers, counted from when the server waits for them (so it is
    /// also the idle timeout of a keep-alive connection).
    pub header_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_connections: 256,
            header_timeout: Duration::from_secs(10),
        }
    }
}

/// What the loop and each connection share about one connection.
struct Conn {
    /// A request is being answered: the connection may not be evicted.
    busy: AtomicBool,
    /// Milliseconds since the tracker started at the last request's end (or the accept).
    idle_since: AtomicU64,
    /// No request has started on it yet (see [`FIRST_REQUEST_GRACE`]).
    fresh: AtomicBool,
}

/// At a stop, how long a connection that has not started its first request may still send it.
/// A client that connected just before a handover (the model download ending) or a shutdown
/// gets an answer rather than a connection closed under its request.
const FIRST_REQUEST_GRACE: Duration = Duration::from_millis(500);

struct Entry {
    conn: Arc<Conn>,
    close: Option<oneshot::Sender<()>>,
}

struct Tracker {
    start: Instant,
    next_id: AtomicU64,
    conns: Mutex<HashMap<u64, Entry>>,
}

impl Tracker {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            next_id: AtomicU64::new(0),
            conns: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Entry>> {
        // A panic while holding this lock leaves the map consistent: keep using it.
        self.conns
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Registers a new connection. At the cap, the idle connection that has waited longest is
    /// closed to make room; when every connection is answering a request, the new one is refused.
    fn admit(&self, max: usize) -> Option<(u64, Arc<Conn>, oneshot::Receiver<()>)> {
        let mut conns = self.lock();
        if conns.len() >= max {
            let victim = conns
                .iter()
                .filter(|(_, e)| !e.conn.busy.load(Ordering::Acquire))
                .min_by_key(|(_, e)| e.conn.idle_since.load(Ordering::Acquire))
                .map(|(id, _)| *id)?;
            if let Some(mut entry) = conns.remove(&victim) {
                if let Some(close) = entry.close.take() {
                    let _ = close.send(());
                }
            }
            tracing::debug!(
                max,
                "connection cap reached: closed the connection idle longest"
            );
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Conn {
            busy: AtomicBool::new(false),
            idle_since: AtomicU64::new(self.now_ms()),
            fresh: AtomicBool::new(true),
        });
        let (close, closed) = oneshot::channel();
        conns.insert(
            id,
            Entry {
                conn: conn.clone(),
                close: Some(close),
            },
        );
        Some((id, conn, closed))
    }

    fn remove(&self, id: u64) {
        self.lock().remove(&id);
    }

    /// Closes every connection that is not answering a request.
    /// Fresh ones close themselves after their grace.
    fn close_idle(&self) {
        let mut conns = self.lock();
        conns.retain(|_, entry| {
            if entry.conn.busy.load(Ordering::Acquire) || entry.conn.fresh.load(Ordering::Acquire) {
                return true;
            }
            if let Some(close) = entry.close.take() {
                let _ = close.send(());
            }
            false
        });
    }

    fn len(&self) -> usize {
        self.lock().len()
    }
}

/// Serves `app` on `listener` until `stop` turns true; then closes idle connections at once and
/// gives requests in flight up to `drain` to finish.
pub(crate) async fn serve_connections(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    mut stop: watch::Receiver<bool>,
    drain: Duration,
) {
    let tracker = Arc::new(Tracker::new());
    loop {
        let accepted = tokio::select! {
            () = stopped(&mut stop) => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of descriptors or a connection reset before accept: wait, keep serving.
                tracing::warn!(error = %e, "cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some((id, conn, closed)) = tracker.admit(limits.max_connections) else {
            tracing::warn!(
                max = limits.max_connections,
                "connection refused: every connection is answering a request"
            );
            continue;
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve_one(
            stream,
            app.clone(),
            limits,
            conn,
            closed,
            stop.clone(),
            tracker.clone(),
            id,
        ));
    }
    tracker.close_idle();
    let deadline = Instant::now() + drain;
    while tracker.len() > 0 {
        if Instant::now() >= deadline {
            tracing::warn!(
                "requests still running {} s after shutdown; closing them",
                drain.as_secs()
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[allow(clippy::too_many_arguments)]
async fn serve_one(
    stream: tokio::net::TcpStream,
    app: Router,
    limits: ConnectionLimits,
    conn: Arc<Conn>,
    mut closed: oneshot::Receiver<()>,
    mut stop: watch::Receiver<bool>,
    tracker: Arc<Tracker>,
    id: u64,
) {
    let start = tracker.start;
    let state = conn.clone();
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let app = app.clone();
        let state = state.clone();
        async move {
            state.busy.store(true, Ordering::Release);
            state.fresh.store(false, Ordering::Release);
            let response = app.oneshot(request).await;
            let now = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
            state.idle_since.store(now, Ordering::Release);
            state.busy.store(false, Ordering::Release);
            response
        }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => log_end(result),
        _ = &mut closed => {}
        () = stopped(&mut stop) => {
            if conn.fresh.load(Ordering::Acquire) {
                // Its first request may be on the way: read it for a moment.
                tokio::select! {
                    result = connection.as_mut() => {
                        log_end(result);
                        tracker.remove(id);
                        return;
                    }
                    _ = &mut closed => {
                        tracker.remove(id);
                        return;
                    }
                    () = tokio::time::sleep(FIRST_REQUEST_GRACE) => {}
                }
                if conn.fresh.load(Ordering::Acquire) {
                    // Still no request, or headers half sent: closed, as any idle connection.
                    tracker.remove(id);
                    return;
                }
            }
            // Idle connections are closed by the loop; one answering a request finishes it.
            connection.as_mut().graceful_shutdown();
            tokio::select! {
                result = connection.as_mut() => log_end(result),
                _ = &mut closed => {}
            }
        }
    }
    tracker.remove(id);
}

/// Resolves once `stop` is true (or its sender is gone); holds no borrow across awaits.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

fn log_end(result: Result<(), hyper::Error>) {
    if let Err(e) = result {
        // Timeouts and resets are the client's business; keep them out of the normal log.
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_the_cap_the_connection_idle_longest_makes_room() {
        let tracker = Tracker::new();
        let (first, first_conn, mut first_closed) = tracker.admit(2).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        let (_, second_conn, mut second_closed) = tracker.admit(2).unwrap();
        // The older one is busy: the younger idle one goes instead.
        first_conn.busy.store(true, Ordering::Release);
        let (_, _, _third_closed) = tracker.admit(2).unwrap();
        assert!(second_closed.try_recv().is_ok());
        assert!(first_closed.try_recv().is_err());
        assert_eq!(tracker.len(), 2);
        drop(second_conn);
        // Every connection busy: a new one is refused.
        for entry in tracker.lock().values() {
            entry.conn.busy.store(true, Ordering::Release);
        }
        assert!(tracker.admit(2).is_none());
        tracker.remove(first);
        assert_eq!(tracker.len(), 1);
    }

    /// A client that connected just before a stop (a backend handover, a shutdown) and sends
    /// its request right after still gets an answer.
    #[tokio::test]
    async fn a_connection_opened_before_a_stop_gets_its_first_request_answered() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().route("/", axum::routing::get(|| async { "answered" }));
        let (stop_tx, stop_rx) = watch::channel(false);
        let served = tokio::spawn(serve_connections(
            listener,
            app,
            ConnectionLimits::default(),
            stop_rx,
            Duration::from_secs(5),
        ));
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        stop_tx.send(true).unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .unwrap();
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).await.unwrap();
        let reply = String::from_utf8_lossy(&reply);
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
        assert!(reply.ends_with("answered"), "{reply}");
        // The loop has stopped accepting and returns once the connection is done.
        tokio::time::timeout(Duration::from_secs(2), served)
            .await
            .unwrap()
            .unwrap();
    }

    #[test]
    fn shutdown_closes_idle_connections_and_keeps_busy_and_fresh_ones() {
        let tracker = Tracker::new();
        let (_, idle, mut idle_closed) = tracker.admit(8).unwrap();
        // An idle keep-alive connection: it has answered a request before.
        idle.fresh.store(false, Ordering::Release);
        let (_, busy, mut busy_closed) = tracker.admit(8).unwrap();
        busy.busy.store(true, Ordering::Release);
        // Not a request yet: it closes itself after its grace.
        let (_, _fresh, mut fresh_closed) = tracker.admit(8).unwrap();
        tracker.close_idle();
        assert!(idle_closed.try_recv().is_ok());
        assert!(busy_closed.try_recv().is_err());
        assert!(fresh_closed.try_recv().is_err());
        assert_eq!(tracker.len(), 2);
        drop(idle);
    }
}
