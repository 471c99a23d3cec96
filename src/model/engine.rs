//! The tract side: builds the bundle's model once (fix-ups, input fact, optimization) and runs
//! the resulting plan. This is the only module that constructs tract models.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tract_onnx::pb::ModelProto;
use tract_onnx::prelude::tract_linalg::multithread::{multithread_tract_scope, Executor};
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::internal::tract_smallvec::smallvec;

use super::bundle::Bundle;
use super::guard::guarded;
use super::manifest::{InputSpec, Layout, ResizeMode};
use super::optimize::{optimize, runnable, Slot};
use super::preprocess::InputTensor;
use super::{fixup, precheck};
use crate::error::{Error, Result};

/// Name and shape of a model input or output.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TensorInfo {
    /// Tensor name in the model.
    pub name: String,
    /// Shape once the input fact is fixed.
    pub shape: Vec<String>,
    /// Element type.
    pub dtype: String,
}

/// Facts about the loaded model, for `inspect` and reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ModelInfo {
    /// Model inputs.
    pub inputs: Vec<TensorInfo>,
    /// Model outputs, in the order [`Engine::run`] returns them.
    pub outputs: Vec<TensorInfo>,
    /// Nodes in the ONNX graph as shipped.
    pub onnx_nodes: usize,
    /// Nodes in the optimized plan.
    pub plan_nodes: usize,
    /// Fix-ups applied while loading (see the `fixup` module).
    pub fixups: Vec<String>,
    /// ONNX opset of the default domain.
    pub opset: i64,
    /// Producer recorded in the file.
    pub producer: String,
    /// Keys of the ONNX metadata (values can be large: a CTC dictionary).
    pub metadata_keys: Vec<String>,
    /// How the input size is chosen: `fixed`, or the rule for per-image sizes.
    pub input_sizes: String,
}

/// One output of a model run, copied out of tract as `f32`.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputTensor {
    /// Output name in the model.
    pub name: String,
    /// Concrete shape.
    pub shape: Vec<usize>,
    /// Row-major values.
    pub data: Vec<f32>,
}

/// What one run of the plan produced.
#[derive(Debug, Clone)]
pub struct Outputs {
    /// The model's outputs, in model order.
    pub tensors: Vec<OutputTensor>,
    /// Wall time of the plan run (the first run at a new per-image size includes optimizing
    /// its plan).
    pub elapsed: Duration,
}

impl Outputs {
    /// The output called `name`.
    pub fn get(&self, name: &str) -> Option<&OutputTensor> {
        self.tensors.iter().find(|t| t.name == name)
    }
}

/// Plans kept per input shape when the size is chosen per image; beyond this the least
/// recently used is dropped (each plan holds its own optimized graph).
const MAX_PLANS: usize = 8;

/// Execution states kept per plan for reuse; more concurrent runs than this spawn more.
const MAX_IDLE_STATES: usize = 4;

/// A runnable plan and the execution states its finished runs handed back: a fresh state per
/// run would allocate every node's state again.
#[derive(Debug)]
pub(super) struct PlanEntry {
    pub(super) runnable: Arc<TypedRunnableModel>,
    pub(super) idle: Mutex<Vec<TypedSimpleState>>,
}

pub(super) type Plan = Arc<PlanEntry>;

/// Per-size plans, least recently used first.
type PlanCache = Arc<Mutex<Vec<(Vec<usize>, Plan)>>>;

/// An optimized, runnable model.
///
/// `Engine` is `Send + Sync`: plans are immutable and each concurrent [`Engine::run`] takes
/// its own execution state, so one engine can serve several threads at once.
///
/// Models whose input size is chosen per image (`fit-longer-side`, `pad-right` with
/// `max_width`) get one plan per concrete shape, optimized on first use and cached: tract
/// optimizes best, and loads these models reliably, with a concrete input fact.
#[derive(Debug, Clone)]
pub struct Engine {
    plan: Plan,
    model_path: PathBuf,
    spec: InputSpec,
    /// The graph before the input fact is fixed, for further per-size plans.
    template: Option<Arc<InferenceModel>>,
    plans: PlanCache,
    metadata: Arc<BTreeMap<String, String>>,
    info: ModelInfo,
    /// Where tract runs its matrix products: this thread, or a pool of `threads`.
    executor: Executor,
    threads: usize,
    /// The tensor budget in bytes (`model.max_tensor_mb`), for plans made per input size.
    budget: u64,
    /// The model's sha256 and load recipe, which key its decluttered graphs in the cache.
    cache_key: Option<(String, Vec<String>)>,
}

