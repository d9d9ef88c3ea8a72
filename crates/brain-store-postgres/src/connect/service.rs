//! Service files (`pg_service.conf`): named sets of connection settings, looked up as libpq
//! does (`PGSERVICEFILE` or `~/.pg_service.conf`, then `PGSYSCONFDIR/pg_service.conf`,
//! `/etc/postgresql-common/pg_service.conf`).

use std::path::PathBuf;
use std::str::FromStr;

use super::{ConnectError, Tls, home, parse_sslmode};

fn files() -> Vec<PathBuf> {
    let user = std::env::var_os("PGSERVICEFILE")
        .map(PathBuf::from)
        .or_else(|| home().map(|h| h.join(".pg_service.conf")));
    let system = std::env::var_os("PGSYSCONFDIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/etc/postgresql-common"))
        .join("pg_service.conf");
    user.into_iter().chain([system]).collect()
}

/// The settings of service `name`, from the first file that has it.
pub(super) fn section(name: &str) -> Result<Vec<(String, String)>, ConnectError> {
    let files = files();
    for file in &files {
        if !file.is_file() {
            continue;
        }
        let ini = ini::Ini::load_from_file(file).map_err(|e| ConnectError::ServiceFile {
            path: file.display().to_string(),
            reason: e.to_string(),
        })?;
        if let Some(props) = ini.section(Some(name)) {
            return Ok(props
                .iter()
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .collect());
        }
    }
    Err(ConnectError::UnknownService {
        name: name.to_string(),
        looked: files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// A client config from a service's settings, with its TLS mode and roots.
pub(super) fn config(
    name: &str,
    section: &[(String, String)],
) -> Result<(postgres::Config, Option<Tls>, Option<PathBuf>), ConnectError> {
    let mut tls = None;
    let mut root = None;
    let mut conninfo = Vec::new();
    for (k, v) in section {
        match k.as_str() {
            "sslmode" => tls = Some(parse_sslmode(v)?),
            "sslrootcert" => root = Some(PathBuf::from(v)),
            "hostaddr" => conninfo.push(format!("host='{}'", escape(v))),
            "host" | "port" | "dbname" | "user" | "password" | "application_name"
            | "connect_timeout" | "options" => conninfo.push(format!("{k}='{}'", escape(v))),
            other => tracing::debug!(service = name, key = other, "service setting not used"),
        }
    }
    let config =
        postgres::Config::from_str(&conninfo.join(" ")).map_err(|e| ConnectError::ServiceFile {
            path: format!("(service '{name}')"),
            reason: e.to_string(),
        })?;
    Ok((config, tls, root))
}

/// A value inside single quotes of a key=value connection string.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\'', "\\'")
}

/// `base` with every setting `url` gives explicitly put over it.
pub(super) fn overlay(base: postgres::Config, url: &postgres::Config) -> postgres::Config {
    let hosts = if url.get_hosts().is_empty() {
        &base
    } else {
        url
    };
    let mut out = postgres::Config::new();
    for h in hosts.get_hosts() {
        match h {
            postgres::config::Host::Tcp(h) => {
                out.host(h);
            }
            #[cfg(unix)]
            postgres::config::Host::Unix(p) => {
                out.host_path(p);
            }
        }
    }
    for p in hosts.get_ports() {
        out.port(*p);
    }
    if let Some(u) = url.get_user().or(base.get_user()) {
        out.user(u);
    }
    if let Some(p) = url.get_password().or(base.get_password()) {
        out.password(p);
    }
    if let Some(d) = url.get_dbname().or(base.get_dbname()) {
        out.dbname(d);
    }
    if let Some(o) = url.get_options().or(base.get_options()) {
        out.options(o);
    }
    if let Some(a) = url.get_application_name().or(base.get_application_name()) {
        out.application_name(a);
    }
    if let Some(t) = url.get_connect_timeout().or(base.get_connect_timeout()) {
        out.connect_timeout(*t);
    }
    out
}
