//! Runs work per component in dependency order, as early as possible: a
//! component starts the moment everything it depends on has succeeded, so
//! openbao starts when nats is healthy without waiting for cassandra.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use futures::stream::{FuturesUnordered, StreamExt};

use crate::model::Component;

#[derive(Debug, PartialEq, Eq)]
pub enum Outcome<E> {
    Done,
    Failed(E),
    /// Not started because a dependency failed.
    Skipped {
        because: String,
    },
}

/// Runs `work` for every component, each once its dependencies succeeded.
/// Returns the outcomes in `components` order.
pub async fn run<'a, E, F, Fut>(components: &[&'a Component], work: F) -> Vec<(&'a str, Outcome<E>)>
where
    F: Fn(&'a Component) -> Fut,
    Fut: Future<Output = Result<(), E>>,
{
    let names: BTreeSet<&str> = components.iter().map(|c| c.name).collect();
    let mut outcomes: BTreeMap<&str, Outcome<E>> = BTreeMap::new();
    let mut started: BTreeSet<&str> = BTreeSet::new();
    let mut running = FuturesUnordered::new();
    loop {
        // Skip whatever depends on a failure; start whatever is unblocked.
        for c in components {
            if started.contains(c.name) {
                continue;
            }
            // Dependencies outside this run (e.g. resetting one component) count as met.
            let deps: Vec<&str> = c
                .depends_on
                .iter()
                .copied()
                .filter(|d| names.contains(d))
                .collect();
            if let Some(bad) = deps.iter().find(|d| {
                matches!(
                    outcomes.get(*d),
                    Some(Outcome::Failed(_)) | Some(Outcome::Skipped { .. })
                )
            }) {
                started.insert(c.name);
                outcomes.insert(
                    c.name,
                    Outcome::Skipped {
                        because: bad.to_string(),
                    },
                );
            } else if deps
                .iter()
                .all(|d| matches!(outcomes.get(d), Some(Outcome::Done)))
            {
                started.insert(c.name);
                let name = c.name;
                let fut = work(c);
                running.push(async move { (name, fut.await) });
            }
        }
        match running.next().await {
            Some((name, result)) => {
                outcomes.insert(
                    name,
                    match result {
                        Ok(()) => Outcome::Done,
                        Err(e) => Outcome::Failed(e),
                    },
                );
            }
            None => break,
        }
    }
    components
        .iter()
        .map(|c| {
            let o = outcomes.remove(c.name).unwrap_or(Outcome::Skipped {
                because: "a dependency cycle".into(),
            });
            (c.name, o)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CASSANDRA, NATS, OPENBAO, PHASE1};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn openbao_starts_when_nats_is_done_not_when_cassandra_is() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let comps: Vec<&Component> = PHASE1.iter().collect();
        let out = run(&comps, |c| {
            let log = log.clone();
            async move {
                log.lock().unwrap().push(format!("start {}", c.name));
                let secs = match c.name {
                    "nats" => 1,
                    "cassandra" => 10,
                    _ => 2,
                };
                tokio::time::sleep(Duration::from_secs(secs)).await;
                log.lock().unwrap().push(format!("end {}", c.name));
                Ok::<(), String>(())
            }
        })
        .await;
        assert_eq!(
            *log.lock().unwrap(),
            [
                "start nats",
                "start cassandra",
                "end nats",
                "start openbao",
                "end openbao",
                "end cassandra"
            ]
        );
        assert!(out.iter().all(|(_, o)| *o == Outcome::Done));
    }

    #[tokio::test]
    async fn a_failure_skips_its_dependents_only() {
        let comps = [&NATS, &OPENBAO, &CASSANDRA];
        let out = run(&comps, |c| async move {
            if c.name == "nats" {
                Err("nats pods never became ready".to_string())
            } else {
                Ok(())
            }
        })
        .await;
        assert_eq!(
            out,
            vec![
                (
                    "nats",
                    Outcome::Failed("nats pods never became ready".to_string())
                ),
                (
                    "openbao",
                    Outcome::Skipped {
                        because: "nats".into()
                    }
                ),
                ("cassandra", Outcome::Done),
            ]
        );
    }

    #[tokio::test]
    async fn dependencies_outside_the_run_count_as_met() {
        let out = run(&[&OPENBAO], |_| async { Ok::<(), ()>(()) }).await;
        assert_eq!(out, vec![("openbao", Outcome::Done)]);
    }
}
