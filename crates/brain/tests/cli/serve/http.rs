//! `brain serve`'s HTTP side: which hosts and browser origins it answers, and a second vault
//! on a port already taken.

use super::*;

/// Sends one HTTP/1.1 request to `addr` and returns the status code and the headers.
fn http(addr: &str, request: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(LIMIT)).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    // Up to the end of the headers: an accepted MCP call answers with an event stream that may
    // stay open.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).unwrap();
        assert_eq!(n, 1, "the connection closed mid-answer: {head:?}");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let code = head.split(' ').nth(1).unwrap().parse().unwrap();
    (code, head)
}

/// An MCP `initialize` request to `/mcp` with this `Host` header and, if given, a bearer token.
fn initialize(host: &str, token: Option<&str>) -> String {
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"host-check","version":"0"}}}"#;
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    format!(
        "POST /mcp HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn on_loopback_a_foreign_host_is_refused_with_or_without_a_token() {
    // DNS rebinding: a web page whose name resolves to 127.0.0.1 reaches the daemon with its
    // own name in Host. A token does not lift the check on loopback (a browser could be made
    // to send it); the right Host still works.
    for token in [None, Some("s3cret-token")] {
        let v = TestVault::new();
        let env: Vec<(&str, &str)> = token
            .map(|t| vec![("BRAIN_SERVE_HTTP_TOKEN", t)])
            .unwrap_or_default();
        let _d = v.serve(&env);
        let addr = v.daemon_state().unwrap()["http"]
            .as_str()
            .unwrap()
            .to_string();
        let port = addr.rsplit(':').next().unwrap();
        assert!(addr.starts_with("127.0.0.1:"), "{addr}");

        for foreign in ["evil.example.com", &format!("evil.example.com:{port}")] {
            let (code, head) = http(&addr, &initialize(foreign, token));
            assert_eq!(code, 403, "Host {foreign}, token {token:?}: {head}");
        }
        for own in [addr.clone(), format!("localhost:{port}")] {
            let (code, head) = http(&addr, &initialize(&own, token));
            assert_eq!(code, 200, "Host {own}, token {token:?}: {head}");
            assert!(
                head.to_ascii_lowercase().contains("mcp-session-id:"),
                "{head}"
            );
        }
        if token.is_some() {
            // The token is still required with the right Host.
            let (code, head) = http(&addr, &initialize(&addr, None));
            assert_eq!(code, 401, "{head}");
            let (code, head) = http(&addr, &initialize(&addr, Some("wrong-token!")));
            assert_eq!(code, 401, "{head}");
        }
    }
}

/// [`initialize`] as a page at `origin` would send it from a browser.
fn initialize_from(host: &str, origin: &str) -> String {
    initialize(host, None).replacen("\r\n", &format!("\r\nOrigin: {origin}\r\n"), 1)
}

#[test]
fn a_browser_origin_must_be_the_servers_own_or_listed() {
    // The MCP transport spec: validate Origin against DNS rebinding. Clients without an Origin
    // (the SDKs, curl) are not browsers and pass.
    let v = TestVault::new();
    let _d = v.serve(&[(
        "BRAIN_SERVE_ALLOWED_ORIGINS",
        r#"["http://app.example:3000"]"#,
    )]);
    let addr = v.daemon_state().unwrap()["http"]
        .as_str()
        .unwrap()
        .to_string();
    let port = addr.rsplit(':').next().unwrap();
    let own = [
        format!("http://{addr}"),
        format!("http://localhost:{port}"),
        "http://app.example:3000".to_string(),
    ];
    for origin in &own {
        let (code, head) = http(&addr, &initialize_from(&addr, origin));
        assert_eq!(code, 200, "Origin {origin}: {head}");
    }
    let (code, head) = http(&addr, &initialize(&addr, None));
    assert_eq!(code, 200, "no Origin: {head}");
    for foreign in [
        "http://evil.example.com",
        "http://app.example:3001",
        &format!("https://localhost:{port}"),
    ] {
        let mut stream = TcpStream::connect(&addr).unwrap();
        stream.set_read_timeout(Some(LIMIT)).unwrap();
        stream
            .write_all(initialize_from(&addr, foreign).as_bytes())
            .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 403"), "{foreign}: {answer}");
        assert!(
            answer.contains(foreign) && answer.contains("serve.allowed_origins"),
            "the refusal names the origin and the setting: {answer}"
        );
    }
}

#[test]
fn a_second_vault_on_a_taken_port_is_told_how_to_pick_another() {
    let first = TestVault::new();
    let _d = first.serve(&[]);
    let taken = first.daemon_state().unwrap()["http"]
        .as_str()
        .unwrap()
        .to_string();
    let second = TestVault::new();
    let mut child = second
        .cmd()
        .env("BRAIN_SERVE_HTTP", &taken)
        .arg("serve")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let code = wait_for(LIMIT, "the second daemon to give up", || {
        child.try_wait().unwrap()
    });
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code.code(), Some(1), "{stderr}");
    for part in [
        &format!("cannot listen on {taken}"),
        "serve.http",
        "BRAIN_SERVE_HTTP=",
        "another vault",
    ] {
        assert!(stderr.contains(part), "no {part:?} in: {stderr}");
    }
    assert_eq!(
        second.daemon_state().map(|s| s["state"].clone()),
        None,
        "it never became ready"
    );
}
