//! Where a store's database is and how to reach it: the URL a user gives (`postgres://USER@HOST
//! [:PORT]/DB?sslmode=...`), the password from where libpq users keep it, and TLS.
//!
//! `tokio-postgres` reads the URL but none of libpq's other sources and knows TLS modes up to
//! `require`; this module adds what a user of `psql` expects to work the same way:
//! `PGPASSWORD`, `~/.pgpass` (or `PGPASSFILE`), and `sslmode=verify-ca|verify-full` with
//! `sslrootcert`. A password is never part of what is shown ([`ConnectOptions::shown`]).

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use brain_store::StoreError;
use postgres::config::{Host, SslMode};

/// How the connection is protected, libpq's `sslmode` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tls {
    /// No TLS (`disable`).
    Disable,
    /// TLS when the server offers it, without checking its certificate (`prefer`, the default).
    Prefer,
    /// TLS, without checking the certificate (`require`).
    Require,
    /// TLS with a certificate signed by a trusted root (`verify-ca`).
    VerifyCa,
    /// TLS with a trusted certificate for the host connected to (`verify-full`).
    VerifyFull,
}

/// A parsed connection: the client's config, the TLS mode and roots, and the URL to show.
#[derive(Clone)]
pub struct ConnectOptions {
    /// The client configuration (password included when one was found).
    pub config: postgres::Config,
    /// The TLS mode.
    pub tls: Tls,
    /// Trusted roots for `verify-ca`/`verify-full` (`sslrootcert`, or `~/.postgresql/root.crt`).
    pub root_cert: Option<PathBuf>,
    shown: String,
}

impl std::fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the config: it holds the password.
        f.debug_struct("ConnectOptions")
            .field("database", &self.shown)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

