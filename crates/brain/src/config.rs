//! Loading the vault's configuration: defaults, then `.brain/config.toml`, then `BRAIN_*`
//! environment variables.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use brain_core::{Config, VaultLayout};

/// The vault and where its state lives.
#[derive(Debug, Clone)]
pub struct VaultPaths {
    /// The vault root.
    pub root: PathBuf,
    /// `<root>/.brain`.
    pub state: PathBuf,
    /// Every path under `.brain/`.
    pub layout: VaultLayout,
}

impl VaultPaths {
    /// Paths for a vault root (made absolute).
    pub fn new(root: Option<&Path>) -> Result<Self> {
        let root = match root {
            Some(r) => r.to_path_buf(),
            None => std::env::current_dir().context("cannot determine the current folder")?,
        };
        let root = std::path::absolute(&root)
            .with_context(|| format!("cannot resolve vault path {}", root.display()))?;
        let layout = VaultLayout::new(&root);
        let state = layout.state_dir().to_path_buf();
        Ok(Self {
            root,
            state,
            layout,
        })
    }

    /// `.brain/config.toml`.
    pub fn config_file(&self) -> PathBuf {
        self.layout.config_file()
    }

    /// `.brain/brain.db`.
    pub fn database(&self) -> PathBuf {
        self.layout.database()
    }

    /// Fails with a clear message when `brain init` has not been run.
    pub fn require_initialized(&self) -> Result<()> {
        if self.root.is_file() {
            bail!(
                "{} is a file, not a folder: pass the vault's folder (--vault DIR, or BRAIN_VAULT)",
                self.root.display()
            );
        }
        if !self.config_file().is_file() {
            bail!(
                "{} is not a brain vault (no .brain/config.toml): run `brain init` there first, or pass --vault DIR",
                self.root.display()
            );
        }
        Ok(())
    }
}

