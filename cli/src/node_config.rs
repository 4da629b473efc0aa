//! `ringleader node --config FILE`: a node's settings in a TOML file, so a
//! real deployment is a short command line.
//!
//! Every setting is one of `node`'s flags without its dashes (`heartbeat =
//! "100ms"`, `no-multicast = true`, `peer = ["10.0.0.2:7101", ...]`; `_` may
//! stand for `-`). A setting becomes the flag it names and goes through the
//! same checks, so a file can say nothing a command line could not; a flag
//! given on the command line wins over the file's setting of it.

use clap::parser::ValueSource;
use clap::{ArgAction, Args, FromArgMatches};
use std::ffi::OsString;
use std::path::Path;

/// A config file larger than this is refused (a node's settings are a few
/// hundred bytes).
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// `node`'s flags from `args` (what follows `node` on the command line),
/// with the settings of its `--config` file under them. Usage errors and
/// `--help` end the process as clap does.
pub fn parse(args: &[OsString]) -> crate::node::NodeArgs {
    match parse_or_clap_error(args) {
        Ok(parsed) => parsed,
        Err(Failure::Clap(e, from_config)) => {
            if from_config && e.kind() != clap::error::ErrorKind::DisplayHelp {
                eprintln!("note: the settings of --config are read as the flags of the same name");
            }
            e.exit()
        }
        Err(Failure::Config(e)) => {
            eprintln!("error: {e}");
            std::process::exit(i32::from(crate::EXIT_USAGE));
        }
    }
}

/// [`parse`] for a library: the error as the command would print it.
pub fn try_parse(args: &[OsString]) -> Result<crate::node::NodeArgs, String> {
    parse_or_clap_error(args).map_err(|f| match f {
        Failure::Clap(e, _) => e.render().to_string().trim_end().to_owned(),
        Failure::Config(e) => e,
    })
}

enum Failure {
    /// A usage error; `true` when a config file was read.
    Clap(clap::Error, bool),
    Config(String),
}

fn parse_or_clap_error(args: &[OsString]) -> Result<crate::node::NodeArgs, Failure> {
    let node = crate::node::NodeArgs::augment_args(clap::Command::new("node"))
        .bin_name("ringleader node")
        .name("ringleader node")
        .about(crate::node::ABOUT);
    let argv = || std::iter::once(OsString::from("ringleader node")).chain(args.iter().cloned());
    // First without requiring --id: the file may give it.
    let first = node
        .clone()
        .mut_arg("id", |a| a.required(false))
        .try_get_matches_from(argv())
        .map_err(|e| Failure::Clap(e, false))?;
    let mut line: Vec<OsString> = vec![OsString::from("ringleader node")];
    if let Some(path) = first.get_one::<std::path::PathBuf>("config") {
        let flags = settings(path, &node, &first)
            .map_err(|e| Failure::Config(format!("--config {}: {e}", path.display())))?;
        line.extend(flags.into_iter().map(OsString::from));
    }
    line.extend(args.iter().cloned());
    let from_config = first.contains_id("config");
    let matches = node
        .try_get_matches_from(line)
        .map_err(|e| Failure::Clap(e, from_config))?;
    crate::node::NodeArgs::from_arg_matches(&matches).map_err(|e| Failure::Clap(e, from_config))
}

/// The file's settings as flags, leaving out those the command line gives.
fn settings(
    path: &Path,
    node: &clap::Command,
    given: &clap::ArgMatches,
) -> Result<Vec<String>, String> {
    let size = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
    if size > MAX_CONFIG_BYTES {
        return Err(format!(
            "{size} bytes; a config file is at most {MAX_CONFIG_BYTES}"
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let table: toml::Table = toml::from_str(&text).map_err(|e| e.to_string())?;
    let mut flags = Vec::new();
    for (key, value) in &table {
        let wanted = key.replace('_', "-");
        let arg = node
            .get_arguments()
            .find(|a| a.get_long() == Some(wanted.as_str()) || a.get_id() == key.as_str())
            .filter(|a| !matches!(a.get_id().as_str(), "config" | "help" | "version"))
            .ok_or_else(|| {
                format!(
                    "unknown setting '{key}': settings are the flags of `ringleader node --help` \
                     without their dashes"
                )
            })?;
        let id = arg.get_id().as_str();
        if given.value_source(id) == Some(ValueSource::CommandLine) {
            continue; // the command line wins
        }
        let long = arg.get_long().unwrap_or(id);
        flags.extend(as_flags(long, arg.get_action(), value).map_err(|e| format!("{key}: {e}"))?);
    }
    Ok(flags)
}

/// One setting as the flags that say the same.
fn as_flags(long: &str, action: &ArgAction, value: &toml::Value) -> Result<Vec<String>, String> {
    let flag = format!("--{long}");
    let scalar = |v: &toml::Value| -> Result<String, String> {
        match v {
            toml::Value::String(s) => Ok(s.clone()),
            toml::Value::Integer(i) => Ok(i.to_string()),
            toml::Value::Float(f) => Ok(f.to_string()),
            toml::Value::Boolean(b) => Ok(b.to_string()),
            _ => Err("expected a string, a number or a list of them".into()),
        }
    };
    Ok(match (action, value) {
        (ArgAction::SetTrue, toml::Value::Boolean(true)) => vec![flag],
        (ArgAction::SetTrue, toml::Value::Boolean(false)) => Vec::new(),
        (ArgAction::SetTrue, _) => return Err("expected true or false".into()),
        (ArgAction::Append, toml::Value::Array(items)) => items
            .iter()
            .map(|v| scalar(v).map(|s| vec![flag.clone(), s]))
            .collect::<Result<Vec<_>, _>>()?
            .concat(),
        (_, toml::Value::Array(items)) => {
            let parts = items.iter().map(scalar).collect::<Result<Vec<_>, _>>()?;
            vec![flag, parts.join(",")]
        }
        (_, v) => vec![flag, scalar(v)?],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_become_the_flags_they_name() {
        let flags = |long, action, v: &str| {
            let value: toml::Table = toml::from_str(&format!("x = {v}")).unwrap();
            as_flags(long, action, &value["x"])
        };
        assert_eq!(
            flags("heartbeat", &ArgAction::Set, "\"100ms\"").unwrap(),
            ["--heartbeat", "100ms"]
        );
        assert_eq!(flags("id", &ArgAction::Set, "3").unwrap(), ["--id", "3"]);
        assert_eq!(
            flags("voters", &ArgAction::Set, "[1, 2, 3]").unwrap(),
            ["--voters", "1,2,3"]
        );
        assert_eq!(
            flags("peer", &ArgAction::Append, "[\"a:1\", \"b:2\"]").unwrap(),
            ["--peer", "a:1", "--peer", "b:2"]
        );
        assert_eq!(
            flags("no-multicast", &ArgAction::SetTrue, "true").unwrap(),
            ["--no-multicast"]
        );
        assert!(flags("no-multicast", &ArgAction::SetTrue, "false")
            .unwrap()
            .is_empty());
        assert!(flags("no-multicast", &ArgAction::SetTrue, "\"yes\"").is_err());
        assert!(flags("heartbeat", &ArgAction::Set, "{ a = 1 }").is_err());
    }
}
