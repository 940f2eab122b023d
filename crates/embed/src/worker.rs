//! The inference worker: one thread owns the model session and takes batches from two
//! channels, queries (in arrival order) before documents (bounded). A search typed while the vault is being indexed waits at
//! most for the batch in progress, never behind the queued re-index.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, select, unbounded, Receiver, Sender, TryRecvError};
use vault_rag_core::{EmbedError, ModelState};

use crate::batch::Batch;

/// Runs one batch through a model; returns one finished vector per row, in row order.
pub(crate) trait Runner: Send + 'static {
    fn run(&mut self, batch: &Batch, priority: Priority) -> Result<Vec<Vec<f32>>, EmbedError>;

    /// Housekeeping after each batch (see `mapped`).
    fn after_batch(&mut self) {}

    /// Housekeeping before the worker waits for work.
    fn on_idle(&mut self) {}

    /// After `on_idle`: how long the worker may wait for work before calling it again (`None`:
    /// until work comes).
    fn idle_again_after(&self) -> Option<Duration> {
        None
    }
}

/// Whose batch it is: queries jump the document queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Priority {
    Query,
    Document,
}

type Reply = Sender<(usize, Result<Vec<Vec<f32>>, EmbedError>)>;

struct Job {
    batch: Batch,
    priority: Priority,
    /// Index of the batch within its request.
    index: usize,
    reply: Reply,
}

/// Whether the worker's model has loaded; waiters block on it.
#[derive(Default)]
pub(crate) struct Readiness {
    state: Mutex<Loading>,
    changed: Condvar,
}

#[derive(Default)]
enum Loading {
    #[default]
    Pending,
    Ready,
    /// The load error, kept for the first caller that waits (it keeps its type), and its text.
    Failed(Option<EmbedError>, String),
}

impl Readiness {
    fn set_ready(&self) {
        self.set(Loading::Ready);
    }

    fn set_failed(&self, err: EmbedError) {
        let message = err.to_string();
        self.set(Loading::Failed(Some(err), message));
    }

    fn set(&self, loading: Loading) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        *state = loading;
        self.changed.notify_all();
    }

    pub fn state(&self) -> ModelState {
        match &*self.state.lock().unwrap_or_else(|p| p.into_inner()) {
            Loading::Pending => ModelState::Loading,
            Loading::Ready => ModelState::Ready,
            Loading::Failed(_, message) => ModelState::Failed {
                message: message.clone(),
            },
        }
    }

    /// Blocks until the model has loaded or failed to.
    pub fn wait(&self) -> Result<(), EmbedError> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        while matches!(*state, Loading::Pending) {
            state = self.changed.wait(state).unwrap_or_else(|p| p.into_inner());
        }
        match &mut *state {
            Loading::Pending | Loading::Ready => Ok(()),
            Loading::Failed(err, message) => Err(err.take().unwrap_or(EmbedError::NotLoaded {
                message: message.clone(),
            })),
        }
    }
}

/// Document batches queued. Small: a queued batch holds its tokens in memory, and the indexer
/// blocks (back-pressure) rather than pile up work.
const QUEUE: usize = 4;

pub(crate) struct Worker {
    channels: Option<(Sender<Job>, Sender<Job>)>,
    handle: Option<JoinHandle<()>>,
}

impl Worker {
    /// A worker around a runner that is already loaded.
    #[cfg(test)]
    pub fn spawn(runner: impl Runner, name: &str) -> Result<Self, EmbedError> {
        Self::spawn_loading(move || Ok(runner), name, Arc::new(Readiness::default()))
    }

    /// Starts the worker thread, which first runs `load` (the model session) and then serves.
    /// Batches sent meanwhile wait in the queues; if loading fails, each gets the error.
    pub fn spawn_loading<R: Runner>(
        load: impl FnOnce() -> Result<R, EmbedError> + Send + 'static,
        name: &str,
        readiness: Arc<Readiness>,
    ) -> Result<Self, EmbedError> {
        // Queries queue without a bound, in arrival order: each caller waits for its own reply,
        // so at most one job per waiting search is queued, and a bounded channel lets a newly
        // arriving search take a freed slot ahead of one that has been waiting (tail latency).
        let (query_tx, query_rx) = unbounded();
        let (doc_tx, doc_rx) = bounded(QUEUE);
        let handle = std::thread::Builder::new()
            .name(format!("embed-{name}"))
            .spawn(move || {
                let loaded = catch_unwind(AssertUnwindSafe(load)).unwrap_or_else(|panic| {
                    Err(EmbedError::Inference {
                        message: format!("loading the model panicked: {}", panic_text(&panic)),
                    })
                });
                match loaded {
                    Ok(runner) => {
                        readiness.set_ready();
                        serve(runner, query_rx, doc_rx);
                    }
                    Err(err) => {
                        let message = err.to_string();
                        readiness.set_failed(err);
                        refuse(&message, &query_rx, &doc_rx);
                    }
                }
            })
            .map_err(|e| EmbedError::Inference {
                message: format!("cannot start the inference thread: {e}"),
            })?;
        Ok(Self {
            channels: Some((query_tx, doc_tx)),
            handle: Some(handle),
        })
    }