/// Why a store URL cannot be used. The password is never part of the message.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URL does not parse.
    #[error(
        "{shown} is not a PostgreSQL URL the store can use ({reason}): write it as postgres://USER@HOST:PORT/DATABASE"
    )]
    BadUrl {
        /// The URL without its password.
        shown: String,
        /// What is wrong.
        reason: String,
    },
    /// The URL carries a password, which would end up in config.toml and in logs.
    #[error(
        "{shown} has a password in it: give it in PGPASSWORD, in ~/.pgpass or a service file (PGSERVICE) instead, so it is never written to config.toml or shown"
    )]
    PasswordInUrl {
        /// The URL without its password.
        shown: String,
    },
    /// An `sslmode` libpq does not know.
    #[error("sslmode={0} is not one of disable, prefer, require, verify-ca, verify-full")]
    BadSslMode(String),
    /// The service named by `service=` or `PGSERVICE` is in no service file.
    #[error(
        "the PostgreSQL service '{name}' is not in any service file (looked in {looked}): add a [{name}] section or fix the name"
    )]
    UnknownService {
        /// The service.
        name: String,
        /// The files read.
        looked: String,
    },
    /// A service file could not be read or a value in it is wrong.
    #[error("the PostgreSQL service file {path} cannot be used: {reason}")]
    ServiceFile {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The trusted roots could not be read.
    #[error("cannot read the trusted root certificates {path} (sslrootcert): {reason}")]
    RootCert {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

impl From<ConnectError> for StoreError {
    fn from(e: ConnectError) -> Self {
        StoreError::Refused(Box::new(e))
    }
}

impl ConnectOptions {
    /// Parses `url`, taking a password from the environment or `~/.pgpass` when the URL has
    /// none. A URL with a password is accepted here (tests, tools); [`refuse_password`] is what
    /// a command that writes the URL to config.toml calls first.
    pub fn parse(url: &str) -> Result<Self, ConnectError> {
        let shown = without_password(url);
        let (base, params) = split_params(url);
        let mut tls = None;
        let mut root_cert = None;
        let mut service = std::env::var("PGSERVICE").ok().filter(|s| !s.is_empty());
        let mut rest = Vec::new();
        for (key, value) in params {
            match key.as_str() {
                "sslmode" => tls = Some(parse_sslmode(&value)?),
                "sslrootcert" => root_cert = Some(PathBuf::from(value)),
                "service" => service = Some(value),
                _ => rest.push(format!("{key}={value}")),
            }
        }
        let rebuilt = if rest.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", rest.join("&"))
        };
        let from_url = postgres::Config::from_str(&rebuilt).map_err(|e| ConnectError::BadUrl {
            shown: shown.clone(),
            reason: with_causes(&e),
        })?;
        if from_url.get_hosts().is_empty()
            && from_url.get_hostaddrs().is_empty()
            && service.is_none()
        {
            return Err(ConnectError::BadUrl {
                shown,
                reason: "it names no host".into(),
            });
        }
        // A service's settings are defaults the URL's own override, as in libpq.
        let mut config = match &service {
            Some(name) => {
                let section = service::section(name)?;
                let (defaults, svc_tls, svc_root) = service::config(name, &section)?;
                tls = tls.or(svc_tls);
                root_cert = root_cert.or(svc_root);
                service::overlay(defaults, &from_url)
            }
            None => from_url,
        };
        let explicit_root = root_cert.is_some() || std::env::var_os("PGSSLROOTCERT").is_some();
        let tls = match tls.unwrap_or(Tls::Prefer) {
            // libpq never uses TLS on a Unix-domain socket: the server may have none there,
            // and the socket is already private to the machine.
            _ if all_unix_sockets(&config) => Tls::Disable,
            // libpq: "if a root CA file exists, sslmode=require behaves like verify-ca", so
            // someone who gave one gets it checked rather than ignored.
            Tls::Require if explicit_root || default_root().is_some_and(|p| p.exists()) => {
                Tls::VerifyCa
            }
            other => other,
        };
        // An acknowledged write is in the server's log before the call returns, whatever the
        // server's default (a cluster tuned for speed may run synchronous_commit=off, and lose
        // the last acknowledged commits in a crash). First, so `options` in the URL can still
        // say otherwise.
        let given = config.get_options().unwrap_or_default().to_string();
        config.options(format!("-c synchronous_commit=on {given}").trim_end());
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
        }
        // A connection to a machine that went away (a network cut, a powered-off server) is
        // found dead in about a minute, not after the system's two hours.
        config
            .keepalives(true)
            .keepalives_idle(std::time::Duration::from_secs(30))
            .keepalives_interval(std::time::Duration::from_secs(10))
            .keepalives_retries(3);
        config.ssl_mode(match tls {
            Tls::Disable => SslMode::Disable,
            Tls::Prefer => SslMode::Prefer,
            _ => SslMode::Require,
        });
        if config.get_user().is_none()
            && let Ok(user) = std::env::var("PGUSER").or_else(|_| std::env::var("USER"))
        {
            config.user(&user);
        }
        if config.get_password().is_none()
            && let Some(password) = password_from_environment(&config)
        {
            config.password(password);
        }
        if root_cert.is_none() && matches!(tls, Tls::VerifyCa | Tls::VerifyFull) {
            root_cert = std::env::var_os("PGSSLROOTCERT")
                .map(PathBuf::from)
                .or_else(default_root);
        }
        Ok(Self {
            config,
            tls,
            root_cert,
            shown,
        })
    }

    /// The database as shown to people and in logs: the URL without its password.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// The same options with `options` (libpq's `-c name=value` run-time settings) added to
    /// those the URL gave, such as a `search_path` that puts a test's own schema first.
    pub fn with_options(mut self, options: &str) -> Self {
        let all = match self.config.get_options() {
            Some(given) if !given.trim().is_empty() => format!("{given} {options}"),
            _ => options.to_string(),
        };
        self.config.options(&all);
        self
    }

    /// How long connecting may take before the server counts as not answering: the URL's
    /// `connect_timeout`, else [`DEFAULT_CONNECT_TIMEOUT`].
    pub fn connect_timeout(&self) -> std::time::Duration {
        self.config
            .get_connect_timeout()
            .copied()
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT)
    }

    /// The TLS connector for [`ConnectOptions::tls`].
    pub(crate) fn connector(
        &self,
    ) -> Result<Option<tokio_postgres_rustls::MakeRustlsConnect>, ConnectError> {
        let verify = match self.tls {
            Tls::Disable => return Ok(None),
            Tls::Prefer | Tls::Require => None,
            Tls::VerifyCa => Some(false),
            Tls::VerifyFull => Some(true),
        };
        // ring rather than aws-lc-rs: it builds with no cmake and in a third of the time, and
        // a database connection does not need post-quantum key exchange yet.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| ConnectError::RootCert {
                path: String::new(),
                reason: e.to_string(),
            })?;
        let config = match verify {
            None => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(tls::AnyCertificate(provider)))
                .with_no_client_auth(),
            Some(check_host) => {
                let roots = self.roots()?;
                let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider.clone(),
                )
                .build()
                .map_err(|e| ConnectError::RootCert {
                    path: self.root_path(),
                    reason: e.to_string(),
                })?;
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(tls::Checked { webpki, check_host }))
                    .with_no_client_auth()
            }
        };
        Ok(Some(tokio_postgres_rustls::MakeRustlsConnect::new(config)))
    }

    fn root_path(&self) -> String {
        self.root_cert.as_deref().map_or_else(
            || "~/.postgresql/root.crt".into(),
            |p| p.display().to_string(),
        )
    }

    fn roots(&self) -> Result<rustls::RootCertStore, ConnectError> {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let path = self.root_path();
        let err = |reason: String| ConnectError::RootCert {
            path: path.clone(),
            reason,
        };
        let file = self
            .root_cert
            .as_deref()
            .ok_or_else(|| err("no sslrootcert was given and there is no home folder".into()))?;
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(file).map_err(|e| err(e.to_string()))? {
            roots
                .add(cert.map_err(|e| err(e.to_string()))?)
                .map_err(|e| err(e.to_string()))?;
        }
        if roots.is_empty() {
            return Err(err("it holds no certificate".into()));
        }
        Ok(roots)
    }
}

