//! brain-mcp's tests, as one test binary (one link, not two): the MCP server over stdio and over
//! HTTP, driven as a client drives it, on real temp vaults.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod http;
mod session;
