//! The context guard, applied by every command that changes a cluster.

use crate::k8s::kind_context;
use crate::settings::{Prompter, Settings, Target};
use crate::ui::Shell;

/// Refuses, or asks, before acting on any context but `kind-<cluster>`.
pub fn ensure_allowed(
    shell: &Shell,
    settings: &Settings,
    yes: bool,
    prompt: &dyn Prompter,
) -> crate::Result<()> {
    let explicit = matches!(settings.target, Target::Context { .. });
    let target = settings.kube_context();
    let interactive = shell.is_interactive();
    let ask = check_context(&target, &settings.cluster, explicit, yes, interactive)
        .map_err(crate::Error::Failed)?;
    let question =
        format!("Change cluster context `{target}`, which is not nvcf-dev's own kind cluster?");
    if ask && !prompt.confirm(&question) {
        return Err(crate::Error::Failed(format!(
            "not confirmed: nothing was changed in `{target}`"
        )));
    }
    Ok(())
}

/// Whether `up`, `reset` or `down` may act on `target` and must first ask
/// (there is a terminal), else why not. Deleting secrets on the wrong cluster
/// is unrecoverable, so any context but `kind-<cluster>` must be named with
/// `--context` *and* confirmed, interactively or with `--yes`.
pub fn check_context(
    target: &str,
    cluster: &str,
    explicit_context: bool,
    yes: bool,
    interactive: bool,
) -> Result<bool, String> {
    let expected = kind_context(cluster);
    match (target == expected, explicit_context, yes, interactive) {
        (true, ..) | (false, true, true, _) => Ok(false),
        (false, true, false, true) => Ok(true),
        (false, false, ..) => Err(format!(
            "context `{target}` is not `{expected}`: nvcf-dev only changes its own kind cluster; pass --context {target} to act on it anyway"
        )),
        (false, true, false, false) => Err(format!(
            "context `{target}` is not `{expected}` and there is no terminal to confirm: add --yes to act on it"
        )),
    }
}

/// Asks before destroying something, unless `--yes`. Without a terminal,
/// `--yes` is required: a script must say so explicitly.
pub fn confirm(
    shell: &Shell,
    yes: bool,
    prompt: &dyn Prompter,
    question: &str,
    what: &str,
) -> crate::Result<()> {
    if yes {
        return Ok(());
    }
    if !shell.is_interactive() {
        return Err(crate::Error::Failed(format!(
            "{what} needs confirmation and there is no terminal to ask: add --yes"
        )));
    }
    if prompt.confirm(question) {
        Ok(())
    } else {
        Err(crate::Error::Failed(
            "not confirmed: nothing was changed".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::check_context;

    #[test]
    fn own_kind_context_is_allowed_without_questions() {
        assert_eq!(
            check_context("kind-nvcf", "nvcf", false, false, false),
            Ok(false)
        );
    }

    #[test]
    fn another_context_needs_explicit_flag_and_confirmation() {
        assert!(matches!(
            check_context("prod-eks", "nvcf", false, true, true),
            Err(reason) if reason.contains("--context prod-eks")
        ));
        assert_eq!(
            check_context("prod-eks", "nvcf", true, false, true),
            Ok(true)
        );
        assert_eq!(
            check_context("prod-eks", "nvcf", true, true, false),
            Ok(false)
        );
        assert!(matches!(
            check_context("prod-eks", "nvcf", true, false, false),
            Err(reason) if reason.contains("--yes")
        ));
    }

    #[test]
    fn another_kind_cluster_is_not_ours() {
        assert!(check_context("kind-other", "nvcf", false, true, true).is_err());
    }
}