/// A graph built and optimized, with what the engine keeps of the inference model.
struct Built {
    inputs: Vec<String>,
    outputs: Vec<String>,
    template: Option<Arc<InferenceModel>>,
    typed: TypedModel,
}

impl Engine {
    /// Builds the bundle's model: decode the protobuf, apply the fix-ups, reject unsupported
    /// operators by name, fix the input fact from the manifest, optimize once.
    pub fn load(bundle: &Bundle) -> Result<Engine> {
        guarded(bundle.model_path(), || Engine::load_unguarded(bundle))
    }

    fn load_unguarded(bundle: &Bundle) -> Result<Engine> {
        let path = bundle.model_path();
        let spec = &bundle.manifest().input;
        let onnx = tract_onnx::onnx();
        let mut proto = onnx
            .proto_model_for_read(&mut &bundle.model_bytes()[..])
            .map_err(|e| Error::model(path, format!("not a valid ONNX protobuf: {e:#}")))?;
        let graph =
            proto.graph.as_ref().ok_or_else(|| Error::model(path, "ONNX file holds no graph"))?;
        if let Some(op) = precheck::first_unsupported_op(&onnx, graph) {
            return Err(Error::model(path, format!("unsupported ONNX operator {op}")));
        }
        let onnx_nodes = graph.node.len();
        let budget = bundle.manifest().model.max_tensor_bytes();
        precheck::check_proto(path, graph, budget)?;
        let fixups = fixup::apply(&mut proto);
        let opset = opset(&proto);
        let producer =
            format!("{} {}", proto.producer_name, proto.producer_version).trim().to_string();

        let metadata: BTreeMap<String, String> =
            proto.metadata_props.iter().map(|p| (p.key.clone(), p.value.clone())).collect();
        let mut fixups: Vec<String> = fixups.iter().map(ToString::to_string).collect();
        // What the decluttered graph depends on besides the model file and the input shape
        // (the budget too: it decides what the load refuses).
        let recipe = |fixups: &[String], ignored: bool| -> Vec<String> {
            let mut recipe = fixups.to_vec();
            recipe.push(format!("budget {budget}, value_info ignored: {ignored}"));
            recipe
        };
        let attempt = |onnx: &tract_onnx::Onnx, ignored: bool| -> Result<Built> {
            let model = onnx
                .model_for_proto_model(&proto)
                .map_err(|e| Error::model(path, format!("cannot build the graph: {e:#}")))?;
            let inputs = outlet_names(&model, model.input_outlets());
            let outputs = outlet_names(&model, model.output_outlets());
            let template = spec.size_varies().then(|| Arc::new(model.clone()));
            let slot = bundle
                .uses_declutter_cache()
                .then(|| Slot::new(bundle.model_sha256(), &recipe(&fixups, ignored), &spec.shape))
                .flatten();
            let typed = optimize(path, model, &spec.shape, budget, slot.as_ref())?;
            Ok(Built { inputs, outputs, template, typed })
        };
        let mut ignored = false;
        let built = match attempt(&onnx, false) {
            Ok(built) => built,
            Err(e) => {
                let declared = proto.graph.as_ref().map_or(0, |g| g.value_info.len());
                // Some exports (Ultralytics' among them) declare intermediate shapes tract
                // cannot reconcile; they are optional hints, and tract infers shapes anyway.
                let retry = (declared > 0)
                    .then(|| attempt(&tract_onnx::onnx().with_ignore_value_info(true), true).ok())
                    .flatten();
                let Some(built) = retry else { return Err(e) };
                let note = format!(
                    "graph: {declared} value_info shape(s) ignored, shapes inferred from the \
                     operators instead (with them: {e})"
                );
                log::info!("onnx fix-up: {note}");
                fixups.push(note);
                ignored = true;
                built
            }
        };
        let Built { inputs, outputs: output_names, template, typed } = built;
        if inputs.len() != 1 {
            return Err(Error::model(
                path,
                format!("only single-input models are supported (inputs: {})", inputs.join(", ")),
            ));
        }
        if inputs[0] != spec.name {
            return Err(Error::model(
                path,
                format!("no input named {:?} (the model has: {})", spec.name, inputs.join(", ")),
            ));
        }
        let info = ModelInfo {
            inputs: facts(&typed, typed.input_outlets(), &inputs),
            outputs: facts(&typed, typed.output_outlets(), &output_names),
            onnx_nodes,
            plan_nodes: typed.nodes().len(),
            fixups: fixups.clone(),
            opset,
            producer,
            metadata_keys: metadata.keys().cloned().collect(),
            input_sizes: input_sizes(spec),
        };
        let plan = runnable(path, typed)?;
        Ok(Engine {
            plans: Arc::new(Mutex::new(vec![(spec.shape.clone(), plan.clone())])),
            plan,
            model_path: path.to_path_buf(),
            spec: spec.clone(),
            template,
            metadata: Arc::new(metadata),
            info,
            executor: Executor::SingleThread,
            threads: 1,
            budget,
            cache_key: bundle
                .uses_declutter_cache()
                .then(|| (bundle.model_sha256().to_string(), recipe(&fixups, ignored))),
        })
    }