/// The config's sections and their options, read from the `Config` type itself so a new
/// option is never forgotten by the environment overrides.
fn sections() -> Vec<(String, Vec<String>)> {
    let mut sections: Vec<(String, Vec<String>)> =
        match toml::Value::try_from(brain_core::Config::default()) {
            Ok(toml::Value::Table(t)) => t
                .into_iter()
                .filter_map(|(section, options)| match options {
                    toml::Value::Table(o) => Some((section, o.keys().cloned().collect())),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
    // Options unset by default are not in the serialized default.
    for (section, option) in UNSET_BY_DEFAULT {
        if let Some((_, options)) = sections.iter_mut().find(|(s, _)| s == section) {
            options.push((*option).to_string());
        }
    }
    sections
}

/// Options whose default is unset (`None`), which [`sections`] cannot see in the default.
const UNSET_BY_DEFAULT: &[(&str, &str)] = &[("store", "url")];

/// Reads the layered configuration.
pub fn load(paths: &VaultPaths) -> Result<Config> {
    let file = paths.config_file();
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("cannot read {}", file.display()))?;
    let source = file.display().to_string();
    layered(&text, &file, &source, std::env::vars())
}

/// The configuration `text` (the file at `file`, called `source` in errors) gives with the
/// `BRAIN_*` variables of `vars` over it. A bad value is blamed where it is: the file (naming the option, and saying that a
/// newer brain may have written it), or the one variable that makes it invalid (named with its
/// value). `brain init` checks the variables against the default file this way before it
/// creates anything.
pub fn layered(
    text: &str,
    file: &Path,
    source: &str,
    vars: impl Iterator<Item = (String, String)>,
) -> Result<Config> {
    let mut value: toml::Table = toml::from_str(text).map_err(|e| {
        anyhow::anyhow!(
            "{} is not valid TOML: {}; fix it or compare with `brain config default`",
            file.display(),
            one_line(e.message())
        )
    })?;
    let mut config: Config = typed(&value).map_err(|why| {
        anyhow::anyhow!(
            "invalid setting in {}: {why}; fix or remove it (`brain config default` lists every \
             option), or upgrade brain if a newer version wrote it",
            file.display(),
        )
    })?;
    if let Err(why) = check(&config) {
        bail!(
            "invalid setting in {}: {why}; fix it (`brain config default` lists every option)",
            file.display()
        );
    }
    for (name, raw) in env_overrides(vars) {
        apply_env(&mut value, std::iter::once((name.clone(), raw.clone())));
        config = typed(&value).map_err(|why| {
            anyhow::anyhow!(
                "the environment variable {name}={raw:?} is not a valid setting: {why}; unset it \
                 or give one of the values `brain config default` lists (it overrides {source}, \
                 which is fine)",
            )
        })?;
        if let Err(why) = check(&config) {
            bail!(
                "the environment variable {name}={raw:?} is not a valid setting: {why}; unset it \
                 or give a valid value (it overrides {source}, which is fine)"
            );
        }
    }
    Ok(config)
}

/// The configuration `value` holds, or why not on one line, naming the key
/// (`sync.max_file_bytes: invalid type: string "big", expected u64`) unless the message already
/// does.
fn typed(value: &toml::Table) -> std::result::Result<Config, String> {
    serde_path_to_error::deserialize(toml::Value::Table(value.clone())).map_err(
        |e: serde_path_to_error::Error<toml::de::Error>| {
            let path = e.path().to_string();
            let why = one_line(e.inner().message());
            if path == "." || why.contains(&format!("`{path}`")) {
                why
            } else {
                format!("{path}: {why}")
            }
        },
    )
}

/// The shortest lease a worker may hold: its heartbeat renews it every third of it, and a
/// lease shorter than a second would lapse under a busy machine and run jobs twice.
const MIN_LEASE_MS: u64 = 1_000;

/// The longest built-in timer: the longest interval a schedule takes (366 days).
const MAX_TIMER_S: u64 = 366 * 24 * 3600;

/// Checks a well-typed configuration for values that parse but can never work, so they are
/// refused when the config is read rather than when a job first runs.
fn check(config: &Config) -> std::result::Result<(), String> {
    if config.jobs.lease_ms < MIN_LEASE_MS {
        return Err(format!(
            "jobs.lease_ms = {} is below the minimum of {MIN_LEASE_MS} ms (a worker renews its \
             lease every third of it)",
            config.jobs.lease_ms
        ));
    }
    // The built-in timers become interval schedules, which take at most a year.
    for (key, seconds) in [
        ("serve.verify_interval_s", config.serve.verify_interval_s),
        ("git.sync_interval_s", config.git.sync_interval_s),
    ] {
        if seconds > MAX_TIMER_S {
            return Err(format!(
                "{key} = {seconds} is longer than a year ({MAX_TIMER_S} s); give fewer seconds, \
                 or 0 to turn the timer off"
            ));
        }
    }
    brain_core::PathMapper::new(config.vault.entity_types.iter().cloned())
        .map_err(|e| e.to_string())?;
    check_http(&config.serve.http)
}

/// `serve.http` must be empty or HOST:PORT with a port number, checked where every command
/// reads the config (not only by `brain serve`, which binds it). The host is resolved only
/// when the daemon binds.
fn check_http(spec: &str) -> std::result::Result<(), String> {
    let spec = spec.trim();
    if spec.is_empty() {
        return Ok(());
    }
    let port_ok = spec
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
    if port_ok {
        Ok(())
    } else {
        Err(format!(
            "serve.http = \"{spec}\" is not an address to listen on: use HOST:PORT, such as \
             127.0.0.1:7433, or \"\" for no HTTP"
        ))
    }
}

/// The `BRAIN_*` variables that override options, in a stable order. An empty one counts as
/// unset (`BRAIN_STORE_BACKEND=` in a shell that clears a variable that way), except
/// `BRAIN_SERVE_HTTP`, whose empty value turns the HTTP server off as `http = ""` does.
fn env_overrides(vars: impl Iterator<Item = (String, String)>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = vars
        .filter(|(name, raw)| {
            name.starts_with("BRAIN_") && (!raw.is_empty() || name == "BRAIN_SERVE_HTTP")
        })
        .collect();
    out.sort();
    out
}

/// A parser's message on one line, without the trailing newline (and source excerpt) it may
/// carry, so an error ends where its sentence does, in text and in JSON.
fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Applies `BRAIN_<SECTION>_<OPTION>=value` overrides. Values are read as TOML (numbers, booleans,
/// arrays) and fall back to strings.
fn apply_env(table: &mut toml::Table, vars: impl Iterator<Item = (String, String)>) {
    let sections = sections();
    for (name, raw) in vars {
        let Some(rest) = name.strip_prefix("BRAIN_") else {
            continue;
        };
        let rest = rest.to_ascii_lowercase();
        // Only `BRAIN_<SECTION>_<OPTION>` names an option: other `BRAIN_*` variables
        // (`BRAIN_MCP_PYTHON`, `BRAIN_VAULT`, a test's switches) are someone else's and must
        // not break every command.
        let Some((section, key)) = sections.iter().find_map(|(s, options)| {
            let key = rest.strip_prefix(s.as_str())?.strip_prefix('_')?;
            options
                .iter()
                .any(|o| o == key)
                .then(|| (s, key.to_string()))
        }) else {
            continue;
        };
        let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or(toml::Value::String(raw));
        let entry = table
            .entry(section.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if let toml::Value::Table(t) = entry {
            t.insert(key, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_value_is_blamed_where_it_is_on_one_line() {
        let file = Path::new("/v/.brain/config.toml");
        let default = brain_core::config::DEFAULT_CONFIG_TOML;
        let env = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>()
                .into_iter()
        };
        let e = layered(
            default,
            file,
            "the file",
            env(&[("BRAIN_STORE_BACKEND", "mysql")]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("BRAIN_STORE_BACKEND=\"mysql\"")
                && e.contains("sqlite")
                && e.contains("it overrides the file, which is fine"),
            "{e}"
        );
        assert!(!e.contains('\n'), "one line: {e:?}");
        // Empty is unset.
        let c = layered(
            default,
            file,
            "the file",
            env(&[("BRAIN_STORE_BACKEND", "")]),
        )
        .unwrap();
        assert_eq!(c.store.backend, brain_core::config::StoreBackend::Sqlite);
        // ...except for serve.http, where it turns HTTP off.
        let c = layered(default, file, "the file", env(&[("BRAIN_SERVE_HTTP", "")])).unwrap();
        assert_eq!(c.serve.http, "");
        // A bad value in the file names the file, the key and what to do.
        let bad = default.replace("backend = \"sqlite\"", "backend = \"oracle\"");
        let e = layered(&bad, file, "the file", env(&[]))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("invalid setting in /v/.brain/config.toml: ")
                && e.contains("oracle")
                && e.contains("upgrade brain"),
            "{e}"
        );
        assert!(!e.contains('\n'), "one line: {e:?}");
        let e = layered(
            "[store]\nbackend = \"sqlite\"\nfancy = 1\n",
            file,
            "the file",
            env(&[]),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("fancy") && !e.contains('\n'), "{e:?}");
        // A value of the wrong type names its key, in the file and in a variable.
        let bad = default.replace("max_file_bytes = ", "max_file_bytes = \"big\" # ");
        let e = layered(&bad, file, "the file", env(&[]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("sync.max_file_bytes: invalid type"), "{e}");
        let e = layered(
            default,
            file,
            "the file",
            env(&[("BRAIN_JOBS_LEASE_MS", "soon")]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("BRAIN_JOBS_LEASE_MS") && e.contains("jobs.lease_ms: "),
            "{e}"
        );
        // serve.http is checked by every command, blamed on the variable that set it.
        for bad in ["notanaddr", "127.0.0.1", "127.0.0.1:99999", ":7433"] {
            let e = layered(default, file, "the file", env(&[("BRAIN_SERVE_HTTP", bad)]))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("BRAIN_SERVE_HTTP") && e.contains("HOST:PORT"),
                "{bad}: {e}"
            );
        }
        for good in ["127.0.0.1:7433", "localhost:0", "[::1]:7433"] {
            let c = layered(
                default,
                file,
                "the file",
                env(&[("BRAIN_SERVE_HTTP", good)]),
            );
            assert!(c.is_ok(), "{good}: {c:?}");
        }
    }

    #[test]
    fn env_overrides_layer_over_file() {
        let mut t: toml::Table = toml::from_str(brain_core::config::DEFAULT_CONFIG_TOML).unwrap();
        let vars = vec![
            ("BRAIN_SYNC_MAX_FILE_BYTES".to_string(), "1024".to_string()),
            (
                "BRAIN_VAULT_ENTITY_TYPES".to_string(),
                "[\"topic\"]".to_string(),
            ),
            (
                "BRAIN_SYNC_CONFLICT_POLICY".to_string(),
                "db-wins".to_string(),
            ),
            ("BRAIN_VAULT".to_string(), "/somewhere".to_string()),
            ("BRAIN_SERVE_WATCH_MODE".to_string(), "poll".to_string()),
            ("BRAIN_JOBS_LEASE_MS".to_string(), "2000".to_string()),
            // Not options, though they start like sections: left alone.
            (
                "BRAIN_MCP_PYTHON".to_string(),
                "/usr/bin/python3".to_string(),
            ),
            ("BRAIN_SYNC_TEST_CRASH_VAULT".to_string(), "x".to_string()),
        ];
        apply_env(&mut t, vars.into_iter());
        let c: Config = toml::Value::Table(t).try_into().unwrap();
        assert_eq!(c.sync.max_file_bytes, 1024);
        assert_eq!(c.vault.entity_types, ["topic"]);
        assert_eq!(c.sync.conflict_policy, brain_core::ConflictPolicy::DbWins);
        // Every section takes overrides, including ones added after this test was written.
        assert_eq!(c.serve.watch_mode, brain_core::WatchMode::Poll);
        assert_eq!(c.jobs.lease_ms, 2000);
    }
}
