//! What can go wrong talking to the Kubernetes API. Every message is one line
//! saying what failed and what to do, because `main` prints it verbatim to a
//! developer.

/// Errors of the `k8s` module.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    #[error("cannot read kubeconfig: {detail}; check $KUBECONFIG or ~/.kube/config")]
    Kubeconfig { detail: String },
    #[error("kube context `{context}` not found in kubeconfig (available: {available}); kind clusters are named kind-<cluster>: run `nvcf-dev up` to create one or pass --context")]
    ContextNotFound { context: String, available: String },
    #[error("cannot reach the Kubernetes API of context `{context}`: {detail}; is the cluster running? (`docker ps`, `nvcf-dev up`)")]
    Connect { context: String, detail: String },
    /// An API call that failed: what it was for, and what to do; see [`api_err`].
    #[error("cannot {action}: {detail}; {advice}")]
    Api {
        action: String,
        detail: String,
        advice: &'static str,
    },
    #[error("stale resources still present after {timeout_secs}s: {remaining}; check finalizers (`kubectl get <kind> <name> -o yaml`) and retry")]
    DeleteTimeout {
        timeout_secs: u64,
        remaining: String,
    },
}

/// [`crate::ui::one_line`], without the `(Status { .. })` debug dump
/// kube appends to an API error's message ("ApiError: <message>: <reason>
/// (Status { status: Some(Failure), code: 409, ... })"): the message and
/// reason say it, the dump only buries them.
pub(crate) fn one_line(e: &dyn std::fmt::Display) -> String {
    let mut s = crate::ui::one_line(e);
    while let Some(start) = s.find(" (Status {") {
        // From the dump's `(` to its matching `)`, or to the end.
        let mut depth = 0;
        let end = s[start + 1..].find(|c| {
            depth += match c {
                '(' => 1,
                ')' => -1,
                _ => 0,
            };
            depth == 0
        });
        s.replace_range(start..end.map_or(s.len(), |i| start + i + 2), "");
    }
    s
}

/// True when the API said 404: used where "already gone" is success.
pub(crate) fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

/// The advice for a failed read.
pub(crate) const CHECK_UP: &str = "check that the cluster is up (`nvcf-dev status`)";
/// The advice for a failed write.
pub(crate) const CHECK_WRITE: &str = "check that the cluster is up and you may write to it";

/// `cannot {action}: {detail}; {advice}`.
pub(crate) fn api_err(action: String, advice: &'static str, detail: String) -> KubeError {
    KubeError::Api {
        action,
        detail,
        advice,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_api_error_is_its_message_and_reason_without_the_debug_dump() {
        let status =
            kube::core::Status::failure("the object has been modified", "Conflict").with_code(409);
        let e = kube::Error::Api(Box::new(status));
        assert_eq!(
            super::one_line(&e),
            "ApiError: the object has been modified: Conflict"
        );
        assert_eq!(super::one_line(&"a (b) c"), "a (b) c");
    }
}
