//! `nvcf-dev down`: removes what `up` made, and nothing else. Releases are
//! uninstalled in reverse dependency order and stale resources deleted while
//! the cluster is reachable; then the kind cluster and the registry go.
//! [`find`] sees what exists; the pure [`actions`] decide what goes.

use std::time::Duration;

use crate::k8s::stale::delete_stale;
use crate::model::{self, Component};
use crate::ops::reset::{DELETE_TIMEOUT, UNINSTALL_TIMEOUT};
use crate::runtime::Runtime;
use crate::settings::{Prompter, Settings, Target};
use crate::tools::helm::Helm;
use crate::tools::kind::Kind;
use crate::tools::runner::{CommandRunner, SystemRunner};
use crate::ui::Shell;

/// When the cluster is deleted next, cleaning it is a courtesy: bounded.
const BEST_EFFORT: Duration = Duration::from_secs(120);
/// How long the API server gets to answer before `down` gives up on it.
const REACH_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, Copy, Default)]
pub struct DownOptions {
    pub keep_registry: bool,
    /// Also remove the registry's data volume.
    pub purge: bool,
}

/// What exists now, so `down` can say what it will remove before asking.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Found {
    pub cluster: bool,
    pub registry: bool,
    pub volume: bool,
}

/// One action of `down`, in the order they run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DownAction {
    /// Uninstall the releases and delete the stale resources in namespaces
    /// `up` created; best effort when the cluster is deleted next.
    UninstallReleases {
        best_effort: bool,
    },
    /// `kind delete cluster`, with the kind binary found; and the cluster's
    /// saved Cassandra password.
    DeleteCluster {
        kind: String,
    },
    /// The registry container; `container`/`volume`: which of it exists
    /// and goes (the volume only with --purge).
    RemoveRegistry {
        container: bool,
        volume: bool,
    },
    KeepRegistry,
}

impl DownAction {
    /// What the action removes, in words, for the confirmation.
    pub fn removes(&self, s: &Settings) -> Vec<String> {
        match *self {
            DownAction::UninstallReleases { best_effort: false } => vec![format!(
                "the Phase 1 releases and their leftovers in context {}",
                s.kube_context()
            )],
            DownAction::DeleteCluster { .. } => vec![format!(
                "kind cluster {} (and the Phase 1 releases in it)",
                s.cluster
            )],
            DownAction::RemoveRegistry { container, volume } => {
                let (name, volume_name) = (&s.registry.name, &s.registry.volume);
                let container = container.then(|| format!("registry container {name}"));
                let volume =
                    volume.then(|| format!("registry volume {volume_name} (the mirrored images)"));
                container.into_iter().chain(volume).collect()
            }
            _ => vec![],
        }
    }
}

/// What exists, for the kind target: the cluster (asked of kind when it is
/// installed, else read from Docker's node containers), the registry, its volume.
pub async fn find(
    settings: &Settings,
    docker: &Runtime,
    kind: Option<&Kind<'_>>,
) -> crate::Result<Found> {
    let spec = &settings.registry;
    let cluster = match kind {
        Some(k) => k.get_clusters().await?.contains(&settings.cluster),
        None => !docker.kind_nodes(&settings.cluster).await?.is_empty(),
    };
    let registry = docker.container(&spec.name).await?;
    let registry = registry.is_some_and(|c| c.is_ours());
    Ok(Found {
        cluster,
        registry,
        volume: docker.volume_exists(&spec.volume).await?,
    })
}

/// The actions of `down`, pure: `kind` is the kind binary, when installed.
pub fn actions(
    settings: &Settings,
    found: &Found,
    opts: DownOptions,
    kind: Option<String>,
) -> crate::Result<Vec<DownAction>> {
    let Target::Kind = settings.target else {
        return Ok(vec![DownAction::UninstallReleases { best_effort: false }]);
    };
    let mut list = Vec::new();
    if found.cluster {
        let kind = match kind {
            Some(k) => k,
            None => crate::tools::find("kind")?.display().to_string(),
        };
        list.push(DownAction::UninstallReleases { best_effort: true });
        list.push(DownAction::DeleteCluster { kind });
    }
    let volume = opts.purge && found.volume;
    if !opts.keep_registry && (found.registry || volume) {
        let container = found.registry;
        list.push(DownAction::RemoveRegistry { container, volume });
    } else if opts.keep_registry && found.registry {
        list.push(DownAction::KeepRegistry);
    }
    Ok(list)
}

