//! What `up` installs: each component's chart and merged values (the order
//! is the model's dependencies). `plan` shows the same [`Plan`] (see `show_plan`), so what it
//! shows is what `up` installs.

use std::path::PathBuf;

use serde_yaml_ng::Value;

use crate::model::{self, Component, ComponentId};
use crate::secret::REDACTED;
use crate::settings::{ChartSource, Settings};
use crate::tools::helm::Release;
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
    pub components: Vec<ComponentPlan>,
}

impl Plan {
    pub fn component(&self, id: ComponentId) -> Option<&ComponentPlan> {
        self.components.iter().find(|c| c.component.id == id)
    }
}

/// Builds the plan: each component's chart and merged values.
pub fn build(settings: &Settings) -> Plan {
    let components = model::PHASE1
        .iter()
        .map(|c| ComponentPlan {
            component: c,
            chart: settings.chart_source(c),
            values: component_values_for_registry(c, settings, &settings.image_registry()),
        })
        .collect();
    Plan { components }
}

/// A component's values with images pointing at `registry` (the upstream
/// one for discovering what to mirror, the local one for installing): the
/// guide's file with its placeholders filled, the profile's overrides merged
/// on, then the storage settings, which come after the profile so that
/// STORAGE_CLASS and STORAGE_SIZE win over it. Not yet fitted to a chart:
/// see [`fit_values`].
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
