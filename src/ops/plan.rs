//! `nvcf-dev plan`: the dry run of `up`. The same [`Plan`] drives `up`, so
//! what `plan` shows is what `up` installs.

use std::path::PathBuf;

use serde::Serialize;
use serde_yaml_ng::Value;

use crate::model::{self, Component, ComponentId};
use crate::secret::REDACTED;
use crate::settings::{ChartSource, Settings};
use crate::tools::helm::{self, Release};
use crate::ui::Shell;
use crate::values;

/// One component's install, fully resolved.
#[derive(Debug, Clone)]
pub struct ComponentPlan {
    pub component: &'static Component,
    pub chart: ChartSource,
    /// The merged values, secrets included: write them only to a 0600 file.
    pub values: Value,
}

impl ComponentPlan {
    pub fn chart_display(&self) -> String {
        match &self.chart {
            ChartSource::Oci { reference, .. } => reference.clone(),
            ChartSource::Local(p) => p.display().to_string(),
        }
    }

    pub fn version(&self) -> Option<&str> {
        match &self.chart {
            ChartSource::Oci { version, .. } => Some(version),
            ChartSource::Local(_) => None,
        }
    }

    /// The helm release for this component, with its values in `values_file`.
    pub fn release(&self, settings: &Settings, values_file: PathBuf) -> Release {
        Release {
            name: self.component.release.to_string(),
            namespace: self.component.namespace.to_string(),
            chart: self.chart_display(),
            version: self.version().map(str::to_string),
            values_file,
            wait_for_jobs: self.component.wait_for_jobs,
            timeout: settings.install_timeout,
            plain_http: matches!(self.chart, ChartSource::Oci { .. }) && settings.plain_http(),
            rollback_on_failure: settings.rollback_on_failure,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub stages: Vec<Vec<ComponentId>>,
    pub components: Vec<ComponentPlan>,
}

impl Plan {
    pub fn component(&self, id: ComponentId) -> Option<&ComponentPlan> {
        self.components.iter().find(|c| c.component.id == id)
    }
}

/// `nvcf-dev plan`: the plan, the helm commands in the installed helm's
/// form, and, when the cluster answers, what `up` would do with each release.
pub async fn show(shell: &Shell, settings: &Settings) -> crate::Result<()> {
    let plan = build(settings)?;
    if let crate::settings::Target::Kind { .. } = settings.target {
        // `up` would fail at creating the cluster: so does its dry run.
        settings.profile.kind_config()?;
    }
    let runner = crate::tools::runner::SystemRunner;
    let helm_major = helm::Helm::detect(&runner)
        .await
        .ok()
        .map(|h| h.version().major);
    let releases = crate::ops::ensure::plan_decisions(settings, &plan).await;
    if shell.is_json() {
        let mut doc = serde_json::to_value(document(&plan, settings))
            .map_err(|e| crate::Error::Internal(format!("the plan is not JSON: {e}")))?;
        if let Some(r) = &releases {
            doc["releases"] = serde_json::to_value(r).unwrap_or_default();
        }
        shell.json(&doc);
        return Ok(());
    }
    print(shell, &plan, settings, helm_major);
    if let Some(r) = &releases {
        crate::ops::ensure::print_decisions(shell, settings, r);
    }
    Ok(())
}

/// Builds the plan: the install stages and each component's merged values.
pub fn build(settings: &Settings) -> Result<Plan, crate::Error> {
    let stages = model::phase1_stages();
    let components = model::PHASE1
        .iter()
        .map(|c| ComponentPlan {
            component: c,
            chart: settings.chart_source(c),
            values: component_values(c, settings),
        })
        .collect();
    Ok(Plan { stages, components })
}

/// A component's values: the guide's file with its placeholders filled, the
/// profile's overrides merged on, then the storage settings, which come after
/// the profile so that STORAGE_CLASS and STORAGE_SIZE win over it. Not yet
/// fitted to a chart: see [`fit_values`].
pub fn component_values(c: &Component, s: &Settings) -> Value {
    component_values_for_registry(c, s, &s.image_registry())
}

/// The values with images pointing at `registry`: the upstream one for
/// discovering what to mirror, the local one for installing.
pub fn component_values_for_registry(c: &Component, s: &Settings, registry: &str) -> Value {
    layers(c, s, registry).2
}

/// The guide's values (placeholders filled), the profile's, and all merged
/// with the settings applied.
fn layers(c: &Component, s: &Settings, registry: &str) -> (Value, Value, Value) {
    let mut guide: Value =
        serde_yaml_ng::from_str(c.base_values).expect("embedded values files are valid YAML");
    let credential = s
        .registry_credential_b64
        .as_ref()
        .map_or(REDACTED, |x| x.expose());
    let password = s
        .cassandra_password
        .as_ref()
        .map_or(REDACTED, |x| x.expose());
    values::fill_placeholders(
        &mut guide,
        &[
            ("<REGISTRY>", registry),
            ("<REPOSITORY>", s.repository.as_str()),
            ("<REGISTRY_CREDENTIAL_B64>", credential),
            ("<CASSANDRA_PASSWORD>", password),
        ],
    );
    let user = s
        .profile
        .values
        .get(c.name)
        .cloned()
        .unwrap_or_else(|| Value::Mapping(Default::default()));
    let mut v = guide.clone();
    values::merge(&mut v, &user);
    if let Some(class) = &s.storage_class {
        values::set_path(&mut v, c.storage_class_path, Value::from(class.as_str()));
    }
    if let Some(size) = &s.storage_size {
        for path in c.storage_size_paths {
            values::set_path(&mut v, path, Value::from(size.as_str()));
        }
    }
    // Must match OpenBao's DEFAULT_CASSANDRA_PASSWORD.
    for path in c.cassandra_password_paths {
        values::set_path(&mut v, path, Value::from(password));
    }
    (guide, user, v)
}

/// A component's values fitted to the chart that will be installed (see
/// `fit`): what helm gets, and what fitting changed or found unread.
pub fn fit_values(
    c: &Component,
    s: &Settings,
    registry: &str,
    chart: &crate::chart::ChartInfo,
) -> Result<(Value, crate::fit::Fitted), crate::fit::FitError> {
    let (guide, user, mut v) = layers(c, s, registry);
    let fitted = crate::fit::fit(c.name, c.fit, chart, &guide, &user, &mut v)?;
    Ok((v, fitted))
}

/// The JSON document of `plan --output json`.
#[derive(Debug, Serialize)]
pub struct PlanDocument {
    pub profile: String,
    pub cluster: String,
    pub stages: Vec<Vec<String>>,
    pub components: Vec<ComponentDocument>,
}

#[derive(Debug, Serialize)]
pub struct ComponentDocument {
    pub name: String,
    pub release: String,
    pub namespace: String,
    pub chart: String,
    pub version: Option<String>,
    pub depends_on: Vec<String>,
    pub wait_for_jobs: bool,
    pub values: serde_json::Value,
}

/// The plan as shown: every secret replaced by `<redacted>`.
pub fn document(plan: &Plan, settings: &Settings) -> PlanDocument {
    let secrets = settings.secrets();
    PlanDocument {
        profile: settings.profile.name.clone(),
        cluster: settings.cluster.clone(),
        stages: plan
            .stages
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
                values: serde_json::to_value(values::redacted(&cp.values, &secrets))
                    .expect("YAML values convert to JSON"),
            })
            .collect(),
    }
}

