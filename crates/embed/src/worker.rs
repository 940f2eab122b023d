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
    fn run(&mut self, batch: &Batch) -> Result<Vec<Vec<f32>>, EmbedError>;

    /// Housekeeping after each batch (see `mapped`).
    fn after_batch(&mut self) {}

    /// Housekeeping before the worker waits for work.
    fn on_idle(&mut self) {}
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
                    Waited::Timeout => {
                        runner.on_idle();
                        wait(&queries, &documents, None)
                    }
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
    let result =
        catch_unwind(AssertUnwindSafe(|| runner.run(&job.batch))).unwrap_or_else(|panic| {
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
mod tests {
    use super::*;
    use crate::batch::plan;
    use crate::tokenize::Tokens;
    use std::sync::{Arc, Mutex};

    /// Records which batches ran, by their first token; the first batch waits for a signal so
    /// that the test can queue work behind it.
    struct Recorder {
        log: Arc<Mutex<Vec<u32>>>,
        /// Told when the first batch starts; the first batch then waits for `gate`.
        started: Option<Sender<()>>,
        gate: Option<Receiver<()>>,
    }

    impl Runner for Recorder {
        fn run(&mut self, batch: &Batch) -> Result<Vec<Vec<f32>>, EmbedError> {
            if let Some(started) = self.started.take() {
                let _ = started.send(());
            }
            if let Some(gate) = self.gate.take() {
                let _ = gate.recv();
            }
            let first = batch.input_ids[0] as u32;
            self.log.lock().unwrap().push(first);
            if first == 666 {
                return Err(EmbedError::Inference {
                    message: "boom".into(),
                });
            }
            if first == 777 {
                panic!("runner panicked");
            }
            Ok(batch.positions.iter().map(|&p| vec![p as f32]).collect())
        }
    }

    fn texts(first_tokens: &[u32]) -> Vec<Tokens> {
        first_tokens
            .iter()
            .map(|&t| Tokens { ids: vec![t, 1, 1] })
            .collect()
    }

    /// A worker whose runner logs each batch's first token, signals `started` when it holds a
    /// batch, and waits for `open` before running the first one.
    #[allow(clippy::type_complexity)]
    fn gated_worker() -> (
        Arc<Worker>,
        Arc<Mutex<Vec<u32>>>,
        crossbeam_channel::Sender<()>,
        crossbeam_channel::Receiver<()>,
    ) {
        let log = Arc::new(Mutex::new(Vec::new()));
        let (open, gate) = bounded(1);
        let (started_tx, started) = bounded(1);
        let worker = Arc::new(
            Worker::spawn(
                Recorder {
                    log: log.clone(),
                    started: Some(started_tx),
                    gate: Some(gate),
                },
                "test",
            )
            .unwrap(),
        );
        (worker, log, open, started)
    }

    #[test]
    fn queries_jump_queued_documents() {
        let (worker, log, open, started) = gated_worker();
        // Four one-row document batches (budget 3 tokens = one text per batch).
        let docs = {
            let worker = worker.clone();
            std::thread::spawn(move || {
                let batches = plan(texts(&[10, 11, 12, 13]), 3, 0);
                worker.embed(Priority::Document, batches, 4).unwrap()
            })
        };
        // Wait until the worker holds the first document batch and the rest are queued.
        started.recv().unwrap();
        while worker.channels.as_ref().unwrap().1.len() < 3 {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let query = {
            let worker = worker.clone();
            std::thread::spawn(move || {
                worker
                    .embed(Priority::Query, plan(texts(&[99]), 3, 0), 1)
                    .unwrap()
            })
        };
        while worker.channels.as_ref().unwrap().0.is_empty() {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        open.send(()).unwrap();
        assert_eq!(query.join().unwrap(), vec![vec![0.0]]);
        let doc_vectors = docs.join().unwrap();
        // Input order is restored whatever order the batches ran in.
        assert_eq!(
            doc_vectors,
            vec![vec![0.0], vec![1.0], vec![2.0], vec![3.0]]
        );
        let order = log.lock().unwrap().clone();
        assert_eq!(order.len(), 5);
        assert_eq!(
            order[1], 99,
            "the query ran right after the batch in progress: {order:?}"
        );
    }

    #[test]
    fn a_stream_of_queries_does_not_starve_documents() {
        let (worker, log, open, started) = gated_worker();
        // Hold the worker on a first query while a document batch and more queries queue up.
        let first = {
            let worker = worker.clone();
            std::thread::spawn(move || worker.embed(Priority::Query, plan(texts(&[1]), 3, 0), 1))
        };
        started.recv().unwrap();
        let doc = {
            let worker = worker.clone();
            std::thread::spawn(move || {
                worker.embed(Priority::Document, plan(texts(&[50]), 3, 0), 1)
            })
        };
        while worker.channels.as_ref().unwrap().1.is_empty() {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        // Queries keep arriving faster than they run: the query queue never empties.
        let queries: Vec<_> = (0..3 * QUERY_BURST as u32)
            .map(|i| {
                let worker = worker.clone();
                std::thread::spawn(move || {
                    worker.embed(Priority::Query, plan(texts(&[100 + i]), 3, 0), 1)
                })
            })
            .collect();
        while worker.channels.as_ref().unwrap().0.len() < 4 {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        open.send(()).unwrap();
        first.join().unwrap().unwrap();
        doc.join().unwrap().unwrap();
        for q in queries {
            q.join().unwrap().unwrap();
        }
        let order = log.lock().unwrap().clone();
        let doc_at = order.iter().position(|&t| t == 50).unwrap();
        assert!(
            doc_at <= QUERY_BURST,
            "the document batch waited behind {doc_at} query batches: {order:?}"
        );
    }

    /// Counts batches and idle calls.
    struct Housekeeping {
        batches: Arc<Mutex<usize>>,
        idles: Arc<Mutex<usize>>,
    }

    impl Runner for Housekeeping {
        fn run(&mut self, batch: &Batch) -> Result<Vec<Vec<f32>>, EmbedError> {
            *self.batches.lock().unwrap() += 1;
            Ok(batch.positions.iter().map(|_| vec![0.0]).collect())
        }

        fn on_idle(&mut self) {
            *self.idles.lock().unwrap() += 1;
        }
    }

    #[test]
    fn idle_housekeeping_waits_for_a_quiet_moment() {
        let idles = Arc::new(Mutex::new(0));
        let batches = Arc::new(Mutex::new(0));
        let worker = Worker::spawn(
            Housekeeping {
                batches: batches.clone(),
                idles: idles.clone(),
            },
            "test",
        )
        .unwrap();
        // Back-to-back searches: no housekeeping between them.
        for i in 0..20 {
            worker
                .embed(Priority::Query, plan(texts(&[i]), 3, 0), 1)
                .unwrap();
        }
        assert_eq!(*batches.lock().unwrap(), 20);
        assert_eq!(*idles.lock().unwrap(), 0);
        // Then a pause: housekeeping once, not again while nothing happens.
        std::thread::sleep(IDLE_AFTER * 3);
        assert_eq!(*idles.lock().unwrap(), 1);
        worker
            .embed(Priority::Document, plan(texts(&[1]), 3, 0), 1)
            .unwrap();
        std::thread::sleep(IDLE_AFTER * 3);
        assert_eq!(*idles.lock().unwrap(), 2);
    }

    #[test]
    fn batches_sent_while_the_model_loads_wait_for_it() {
        let readiness = Arc::new(Readiness::default());
        let (open, gate) = bounded::<()>(1);
        let log = Arc::new(Mutex::new(Vec::new()));
        let recorder = Recorder {
            log: log.clone(),
            started: None,
            gate: None,
        };
        let worker = Arc::new(
            Worker::spawn_loading(
                move || {
                    let _ = gate.recv();
                    Ok(recorder)
                },
                "test",
                readiness.clone(),
            )
            .unwrap(),
        );
        assert_eq!(readiness.state(), ModelState::Loading);
        let waiting = {
            let worker = worker.clone();
            std::thread::spawn(move || worker.embed(Priority::Query, plan(texts(&[5]), 3, 0), 1))
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(
            log.lock().unwrap().is_empty(),
            "nothing runs before the load"
        );
        open.send(()).unwrap();
        assert_eq!(waiting.join().unwrap().unwrap(), vec![vec![0.0]]);
        readiness.wait().unwrap();
        assert_eq!(readiness.state(), ModelState::Ready);
        assert_eq!(*log.lock().unwrap(), vec![5]);
    }

    #[test]
    fn a_failed_load_answers_every_batch_with_its_error() {
        let readiness = Arc::new(Readiness::default());
        let worker = Worker::spawn_loading(
            || -> Result<Recorder, EmbedError> {
                Err(EmbedError::ModelFile {
                    path: "/m/model.onnx".into(),
                    message: "not an ONNX graph".into(),
                })
            },
            "test",
            readiness.clone(),
        )
        .unwrap();
        // The first waiter gets the load error itself, with its type; later ones its text.
        assert!(matches!(
            readiness.wait(),
            Err(EmbedError::ModelFile { .. })
        ));
        let again = readiness.wait().unwrap_err().to_string();
        assert!(again.contains("not an ONNX graph"), "{again}");
        assert!(
            matches!(readiness.state(), ModelState::Failed { message } if message.contains("/m/model.onnx"))
        );
        for priority in [Priority::Query, Priority::Document] {
            let err = worker
                .embed(priority, plan(texts(&[1, 2]), 3, 0), 2)
                .unwrap_err();
            assert!(
                matches!(&err, EmbedError::NotLoaded { message } if message.contains("not an ONNX graph")),
                "{err}"
            );
        }
    }

    #[test]
    fn errors_and_panics_reach_the_caller_and_the_worker_survives() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let worker = Worker::spawn(
            Recorder {
                log,
                started: None,
                gate: None,
            },
            "test",
        )
        .unwrap();
        let err = worker
            .embed(Priority::Document, plan(texts(&[666]), 3, 0), 1)
            .unwrap_err();
        assert!(err.to_string().contains("boom"));
        let err = worker
            .embed(Priority::Query, plan(texts(&[777]), 3, 0), 1)
            .unwrap_err();
        assert!(err.to_string().contains("panicked"), "{err}");
        let ok = worker
            .embed(Priority::Query, plan(texts(&[5, 6]), 100, 0), 2)
            .unwrap();
        assert_eq!(ok, vec![vec![0.0], vec![1.0]]);
        assert!(worker
            .embed(Priority::Query, Vec::new(), 0)
            .unwrap()
            .is_empty());
    }

    /// A runner that takes a fixed time per batch.
    struct Slow(std::time::Duration);

    impl Runner for Slow {
        fn run(&mut self, batch: &Batch) -> Result<Vec<Vec<f32>>, EmbedError> {
            std::thread::sleep(self.0);
            Ok(batch.positions.iter().map(|&p| vec![p as f32]).collect())
        }
    }

    #[test]
    fn waiting_queries_are_served_in_arrival_order() {
        // 32 searches at once: each waits for the ones queued before it, none for much longer.
        // (With a bounded query channel, a newly arriving search could take a freed slot ahead of
        // one that had been waiting, again and again: waits of 30 times the median were seen.)
        let worker =
            Arc::new(Worker::spawn(Slow(std::time::Duration::from_millis(2)), "fair").unwrap());
        let clients: Vec<_> = (0..32)
            .map(|_| {
                let worker = worker.clone();
                std::thread::spawn(move || {
                    (0..20)
                        .map(|_| {
                            let started = Instant::now();
                            worker
                                .embed(Priority::Query, plan(texts(&[5]), 3, 0), 1)
                                .unwrap();
                            started.elapsed().as_secs_f64() * 1e3
                        })
                        .collect::<Vec<f64>>()
                })
            })
            .collect();
        let mut waits: Vec<f64> = clients
            .into_iter()
            .flat_map(|c| c.join().unwrap())
            .collect();
        waits.sort_by(f64::total_cmp);
        let median = waits[waits.len() / 2];
        let max = waits[waits.len() - 1];
        assert!(
            max < 3.0 * median + 20.0,
            "longest wait {max:.1} ms, median {median:.1} ms"
        );
    }
}
