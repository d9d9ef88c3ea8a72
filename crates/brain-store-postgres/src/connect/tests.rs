//! Tests of the URL, password and TLS rules.
#![allow(clippy::unwrap_used)]

use super::*;

#[test]
fn a_password_is_never_shown() {
    assert_eq!(
        without_password("postgres://ann:s3cr%40t@db.example:5433/notes?sslmode=require"),
        "postgres://ann:***@db.example:5433/notes?sslmode=require"
    );
    assert_eq!(
        without_password("postgres://ann@db/notes?password=x&sslmode=disable"),
        "postgres://ann@db/notes?password=***&sslmode=disable"
    );
    assert!(refuse_password("postgres://ann:x@db/notes").is_err());
    assert!(refuse_password("postgres://ann@db/notes?password=x").is_err());
    assert!(refuse_password("postgres://ann@db/notes").is_ok());
    let e = refuse_password("postgres://ann:topsecret@db/notes").unwrap_err();
    assert!(!e.to_string().contains("topsecret"), "{e}");
    // libpq's key=value form, and sslpassword in a URL.
    assert_eq!(
        without_password("host=db port=5 password=s3cret dbname=a"),
        "host=db port=5 password=*** dbname=a"
    );
    assert_eq!(
        without_password("host=db password='a b\\' c' user=x"),
        "host=db password=*** user=x"
    );
    assert!(refuse_password("host=db password=s3cret").is_err());
    assert!(refuse_password("host=db user=x").is_ok());
    assert_eq!(
        without_password("postgres://ann@db/n?sslpassword=k"),
        "postgres://ann@db/n?sslpassword=***"
    );
    assert!(refuse_password("postgres://ann@db/n?sslpassword=k").is_err());
}

/// TLS as libpq chooses it: never on a Unix-domain socket; `require` with a root given
/// checks the certificate against it.
#[test]
fn tls_follows_libpq_for_sockets_and_given_roots() {
    let socket = ConnectOptions::parse("postgres:///notes?host=/run/postgresql&user=ann").unwrap();
    assert_eq!(socket.tls, Tls::Disable);
    let socket_require =
        ConnectOptions::parse("postgres://ann@%2Frun%2Fpostgresql/notes?sslmode=require").unwrap();
    assert_eq!(socket_require.tls, Tls::Disable);
    let tcp = ConnectOptions::parse("postgres://ann@db/notes").unwrap();
    assert_eq!(tcp.tls, Tls::Prefer);
    let rooted =
        ConnectOptions::parse("postgres://ann@db/notes?sslmode=require&sslrootcert=/x.crt")
            .unwrap();
    assert_eq!(rooted.tls, Tls::VerifyCa);
}

/// Every session asks for synchronous commits (first, so the URL's own options win), and
/// a connect timeout is set when the URL gives none.
#[test]
fn sessions_commit_synchronously_and_connecting_has_a_timeout() {
    let plain = ConnectOptions::parse("postgres://ann@db/notes").unwrap();
    assert_eq!(plain.config.get_options(), Some("-c synchronous_commit=on"));
    assert_eq!(plain.connect_timeout(), DEFAULT_CONNECT_TIMEOUT);
    let own = ConnectOptions::parse(
        "postgres://ann@db/notes?options=-c%20synchronous_commit%3Doff&connect_timeout=3",
    )
    .unwrap()
    .with_options("-c search_path=s");
    assert_eq!(
        own.config.get_options(),
        Some("-c synchronous_commit=on -c synchronous_commit=off -c search_path=s")
    );
    assert_eq!(own.connect_timeout(), std::time::Duration::from_secs(3));
}

#[test]
fn pgpass_lines_match_like_libpq() {
    let dir = std::env::temp_dir().join(format!("pgpass-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("pgpass");
    std::fs::write(
        &file,
        "# comment\nother:5432:*:ann:wrong\n*:5433:notes:ann:pa\\:ss:word\n",
    )
    .unwrap();
    assert_eq!(
        pgpass_lookup(&file, &["db", "5433", "notes", "ann"]).as_deref(),
        Some("pa:ss:word")
    );
    assert_eq!(pgpass_lookup(&file, &["db", "5432", "notes", "ann"]), None);
    std::fs::remove_dir_all(&dir).unwrap();
}
