//! `brain init`: make a folder a vault.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};

use crate::config::VaultPaths;
use crate::output;

/// Creates the vault's state if missing (what `brain init` does, silently); returns its paths
/// and whether it was already a vault. `brain git init` starts with it, so cloning into a new
/// folder is one command.
pub fn create(vault: Option<&Path>, store: Option<&str>) -> Result<(VaultPaths, bool)> {
    create_vault(vault, store).map(|(paths, existed, _)| (paths, existed))
}

/// What `brain init` set up: a new folder on a PostgreSQL store is a replica of it.
pub struct Joined {
    /// This folder's replica id.
    pub replica: String,
    /// How many other folders the store serves.
    pub others: usize,
}

fn create_vault(
    vault: Option<&Path>,
    store: Option<&str>,
) -> Result<(VaultPaths, bool, Option<Joined>)> {
    let paths = VaultPaths::new(vault)?;
    // A PostgreSQL store named in the environment (BRAIN_STORE_BACKEND, BRAIN_STORE_URL) is
    // written to config.toml as --store would be: otherwise the next command, run without
    // those variables, would look for a SQLite store that was never made.
    let from_env = match store {
        None if !paths.config_file().is_file() => store_from_environment(&paths)?,
        _ => None,
    };
    let store = store.or(from_env.as_deref());
    let new_config = config_text(store)?;
    if paths.root.is_file() {
        anyhow::bail!(
            "{} is a file, not a folder: a vault is a folder of notes; pass a folder (--vault DIR)",
            paths.root.display()
        );
    }
    // The settings a new vault would start with: checked before anything is made, so a bad
    // `BRAIN_*` variable leaves no half-made vault behind.
    if !paths.config_file().is_file() {
        crate::config::layered(
            &new_config,
            &paths.config_file(),
            "the default configuration",
            std::env::vars(),
        )?;
    }
    // As `git init DIR` does: a folder named on purpose is made if it is not there yet.
    if !paths.root.exists() {
        fs::create_dir_all(&paths.root)
            .with_context(|| format!("cannot create the folder {}", paths.root.display()))?;
    }
    fs::read_dir(&paths.root).with_context(|| {
        format!(
            "cannot read the folder {}: create it or check its permissions",
            paths.root.display()
        )
    })?;
    let existed = paths.config_file().is_file();
    if existed && let Some(url) = store {
        let config = crate::config::load(&paths)?;
        if config.store.url.as_deref() != Some(url) {
            anyhow::bail!(
                "{} is already a brain vault with its store ({}): `brain init --store` only \
                 sets up a new vault; to move this vault's brain to {url}, run `brain store copy \
                 --to {url}`",
                paths.root.display(),
                config.store.url.as_deref().unwrap_or(".brain/brain.db")
            );
        }
    }
    if !existed && let Some(outer) = super::locate::enclosing_vault(&paths.root) {
        // Both vaults would then sync the notes in here, each as its own.
        anyhow::bail!(
            "{} is inside the brain vault {}: a vault inside a vault would have its notes synced \
             by both; work in {} instead (brain commands run in a subfolder find it), or move \
             this folder out of it first",
            paths.root.display(),
            outer.display(),
            outer.display()
        );
    }
    let mut joined = None;
    if !existed {
        // A database first (from --store, or BRAIN_STORE_* in the environment): one that
        // cannot be reached or is not named leaves no `.brain/` behind pointing at it. The
        // folder is attached as a new replica of it (a store other folders already use gains
        // this one).
        let config = crate::config::layered(
            &new_config,
            &paths.config_file(),
            "the default configuration",
            std::env::vars(),
        )?;
        if config.store.backend != brain_core::config::StoreBackend::Sqlite {
            let replica = crate::backend::new_replica_id(&paths.root);
            let store = crate::backend::create(&paths.database(), &config.store, Some(&replica))
                .with_context(|| format!("setting up the store of {}", paths.root.display()))?;
            let others = store_others(&store);
            joined = Some(Joined { replica, others });
        }
    }
    fs::create_dir_all(&paths.state)
        .with_context(|| format!("cannot create {}", paths.state.display()))?;
    if let Some(j) = &joined {
        let file = paths.layout.replica_file();
        fs::write(&file, format!("{}\n", j.replica))
            .with_context(|| format!("cannot write {}", file.display()))?;
    }
    if !existed {
        fs::write(paths.config_file(), &new_config)
            .with_context(|| format!("cannot write {}", paths.config_file().display()))?;
    }
    let ignore = paths.layout.state_gitignore();
    if !ignore.exists() {
        fs::write(
            &ignore,
            "# brains state: the database, trash and the store's own copies stay local.\n*\n",
        )
        .with_context(|| format!("cannot write {}", ignore.display()))?;
    }
    open_or_create_store(&paths, existed)?;
    Ok((paths, existed, joined))
}

