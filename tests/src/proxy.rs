//! A TCP proxy on loopback in front of a real server, which a test can cut: every connection through it ends and
//! no new one is accepted — a dependency going down mid-run, for real, without stopping the shared server; and a
//! silent server, a dependency whose network dropped the route.

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A proxy to `target` (`host:port`) on a free loopback port.
pub struct Proxy {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    server: JoinHandle<()>,
    connections: std::sync::Arc<std::sync::Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    pub async fn start(target: &str) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("a port");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        let connections = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (target, open) = (target.to_owned(), connections.clone());
        let server = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let target = target.clone();
                let forwarding = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&target).await {
                        let _copied = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                open.lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .push(forwarding);
            }
        });
        Self {
            url,
            server,
            connections,
        }
    }

    /// Cuts the proxy: the port closes and every connection through it ends.
    pub fn cut(&self) {
        self.server.abort();
        for connection in self
            .connections
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .drain(..)
        {
            connection.abort();
        }
    }
}

/// A loopback server that accepts connections and never answers, as a network that dropped the route does:
/// its `http://` address, and how many connections it took. It lives as long as the test process.
pub async fn silent_server() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let connections = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            held.push(socket);
        }
    });
    (format!("http://{address}"), connections)
}
