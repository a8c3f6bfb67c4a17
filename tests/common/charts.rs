//! Publishing the stand-in charts into a test registry with the real helm.

use std::path::Path;
use std::process::Command;

use super::cli::assert_success;

/// Packages a series of published-chart stand-ins and pushes them to
/// `oci://upstream/repo` with helm. A `helm.sh/images` annotation naming
/// nvcr.io is pointed at the test upstream, since nvcr.io is not reachable
/// from tests.
pub fn push_charts(helm: &str, upstream: &str, repo: &str, work: &Path, series: &str) {
    for chart in [
        "helm-nvcf-nats",
        "helm-nvcf-openbao-server",
        "helm-nvcf-cassandra",
    ] {
        let copy = work.join(chart);
        copy_dir(&super::published_chart(series, chart), &copy);
        let chart_yaml = copy.join("Chart.yaml");
        let text = std::fs::read_to_string(&chart_yaml).unwrap();
        std::fs::write(
            &chart_yaml,
            text.replace("nvcr.io/nvidia/nvcf/", &format!("{upstream}/{repo}/")),
        )
        .unwrap();
        push_chart_dir(helm, upstream, repo, &copy, work);
    }
}

/// `helm package` the chart directory `chart` into `out`, then `helm push`
/// it to `oci://upstream/repo`.
pub fn push_chart_dir(helm: &str, upstream: &str, repo: &str, chart: &Path, out: &Path) {
    let packaged = Command::new(helm)
        .arg("package")
        .arg(chart)
        .arg("-d")
        .arg(out)
        .output()
        .unwrap();
    assert_success(&packaged);
    // "Successfully packaged chart and saved it to: <path>"
    let text = String::from_utf8_lossy(&packaged.stdout);
    let path = text
        .trim()
        .rsplit(": ")
        .next()
        .expect("helm package names the archive");
    let out = Command::new(helm)
        .arg("push")
        .arg(path)
        .arg(format!("oci://{upstream}/{repo}"))
        .arg("--plain-http")
        .output()
        .unwrap();
    assert_success(&out);
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