/// How many other folders the store serves (0 when it cannot say).
fn store_others(store: &std::sync::Arc<dyn brain_store::Backend>) -> usize {
    store
        .replicas()
        .map(|r| r.len().saturating_sub(1))
        .unwrap_or(0)
}

/// The PostgreSQL URL the `BRAIN_STORE_*` variables give a new vault, if they choose that
/// backend.
fn store_from_environment(paths: &VaultPaths) -> Result<Option<String>> {
    let config = crate::config::layered(
        brain_core::config::DEFAULT_CONFIG_TOML,
        &paths.config_file(),
        "the default configuration",
        std::env::vars(),
    )?;
    Ok(match config.store.backend {
        brain_core::config::StoreBackend::Postgres => config.store.url,
        brain_core::config::StoreBackend::Sqlite => None,
    })
}

/// The config.toml of a new vault: the commented default, with `[store]` set to the PostgreSQL
/// database `store` names. A URL with a password in it is refused before anything is written,
/// so the password never reaches config.toml.
fn config_text(store: Option<&str>) -> Result<String> {
    let Some(url) = store else {
        return Ok(brain_core::config::DEFAULT_CONFIG_TOML.to_string());
    };
    if !crate::backend::is_postgres_url(url) {
        anyhow::bail!(
            "the store {}: give a PostgreSQL URL (postgres://USER@HOST[:PORT]/DATABASE), from \
             --store or BRAIN_STORE_URL; leave both out for the embedded SQLite store",
            brain_store_postgres::connect::without_password(url)
        );
    }
    brain_store_postgres::connect::refuse_password(url)?;
    let mut doc: toml_edit::DocumentMut = brain_core::config::DEFAULT_CONFIG_TOML
        .parse()
        .context("the built-in default configuration does not parse")?;
    doc["store"]["backend"] = toml_edit::value("postgres");
    doc["store"]["url"] = toml_edit::value(url);
    Ok(doc.to_string())
}

/// Opens the store of a vault that has one, creates it for a new vault. A vault already set up
/// (its config is there) whose store is missing is refused like any other command refuses it:
/// creating an empty store there would pass for the lost one, with its unwritten edits gone.
fn open_or_create_store(paths: &VaultPaths, existed: bool) -> Result<()> {
    let config = crate::config::load(paths)?;
    let db = paths.database();
    if existed || db.exists() || config.store.backend != brain_core::config::StoreBackend::Sqlite {
        crate::backend::open_existing(&db, &config.store)
            .with_context(|| format!("opening the store of {}", paths.root.display()))?;
    } else {
        crate::backend::create(&db, &config.store, None)
            .with_context(|| format!("creating the store of {}", paths.root.display()))?;
    }
    Ok(())
}

/// Creates `.brain/` with a commented config, the database and a `.gitignore`. Running it again
/// changes nothing and says so.
pub fn run(vault: Option<&Path>, store: Option<&str>, json: bool) -> Result<u8> {
    let (paths, existed, joined) = create_vault(vault, store)?;
    if json {
        output::json(&serde_json::json!({
            "vault": paths.root,
            "created": !existed,
            "config": paths.config_file(),
            "replica": joined.as_ref().map(|j| &j.replica),
            "other_replicas": joined.as_ref().map(|j| j.others),
        }))?;
    } else if existed {
        output::line(format!(
            "{} is already a brain vault; nothing changed.",
            paths.root.display()
        ))?;
    } else {
        // The next command must find this vault from wherever the user is.
        let brain = match vault {
            Some(_) => format!("brain --vault {}", shell_word(&paths.root)),
            None => "brain".to_string(),
        };
        let next = match &joined {
            Some(j) if j.others > 0 => format!(
                "  replica: {} (the store serves {} other folder(s))\nNext: `{brain} sync` writes the store's notes here and merges this folder's own (the same note in both is kept once; different text under one name is kept both ways as a conflict: the store's text keeps the name, this folder's goes to a conflict copy; a note the others deleted stays deleted, this folder's copy going to .brain/trash/); `{brain} serve` keeps this folder in step.",
                j.replica, j.others
            ),
            Some(j) => format!(
                "  replica: {}\nNext: `{brain} sync` to import the notes.",
                j.replica
            ),
            None => format!("Next: `{brain} sync` to import the notes."),
        };
        output::line(format!(
            "Initialized a brain vault in {}\n  config: {}\n{next}",
            paths.root.display(),
            paths.config_file().display()
        ))?;
    }
    Ok(0)
}

/// `path` as one word a shell reads back unchanged (single-quoted when it needs to be).
fn shell_word(path: &Path) -> String {
    let text = path.display().to_string();
    if text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-~+".contains(c))
    {
        text
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}
