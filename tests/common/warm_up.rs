//! A laptop after its first `up`, for running `up` again as a user would:
//! the stand-in kind (a labelled "node" container), the real local registry
//! container holding the mirrored charts and images, and a fake API server
//! holding Phase 1 healthy and deployed exactly as `up` would deploy it.
//! The upstream registry is then replaced by a listener that counts who
//! connects, so a warm re-`up` can be held to asking it nothing. Used by
//! tests/up_warm.rs and by scripts/bench-reup.sh (examples/bench_reup.rs).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::registry::{random, TestRegistry, OCI_MANIFEST};

pub const REPO: &str = "my-org/my-team";
const KEY: &str = "warm-ngc-key-0123456789";
const PASSWORD: &str = "warm-cassandra-password";

pub struct WarmWorld {
    pub home: tempfile::TempDir,
    pub bin: PathBuf,
    pub cluster: String,
    pub registry: String,
    pub api: String,
    /// Every request the fake API server answered.
    pub api_log: Arc<Mutex<Vec<String>>>,
    /// Connections to the upstream address since it was replaced.
    pub upstream_connections: Arc<AtomicUsize>,
    upstream: String,
    profile: PathBuf,
    nvcf_dev: PathBuf,
}

impl WarmWorld {
    /// Builds the world and runs the first (cold) `up`, which mirrors from a
    /// real upstream registry; returns it with that `up`'s output.
    /// `nvcf_dev` is the binary under test.
    pub async fn after_first_up(
        nvcf_dev: &Path,
        tag: &str,
        registry_port: u16,
    ) -> (WarmWorld, Output) {
        let image = super::required_env("NVCF_DEV_TEST_REGISTRY_IMAGE");
        let helm = super::helm4();
        let home = tempfile::tempdir().unwrap();
        let bin = home.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        super::write_script(&bin.join("kind"), super::fake_kind::SCRIPT);
        // A helm that records every call, so the tests can count upgrades.
        super::write_script(
            &bin.join("helm"),
            &format!(
                "#!/bin/sh\necho \"$*\" >> \"{}\"\nexec \"{helm}\" \"$@\"\n",
                home.path().join("helm-calls").display()
            ),
        );
        let cluster = format!("nvcf-dev-test-{tag}");
        let registry = format!("nvcf-dev-test-up-{tag}");
        let profile = home.path().join("laptop.yaml");
        // The dev profile, with a registry of the test's own.
        let dev = std::fs::read_to_string(super::repo_root().join("profiles/dev.yaml")).unwrap();
        let ours = dev.replace(
            "  registry:\n    image: registry:3\n    port: 5001\n",
            &format!("  registry:\n    name: {registry}\n    image: {image}\n    port: {registry_port}\n"),
        );
        assert_ne!(dev, ours, "profiles/dev.yaml's registry block moved");
        std::fs::write(&profile, ours).unwrap();

        // Upstream: the published-chart stand-ins and an image for each
        // image they deploy.
        let upstream = TestRegistry::start();
        let work = tempfile::tempdir().unwrap();
        super::charts::push_charts(&helm, &upstream.host, REPO, work.path(), "current");

        let mut world = WarmWorld {
            home,
            bin,
            cluster,
            registry,
            api: String::new(),
            api_log: Default::default(),
            upstream_connections: Default::default(),
            upstream: upstream.host.clone(),
            profile,
            nvcf_dev: nvcf_dev.to_path_buf(),
        };
        world.cleanup();
        // Which images the charts deploy: a dry run (into upstream itself, as
        // it only reads) says.
        let out = world.run(&["mirror", "--dry-run", "-o", "json", "--to", &upstream.host]);
        super::cli::assert_success(&out);
        let dry: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let api = upstream.client();
        for item in dry["items"].as_array().unwrap() {
            if item["kind"] != "image" {
                continue;
            }
            let source = item["source"].as_str().unwrap();
            let (repo, tag) = source
                .strip_prefix(&format!("{}/", upstream.host))
                .and_then(|r| r.rsplit_once(':'))
                .unwrap_or_else(|| panic!("{source} is not upstream"));
            api.push_image(repo, tag, &[random(16 * 1024)], OCI_MANIFEST)
                .await;
        }

        // The cluster as `up` leaves it: releases labelled with the desired
        // state computed exactly as the binary computes it.
        let settings = world.settings();
        let plan = nvcf_dev::phase1::plan::build(&settings);
        let desired = nvcf_dev::phase1::lifecycle::desired_all(&plan);
        let (addr, log) =
            super::phase1_api::serve(super::phase1_api::deployed_as_planned(&plan, &desired));
        world.api = addr;
        world.api_log = log;

        let first = world.run(&["up"]);
        // From here on, the upstream is a counter: nobody should call it.
        let port = upstream.host.rsplit_once(':').unwrap().1.to_string();
        drop(upstream);
        let counter = TcpListener::bind(format!("127.0.0.1:{port}")).unwrap();
        let hits = world.upstream_connections.clone();
        std::thread::spawn(move || {
            for _ in counter.incoming() {
                hits.fetch_add(1, Ordering::SeqCst);
            }
        });
        (world, first)
    }

    fn settings(&self) -> nvcf_dev::settings::Settings {
        let env = nvcf_dev::settings::Env::from_pairs(
            self.env()
                .into_iter()
                .map(|(k, v)| (k, &*Box::leak(v.into_boxed_str()))),
        );
        let ctx = nvcf_dev::settings::Context {
            env: &env,
            prompt: &nvcf_dev::settings::NoPrompt,
            state_dir: Some(self.home.path().join("nvcf-dev")),
        };
        nvcf_dev::settings::resolve(
            nvcf_dev::profile::load(self.profile.to_str().unwrap()).unwrap(),
            &self.cluster,
            &nvcf_dev::settings::Flags::default(),
            &ctx,
            nvcf_dev::settings::Purpose::Apply,
        )
        .unwrap()
    }

    /// The settings the binary reads from its environment.
    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("REGISTRY", self.upstream.clone()),
            ("REPOSITORY", REPO.to_string()),
            ("NGC_API_KEY", KEY.to_string()),
            ("CASSANDRA_PASSWORD", PASSWORD.to_string()),
        ]
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd =
            super::fake_kind::command(&self.nvcf_dev, self.home.path(), &self.bin, &self.api);
        cmd.envs(self.env())
            .arg("--profile")
            .arg(&self.profile)
            .args(["--cluster", &self.cluster])
            .args(args);
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// Every helm call so far, as its argv.
    pub fn helm_calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.home.path().join("helm-calls"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// helm's calls so far that change a release (install, upgrade,
    /// rollback, uninstall). Discovery's `helm template` changes nothing.
    pub fn helm_changes(&self) -> Vec<String> {
        self.helm_calls()
            .into_iter()
            .filter(|l| {
                ["install", "upgrade", "rollback", "uninstall"]
                    .contains(&l.split_whitespace().next().unwrap_or(""))
            })
            .collect()
    }

    /// Leftovers of a killed run must not decide the outcome.
    pub fn cleanup(&self) {
        super::fake_kind::remove_leftovers(&self.cluster, &self.registry);
    }
}

impl Drop for WarmWorld {
    fn drop(&mut self) {
        self.cleanup();
    }
}
