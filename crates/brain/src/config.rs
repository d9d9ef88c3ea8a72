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

/// The config's sections, read from the `Config` type itself so a new section is never
/// forgotten by the environment overrides.
fn sections() -> Vec<String> {
    match toml::Value::try_from(brain_core::Config::default()) {
        Ok(toml::Value::Table(t)) => t.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// Reads the layered configuration.
pub fn load(paths: &VaultPaths) -> Result<Config> {
    let file = paths.config_file();
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("cannot read {}", file.display()))?;
    let mut value: toml::Table = toml::from_str(&text).with_context(|| {
        format!(
            "{} is not valid TOML; fix it or compare with `brain config default`",
            file.display()
        )
    })?;
    apply_env(&mut value, std::env::vars());
    let config: Config = toml::Value::Table(value)
        .try_into()
        .with_context(|| format!("invalid setting in {} or a BRAIN_* variable; see `brain config default` for every option", file.display()))?;
    Ok(config)
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
        let Some(section) = sections.iter().find(|s| rest.starts_with(&format!("{s}_"))) else {
            continue;
        };
        let key = &rest[section.len() + 1..];
        let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or(toml::Value::String(raw));
        let entry = table
            .entry(section.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if let toml::Value::Table(t) = entry {
            t.insert(key.to_string(), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
