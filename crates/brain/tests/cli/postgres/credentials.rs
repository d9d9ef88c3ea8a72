//! Credentials as libpq users keep them (PGPASSWORD, a password file, a service file), TLS up
//! to verify-full with a certificate the test cluster made, and a password never shown.

use super::{TestVault, fresh_database};

/// A role with a password on a database of its own; the URL without the password.
pub(super) fn role_with_password(password: &str) -> (String, String) {
    let admin_url = brain_store_postgres::testing::cluster_url();
    let db_url = fresh_database();
    let db = db_url.rsplit('/').next().unwrap().to_string();
    let role = brain_store_postgres::testing::unique_name("ann");
    let mut admin = postgres::Client::connect(&admin_url, postgres::NoTls).unwrap();
    admin
        .batch_execute(&format!(
            "CREATE ROLE {role} LOGIN PASSWORD '{password}'; ALTER DATABASE {db} OWNER TO {role};"
        ))
        .unwrap();
    let hostport = admin_url
        .trim_start_matches("postgres://")
        .split('@')
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    (format!("postgres://{role}@{hostport}/{db}"), role)
}

fn init_with(v: &TestVault, url: &str, env: &[(&str, &str)]) -> util::Run {
    let mut cmd = v.cmd();
    for (k, val) in env {
        cmd.env(k, val);
    }
    cmd.args(["init", "--store", url]).output().unwrap().into()
}

use super::util;

#[test]
fn a_password_comes_from_the_environment_and_is_never_written_or_shown() {
    let secret = "s3cret-Pa55";
    let (url, _) = role_with_password(secret);
    // In the URL: refused before anything is written.
    let v = TestVault::uninitialized();
    let with_password = url.replacen('@', &format!(":{secret}@"), 1);
    let r = v.run(&["init", "--store", &with_password]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("PGPASSWORD") && !r.stderr.contains(secret),
        "{}",
        r.stderr
    );
    assert!(!v.path(".brain").exists(), "nothing written");
    // No password anywhere: the server's refusal, said plainly.
    let r = v.run(&["init", "--store", &url]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("password"), "{}", r.stderr);
    // PGPASSWORD.
    let r = init_with(&v, &url, &[("PGPASSWORD", secret)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let config = std::fs::read_to_string(v.path(".brain/config.toml")).unwrap();
    assert!(!config.contains(secret), "{config}");
    let mut cmd = v.cmd();
    cmd.env("PGPASSWORD", secret).args(["-v", "status"]);
    let r: util::Run = cmd.output().unwrap().into();
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut cmd = v.cmd();
    cmd.env("PGPASSWORD", secret).args(["config", "show"]);
    let shown: util::Run = cmd.output().unwrap().into();
    for out in [&r.stdout, &r.stderr, &shown.stdout, &shown.stderr] {
        assert!(!out.contains(secret), "the password was shown: {out}");
    }
    // A wrong one: refused by the server, and not echoed.
    let mut cmd = v.cmd();
    cmd.env("PGPASSWORD", "wrong-one").arg("status");
    let r: util::Run = cmd.output().unwrap().into();
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("password authentication failed") && !r.stderr.contains("wrong-one"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_password_file_and_a_service_file_are_read_like_libpq() {
    let secret = "from-files";
    let (url, role) = role_with_password(secret);
    let v = TestVault::uninitialized();
    let files = tempfile::tempdir().unwrap();
    let pgpass = files.path().join("pgpass");
    std::fs::write(&pgpass, format!("*:*:*:{role}:{secret}\n")).unwrap();
    let r = init_with(&v, &url, &[("PGPASSFILE", pgpass.to_str().unwrap())]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // A service gives host, port, database, user and password; the URL only names it.
    let (url2, role2) = role_with_password(secret);
    let rest = url2
        .trim_start_matches("postgres://")
        .split_once('@')
        .unwrap()
        .1;
    let (hostport, db) = rest.split_once('/').unwrap();
    let (host, port) = hostport.split_once(':').unwrap();
    let services = files.path().join("services.conf");
    std::fs::write(
        &services,
        format!(
            "[notes]\nhost={host}\nport={port}\ndbname={db}\nuser={role2}\npassword={secret}\n"
        ),
    )
    .unwrap();
    let by_service = TestVault::uninitialized();
    let r = init_with(
        &by_service,
        "postgres://?service=notes",
        &[("PGSERVICEFILE", services.to_str().unwrap())],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    by_service.write("s.md", "# S\n\nvia a service\n");
    let mut cmd = by_service.cmd();
    cmd.env("PGSERVICEFILE", &services).args(["--json", "sync"]);
    let r: util::Run = cmd.output().unwrap().into();
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["imported"], 1, "{}", r.stdout);
    let v2 = TestVault::uninitialized();
    let mut cmd = v2.cmd();
    cmd.env("PGSERVICEFILE", &services)
        .args(["init", "--store", "postgres://?service=nosuch"]);
    let r: util::Run = cmd.output().unwrap().into();
    assert!(
        r.stderr
            .contains("service 'nosuch' is not in any service file"),
        "{}",
        r.stderr
    );
}

#[test]
fn tls_verify_full_checks_the_server_certificate() {
    let ca = std::env::var("BRAIN_TEST_PG_CA").expect("BRAIN_TEST_PG_CA (scripts/test sets it)");
    let url = fresh_database();
    let v = TestVault::uninitialized();
    let localhost = url.replacen("127.0.0.1", "localhost", 1);
    v.ok(&[
        "init",
        "--store",
        &format!("{localhost}?sslmode=verify-full&sslrootcert={ca}"),
    ]);
    v.write("a.md", "# A\n\nover TLS\n");
    v.ok(&["sync"]);
    // A root that did not sign the server's certificate: refused.
    let other = tempfile::tempdir().unwrap();
    let fake_ca = other.path().join("ca.crt");
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=other",
        ])
        .arg("-keyout")
        .arg(other.path().join("ca.key"))
        .arg("-out")
        .arg(&fake_ca)
        .output()
        .unwrap();
    assert!(made.status.success());
    let v2 = TestVault::uninitialized();
    let r = v2.run(&[
        "init",
        "--store",
        &format!(
            "{localhost}?sslmode=verify-full&sslrootcert={}",
            fake_ca.display()
        ),
    ]);
    assert_ne!(r.code, 0, "an untrusted server was accepted");
    assert!(
        r.stderr.to_lowercase().contains("certificate"),
        "{}",
        r.stderr
    );
    // sslmode=require with a root given checks against it, as libpq does (verify-ca).
    let v4 = TestVault::uninitialized();
    let r = v4.run(&[
        "init",
        "--store",
        &format!(
            "{}?sslmode=require&sslrootcert={}",
            fresh_database(),
            fake_ca.display()
        ),
    ]);
    assert_ne!(r.code, 0, "sslmode=require ignored the root it was given");
    assert!(
        !r.stderr
            .contains("error performing TLS handshake: error performing"),
        "{}",
        r.stderr
    );
    // sslmode=require encrypts without checking.
    let v3 = TestVault::uninitialized();
    v3.ok(&[
        "init",
        "--store",
        &format!("{}?sslmode=require", fresh_database()),
    ]);
}
