//! The config file: defaults for flags, below the environment and the command line.
//!
//! Every flag that shows `[env: MERIT_X_Y]` in `--help` can be set in the file as
//! `x-y = "value"` (or `x_y`). The file is `--config FILE`, else `$MERIT_CONFIG`, else
//! `<data dir>/config.toml` when it exists. Its values are exported as the flags'
//! environment variables where those are unset, so clap's own order gives
//! flag > environment > file > built-in default.

use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::PathBuf;

pub const AFTER_HELP: &str = "\
Settings: a flag beats its environment variable ([env: …] above), which beats the config \
file (<data dir>/config.toml or --config FILE: `from = \"//Alice\"`, `ipfs-api = …`), \
which beats the default.
Exit status: 0 done; 1 failed (or `verify` disagreed); 2 bad usage or config; 3 the \
contract bundle is stale or missing; 4 the contract refused the call; 5 the chain or the \
IPFS daemon could not be reached.";

/// Every environment variable a flag of `cmd` (or of its subcommands) reads.
fn env_names(cmd: &clap::Command, out: &mut BTreeMap<String, ()>) {
    for a in cmd.get_arguments() {
        if let Some(e) = a.get_env() {
            out.insert(e.to_string_lossy().into_owned(), ());
        }
    }
    for sub in cmd.get_subcommands() {
        env_names(sub, out);
    }
}

/// The value of `--flag VALUE` or `--flag=VALUE` among the raw arguments.
fn raw_flag(args: &[String], flag: &str) -> Option<String> {
    let eq = format!("{flag}=");
    args.iter().enumerate().find_map(|(i, a)| {
        if a == flag {
            args.get(i + 1).cloned()
        } else {
            a.strip_prefix(&eq).map(str::to_string)
        }
    })
}

/// Which config file applies, and whether it must exist (it must when named).
fn config_path(args: &[String]) -> Option<(PathBuf, bool)> {
    if let Some(p) = raw_flag(args, "--config") {
        return Some((p.into(), true));
    }
    if let Some(p) = std::env::var_os("MERIT_CONFIG") {
        return Some((p.into(), true));
    }
    let home = raw_flag(args, "--data-dir")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("MERIT_HOME").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(".merit"));
    Some((home.join("config.toml"), false))
}

/// The environment variables the file at `text` sets, checked against `known`: its
/// top-level settings, then (overriding them) those of its `[networks.NAME]` table when
/// `network` names one.
pub fn parse(
    text: &str,
    known: &BTreeMap<String, ()>,
    network: Option<&str>,
) -> Result<Vec<(String, String)>> {
    let mut table: toml::Table = text.parse().context("not valid TOML")?;
    let networks = match table.remove("networks") {
        None => toml::Table::new(),
        Some(toml::Value::Table(t)) => t,
        Some(_) => bail!("`networks`: expected tables `[networks.NAME]`"),
    };
    let mut out = settings(table, known, "")?;
    if let Some(name) = network {
        let chosen = match networks.get(name) {
            Some(toml::Value::Table(t)) => t.clone(),
            Some(_) => bail!("`networks.{name}`: expected a table"),
            None => {
                let names: Vec<&str> = networks.keys().map(String::as_str).collect();
                bail!(
                    "no network `{name}` (the file has: {})",
                    if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(", ")
                    }
                )
            }
        };
        let chosen = settings(chosen, known, &format!("networks.{name}."))?;
        out.retain(|(env, _)| !chosen.iter().any(|(e, _)| e == env));
        out.extend(chosen);
    }
    Ok(out)
}

/// One table's settings as environment variables; `prefix` names the table in errors.
fn settings(
    table: toml::Table,
    known: &BTreeMap<String, ()>,
    prefix: &str,
) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for (key, value) in table {
        let env = format!("MERIT_{}", key.to_ascii_uppercase().replace('-', "_"));
        if !known.contains_key(&env) || env == "MERIT_NETWORK" {
            let names: Vec<String> = known
                .keys()
                .filter(|k| *k != "MERIT_CONFIG" && *k != "MERIT_NETWORK")
                .map(|k| k["MERIT_".len()..].to_ascii_lowercase().replace('_', "-"))
                .collect();
            bail!(
                "unknown setting `{prefix}{key}` (known: {})",
                names.join(", ")
            );
        }
        let value = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            other => bail!("`{prefix}{key}`: expected a string, number or boolean, not {other}"),
        };
        out.push((env, value));
    }
    Ok(out)
}

