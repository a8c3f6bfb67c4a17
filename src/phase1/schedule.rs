//! Runs work per component in dependency order, as early as possible: a
//! component starts the moment everything it depends on has succeeded, so
//! openbao starts when nats is healthy without waiting for cassandra.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use futures::stream::{FuturesUnordered, StreamExt};

use crate::model::ComponentId;

#[derive(Debug, PartialEq, Eq)]
pub enum Outcome<E> {
    Done,
    Failed(E),
    /// Not started because a dependency failed.
    Skipped {
        because: String,
    },
}

/// Runs `work` for every item (a component, or its plan: `id` tells which
/// component it is), each once its dependencies succeeded. Returns the
/// outcomes in `items` order.
pub async fn run<'a, T, E, F, Fut>(
    items: &'a [T],
    id: fn(&T) -> ComponentId,
    work: F,
) -> Vec<(ComponentId, Outcome<E>)>
where
    F: Fn(&'a T) -> Fut,
    Fut: Future<Output = Result<(), E>>,
{
    let ids: BTreeSet<ComponentId> = items.iter().map(id).collect();
    let mut outcomes: BTreeMap<ComponentId, Outcome<E>> = BTreeMap::new();
    let mut waiting: Vec<&'a T> = items.iter().collect();
    let mut running = FuturesUnordered::new();
    loop {
        // Skip whatever depends on a failure; start whatever is unblocked.
        waiting.retain(|&item| {
            let c = id(item);
            // Dependencies outside this run (e.g. resetting one component) count as met.
            let mut deps = c.component().depends_on.iter().filter(|d| ids.contains(d));
            let failed = |d: &&ComponentId| {
                matches!(
                    outcomes.get(*d),
                    Some(Outcome::Failed(_) | Outcome::Skipped { .. })
                )
            };
            if let Some(bad) = deps.clone().find(failed) {
                let because = bad.to_string();
                outcomes.insert(c, Outcome::Skipped { because });
                return false;
            }
            let ready = deps.all(|d| matches!(outcomes.get(d), Some(Outcome::Done)));
            if ready {
                let fut = work(item);
                running.push(async move { (c, fut.await) });
            }
            !ready
        });
        let Some((c, result)) = running.next().await else {
            break;
        };
        outcomes.insert(c, result.map_or_else(Outcome::Failed, |()| Outcome::Done));
    }
    items
        .iter()
        .map(|item| {
            let c = id(item);
            let o = outcomes.remove(&c).unwrap_or(Outcome::Skipped {
                because: "a dependency cycle".into(),
            });
            (c, o)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ComponentId::{Cassandra, Nats, Openbao};
    use crate::model::{Component, CASSANDRA, NATS, OPENBAO, PHASE1};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn openbao_starts_when_nats_is_done_not_when_cassandra_is() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let out = run(
            &PHASE1,
            |c| c.id,
            |c: &Component| {
                let log = log.clone();
                async move {
                    log.lock().unwrap().push(format!("start {}", c.name));
                    let secs = match c.id {
                        Nats => 1,
                        Cassandra => 10,
                        Openbao => 2,
                    };
                    tokio::time::sleep(Duration::from_secs(secs)).await;
                    log.lock().unwrap().push(format!("end {}", c.name));
                    Ok::<(), String>(())
                }
            },
        )
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
        let comps = [NATS, OPENBAO, CASSANDRA];
        let out = run(
            &comps,
            |c| c.id,
            |c| async move {
                if c.id == Nats {
                    Err("nats pods never became ready".to_string())
                } else {
                    Ok(())
                }
            },
        )
        .await;
        assert_eq!(
            out,
            vec![
                (
                    Nats,
                    Outcome::Failed("nats pods never became ready".to_string())
                ),
                (
                    Openbao,
                    Outcome::Skipped {
                        because: "nats".into()
                    }
                ),
                (Cassandra, Outcome::Done),
            ]
        );
    }

    #[tokio::test]
    async fn dependencies_outside_the_run_count_as_met() {
        let out = run(&[OPENBAO], |c| c.id, |_| async { Ok::<(), ()>(()) }).await;
        assert_eq!(out, vec![(Openbao, Outcome::Done)]);
    }
}
