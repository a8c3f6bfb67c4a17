//! Benchmark driver for the copy engine (used by scripts/bench-mirror.sh).
//!
//! ```text
//! bench_mirror gen  <registry> <spec>...    push generated images
//! bench_mirror copy <dst-registry> [--concurrency N] [--platform os/arch] <ref>...
//! bench_mirror delay <listen-addr> <upstream-addr> <one-way-ms>
//! ```
//!
//! A gen spec is `repo:tag=SEED:MB,SEED:MB` for an image, or
//! `repo:tag=linux/amd64@SEED:MB,...;linux/arm64@SEED:MB,...` for a
//! multi-arch index. Layers with the same SEED:MB are identical bytes (shared
//! base layers). Bytes come from a seeded ChaCha stream and are uploaded in a
//! streamed PATCH, so a 1 GB layer never sits in memory. `copy` prints the
//! engine's Summary as JSON on stdout.
//!
//! `delay` is a TCP delay line for the WAN case (this kernel has no netem):
//! every byte read at t is written on at t + one-way-ms, in both directions,
//! without serialising throughput behind the sleep; a new connection waits
//! one round trip first, as a TCP handshake would.

use std::collections::HashMap;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};

use nvcf_dev::registry::{
    destination_for, CopyJob, CopyOptions, CredentialSource, Mirror, NoProgress,
};

const CHUNK: usize = 1 << 20;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("gen") if args.len() >= 3 => gen(&args[1], &args[2..]).await,
        Some("copy") if args.len() >= 3 => copy(&args[1], &args[2..]).await,
        Some("delay") if args.len() == 4 => match args[3].parse() {
            Ok(ms) => delay(&args[1], &args[2], Duration::from_millis(ms)).await,
            Err(_) => Err("one-way-ms must be a number".into()),
        },
        _ => Err("usage: bench_mirror gen <registry> <spec>... | copy <dst-registry> [--concurrency N] [--platform P] <ref>... | delay <listen> <upstream> <one-way-ms>".into()),
    };
    if let Err(e) = result {
        eprintln!("bench_mirror: {e}");
        std::process::exit(1);
    }
}

async fn copy(dst: &str, args: &[String]) -> Result<(), String> {
    let mut opts = CopyOptions::default();
    let mut refs = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--concurrency" => {
                opts.concurrency = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .ok_or("--concurrency needs a number")?
            }
            "--platform" => {
                opts.platform = Some(it.next().ok_or("--platform needs a value")?.parse()?)
            }
            r => refs.push(r.to_string()),
        }
    }
    let jobs = refs
        .iter()
        .map(|r| {
            destination_for(r, dst).map(|destination| CopyJob {
                source: r.clone(),
                destination,
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let summary = Mirror::new(opts, CredentialSource::from_env())
        .copy(&jobs, &NoProgress)
        .await
        .map_err(|e| e.to_string())?;
    println!("{}", serde_json::to_string(&summary).unwrap());
    Ok(())
}

/// Forwards every connection to `listen` on to `upstream` through a delay
/// line of `one_way` per direction.
async fn delay(listen: &str, upstream: &str, one_way: Duration) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("bind {listen}: {e}"))?;
    loop {
        let (client, _) = listener.accept().await.map_err(|e| e.to_string())?;
        let upstream = upstream.to_string();
        tokio::spawn(async move {
            // The handshake's round trip.
            tokio::time::sleep(one_way * 2).await;
            let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else {
                return;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let (cr, cw) = client.into_split();
            let (sr, sw) = server.into_split();
            tokio::join!(delay_line(cr, sw, one_way), delay_line(sr, cw, one_way));
        });
    }
}

/// Copies `from` to `to`, each chunk written `one_way` after it was read.
/// The reader runs ahead of the writer, so throughput is what the link
/// allows, not one chunk per delay; the queue holds at most 64 MiB.
async fn delay_line(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    one_way: Duration,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(tokio::time::Instant, Vec<u8>)>(1024);
    let reader = async move {
        loop {
            let mut buf = vec![0u8; 64 * 1024];
            match from.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    buf.truncate(n);
                    let due = tokio::time::Instant::now() + one_way;
                    if tx.send((due, buf)).await.is_err() {
                        break;
                    }
                }
            }
        }
    };
    let writer = async move {
        while let Some((due, buf)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            if to.write_all(&buf).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(reader, writer);
}

struct Gen {
    http: reqwest::Client,
    base: String,
    /// (seed, MB) -> (digest, repo it was first pushed to).
    pushed: HashMap<(u64, u64), (String, String)>,
}

async fn gen(registry: &str, specs: &[String]) -> Result<(), String> {
    let mut g = Gen {
        http: reqwest::Client::new(),
        base: format!("http://{registry}"),
        pushed: HashMap::new(),
    };
    for spec in specs {
        let (name, layers) = spec.split_once('=').ok_or("spec needs repo:tag=...")?;
        let (repo, tag) = name.rsplit_once(':').ok_or("spec needs repo:tag")?;
        if layers.contains('@') {
            let mut entries = Vec::new();
            for (i, part) in layers.split(';').enumerate() {
                let (platform, ls) = part.split_once('@').ok_or("index part needs os/arch@")?;
                let (os, arch) = platform.split_once('/').ok_or("platform needs os/arch")?;
                let (digest, size) = g
                    .image(repo, &format!("{tag}-p{i}"), ls, Some((os, arch)))
                    .await?;
                entries.push(serde_json::json!({
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": digest, "size": size,
                    "platform": {"os": os, "architecture": arch}
                }));
            }
            let idx = serde_json::json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "manifests": entries
            });
            g.manifest(repo, tag, "application/vnd.oci.image.index.v1+json", &idx)
                .await?;
        } else {
            g.image(repo, tag, layers, None).await?;
        }
        eprintln!("generated {registry}/{repo}:{tag}");
    }
    Ok(())
}

