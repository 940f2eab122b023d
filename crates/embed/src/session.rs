//! The ONNX Runtime session: built with the options that matter on a CPU, checked against the
//! catalogue (inputs, the output to read, its width), and run one batch at a time.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ort::session::builder::GraphOptimizationLevel;
use ort::session::{HasSelectedOutputs, OutputSelector, RunOptions, Session};
use ort::value::TensorRef;
use vault_rag_core::EmbedError;

use crate::batch::Batch;
use crate::catalog::{ModelEntry, Pooling};
use crate::layout::{Prepack, Switch};
use crate::mapped::MappedWeights;
use crate::pool;
use crate::worker::{Priority, Runner};

/// Session settings resolved from the spec.
#[derive(Debug, Clone)]
pub(crate) struct SessionSettings {
    pub threads: usize,
    /// Output width after the Matryoshka cut.
    pub dim: usize,
    /// Where the runner tells which layout it holds.
    pub prepacked: Arc<AtomicBool>,
}

pub(crate) struct SessionRunner {
    session: Session,
    /// Whether `session` holds prepacked weights (see `layout`); the embedder reads it too.
    prepacked: Arc<AtomicBool>,
    switch: Switch,
    /// What building the other layout needs.
    model: PathBuf,
    threads: usize,
    tuning: Tuning,
    /// Asks for the one output we read: the other (token states) is not copied out.
    options: RunOptions<HasSelectedOutputs>,
    pooling: Pooling,
    token_type_ids: bool,
    native_dim: usize,
    dim: usize,
    mapped: MappedWeights,
}

impl SessionRunner {
    pub fn load(
        model: &Path,
        entry: &ModelEntry,
        settings: SessionSettings,
    ) -> Result<Self, EmbedError> {
        let env = crate::runtime::environment()?;
        let file_err = |message: String| EmbedError::ModelFile {
            path: model.to_path_buf(),
            message,
        };
        if !model.is_file() {
            return Err(file_err("file not found".into()));
        }
        let tuning = Tuning::from_env();
        tracing::debug!(?tuning, "ONNX Runtime session settings");
        let prepacked = tuning.prepack.at_start();
        settings.prepacked.store(prepacked, Ordering::Relaxed);
        let session = build(env, model, settings.threads, tuning, prepacked).map_err(file_err)?;
        check_inputs(&session, entry, model)?;
        check_output(&session, entry)?;
        let options = RunOptions::new()
            .map_err(|e| file_err(format!("cannot create run options: {e}")))?
            .with_outputs(OutputSelector::no_default().with(entry.pooling.output_name()));
        let mut runner = Self {
            session,
            prepacked: settings.prepacked,
            switch: Switch::new(tuning.prepack),
            model: model.to_path_buf(),
            threads: settings.threads,
            tuning,
            options,
            pooling: entry.pooling.clone(),
            token_type_ids: entry.token_type_ids,
            native_dim: entry.native_dim,
            dim: settings.dim,
            mapped: MappedWeights::new(model),
        };
        // The first run allocates what every run needs; doing it here keeps that cost out of
        // the first search.
        let pad = i64::from(entry.pad_id);
        runner.run_once(&Batch {
            rows: 1,
            width: 4,
            input_ids: vec![pad; 4],
            attention_mask: vec![1; 4],
            positions: vec![0],
        })?;
        // Loading and the first run read the whole weight file through the mapping.
        runner.mapped.drop_now();
        Ok(runner)
    }
}

/// ONNX Runtime settings that trade memory against speed, read once from the environment so that
/// `make bench` can measure each of them (docs/benchmarks.md) without a rebuild. The defaults are
/// the measured best on a 2-core CPU; `0`/`1` switch a setting, `VAULT_RAG_ORT_OPT` is 1, 2 or 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tuning {
    /// `VAULT_RAG_ORT_ARENA`: ONNX Runtime's CPU arena. It keeps freed activation memory for the
    /// next batch (faster) and never returns it; batches are capped by a token budget, so it stays
    /// bounded.
    pub arena: bool,
    /// `VAULT_RAG_ORT_SPIN`: worker threads spin between operators instead of sleeping. By
    /// default only a prepacked (bulk) session spins: a search reads its lexical list on the
    /// caller's thread while the query is embedded, and where the model's threads take every
    /// core, spinning ones keep that thread waiting (hybrid p50 at 505,007 chunks on 2 cores:
    /// 59–70 ms spinning, 48–49 ms not; docs/benchmarks.md).
    pub spin: Option<bool>,
    /// `VAULT_RAG_ORT_PREPACK`: weights re-laid out for the matrix kernels (a second copy);
    /// by default only during bulk work (`layout`).
    pub prepack: Prepack,
    /// `VAULT_RAG_ORT_OPT`: graph optimisation level.
    pub opt_level: u8,
}

