//! Keys on the command line: `--cluster-key-file`, `--client-key-file` (or the
//! keys themselves in `RINGLEADER_CLUSTER_KEY` / `RINGLEADER_CLIENT_KEY`), and
//! `ringleader keygen`, which writes a new pair.

use clap::Args;
use ringleader_runtime::auth::{Key, Keys};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The environment variable that may hold the cluster key (64 hex digits).
pub const CLUSTER_KEY_ENV: &str = "RINGLEADER_CLUSTER_KEY";
/// The environment variable that may hold the client key (64 hex digits).
pub const CLIENT_KEY_ENV: &str = "RINGLEADER_CLIENT_KEY";

/// A node's keys.
#[derive(Args, Debug, Clone, Default)]
pub struct NodeKeyArgs {
    /// File holding the cluster key (`ringleader keygen` writes one). Every datagram
    /// and peer connection is then authenticated with it, and only holders of the
    /// key are members. Or set RINGLEADER_CLUSTER_KEY to the key itself. Without
    /// one, anyone who can reach the node's ports can take the cluster over.
    #[arg(long, value_name = "FILE")]
    pub cluster_key_file: Option<PathBuf>,
    /// File holding the client key: clients must then prove they hold it (it
    /// never lets a connection speak as a member). Or RINGLEADER_CLIENT_KEY.
    #[arg(long, value_name = "FILE")]
    pub client_key_file: Option<PathBuf>,
}

impl NodeKeyArgs {
    /// The keys the flags and the environment give.
    pub fn load(&self) -> Result<Keys, String> {
        Ok(Keys {
            cluster: load_one(self.cluster_key_file.as_deref(), CLUSTER_KEY_ENV)?,
            client: load_one(self.client_key_file.as_deref(), CLIENT_KEY_ENV)?,
        })
    }

    /// The flags that hand the same keys to a child process.
    pub fn to_args(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(p) = &self.cluster_key_file {
            out.extend(["--cluster-key-file".into(), p.display().to_string()]);
        }
        if let Some(p) = &self.client_key_file {
            out.extend(["--client-key-file".into(), p.display().to_string()]);
        }
        out
    }
}

/// The client key from `file` or the environment.
pub fn client_key(file: Option<&Path>) -> Result<Option<Key>, String> {
    load_one(file, CLIENT_KEY_ENV)
}

fn load_one(file: Option<&Path>, env: &str) -> Result<Option<Key>, String> {
    if let Some(path) = file {
        return Key::load(path).map(Some).map_err(|e| e.to_string());
    }
    match std::env::var(env) {
        Ok(text) if !text.trim().is_empty() => Key::from_hex(&text)
            .map(Some)
            .map_err(|e| format!("{env}: {e}")),
        _ => Ok(None),
    }
}

/// Flags of `keygen`.
#[derive(Args, Debug, Clone)]
pub struct KeygenArgs {
    /// Directory to write `cluster.key` and `client.key` to (created if need be).
    /// Existing key files are never overwritten.
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
}

/// Runs `keygen`.
pub fn keygen(args: &KeygenArgs) -> ExitCode {
    if let Err(e) = std::fs::create_dir_all(&args.dir) {
        eprintln!("error: cannot create {}: {e}", args.dir.display());
        return ExitCode::from(crate::EXIT_USAGE);
    }
    let files = [
        (args.dir.join("cluster.key"), "--cluster-key-file"),
        (args.dir.join("client.key"), "--client-key-file"),
    ];
    for (path, _) in &files {
        if path.exists() {
            eprintln!(
                "error: {} exists; keygen never overwrites a key (move it away first)",
                path.display()
            );
            return ExitCode::from(crate::EXIT_USAGE);
        }
    }
    for (path, _) in &files {
        if let Err(e) = Key::generate().write_new(path) {
            eprintln!("error: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    let (cluster, client) = (&files[0].0, &files[1].0);
    println!(
        "wrote {} (give it to every node: --cluster-key-file) and {} (nodes and chat \
         clients: --client-key-file); both readable by you only",
        cluster.display(),
        client.display()
    );
    ExitCode::SUCCESS
}