    /// Runs `batches` and returns `rows` vectors in input order (`Batch::positions`).
    pub fn embed(
        &self,
        priority: Priority,
        batches: Vec<Batch>,
        rows: usize,
    ) -> Result<Vec<Vec<f32>>, EmbedError> {
        let (query_tx, doc_tx) = self.channels.as_ref().ok_or(EmbedError::WorkerStopped)?;
        let tx = match priority {
            Priority::Query => query_tx,
            Priority::Document => doc_tx,
        };
        let count = batches.len();
        // Room for every reply: the worker never blocks on a caller that is still sending.
        let (reply_tx, reply_rx) = bounded(count.max(1));
        let mut positions = Vec::with_capacity(count);
        for (index, batch) in batches.into_iter().enumerate() {
            positions.push(batch.positions.clone());
            let job = Job {
                batch,
                priority,
                index,
                reply: reply_tx.clone(),
            };
            tx.send(job).map_err(|_| EmbedError::WorkerStopped)?;
        }
        drop(reply_tx);
        let mut out: Vec<Option<Vec<f32>>> = vec![None; rows];
        for _ in 0..count {
            let (index, result) = reply_rx.recv().map_err(|_| EmbedError::WorkerStopped)?;
            let vectors = result?;
            if vectors.len() != positions[index].len() {
                return Err(EmbedError::Inference {
                    message: format!(
                        "the model returned {} vectors for a batch of {}",
                        vectors.len(),
                        positions[index].len()
                    ),
                });
            }
            for (&pos, v) in positions[index].iter().zip(vectors) {
                out[pos] = Some(v);
            }
        }
        out.into_iter()
            .map(|v| {
                v.ok_or_else(|| EmbedError::Inference {
                    message: "an input got no vector".into(),
                })
            })
            .collect()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Closing both channels ends the loop after the batch in progress.
        self.channels.take();
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// Query batches run in a row while a document batch waits. Then the document batch runs: a
/// steady stream of searches slows indexing down but cannot stop it.
const QUERY_BURST: usize = 8;

fn serve(mut runner: impl Runner, queries: Receiver<Job>, documents: Receiver<Job>) {
    let mut burst = 0;
    loop {
        if burst >= QUERY_BURST {
            burst = 0;
            if let Ok(doc) = documents.try_recv() {
                execute(&mut runner, doc);
                continue;
            }
        }
        let job = match queries.try_recv() {
            Ok(job) => {
                burst += 1;
                job
            }
            Err(TryRecvError::Disconnected) => return,
            Err(TryRecvError::Empty) => {
                // Housekeeping waits until no work has come for a moment: between the searches
                // of someone typing it would delay the next one.
                let next = match wait(&queries, &documents, Some(IDLE_AFTER)) {
                    Waited::Timeout => loop {
                        runner.on_idle();
                        match wait(&queries, &documents, runner.idle_again_after()) {
                            Waited::Timeout => continue,
                            other => break other,
                        }
                    },
                    other => other,
                };
                match next {
                    Waited::Query(job) => {
                        burst += 1;
                        job
                    }
                    Waited::Document(doc) => {
                        // A query that arrived while we were waiting still goes first.
                        while burst < QUERY_BURST {
                            match queries.try_recv() {
                                Ok(query) => {
                                    execute(&mut runner, query);
                                    burst += 1;
                                }
                                Err(_) => break,
                            }
                        }
                        burst = 0;
                        doc
                    }
                    Waited::Closed => return,
                    Waited::Timeout => continue,
                }
            }
        };
        execute(&mut runner, job);
    }
}

/// How long the worker waits without work before its idle housekeeping.
const IDLE_AFTER: Duration = Duration::from_millis(500);

enum Waited {
    Query(Job),
    Document(Job),
    /// A channel closed: the embedder is being dropped.
    Closed,
    Timeout,
}

/// The next job from either queue, waiting at most `timeout` (`None`: without limit).
fn wait(queries: &Receiver<Job>, documents: &Receiver<Job>, timeout: Option<Duration>) -> Waited {
    let query = |job: Result<Job, _>| job.map_or(Waited::Closed, Waited::Query);
    let document = |job: Result<Job, _>| job.map_or(Waited::Closed, Waited::Document);
    match timeout {
        Some(timeout) => select! {
            recv(queries) -> job => query(job),
            recv(documents) -> job => document(job),
            default(timeout) => Waited::Timeout,
        },
        None => select! {
            recv(queries) -> job => query(job),
            recv(documents) -> job => document(job),
        },
    }
}

/// After a failed load: every batch, now or later, gets the load error.
fn refuse(message: &str, queries: &Receiver<Job>, documents: &Receiver<Job>) {
    loop {
        let job = select! {
            recv(queries) -> job => job,
            recv(documents) -> job => job,
        };
        let Ok(job) = job else { return };
        let _ = job.reply.send((
            job.index,
            Err(EmbedError::NotLoaded {
                message: message.to_string(),
            }),
        ));
    }
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into())
}

fn execute(runner: &mut impl Runner, job: Job) {
    let started = Instant::now();
    let result = catch_unwind(AssertUnwindSafe(|| runner.run(&job.batch, job.priority)))
        .unwrap_or_else(|panic| {
            Err(EmbedError::Inference {
                message: format!("inference panicked: {}", panic_text(&panic)),
            })
        });
    tracing::debug!(
        rows = job.batch.rows,
        width = job.batch.width,
        tokens = job.batch.tokens(),
        ms = started.elapsed().as_secs_f64() * 1e3,
        ok = result.is_ok(),
        "batch"
    );
    // The caller may have given up (an earlier batch failed); nothing to do then.
    let _ = job.reply.send((job.index, result));
    runner.after_batch();
}

#[cfg(test)]
#[path = "worker_tests.rs"]
mod tests;