    /// Runs inference on `threads` threads (0: one per core). One thread runs on the calling
    /// thread: a one-thread pool would only add a hand-off per matrix product.
    pub fn set_threads(&mut self, threads: usize) -> Result<()> {
        let threads = match threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        self.executor = if threads == 1 {
            Executor::SingleThread
        } else {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .thread_name(|i| format!("preflight-infer-{i}"))
                .build()
                .map_err(|e| {
                    Error::model(&self.model_path, format!("cannot start {threads} threads: {e}"))
                })?;
            Executor::MultiThread(Arc::new(pool))
        };
        self.threads = threads;
        Ok(())
    }

    /// Threads inference runs on.
    pub fn threads(&self) -> usize {
        self.threads
    }

    pub(super) fn executor(&self) -> Executor {
        self.executor.clone()
    }

    /// The manifest's input shape (the default plan's).
    pub fn input_shape(&self) -> Vec<usize> {
        self.spec.shape.clone()
    }

    /// A value of the model's ONNX metadata (`metadata_props`).
    pub fn metadata(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).map(String::as_str)
    }

    /// Whether `shape` is one this engine runs: the manifest's, or for per-image sizes any
    /// shape its resize rule can produce.
    pub fn accepts(&self, shape: &[usize]) -> bool {
        if shape == self.spec.shape.as_slice() {
            return true;
        }
        if self.template.is_none() || shape.len() != 4 {
            return false;
        }
        let (h, w) = match self.spec.layout {
            Layout::Nchw => (shape[2], shape[3]),
            Layout::Nhwc => (shape[1], shape[2]),
        };
        if shape != self.spec.shape_for(h, w).as_slice() {
            return false;
        }
        let (base_h, base_w) = self.spec.size();
        let m = self.spec.multiple;
        match self.spec.resize {
            ResizeMode::FitLongerSide => {
                let limit = (base_h.max(base_w) / m).max(1) * m;
                h > 0 && w > 0 && h % m == 0 && w % m == 0 && h <= limit && w <= limit
            }
            ResizeMode::PadRight => {
                let max = self.spec.max_width.unwrap_or(base_w);
                h == base_h && w >= base_w && w <= max
            }
            _ => false,
        }
    }

    /// The plan for `shape`, optimizing (once) a new one when the size is chosen per image.
    pub(super) fn plan_for(&self, shape: &[usize]) -> Result<Plan> {
        if shape == self.spec.shape.as_slice() {
            return Ok(self.plan.clone());
        }
        let Some(template) = &self.template else {
            return Err(self.shape_error(shape));
        };
        if !self.accepts(shape) {
            return Err(self.shape_error(shape));
        }
        {
            let mut plans = self.plans.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(i) = plans.iter().position(|(s, _)| s == shape) {
                let entry = plans.remove(i);
                let plan = entry.1.clone();
                plans.push(entry);
                return Ok(plan);
            }
        }
        // Optimize outside the lock: other threads keep serving cached sizes meanwhile.
        let started = Instant::now();
        let path = &self.model_path;
        let slot = self.cache_key.as_ref().and_then(|(sha, recipe)| Slot::new(sha, recipe, shape));
        let plan = guarded(path, || {
            let typed = optimize(path, (**template).clone(), shape, self.budget, slot.as_ref())?;
            runnable(path, typed)
        })?;
        log::debug!("optimized a plan for input {shape:?} in {:?}", started.elapsed());
        let mut plans = self.plans.lock().unwrap_or_else(|p| p.into_inner());
        if !plans.iter().any(|(s, _)| s == shape) {
            if plans.len() >= MAX_PLANS {
                plans.remove(0);
            }
            plans.push((shape.to_vec(), plan.clone()));
        }
        Ok(plan)
    }

    fn shape_error(&self, shape: &[usize]) -> Error {
        Error::Shape {
            path: self.model_path.clone(),
            expected: self.spec.shape.clone(),
            actual: shape.to_vec(),
        }
    }

    /// Facts about the loaded model.
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// The model file this engine was built from.
    pub fn model_path(&self) -> &Path {
        &self.model_path
    }

    /// Runs the plan on one input tensor; its shape must be one [`Engine::accepts`]. The
    /// first run at a new per-image size includes optimizing its plan.
    pub fn run(&self, input: &InputTensor) -> Result<Outputs> {
        let start = Instant::now();
        let plan = self.plan_for(&input.shape)?;
        let tensor = Tensor::from_shape(&input.shape, &input.data)
            .map_err(|e| Error::inference(&self.model_path, e))?;
        let idle = plan.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut state = match idle {
            Some(state) => state,
            None => plan.runnable.spawn().map_err(|e| Error::inference(&self.model_path, e))?,
        };
        let raw = guarded(&self.model_path, || {
            multithread_tract_scope(self.executor.clone(), || state.run(smallvec![tensor.into()]))
                .map_err(|e| Error::inference(&self.model_path, e))
        });
        super::cpu::clear_upper_vector_state();
        let raw = raw?;
        // Only a state whose run finished goes back: a failed one may hold a half-run turn.
        let mut idle = plan.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE_STATES {
            idle.push(state);
        }
        drop(idle);
        let elapsed = start.elapsed();
        let tensors = raw
            .iter()
            .zip(&self.info.outputs)
            .map(|(value, info)| {
                let t = value.cast_to::<f32>()?;
                let data = t.try_as_plain_ram()?.as_slice::<f32>()?.to_vec();
                Ok(OutputTensor { name: info.name.clone(), shape: t.shape().to_vec(), data })
            })
            .collect::<TractResult<Vec<_>>>()
            .map_err(|e| Error::inference(&self.model_path, e))?;
        Ok(Outputs { tensors, elapsed })
    }
}

