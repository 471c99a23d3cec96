//! Runs a suite's checks against a loaded model on this hardware. Checks never panic and never
//! skip silently: a check that cannot be evaluated fails with the reason.
//!
//! A run has two phases. First every model input the checks will ask for — each case clean,
//! or under a perturbation at a severity — is listed once ([`plan`](super::plan)), and made,
//! run and decoded on every core (`jobs`), each exactly once whichever checks share it. Then
//! the checks run in suite order, one at a time, reading those results: so latency, cold
//! start and memory are measured with nothing else of the suite running beside them, and the
//! report is the same whatever the job count, timings aside. The checks themselves live in
//! [`checks`](super::checks).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::checks::{into_result, Cannot, Outcome};
use super::envelope::derive;
use super::inputs::{case_image, make, parallel, Kept, Made};
use super::perturb::Fault;
use super::plan::{plan, Input, Key};
use super::report::{CheckResult, Timing};
use super::spec::{Case, CheckKind, CheckSpec, Selection, Suite};
use super::subject::Subject;
use crate::model::condition::Condition;
use crate::model::decode::Prediction;
use crate::model::engine::Outputs;
use crate::model::envelope::Envelope;
use crate::model::risk::Signals;
use crate::target::TargetProfile;

/// What a suite run needs besides the model and the suite.
#[derive(Debug, Clone, Default)]
pub struct RunContext {
    /// The hardware profile (per-target thresholds; emulated runs skip timing checks).
    pub target: Option<TargetProfile>,
    /// Seed for perturbations.
    pub seed: u64,
    /// Measured bundle open → first result, for `cold_start` checks.
    pub cold_start: Option<Duration>,
    /// Threads that make and run the suite's inputs; 0 means one per core (one thread on
    /// aarch64, see [`RunContext::effective_jobs`]).
    pub jobs: usize,
    /// When the whole run started, for the suite's boot budget (`budget_ms`); the runner's
    /// own start when absent.
    pub started: Option<Instant>,
    /// Which physical unit is tested, for the report.
    pub unit: Option<crate::target::UnitId>,
    /// The target profile is for another CPU architecture (accepted on request, reported).
    pub target_mismatch: bool,
    /// Test hook: sleep this long inside one timed run of every latency check (the run with
    /// this index), to prove a single stall cannot flip a latency verdict.
    #[doc(hidden)]
    pub latency_stall: Option<(usize, Duration)>,
}

impl RunContext {
    /// The job count this run uses: `jobs`, or one per core when it is 0 — except on
    /// aarch64, where it is 1 until parallel inference is proven on a board: under qemu-user
    /// (Cortex-A72), two threads running tract plans at once never finish (one thread spins
    /// at 100 %), while x86-64 and armv7 (qemu) give identical reports at any job count.
    pub fn effective_jobs(&self) -> usize {
        match self.jobs {
            0 if cfg!(target_arch = "aarch64") => 1,
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }
}

/// A cached step's result; the error is kept as text so every check that needs the same
/// failed input reports the same reason.
pub(super) type Cached<T> = Result<T, String>;

/// Cases with what the model predicted for them.
pub(super) type Predicted = Vec<(Case, Prediction)>;

/// What a suite run produced.
#[derive(Debug, Clone)]
pub struct Ran {
    /// One result per check, in suite order.
    pub checks: Vec<CheckResult>,
    /// Where the time went.
    pub timing: Timing,
    /// The operating envelope derived from the robustness checks (empty without any).
    pub envelope: Envelope,
}

/// Runs every check of `suite` in order; `progress(done, total, name)` is called before each.
pub fn run_checks<'a>(
    subject: impl Into<Subject<'a>>,
    suite: &Suite,
    ctx: &RunContext,
    progress: &mut dyn FnMut(usize, usize, &str),
) -> Ran {
    let start = Instant::now();
    let mut runner = Runner {
        subject: subject.into(),
        suite,
        ctx,
        started: ctx.started.unwrap_or(start),
        images: HashMap::new(),
        predictions: HashMap::new(),
        raw: HashMap::new(),
        conditions: HashMap::new(),
        signals: HashMap::new(),
        timing: Timing { jobs: ctx.effective_jobs(), ..Timing::default() },
    };
    runner.prefetch();
    let mut results = Vec::new();
    for (i, check) in suite.checks.iter().enumerate() {
        progress(i, suite.checks.len(), &check.name);
        results.push(runner.run(check));
    }
    progress(suite.checks.len(), suite.checks.len(), "");
    let (envelope, flag) = derive(suite, &results, &runner.conditions, &|key| {
        let signals = runner.signals.get(key)?;
        let decided = runner.predictions.get(&(key.clone(), None))?.as_ref().ok()?;
        Some((*signals, decided))
    });
    for (result, check) in results.iter_mut().zip(&suite.checks) {
        if let CheckKind::Envelope(a) = &check.kind {
            let outcome = super::checks::envelope::judge(a, &envelope, flag.as_ref());
            *result = into_result(check, outcome);
        }
    }
    let mut timing = runner.timing;
    timing.total_ms = ms(start.elapsed());
    Ran { checks: results, timing, envelope }
}