impl Tuning {
    pub fn from_env() -> Self {
        let set = |name: &str| match std::env::var(name).as_deref() {
            Ok("0") => Some(false),
            Ok("1") => Some(true),
            _ => None,
        };
        let flag = |name: &str, default: bool| set(name).unwrap_or(default);
        Self {
            arena: flag("VAULT_RAG_ORT_ARENA", true),
            spin: set("VAULT_RAG_ORT_SPIN"),
            prepack: Prepack::from_env(),
            opt_level: match std::env::var("VAULT_RAG_ORT_OPT").as_deref() {
                Ok("1") => 1,
                Ok("2") => 2,
                _ => 3,
            },
        }
    }

    /// Whether a session with this layout spins (see [`Tuning::spin`]).
    fn spins(&self, prepacked: bool) -> bool {
        self.spin.unwrap_or(prepacked)
    }
}

fn build(
    env: &ort::environment::Environment,
    model: &Path,
    threads: usize,
    tuning: Tuning,
    prepack: bool,
) -> Result<Session, String> {
    let configure = |e: ort::Error<_>| format!("cannot configure the session: {e}");
    Session::builder(env)
        .map_err(|e| format!("cannot create a session: {e}"))?
        // Level3 adds layout rewrites for the CPU provider on top of the fusions of Level2.
        .with_optimization_level(match tuning.opt_level {
            1 => GraphOptimizationLevel::Level1,
            2 => GraphOptimizationLevel::Level2,
            _ => GraphOptimizationLevel::Level3,
        })
        .map_err(configure)?
        .with_intra_threads(threads)
        .map_err(configure)?
        .with_inter_threads(1)
        .map_err(configure)?
        // Shapes change with every batch: a memory pattern planned for one shape is wasted.
        .with_memory_pattern(false)
        .map_err(configure)?
        .with_execution_providers([ort::ep::CPU::default()
            .with_arena_allocator(tuning.arena)
            .build()])
        .map_err(configure)?
        .with_intra_op_spinning(tuning.spins(prepack))
        .map_err(configure)?
        .with_prepacking(prepack)
        .map_err(configure)?
        // Weights stored as external data (`model.onnx_data`) are memory-mapped by ONNX Runtime:
        // embedding rows of tokens never seen stay on disk instead of in resident memory.
        .commit_from_file(model)
        .map_err(|e| format!("ONNX Runtime cannot load it: {e}"))
}

fn check_inputs(session: &Session, entry: &ModelEntry, model: &Path) -> Result<(), EmbedError> {
    let mut expected = vec!["input_ids", "attention_mask"];
    if entry.token_type_ids {
        expected.push("token_type_ids");
    }
    let actual: Vec<&str> = session.inputs().iter().map(|i| i.name()).collect();
    let mut sorted_expected = expected.clone();
    sorted_expected.sort_unstable();
    let mut sorted_actual = actual.clone();
    sorted_actual.sort_unstable();
    if sorted_expected != sorted_actual {
        return Err(EmbedError::ModelFile {
            path: model.to_path_buf(),
            message: format!(
                "its inputs are [{}], but `{}` expects [{}]; is this the right file for the model?",
                actual.join(", "),
                entry.name,
                expected.join(", ")
            ),
        });
    }
    Ok(())
}

fn check_output(session: &Session, entry: &ModelEntry) -> Result<(), EmbedError> {
    let name = entry.pooling.output_name();
    let outputs = session.outputs();
    let Some(outlet) = outputs.iter().find(|o| o.name() == name) else {
        return Err(EmbedError::Output {
            model: entry.name.clone(),
            name: name.to_string(),
            available: outputs
                .iter()
                .map(|o| o.name())
                .collect::<Vec<_>>()
                .join(", "),
        });
    };
    let rank = match entry.pooling {
        Pooling::Output(_) => 2,
        Pooling::MaskedMean(_) => 3,
    };
    let shape = outlet
        .dtype()
        .tensor_shape()
        .map(|s| s.to_vec())
        .unwrap_or_default();
    let width = shape.last().copied().unwrap_or(-1);
    if shape.len() != rank || (width >= 0 && width as usize != entry.native_dim) {
        return Err(EmbedError::Output {
            model: entry.name.clone(),
            name: format!(
                "{name} with shape of rank {rank} and width {}",
                entry.native_dim
            ),
            available: format!("{name} with shape {shape:?}"),
        });
    }
    Ok(())
}