fn input_sizes(spec: &InputSpec) -> String {
    let (h, w) = spec.size();
    match (spec.resize, spec.max_width) {
        (ResizeMode::FitLongerSide, _) => {
            format!("per image: longer side {}, sides multiples of {}", h.max(w), spec.multiple)
        }
        (ResizeMode::PadRight, Some(max)) => {
            format!("per image: height {h}, width {w} to {max} in steps of {}", spec.multiple)
        }
        _ => "fixed".into(),
    }
}

pub(super) fn opset(proto: &ModelProto) -> i64 {
    proto
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map_or(0, |o| o.version)
}

/// ONNX names outputs by tensor, tract by node: prefer the outlet label tract keeps.
fn outlet_names<F, O>(model: &Graph<F, O>, outlets: TractResult<&[OutletId]>) -> Vec<String>
where
    F: Fact + Clone + 'static,
    O: std::fmt::Debug + std::fmt::Display + AsRef<dyn Op> + AsMut<dyn Op> + Clone + 'static,
{
    outlets
        .map(|outlets| {
            outlets
                .iter()
                .map(|&o| model.outlet_label(o).unwrap_or(&model.node(o.node).name).to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn facts(
    model: &TypedModel,
    outlets: TractResult<&[OutletId]>,
    names: &[String],
) -> Vec<TensorInfo> {
    let outlets = outlets.unwrap_or(&[]);
    outlets
        .iter()
        .zip(names)
        .filter_map(|(&o, name)| {
            let fact = model.outlet_fact(o).ok()?;
            Some(TensorInfo {
                name: name.clone(),
                shape: fact.shape.iter().map(|d| d.to_string()).collect(),
                dtype: format!("{:?}", fact.datum_type),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Engine>();
    }
}