impl Gen {
    async fn image(
        &mut self,
        repo: &str,
        tag: &str,
        layers: &str,
        platform: Option<(&str, &str)>,
    ) -> Result<(String, usize), String> {
        let (os, arch) = platform.unwrap_or(("linux", "amd64"));
        let config =
            format!(r#"{{"architecture":"{arch}","os":"{os}","repo":"{repo}","tag":"{tag}"}}"#);
        let cd = self.small_blob(repo, config.as_bytes()).await?;
        let mut ls = Vec::new();
        for l in layers.split(',') {
            let (seed, mb) = l.split_once(':').ok_or("layer needs SEED:MB")?;
            let seed: u64 = seed.parse().map_err(|_| "bad seed")?;
            let mb: u64 = mb.parse().map_err(|_| "bad MB")?;
            let digest = self.layer(repo, seed, mb).await?;
            ls.push(serde_json::json!({
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": digest, "size": mb << 20
            }));
        }
        let m = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": config.len()},
            "layers": ls
        });
        let raw = serde_json::to_vec(&m).unwrap();
        let d = self
            .manifest(repo, tag, "application/vnd.oci.image.manifest.v1+json", &m)
            .await?;
        Ok((d, raw.len()))
    }

    async fn manifest(
        &self,
        repo: &str,
        tag: &str,
        ct: &str,
        v: &serde_json::Value,
    ) -> Result<String, String> {
        let raw = serde_json::to_vec(v).unwrap();
        let r = self
            .http
            .put(format!("{}/v2/{repo}/manifests/{tag}", self.base))
            .header("content-type", ct)
            .body(raw.clone())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !r.status().is_success() {
            return Err(format!("manifest push: {}", r.status()));
        }
        Ok(sha256_digest(Sha256::digest(&raw)))
    }

    async fn start(&self, repo: &str, query: &str) -> Result<reqwest::Response, String> {
        self.http
            .post(format!("{}/v2/{repo}/blobs/uploads/{query}", self.base))
            .send()
            .await
            .map_err(|e| e.to_string())
    }

    fn loc(&self, r: &reqwest::Response) -> String {
        let l = r.headers()["location"].to_str().unwrap();
        if l.starts_with("http") {
            l.to_string()
        } else {
            format!("{}{l}", self.base)
        }
    }

    async fn finish(&self, url: &str, digest: &str, body: Vec<u8>) -> Result<(), String> {
        let sep = if url.contains('?') { '&' } else { '?' };
        let r = self
            .http
            .put(format!("{url}{sep}digest={digest}"))
            .header("content-type", "application/octet-stream")
            .body(body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if r.status() != 201 {
            return Err(format!("blob upload: {}", r.status()));
        }
        Ok(())
    }

    async fn small_blob(&self, repo: &str, data: &[u8]) -> Result<String, String> {
        let digest = sha256_digest(Sha256::digest(data));
        let r = self.start(repo, "").await?;
        let url = self.loc(&r);
        self.finish(&url, &digest, data.to_vec()).await?;
        Ok(digest)
    }

    async fn layer(&mut self, repo: &str, seed: u64, mb: u64) -> Result<String, String> {
        if let Some((digest, from)) = self.pushed.get(&(seed, mb)).cloned() {
            if from != repo {
                let r = self
                    .start(repo, &format!("?mount={digest}&from={from}"))
                    .await?;
                if r.status() != 201 {
                    return Err(format!("mount: {}", r.status()));
                }
            }
            return Ok(digest);
        }
        let r = self.start(repo, "").await?;
        let url = self.loc(&r);
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
        let producer = tokio::task::spawn_blocking(move || {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let mut hasher = Sha256::new();
            for _ in 0..mb {
                let mut buf = vec![0u8; CHUNK];
                rng.fill_bytes(&mut buf);
                hasher.update(&buf);
                if tx.blocking_send(Ok(buf)).is_err() {
                    break;
                }
            }
            sha256_digest(hasher.finalize())
        });
        let body = reqwest::Body::wrap_stream(futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|x| (x, rx))
        }));
        let r = self
            .http
            .patch(&url)
            .header("content-type", "application/octet-stream")
            .body(body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !r.status().is_success() {
            return Err(format!("blob patch: {}", r.status()));
        }
        let next = self.loc(&r);
        let digest = producer.await.map_err(|e| e.to_string())?;
        self.finish(&next, &digest, Vec::new()).await?;
        self.pushed
            .insert((seed, mb), (digest.clone(), repo.to_string()));
        Ok(digest)
    }
}

/// `sha256:<hex>` of a finished hash.
fn sha256_digest(hash: impl AsRef<[u8]>) -> String {
    let hex: String = hash.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}
