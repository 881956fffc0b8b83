//! The watcher's HTTP endpoints on any bytes a client can send: one connection, served
//! as `--listen` serves it (hyper's HTTP/1.1 with berth's limits, the router, webhook
//! authentication with a configured secret), fed from memory until it ends.
#![no_main]

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use berth::secret::Secret;
use berth::watch::http::{connection, router};
use berth::watch::status::Shared;
use libfuzzer_sys::fuzz_target;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn shared() -> Arc<Shared> {
    static SHARED: OnceLock<Arc<Shared>> = OnceLock::new();
    SHARED
        .get_or_init(|| {
            let (target, _) = tokio::sync::watch::channel(None);
            let shared = Shared::new("fuzz".into(), Secret::new("local-token".into()), target);
            let hooks = BTreeMap::from([
                ("generic", Ok(Secret::new("fuzz-secret".to_string()))),
                ("github", Ok(Secret::new("fuzz-secret".to_string()))),
                ("gitea", Ok(Secret::new("fuzz-secret".to_string()))),
                ("gitlab", Err("no value".to_string())),
            ]);
            *shared.hooks.lock().unwrap() = Some(hooks);
            Arc::new(shared)
        })
        .clone()
}

fuzz_target!(|bytes: &[u8]| {
    berth_fuzz::runtime().block_on(async {
        let (mut client, server) = tokio::io::duplex(1 << 16);
        let served = tokio::spawn(connection(server, router(shared())));
        let (mut reader, mut writer) = tokio::io::split(&mut client);
        let send = async {
            let _ = writer.write_all(bytes).await;
            let _ = writer.shutdown().await;
        };
        let mut answer = Vec::new();
        let receive = reader.read_to_end(&mut answer);
        // The input ends, so the connection must end: a hang is a finding.
        let ended = tokio::time::timeout(Duration::from_secs(5), async { tokio::join!(send, receive) }).await;
        assert!(ended.is_ok(), "the connection did not end with its input");
        let _ = served.await;
    });
});
