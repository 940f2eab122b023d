//! Tests of the inference worker's queues and housekeeping, with recording runners.

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
    fn run(&mut self, batch: &Batch, _: Priority) -> Result<Vec<Vec<f32>>, EmbedError> {
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
        std::thread::spawn(move || worker.embed(Priority::Document, plan(texts(&[50]), 3, 0), 1))
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

/// Counts batches and idle calls; asks to be called again while idle `again` more times.
struct Housekeeping {
    batches: Arc<Mutex<usize>>,
    idles: Arc<Mutex<usize>>,
    again: usize,
}

impl Runner for Housekeeping {
    fn run(&mut self, batch: &Batch, _: Priority) -> Result<Vec<Vec<f32>>, EmbedError> {
        *self.batches.lock().unwrap() += 1;
        Ok(batch.positions.iter().map(|_| vec![0.0]).collect())
    }

    fn on_idle(&mut self) {
        *self.idles.lock().unwrap() += 1;
    }

    fn idle_again_after(&self) -> Option<Duration> {
        (*self.idles.lock().unwrap() <= self.again).then_some(Duration::from_millis(20))
    }
}

type Count = Arc<Mutex<usize>>;

/// A worker around a `Housekeeping` runner, with its batch and idle counters.
fn housekeeping(again: usize) -> (Worker, Count, Count) {
    let (batches, idles) = (Count::default(), Count::default());
    let runner = Housekeeping {
        batches: batches.clone(),
        idles: idles.clone(),
        again,
    };
    (Worker::spawn(runner, "test").unwrap(), batches, idles)
}

#[test]
fn idle_housekeeping_waits_for_a_quiet_moment() {
    let (worker, batches, idles) = housekeeping(0);
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
fn a_runner_that_asks_is_called_again_while_idle_and_work_still_wakes_it() {
    let (worker, batches, idles) = housekeeping(3);
    worker
        .embed(Priority::Document, plan(texts(&[1]), 3, 0), 1)
        .unwrap();
    // Once after the quiet moment, then three more times at its request, then it sleeps.
    std::thread::sleep(IDLE_AFTER + Duration::from_millis(600));
    assert_eq!(*idles.lock().unwrap(), 4);
    worker
        .embed(Priority::Query, plan(texts(&[2]), 3, 0), 1)
        .unwrap();
    assert_eq!(*batches.lock().unwrap(), 2);
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
    fn run(&mut self, batch: &Batch, _: Priority) -> Result<Vec<Vec<f32>>, EmbedError> {
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
