//! `nvcf-dev mirror`: the charts and images into the local registry or
//! `--to`, and what was copied.

use crate::phase1::charts;
use crate::phase1::mirror::{MirrorOptions, MirrorReport, Mirrorer};
use crate::settings::Settings;
use crate::ui::{format_duration, table, Shell};

/// `nvcf-dev mirror`: resolves the chart versions, plans, and mirrors into
/// `opts.to` or the local registry, which `up` and `down` use too, so that
/// is done under the cluster's lock. `why`: show where each image was found.
pub async fn mirror(
    shell: &Shell,
    mut settings: Settings,
    opts: MirrorOptions,
    why: bool,
) -> crate::Result<()> {
    let upstream = settings.upstream_registry.clone();
    charts::resolve_latest(&mut settings, shell, &upstream).await?;
    let plan = crate::phase1::plan::build(&settings);
    let _lock = (opts.to.is_none() && !opts.dry_run)
        .then(|| crate::ops::lock::acquire_for(&settings, "mirror"))
        .transpose()?;
    let runner = crate::tools::runner::SystemRunner;
    let report = Mirrorer::new(shell, &settings, &runner, None, opts)?
        .run(&plan)
        .await?;
    print(shell, &report, why);
    Ok(())
}

/// Prints the report: what was (or would be) copied, and the summary.
fn print(shell: &Shell, r: &MirrorReport, why: bool) {
    if shell.is_json() {
        shell.json(r);
        return;
    }
    let rows: Vec<Vec<String>> = r
        .items
        .iter()
        .map(|i| {
            let state = match (i.present, r.dry_run) {
                (true, _) => "present",
                (false, true) => "to copy",
                (false, false) => "copied",
            };
            vec![i.kind.to_string(), i.source.clone(), state.to_string()]
        })
        .collect();
    shell.out(table(&["KIND", "SOURCE", "STATE"], &rows));
    if why {
        shell.out("");
        for i in &r.items {
            shell.out(format!("{}:", i.source));
            for s in &i.found_in {
                shell.out(format!("    {s}"));
            }
        }
    }
    for u in &r.unresolved {
        shell.warn(format!("not mirrored, no tag decides it: {u}"));
    }
    let s = &r.summary;
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    let verb = if r.dry_run {
        "Would mirror"
    } else {
        "Mirrored"
    };
    shell.status(format!(
        "{} {} into {}: {} present, {:.1} MiB copied, {:.1} MiB skipped, in {} ({:.1} MiB/s)",
        verb,
        r.items.len(),
        r.destination,
        s.images_already_present,
        mib(s.bytes_copied),
        mib(s.bytes_skipped),
        format_duration(std::time::Duration::from_secs_f64(s.elapsed_secs)),
        s.throughput_mib_s
    ));
}