/// How long connecting may take when the URL gives no `connect_timeout` (libpq waits forever,
/// which leaves a command hanging on a server that accepts connections and never answers).
pub const DEFAULT_CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// Parameters whose value is a secret, never shown.
const SECRET_KEYS: [&str; 2] = ["password", "sslpassword"];

/// Refuses a URL that carries a password: written to config.toml it would be read by anyone
/// who can read the vault, and shown wherever the URL is. A libpq `key=value` string with a
/// `password=` in it is refused the same way.
pub fn refuse_password(url: &str) -> Result<(), ConnectError> {
    if !url.contains("://") {
        if conninfo_words(url).any(|(k, _)| SECRET_KEYS.contains(&k)) {
            return Err(ConnectError::PasswordInUrl {
                shown: without_password(url),
            });
        }
        return Ok(());
    }
    let (base, params) = split_params(url);
    let in_params = params
        .iter()
        .any(|(k, _)| SECRET_KEYS.contains(&k.as_str()));
    let in_authority = authority(base).is_some_and(|(userinfo, _)| userinfo.contains(':'));
    if in_params || in_authority {
        return Err(ConnectError::PasswordInUrl {
            shown: without_password(url),
        });
    }
    Ok(())
}

/// `url` with any password (in the user info or a `password=` parameter, or in a libpq
/// `key=value` string) replaced by `***`.
pub fn without_password(url: &str) -> String {
    if !url.contains("://") {
        return conninfo_words(url)
            .map(|(k, v)| {
                if SECRET_KEYS.contains(&k) {
                    format!("{k}=***")
                } else if k.is_empty() {
                    v.to_string()
                } else {
                    format!("{k}={v}")
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
    }
    let (base, params) = split_params(url);
    let base = match authority(base) {
        Some((userinfo, rest)) => match userinfo.split_once(':') {
            Some((user, _)) => {
                let scheme_end = base.find("://").map_or(0, |i| i + 3);
                format!("{}{user}:***@{rest}", &base[..scheme_end])
            }
            None => base.to_string(),
        },
        None => base.to_string(),
    };
    if params.is_empty() {
        return base;
    }
    let shown: Vec<String> = params
        .into_iter()
        .map(|(k, v)| {
            if SECRET_KEYS.contains(&k.as_str()) {
                format!("{k}=***")
            } else {
                format!("{k}={v}")
            }
        })
        .collect();
    format!("{base}?{}", shown.join("&"))
}

/// The user info and what follows it, for a URL with an `@`.
fn authority(base: &str) -> Option<(&str, &str)> {
    let after_scheme = base.split_once("://").map_or(base, |(_, rest)| rest);
    let host_part = after_scheme.split('/').next().unwrap_or(after_scheme);
    let at = host_part.rfind('@')?;
    Some((&after_scheme[..at], &after_scheme[at + 1..]))
}

/// The URL before `?` and its `key=value` parameters, decoded.
fn split_params(url: &str) -> (&str, Vec<(String, String)>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url, Vec::new());
    };
    let params = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect();
    (base, params)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_sslmode(value: &str) -> Result<Tls, ConnectError> {
    Ok(match value {
        "disable" => Tls::Disable,
        "allow" | "prefer" => Tls::Prefer,
        "require" => Tls::Require,
        "verify-ca" => Tls::VerifyCa,
        "verify-full" => Tls::VerifyFull,
        other => return Err(ConnectError::BadSslMode(other.to_string())),
    })
}

/// The words of a libpq `key=value` string (`host=h password='a b'`): each key and its value,
/// a quoted value whole. A word with no `=` comes back with an empty key.
fn conninfo_words(text: &str) -> impl Iterator<Item = (&str, &str)> {
    let mut rest = text.trim_start();
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let key_end = rest
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(rest.len());
        if !rest[key_end..].starts_with('=') {
            let (word, tail) = rest.split_at(key_end);
            rest = tail.trim_start();
            return Some(("", word));
        }
        let key = rest[..key_end].trim();
        let after = rest[key_end + 1..].trim_start();
        let value_len = if let Some(quoted) = after.strip_prefix('\'') {
            let mut escaped = false;
            let close = quoted.char_indices().find(|&(_, c)| {
                let end = c == '\'' && !escaped;
                escaped = c == '\\' && !escaped;
                end
            });
            close.map_or(after.len(), |(i, _)| i + 2)
        } else {
            after.find(char::is_whitespace).unwrap_or(after.len())
        };
        let (value, tail) = after.split_at(value_len);
        rest = tail.trim_start();
        Some((key, value))
    })
}