/// The state one suite run shares between its checks.
pub(super) struct Runner<'a> {
    pub(super) subject: Subject<'a>,
    pub(super) suite: &'a Suite,
    pub(super) ctx: &'a RunContext,
    /// When the run started (for the boot budget).
    pub(super) started: Instant,
    images: HashMap<String, Cached<Kept>>,
    predictions: HashMap<(Key, Option<u32>), Cached<Prediction>>,
    raw: HashMap<Key, Cached<Outputs>>,
    /// Condition measures of the inputs the envelope is derived from.
    conditions: HashMap<Key, Condition>,
    /// Signals of the inputs the envelope's flag is fitted on.
    signals: HashMap<Key, Signals>,
    pub(super) timing: Timing,
}

/// Milliseconds, as reports give them.
pub(super) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

impl Runner<'_> {
    pub(super) fn target_name(&self) -> Option<&str> {
        self.ctx.target.as_ref().map(|t| t.name.as_str())
    }

    pub(super) fn emulated(&self) -> bool {
        self.ctx.target.as_ref().is_some_and(|t| t.emulated)
    }

    fn run(&mut self, check: &CheckSpec) -> CheckResult {
        let raw = self.subject.is_raw();
        let decides = check.kind.needs_decisions();
        let checked = match &check.kind {
            // A raw model's prediction is empty: every "decision" would agree with every other
            // and the check would pass having compared nothing.
            _ if raw && decides => Err(Cannot(
                "the bundle's output kind is `raw`: there is no decision to compare (give the \
                 manifest a decoder, or keep parity, latency, cold-start and memory checks)"
                    .into(),
            )),
            CheckKind::Accuracy(a) => self.accuracy(a),
            CheckKind::Invariance(a) => self.invariance(a),
            CheckKind::Directional(a) => self.directional(a),
            CheckKind::Robustness(a) => self.robustness(a),
            CheckKind::Latency(a) => self.latency(a),
            CheckKind::ColdStart(a) => self.cold_start(a),
            CheckKind::Memory(a) => self.memory(a),
            CheckKind::Parity(a) => self.parity(a),
            CheckKind::BootTime(a) => self.boot_time(a),
            // Judged once the envelope is derived, after every other check (see run_checks).
            CheckKind::Envelope(_) => Err(Cannot("the envelope is not derived yet".into())),
        };
        into_result(check, checked.unwrap_or_else(|Cannot(reason)| Outcome::cannot(reason)))
    }

    /// Makes, runs and decodes every input the checks will ask for, each once, on `jobs`
    /// threads. Results are stored in plan order, so the job count changes no result.
    fn prefetch(&mut self) {
        let inputs = plan(self.suite);
        if inputs.is_empty() {
            return;
        }
        let jobs = self.timing.jobs.clamp(1, inputs.len());
        // Images first: each case decoded and resized once, whichever inputs use it — except
        // a case whose frame a fault perturbs: its full-resolution frame is decoded where its
        // inputs are made and dropped with them, so the run never holds every frame at once.
        let subject = self.subject;
        let frames: std::collections::HashSet<&str> =
            inputs.iter().filter(|i| i.needs_frame(subject)).map(|i| i.case.id.as_str()).collect();
        let mut cases: Vec<&Case> = Vec::new();
        for input in &inputs {
            if !frames.contains(&input.case.id.as_str())
                && !cases.iter().any(|c| c.id == input.case.id)
            {
                cases.push(&input.case);
            }
        }
        let decoded = parallel(&cases, jobs, |case| {
            let t = Instant::now();
            let img = subject.load_image(&case.path).map(|i| Kept::new(subject, i));
            (img.map_err(|e| e.to_string()), ms(t.elapsed()))
        });
        for (case, (img, took)) in cases.iter().zip(decoded) {
            self.timing.image_decode_ms += took;
            self.images.insert(case.id.clone(), img);
        }
        let images = &self.images;
        let seed = self.ctx.seed;
        // By case: its image is resized once for all the inputs made from it (clean and each
        // perturbation), and dropped when they are run.
        let mut groups: Vec<Vec<usize>> = Vec::new();
        for (i, input) in inputs.iter().enumerate() {
            match groups.iter_mut().find(|g| inputs[g[0]].case.id == input.case.id) {
                Some(group) => group.push(i),
                None => groups.push(vec![i]),
            }
        }
        let made = parallel(&groups, jobs, |group| {
            let case = &inputs[group[0]].case;
            let with_frame = group.iter().any(|&i| inputs[i].needs_frame(subject));
            let t = Instant::now();
            let image = case_image(subject, images, case, with_frame);
            let took = ms(t.elapsed());
            let mut made: Vec<(usize, Made)> =
                group.iter().map(|&i| (i, make(subject, &image, seed, &inputs[i]))).collect();
            made[0].1.timing.image_decode_ms += took;
            made
        });
        let mut made: Vec<(usize, Made)> = made.into_iter().flatten().collect();
        made.sort_by_key(|(i, _)| *i);
        for (input, (_, m)) in inputs.iter().zip(made) {
            let key = input.key();
            self.timing.add(&m.timing);
            self.timing.inferences_run += usize::from(m.ran);
            for (score, p) in m.predictions {
                self.predictions.insert((key.clone(), score), p);
            }
            if let Some(c) = m.condition {
                self.conditions.insert(key.clone(), c);
            }
            if let Some(s) = m.signals {
                self.signals.insert(key.clone(), s);
            }
            if let Some(raw) = m.raw {
                self.raw.insert(key, raw);
            }
        }
    }

    /// The raw outputs of the case's clean image (parity compares them).
    pub(super) fn clean_raw(&mut self, case: &Case) -> Cached<Outputs> {
        self.timing.inferences_requested += 1;
        let key: Key = (case.id.clone(), None);
        if let Some(r) = self.raw.get(&key) {
            return r.clone();
        }
        let input = Input {
            case: case.clone(),
            fault: None,
            scores: vec![],
            keep_raw: true,
            measure: false,
            signals: false,
        };
        let m = self.make_one(&input);
        let raw = m.raw.unwrap_or_else(|| Err("no outputs kept".into()));
        self.raw.insert(key, raw.clone());
        raw
    }

    /// The case's prediction, clean or perturbed, decoded at `score`.
    fn prediction(
        &mut self,
        case: &Case,
        fault: Option<Fault>,
        score: Option<f32>,
    ) -> Cached<Prediction> {
        self.timing.inferences_requested += 1;
        let key: Key = (case.id.clone(), fault);
        let score_key = score.map(f32::to_bits);
        if let Some(p) = self.predictions.get(&(key.clone(), score_key)) {
            return p.clone();
        }
        // Not planned (a check the planner does not know): made here, once.
        let input = Input {
            case: case.clone(),
            fault,
            scores: vec![score],
            keep_raw: false,
            measure: false,
            signals: false,
        };
        let m = self.make_one(&input);
        let p = m.predictions.into_iter().next().map_or_else(|| Err("not decoded".into()), |x| x.1);
        self.predictions.insert((key, score_key), p.clone());
        p
    }

    /// Makes and runs one input outside the prefetch, counting its time and run.
    fn make_one(&mut self, input: &Input) -> Made {
        let t = Instant::now();
        let image =
            case_image(self.subject, &self.images, &input.case, input.needs_frame(self.subject));
        self.timing.image_decode_ms += ms(t.elapsed());
        let m = make(self.subject, &image, self.ctx.seed, input);
        self.timing.add(&m.timing);
        self.timing.inferences_run += usize::from(m.ran);
        m
    }

    /// The cases a check selects; none is an error, never an empty pass.
    pub(super) fn select(&self, s: &Selection) -> Result<Vec<Case>, Cannot> {
        match self.suite.select(s) {
            Ok(c) if c.is_empty() => Err(format!("no case in slice {:?}", s.slice).into()),
            Ok(c) => Ok(c.into_iter().cloned().collect()),
            Err(missing) => Err(format!("no case with id {}", missing.join(", ")).into()),
        }
    }

    /// Predictions for `cases`, clean or perturbed; the first error aborts with its case.
    pub(super) fn predictions(
        &mut self,
        cases: &[Case],
        fault: Option<Fault>,
        score: Option<f32>,
    ) -> Result<Predicted, Cannot> {
        let mut out = Vec::new();
        for case in cases {
            match self.prediction(case, fault, score) {
                Ok(p) => out.push((case.clone(), p)),
                Err(e) => return Err(format!("case {}: {e}", case.id).into()),
            }
        }
        Ok(out)
    }
}