/// Prints the plan: stages, then per component its release, namespace, the
/// equivalent helm command and the merged values.
pub fn print(shell: &Shell, plan: &Plan, settings: &Settings, helm_major: Option<u32>) {
    let doc = document(plan, settings);
    if shell.is_json() {
        shell.json(&doc);
        return;
    }
    shell.out(format!(
        "Plan: profile {}, cluster {} (kube context {})",
        doc.profile,
        doc.cluster,
        settings.kube_context()
    ));
    shell.out("");
    for (i, stage) in plan.stages.iter().enumerate() {
        let parts: Vec<String> = stage
            .iter()
            .map(|id| {
                let deps: Vec<&str> = id
                    .component()
                    .depends_on
                    .iter()
                    .map(|d| d.as_str())
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
    for (cp, cd) in plan.components.iter().zip(&doc.components) {
        shell.out("");
        shell.out(format!(
            "{}: release {} in namespace {}",
            cd.name, cd.release, cd.namespace
        ));
        let release = cp.release(settings, PathBuf::from(format!("{}-values.yaml", cd.name)));
        let mut args = helm::upgrade_install_args(major, &release);
        args.extend(["--kube-context".to_string(), settings.kube_context()]);
        shell.out(format!("  helm {}", shell_words(&args)));
        if helm_major.is_none() {
            shell.out("  (helm not found: showing the helm 4 form)");
        }
        shell.out(format!(
            "  {}-values.yaml (fitted to the chart when it is pulled: keys it does not read left out, tags and seeds matched):",
            cd.name
        ));
        let yaml = serde_yaml_ng::to_string(&values::redacted(&cp.values, &settings.secrets()))
            .expect("values serialize");
        for line in yaml.lines() {
            shell.out(format!("    {line}"));
        }
    }
}

fn shell_words(args: &[String]) -> String {
    crate::tools::runner::Cmd::new("")
        .args(args.iter().cloned())
        .command_line()
        .trim_start_matches("'' ")
        .to_string()
}
