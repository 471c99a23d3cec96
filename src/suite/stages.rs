//! A pipeline's report: every stage's suite result folded into the pipeline's own, so one
//! verdict gates the whole reader and every check stays visible by name.

use super::gate::verdict;
use super::report::{Report, StageInfo};

impl Report {
    /// Folds the stages' reports into this pipeline report: their checks first, named
    /// `<stage bundle>/<check>`, then the pipeline's own; one verdict over them all (a failing
    /// stage fails the pipeline), and the time of every suite.
    pub fn with_stages(mut self, stages: Vec<Report>) -> Report {
        let mut checks = Vec::new();
        for stage in stages {
            for mut c in stage.checks {
                c.name = format!("{}/{}", stage.bundle.name, c.name);
                checks.push(c);
            }
            let t = &stage.timing;
            self.timing.add(t);
            self.timing.total_ms += t.total_ms;
            self.timing.inferences_run += t.inferences_run;
            self.timing.inferences_requested += t.inferences_requested;
            self.stages.push(StageInfo { bundle: stage.bundle, verdict: stage.verdict });
        }
        checks.append(&mut self.checks);
        self.checks = checks;
        self.verdict = verdict(self.checks.iter().map(|c| (c.severity, c.status)));
        self.serving_allowed = self.verdict.allows_serving(self.strict);
        self
    }
}