/// Reads the config file (if any) and exports its values where the environment has none.
/// Called before any other thread exists.
pub fn apply(cmd: &clap::Command) -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let Some((path, required)) = config_path(&args) else {
        return Ok(());
    };
    // A network named on the command line needs the file that defines it.
    let required = required || raw_flag(&args, "--network").is_some();
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let mut known = BTreeMap::new();
    env_names(cmd, &mut known);
    let network = raw_flag(&args, "--network").or_else(|| std::env::var("MERIT_NETWORK").ok());
    let settings = parse(&text, &known, network.as_deref())
        .with_context(|| format!("in {}", path.display()))?;
    for (env, value) in settings {
        if std::env::var_os(&env).is_none() {
            // Safe: no other thread exists yet (see `main`).
            std::env::set_var(env, value);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn known() -> BTreeMap<String, ()> {
        let mut k = BTreeMap::new();
        env_names(&crate::Cli::command(), &mut k);
        k
    }

    #[test]
    fn settings_map_to_the_flags_environment_variables() {
        let k = known();
        assert!(k.contains_key("MERIT_FROM") && k.contains_key("MERIT_IPFS_API"));
        let got = parse(
            "from = \"//Alice\"\nipfs-api = \"http://127.0.0.1:5001\"\n",
            &k,
            None,
        )
        .unwrap();
        assert_eq!(
            got,
            vec![
                ("MERIT_FROM".into(), "//Alice".into()),
                ("MERIT_IPFS_API".into(), "http://127.0.0.1:5001".into())
            ]
        );
    }

    #[test]
    fn an_unknown_or_malformed_setting_is_named() {
        let k = known();
        let e = parse("form = \"alice\"", &k, None).unwrap_err().to_string();
        assert!(e.contains("`form`") && e.contains("from"), "{e}");
        let e = format!("{:#}", parse("from = ", &k, None).unwrap_err());
        assert!(e.contains("TOML"), "{e}");
        let e = parse("from = [1]", &k, None).unwrap_err().to_string();
        assert!(e.contains("`from`"), "{e}");
    }

    #[test]
    fn a_named_network_overrides_the_top_level_settings() {
        let k = known();
        let text = "from = \"alice\"\nurl = \"ws://127.0.0.1:9944\"\n\
            [networks.team]\nurl = \"wss://team.example:443\"\ncontract = \"5Abc\"\nipfs-api = \"http://10.0.0.2:5001\"\n";
        let mut got = parse(text, &k, Some("team")).unwrap();
        got.sort();
        assert_eq!(
            got,
            vec![
                ("MERIT_CONTRACT".into(), "5Abc".into()),
                ("MERIT_FROM".into(), "alice".into()),
                ("MERIT_IPFS_API".into(), "http://10.0.0.2:5001".into()),
                ("MERIT_URL".into(), "wss://team.example:443".into()),
            ]
        );
        // Without --network the tables are ignored.
        let got = parse(text, &k, None).unwrap();
        assert!(got.contains(&("MERIT_URL".into(), "ws://127.0.0.1:9944".into())));
        assert!(!got.iter().any(|(e, _)| e == "MERIT_CONTRACT"));
        let e = parse(text, &k, Some("prod")).unwrap_err().to_string();
        assert!(e.contains("no network `prod`") && e.contains("team"), "{e}");
        let e = parse("[networks.x]\nulr = \"ws://x\"", &k, Some("x"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("`networks.x.ulr`"), "{e}");
    }

    #[test]
    fn config_flags_are_found_in_either_spelling() {
        let args: Vec<String> = ["merit", "--config=a.toml", "project"]
            .map(String::from)
            .to_vec();
        assert_eq!(raw_flag(&args, "--config").as_deref(), Some("a.toml"));
        let args: Vec<String> = ["merit", "--data-dir", "d", "x"].map(String::from).to_vec();
        assert_eq!(raw_flag(&args, "--data-dir").as_deref(), Some("d"));
    }
}
