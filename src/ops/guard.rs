//! The context guard, applied by every command that changes a cluster.

use crate::k8s::{check_context, ContextDecision};
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
    match check_context(
        &target,
        &settings.cluster,
        explicit,
        yes,
        shell.is_interactive(),
    ) {
        ContextDecision::Allowed => Ok(()),
        ContextDecision::Refused { reason } => Err(crate::Error::Usage(reason)),
        ContextDecision::NeedsConfirmation => {
            if prompt.confirm(&format!(
                "Change cluster context `{target}`, which is not nvcf-dev's own kind cluster?"
            )) {
                Ok(())
            } else {
                Err(crate::Error::Usage(format!(
                    "not confirmed: nothing was changed in `{target}`"
                )))
            }
        }
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
        return Err(crate::Error::Usage(format!(
            "{what} needs confirmation and there is no terminal to ask: add --yes"
        )));
    }
    if prompt.confirm(question) {
        Ok(())
    } else {
        Err(crate::Error::Usage(
            "not confirmed: nothing was changed".into(),
        ))
    }
}