fn inference(message: impl std::fmt::Display) -> EmbedError {
    EmbedError::Inference {
        message: message.to_string(),
    }
}

impl Runner for SessionRunner {
    fn after_batch(&mut self) {
        self.mapped.after_batch();
    }

    fn on_idle(&mut self) {
        if self.switch.idle(self.prepacked()) {
            self.change_layout(false);
        }
        self.mapped.on_idle();
    }

    fn idle_again_after(&self) -> Option<Duration> {
        self.switch.wake_after(self.prepacked())
    }

    fn run(&mut self, batch: &Batch, priority: Priority) -> Result<Vec<Vec<f32>>, EmbedError> {
        let started = std::time::Instant::now();
        let out = self.run_once(batch);
        if priority == Priority::Document
            && self
                .switch
                .document(batch.tokens(), self.prepacked(), started)
        {
            self.change_layout(true);
        }
        out
    }
}

impl SessionRunner {
    fn prepacked(&self) -> bool {
        self.prepacked.load(Ordering::Relaxed)
    }

    /// Replaces the session by one with layout `prepacked`; keeps the current one if that cannot
    /// be built. The old session's memory goes back to the system.
    fn change_layout(&mut self, prepacked: bool) {
        let started = std::time::Instant::now();
        // Both sessions are in memory for a moment: first give back what the current one need
        // not hold (its mapped weight pages, freed heap).
        self.mapped.drop_now();
        crate::memory::release_free_memory();
        let built = crate::runtime::environment()
            .map_err(|e| e.to_string())
            .and_then(|env| build(env, &self.model, self.threads, self.tuning, prepacked));
        match built {
            Ok(session) => {
                drop(std::mem::replace(&mut self.session, session));
                self.prepacked.store(prepacked, Ordering::Relaxed);
                self.mapped.drop_now();
                crate::memory::release_free_memory();
                tracing::info!(
                    prepacked,
                    ms = started.elapsed().as_millis(),
                    rss_mib = crate::memory::ProcessMemory::current().map(|m| m.rss_mib()),
                    "embedding session changed layout"
                );
            }
            Err(message) => self.switch.failed(prepacked, &message),
        }
    }

    fn run_once(&mut self, batch: &Batch) -> Result<Vec<Vec<f32>>, EmbedError> {
        let shape = [batch.rows, batch.width];
        let ids =
            TensorRef::from_array_view((shape, batch.input_ids.as_slice())).map_err(inference)?;
        let mask = TensorRef::from_array_view((shape, batch.attention_mask.as_slice()))
            .map_err(inference)?;
        let zeros;
        let mut inputs = ort::inputs!["input_ids" => ids, "attention_mask" => mask];
        if self.token_type_ids {
            zeros = vec![0i64; batch.rows * batch.width];
            let types = TensorRef::from_array_view((shape, zeros.as_slice())).map_err(inference)?;
            inputs.push(("token_type_ids".into(), types.into()));
        }
        let outputs = self
            .session
            .run_with_options(inputs, &self.options)
            .map_err(inference)?;
        let name = self.pooling.output_name();
        let value = outputs
            .get(name)
            .ok_or_else(|| inference(format!("the model returned no `{name}`")))?;
        let (out_shape, data) = value
            .try_extract_tensor::<f32>()
            .map_err(|e| inference(format!("`{name}` is not a float tensor: {e}")))?;
        let dims: Vec<i64> = out_shape.to_vec();
        let pooled = match &self.pooling {
            Pooling::Output(_) => {
                if dims != [batch.rows as i64, self.native_dim as i64] {
                    return Err(inference(format!("`{name}` has shape {dims:?}")));
                }
                pool::rows(data, batch.rows, self.native_dim)
            }
            Pooling::MaskedMean(_) => {
                if dims
                    != [
                        batch.rows as i64,
                        batch.width as i64,
                        self.native_dim as i64,
                    ]
                {
                    return Err(inference(format!("`{name}` has shape {dims:?}")));
                }
                pool::masked_mean(
                    data,
                    &batch.attention_mask,
                    batch.rows,
                    batch.width,
                    self.native_dim,
                )
            }
        };
        Ok(pooled
            .into_iter()
            .map(|v| pool::finish(v, self.dim))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bulk_sessions_spin_unless_told() {
        let tuning = |spin| Tuning {
            arena: true,
            spin,
            prepack: Prepack::ForBulk,
            opt_level: 3,
        };
        assert!(!tuning(None).spins(false), "a lean session serves searches");
        assert!(tuning(None).spins(true));
        assert!(tuning(Some(true)).spins(false));
        assert!(!tuning(Some(false)).spins(true));
    }
}
