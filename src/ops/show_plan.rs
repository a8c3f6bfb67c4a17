//! `nvcf-dev plan`: the dry run of `up`: the plan, the helm commands in the
//! installed helm's form, and what `up` would do with each release.

use std::path::PathBuf;

use serde::Serialize;

use crate::phase1::ensure::PlannedRelease;
use crate::phase1::plan::{self, Plan};
use crate::settings::Settings;
use crate::tools::helm;
use crate::tools::runner::Cmd;
use crate::ui::Shell;
use crate::values;

/// `nvcf-dev plan`: the plan, the helm commands in the installed helm's
/// form, and, when the cluster answers, what `up` would do with each release.
pub async fn show(shell: &Shell, settings: &Settings) -> crate::Result<()> {
    let plan = plan::build(settings);
    if let crate::settings::Target::Kind = settings.target {
        // `up` would fail at creating the cluster: so does its dry run.
        settings.profile.kind_config()?;
    }
    let runner = crate::tools::runner::SystemRunner;
    let helm_major = helm::Helm::detect(&runner)
        .await
        .ok()
        .map(|h| h.version.major);
    let releases = crate::phase1::ensure::plan_decisions(settings, &plan).await;
    if shell.is_json() {
        shell.json(&document(&plan, settings, releases));
        return Ok(());
    }
    print(shell, &plan, settings, helm_major);
    if let Some(r) = &releases {
        crate::phase1::ensure::print_decisions(shell, settings, r);
    }
    Ok(())
}

/// The JSON document of `plan --output json`.
#[derive(Debug, Serialize)]
struct PlanDocument {
    profile: String,
    cluster: String,
    stages: Vec<Vec<String>>,
    components: Vec<ComponentDocument>,
    /// What `up` would do with each release, when the cluster answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    releases: Option<Vec<PlannedRelease>>,
}

#[derive(Debug, Serialize)]
struct ComponentDocument {
    name: String,
    release: String,
    namespace: String,
    chart: String,
    version: Option<String>,
    depends_on: Vec<String>,
    wait_for_jobs: bool,
    values: serde_yaml_ng::Value,
}

/// The plan as shown: every secret replaced by `<redacted>`.
fn document(
    plan: &Plan,
    settings: &Settings,
    releases: Option<Vec<PlannedRelease>>,
) -> PlanDocument {
    let secrets = settings.secrets();
    PlanDocument {
        profile: settings.profile.name.clone(),
        cluster: settings.cluster.clone(),
        stages: crate::model::phase1_stages()
            .iter()
            .map(|s| s.iter().map(|n| n.to_string()).collect())
            .collect(),
        components: plan
            .components
            .iter()
            .map(|cp| ComponentDocument {
                name: cp.component.name.into(),
                release: cp.component.release.into(),
                namespace: cp.component.namespace.into(),
                chart: cp.chart_display(),
                version: cp.version().map(str::to_string),
                depends_on: cp
                    .component
                    .depends_on
                    .iter()
                    .map(|d| d.to_string())
                    .collect(),
                wait_for_jobs: cp.component.wait_for_jobs,
                values: values::redacted(&cp.values, &secrets),
            })
            .collect(),
        releases,
    }
}

/// Prints the plan: stages, then per component its release, namespace, the
/// equivalent helm command and the merged values.
pub fn print(shell: &Shell, plan: &Plan, settings: &Settings, helm_major: Option<u32>) {
    let context = settings.kube_context();
    shell.out(format!(
        "Plan: profile {}, cluster {} (kube context {context})",
        settings.profile.name, settings.cluster
    ));
    shell.out("");
    for (i, stage) in crate::model::phase1_stages().iter().enumerate() {
        let parts: Vec<String> = stage
            .iter()
            .map(|id| {
                let deps: Vec<&str> = id
                    .component()
                    .depends_on
                    .iter()
                    .map(|d| d.component().name)
                    .collect();
                if deps.is_empty() {
                    id.to_string()
                } else {
                    format!(
                        "{id} (once {} {} healthy)",
                        deps.join(" and "),
                        if deps.len() > 1 { "are" } else { "is" }
                    )
                }
            })
            .collect();
        let together = if stage.len() > 1 { " in parallel" } else { "" };
        shell.out(format!("Stage {}: {}{together}", i + 1, parts.join(", ")));
    }
    let major = helm_major.unwrap_or(4);
    for cp in &plan.components {
        let c = cp.component;
        shell.out("");
        shell.out(format!(
            "{}: release {} in namespace {}",
            c.name, c.release, c.namespace
        ));
        let release = cp.release(settings, PathBuf::from(format!("{}-values.yaml", c.name)));
        let args = helm::upgrade_install_args(major, &release);
        let helm = Cmd::new("helm")
            .args(args)
            .args(["--kube-context", &context]);
        shell.out(format!("  {}", helm.command_line()));
        if helm_major.is_none() {
            shell.out("  (helm not found: showing the helm 4 form)");
        }
        shell.out(format!(
            "  {}-values.yaml (fitted to the chart when it is pulled: keys it does not read left out, tags and seeds matched):",
            c.name
        ));
        let yaml = serde_yaml_ng::to_string(&values::redacted(&cp.values, &settings.secrets()))
            .expect("values serialize");
        for line in yaml.lines() {
            shell.out(format!("    {line}"));
        }
    }
}