/// Whether every host the config names is a Unix-domain socket.
fn all_unix_sockets(config: &postgres::Config) -> bool {
    let hosts = config.get_hosts();
    #[cfg(unix)]
    let unix = |h: &Host| matches!(h, Host::Unix(_));
    #[cfg(not(unix))]
    let unix = |_: &Host| false;
    !hosts.is_empty() && hosts.iter().all(unix)
}

/// libpq's default file of trusted roots.
fn default_root() -> Option<PathBuf> {
    home().map(|h| h.join(".postgresql/root.crt"))
}

/// An error with its causes, each once (the client's `Display` leaves them out).
pub(crate) fn with_causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if more.starts_with(&text) {
            // The cause says it all, starting with what was said ("invalid configuration" and
            // "invalid configuration: password missing").
            text = more;
        } else if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    text
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME").map(PathBuf::from)
}

/// `PGPASSWORD`, else the first matching line of the password file (`PGPASSFILE`, or
/// `~/.pgpass`), as libpq reads them.
fn password_from_environment(config: &postgres::Config) -> Option<String> {
    if let Ok(p) = std::env::var("PGPASSWORD") {
        return Some(p);
    }
    let file = std::env::var_os("PGPASSFILE")
        .map(PathBuf::from)
        .or_else(|| home().map(|h| h.join(".pgpass")))?;
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config
        .get_ports()
        .first()
        .copied()
        .unwrap_or(5432)
        .to_string();
    let db = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or_default();
    let user = config.get_user().unwrap_or_default();
    pgpass_lookup(&file, &[&host, &port, db, user])
}

/// The password of the first line of a `.pgpass` file whose four fields (host, port,
/// database, user; `*` matches anything; `\:` and `\\` escape) match `want`.
pub fn pgpass_lookup(file: &Path, want: &[&str; 4]) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields = pgpass_fields(line);
        if fields.len() < 5 {
            continue;
        }
        let matches = fields[..4]
            .iter()
            .zip(want.iter())
            .all(|(have, want)| have == "*" || have == want);
        if matches {
            return Some(fields[4..].join(":"));
        }
    }
    None
}

fn pgpass_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next()
                    && let Some(last) = fields.last_mut()
                {
                    last.push(next);
                }
            }
            ':' => fields.push(String::new()),
            c => {
                if let Some(last) = fields.last_mut() {
                    last.push(c);
                }
            }
        }
    }
    fields
}

mod service;
mod tls;

#[cfg(test)]
mod tests;
