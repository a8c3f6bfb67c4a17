//! `nvcf-dev down`: removes what `up` made, and nothing else. Releases are
//! uninstalled in reverse dependency order and stale resources deleted while
//! the cluster is reachable; then the kind cluster and the registry go.

use crate::runtime::Runtime;
use crate::settings::{Prompter, Settings, Target};
use crate::steps::down::DownAction;
use crate::tools::kind::Kind;
use crate::tools::runner::SystemRunner;
use crate::ui::Shell;

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

/// The whole command: what exists, confirmation, then the actions in order.
pub async fn down(
    shell: &Shell,
    settings: &Settings,
    prompt: &dyn Prompter,
    yes: bool,
    opts: DownOptions,
) -> crate::Result<()> {
    let _lock = crate::ops::lock::acquire_for(settings, "down")?;
    crate::ops::guard::ensure_allowed(shell, settings, yes, prompt)?;
    let runner = SystemRunner;
    let kind = crate::tools::find("kind")
        .ok()
        .map(|p| p.display().to_string());
    let found = match settings.target {
        Target::Kind => {
            let docker = Runtime::connect().await?;
            let k = kind.as_ref().map(|p| Kind::new(&runner, p.clone()));
            find(settings, &docker, k.as_ref()).await?
        }
        Target::Context { .. } => Found {
            cluster: true,
            ..Default::default()
        },
    };
    // Refuses now, before asking, when kind is needed but not installed.
    let actions = actions(settings, &found, opts, kind)?;
    let what: Vec<String> = actions.iter().flat_map(|a| a.removes(settings)).collect();
    if what.is_empty() {
        shell.status(format!(
            "Nothing to remove: no cluster {} and no registry of nvcf-dev's",
            settings.cluster
        ));
        return Ok(());
    }
    crate::ops::guard::confirm(
        shell,
        yes,
        prompt,
        &format!("Remove {}?", what.join(", ")),
        "down",
    )?;
    crate::steps::down::run(shell, settings, &runner, &actions, opts.purge).await
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
}
