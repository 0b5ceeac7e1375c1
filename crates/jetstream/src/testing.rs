//! Test support for crates whose tests need NATS: a connection whose names no other test uses,
//! and the one rule for what happens when NATS is not there.
//!
//! Compiled only with the `testing` feature. The server is `TESSERA_TEST_NATS` (default
//! [`DEFAULT_TEST_NATS_URL`]). When it cannot be reached, [`nats`] prints `skipped NATS half of
//! <test>: <why>` and returns `None`, unless `TESSERA_REQUIRE_NATS` is set (CI sets it), which
//! makes it panic instead. Streams made under a test's prefix are left behind (they are small
//! and named for the process that made them).

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::Nats;

/// The variable naming the test server.
pub const NATS_URL_VAR: &str = "TESSERA_TEST_NATS";
/// The variable that turns "NATS is unreachable" from a skip into a failure.
pub const REQUIRE_NATS_VAR: &str = "TESSERA_REQUIRE_NATS";
/// The test server when `TESSERA_TEST_NATS` is not set.
pub const DEFAULT_TEST_NATS_URL: &str = "nats://127.0.0.1:4222";

/// The test server's URL.
pub fn nats_url() -> String {
    std::env::var(NATS_URL_VAR)
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| DEFAULT_TEST_NATS_URL.to_string())
}

/// Whether an unreachable NATS fails the tests: `TESSERA_REQUIRE_NATS` is set to anything but
/// empty or `0`.
pub fn nats_required() -> bool {
    std::env::var(REQUIRE_NATS_VAR).is_ok_and(|value| !value.is_empty() && value != "0")
}

/// A prefix no other test (in this or another process) uses.
pub fn unique_prefix() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "t{}-{}-{}",
        std::process::id(),
        nanos,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A connection under a fresh prefix, or `None` (after saying so) when NATS is unreachable and
/// not required. `test` names the test in the skip line.
pub async fn nats(test: &str) -> Option<Nats> {
    let url = nats_url();
    match Nats::connect(&url, &unique_prefix()).await {
        Ok(nats) => Some(nats),
        Err(error) if nats_required() => {
            panic!("{test}: NATS is required ({REQUIRE_NATS_VAR} is set) but: {error}")
        }
        Err(error) => {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "skipped NATS half of {test}: {error}");
            None
        }
    }
}

/// Every message `stream` holds on `subject`, oldest first, as its `Nats-Msg-Id` (empty if none)
/// and payload: what a subscriber of that subject would read. Panics on any NATS error.
pub async fn messages_on(url: &str, stream: &str, subject: &str) -> Vec<(String, Vec<u8>)> {
    use futures::StreamExt;
    let client = async_nats::connect(url).await.expect("connect to NATS");
    let stream = async_nats::jetstream::new(client)
        .get_stream(stream)
        .await
        .expect("the stream exists");
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::Config {
            filter_subject: subject.to_string(),
            ..Default::default()
        })
        .await
        .expect("an ephemeral consumer");
    let mut messages = consumer
        .fetch()
        .max_messages(10_000)
        .expires(std::time::Duration::from_secs(1))
        .messages()
        .await
        .expect("a fetch");
    let mut read = Vec::new();
    while let Some(message) = messages.next().await {
        let message = message.expect("a message");
        let id = message
            .headers
            .as_ref()
            .and_then(|headers| headers.get("Nats-Msg-Id"))
            .map(|id| id.to_string())
            .unwrap_or_default();
        read.push((id, message.payload.to_vec()));
    }
    read
}
