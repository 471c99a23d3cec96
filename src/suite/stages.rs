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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::gate::{Status, Verdict};
    use crate::suite::report::{BundleInfo, CheckResult, HostInfo, RuntimeInfo, Timing};
    use crate::suite::spec::Severity;

    fn report(name: &str, checks: &[(&str, Severity, bool)]) -> Report {
        let checks: Vec<CheckResult> = checks
            .iter()
            .map(|&(n, severity, ok)| CheckResult {
                name: n.into(),
                kind: "accuracy".into(),
                description: String::new(),
                severity,
                passed: Some(ok),
                status: if ok { Status::Pass } else { Status::Fail },
                measured: None,
                threshold: None,
                unit: String::new(),
                detail: String::new(),
                failures: vec![],
                values: Default::default(),
            })
            .collect();
        let verdict = verdict(checks.iter().map(|c| (c.severity, c.status)));
        Report {
            schema: String::new(),
            verdict,
            strict: false,
            serving_allowed: verdict.allows_serving(false),
            started_at: String::new(),
            started_unix: 0,
            duration_ms: 0.0,
            seed: 0,
            bundle: BundleInfo {
                name: name.into(),
                version: "1".into(),
                model_sha256: String::new(),
                suite: String::new(),
                suite_sha256: String::new(),
            },
            runtime: RuntimeInfo { version: String::new(), tract_version: String::new() },
            host: HostInfo {
                triple: String::new(),
                cpu: String::new(),
                cores: 1,
                target: None,
                emulated: false,
                threads: 1,
                kernels: vec![],
                unit: None,
                target_mismatch: false,
            },
            timing: Timing { total_ms: 10.0, inferences_run: 3, ..Timing::default() },
            checks,
            envelope: None,
            stages: vec![],
        }
    }

    #[test]
    fn stage_checks_come_first_by_stage_name_and_one_failure_fails_the_whole() {
        use Severity::*;
        let det = report("det", &[("found", Critical, true)]);
        let rec = report("rec", &[("cer", Critical, false), ("fast", Minor, true)]);
        let pipe = report("pipe", &[("page", Critical, true)]).with_stages(vec![det, rec]);
        let names: Vec<&str> = pipe.checks.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["det/found", "rec/cer", "rec/fast", "page"]);
        assert_eq!(pipe.verdict, Verdict::Fail);
        assert!(!pipe.serving_allowed);
        assert_eq!(pipe.stages.len(), 2);
        assert_eq!(pipe.stages[1].verdict, Verdict::Fail);
        assert_eq!((pipe.timing.total_ms, pipe.timing.inferences_run), (30.0, 9));
        let major = report("cls", &[("turn", Major, false)]);
        let pipe = report("pipe", &[("page", Critical, true)]).with_stages(vec![major]);
        assert_eq!(pipe.verdict, Verdict::Degraded);
    }
}