/// The whole command: what exists, confirmation, then the actions in order,
/// each under its status line.
pub async fn down(
    shell: &Shell,
    s: &Settings,
    prompt: &dyn Prompter,
    yes: bool,
    opts: DownOptions,
) -> crate::Result<()> {
    let _lock = crate::ops::lock::acquire_for(s, "down")?;
    crate::ops::guard::ensure_allowed(shell, s, yes, prompt)?;
    let runner = SystemRunner;
    let kind = crate::tools::find("kind")
        .ok()
        .map(|p| p.display().to_string());
    let found = match s.target {
        Target::Kind => {
            let docker = Runtime::connect().await?;
            let k = kind.as_ref().map(|p| Kind::new(&runner, p.clone()));
            find(s, &docker, k.as_ref()).await?
        }
        // Only the releases go, whatever exists.
        Target::Context { .. } => Found::default(),
    };
    // Refuses now, before asking, when kind is needed but not installed.
    let actions = actions(s, &found, opts, kind)?;
    let what: Vec<String> = actions.iter().flat_map(|a| a.removes(s)).collect();
    if what.is_empty() {
        shell.status(format!(
            "Nothing to remove: no cluster {} and no registry of nvcf-dev's",
            s.cluster
        ));
        return Ok(());
    }
    let question = format!("Remove {}?", what.join(", "));
    crate::ops::guard::confirm(shell, yes, prompt, &question, "down")?;
    for action in actions {
        match action {
            DownAction::UninstallReleases { best_effort } => {
                let step = shell.step(format!(
                    "Uninstalling Phase 1 releases in {}",
                    s.kube_context()
                ));
                let skipped = |why: String| {
                    tracing::info!("uninstall skipped: {why}");
                    "skipped: the cluster is deleted next".to_string()
                };
                let uninstall = uninstall_all(s, &runner);
                let note = if !best_effort {
                    uninstall.await?
                } else {
                    match tokio::time::timeout(BEST_EFFORT, uninstall).await {
                        Ok(Ok(note)) => note,
                        Ok(Err(e)) => skipped(e.to_string()),
                        Err(_) => skipped(format!("it took over {}s", BEST_EFFORT.as_secs())),
                    }
                };
                step.done_with(note);
            }
            DownAction::DeleteCluster { kind } => {
                let step = shell.step(format!("Deleting cluster {}", s.cluster));
                Kind::new(&runner, kind).delete_cluster(&s.cluster).await?;
                let dir = crate::state::state_dir()?;
                let password = crate::state::cassandra_password_path(&dir, &s.cluster);
                crate::state::remove_password(&password)?;
                step.done();
            }
            DownAction::RemoveRegistry { .. } => {
                crate::ops::registry::remove(shell, &s.registry, opts.purge).await?
            }
            DownAction::KeepRegistry => shell.status(format!(
                " • Keeping registry {} (--keep-registry)",
                s.registry.name
            )),
        }
    }
    Ok(())
}

/// Releases in reverse install order: dependents first.
pub fn uninstall_order() -> Vec<&'static Component> {
    let order = model::phase1_stages().into_iter().flatten().rev();
    order.map(model::ComponentId::component).collect()
}

/// Uninstalls the releases, dependents first, and deletes the stale
/// resources of namespaces `up` created.
async fn uninstall_all(s: &Settings, runner: &dyn CommandRunner) -> crate::Result<String> {
    let context = s.kube_context();
    let (client, _) = crate::k8s::client::reach(&context, REACH_TIMEOUT).await?;
    let helm = Helm::detect(runner).await?.with_kube_context(&context);
    let mut removed = 0;
    for c in uninstall_order() {
        let (release, ns) = (c.release, c.namespace);
        helm.uninstall(release, ns, UNINSTALL_TIMEOUT).await?;
        if crate::k8s::wiring::namespace_is_ours(&client, ns).await? {
            let gone = delete_stale(&client, ns, release, DELETE_TIMEOUT, false).await?;
            removed += gone.len();
        }
    }
    Ok(format!("{removed} stale resources deleted"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(context: Option<&str>) -> Settings {
        let env = crate::settings::Env::from_pairs([("REPOSITORY", "o/t")]);
        let dir = tempfile::tempdir().unwrap();
        let ctx = crate::settings::Context {
            env: &env,
            prompt: &crate::settings::NoPrompt,
            state_dir: Some(dir.path().into()),
        };
        let flags = crate::settings::Flags {
            target: crate::settings::ContextFlags {
                context: context.map(Into::into),
            },
            ..Default::default()
        };
        crate::settings::resolve(
            crate::profile::load("dev").unwrap(),
            "nvcf-dev",
            &flags,
            &ctx,
            crate::settings::Purpose::Plan,
        )
        .unwrap()
    }

    #[test]
    fn a_kind_cluster_is_cleaned_as_a_courtesy_deleted_then_the_registry_goes() {
        use DownAction::*;
        let all = Found {
            cluster: true,
            registry: true,
            volume: true,
        };
        let kind = Some("/bin/kind".to_string());
        let s = settings(None);
        assert_eq!(
            actions(&s, &all, DownOptions::default(), kind.clone()).unwrap(),
            [
                UninstallReleases { best_effort: true },
                DeleteCluster {
                    kind: "/bin/kind".into()
                },
                RemoveRegistry {
                    container: true,
                    volume: false
                }
            ]
        );
        let keep = DownOptions {
            keep_registry: true,
            purge: false,
        };
        assert_eq!(
            actions(&s, &all, keep, kind.clone()).unwrap().last(),
            Some(&KeepRegistry)
        );
        // Only a volume left: removed with --purge, else nothing to do.
        let volume = Found {
            volume: true,
            ..Default::default()
        };
        let purge = DownOptions {
            keep_registry: false,
            purge: true,
        };
        let only_volume = RemoveRegistry {
            container: false,
            volume: true,
        };
        assert_eq!(actions(&s, &volume, purge, None).unwrap(), [only_volume]);
        assert!(actions(&s, &volume, DownOptions::default(), None)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn an_existing_context_only_loses_the_releases() {
        let s = settings(Some("my-eks"));
        let found = Found {
            cluster: true,
            ..Default::default()
        };
        assert_eq!(
            actions(&s, &found, DownOptions::default(), None).unwrap(),
            [DownAction::UninstallReleases { best_effort: false }]
        );
    }

    #[test]
    fn dependents_are_uninstalled_first() {
        let names: Vec<&str> = uninstall_order().iter().map(|c| c.name).collect();
        assert_eq!(names, ["openbao", "cassandra", "nats"]);
    }
}
