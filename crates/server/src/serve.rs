//! Binding the socket and serving until shutdown.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::accept::{serve_connections, ConnectionLimits};
use crate::{router, ApiSettings, Backend, ServerError};

/// Where to listen and what to serve.
#[derive(Debug, Clone)]
pub struct ServeSettings {
    pub host: IpAddr,
    /// 0 picks a free port.
    pub port: u16,
    pub api: ApiSettings,
    /// How long in-flight requests may run on after a shutdown signal.
    pub drain_timeout: Duration,
    /// Open connections and the deadline for request headers.
    pub limits: ConnectionLimits,
}

impl Default for ServeSettings {
    fn default() -> Self {
        Self {
            host: IpAddr::from([127, 0, 0, 1]),
            port: 0,
            api: ApiSettings::default(),
            drain_timeout: Duration::from_secs(30),
            limits: ConnectionLimits::default(),
        }
    }
}

/// The line printed on stdout once the server accepts connections.
pub fn listening_line(port: u16) -> String {
    serde_json::json!({ "event": "listening", "port": port }).to_string()
}

/// A bound socket, ready to serve: first, optionally, a stand-in backend for a while
/// ([`Listener::serve_for`]), then the real one ([`Listener::serve`]), on the same port.
pub struct Listener {
    listener: std::net::TcpListener,
    addr: SocketAddr,
    settings: ServeSettings,
}

impl Listener {
    /// Binds `settings.host:settings.port`. A non-loopback host is refused unless a token is
    /// configured: without one, anything on the network could query the vault.
    pub async fn bind(settings: ServeSettings) -> Result<Self, ServerError> {
        if !settings.host.is_loopback() && settings.api.access.token.is_none() {
            return Err(ServerError::InsecureBind {
                host: settings.host.to_string(),
            });
        }
        let wanted = SocketAddr::new(settings.host, settings.port);
        let listener = TcpListener::bind(wanted)
            .await
            .map_err(|source| ServerError::Bind {
                addr: wanted.to_string(),
                source,
            })?;
        let addr = listener
            .local_addr()
            .map_err(|source| ServerError::Io { source })?;
        let listener = listener
            .into_std()
            .map_err(|source| ServerError::Io { source })?;
        Ok(Self {
            listener,
            addr,
            settings,
        })
    }

    /// The address actually bound (with the port chosen for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    fn api(&self) -> ApiSettings {
        let mut api = self.settings.api.clone();
        if !self.settings.host.is_loopback() && !self.settings.host.is_unspecified() {
            api.access.extra_hosts.push(self.settings.host.to_string());
        }
        api
    }

    fn tokio_listener(&self) -> Result<TcpListener, ServerError> {
        let io = |source| ServerError::Io { source };
        let clone = self.listener.try_clone().map_err(io)?;
        clone.set_nonblocking(true).map_err(io)?;
        TcpListener::from_std(clone).map_err(io)
    }

    /// Serves `backend` (with the same access rules) until `until` completes, then stops
    /// accepting and lets the requests in flight finish; the socket stays bound for the next
    /// backend, so clients only see a short queue between the two.
    pub async fn serve_for(
        &self,
        backend: Arc<dyn Backend>,
        until: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        self.run(backend, until).await
    }

    /// Serves `backend` until `shutdown` completes, then closes idle connections, lets requests
    /// in flight finish (up to the drain timeout) and returns.
    pub async fn serve(
        self,
        backend: Arc<dyn Backend>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        self.run(backend, async move {
            shutdown.await;
            tracing::info!("shutting down: finishing requests in flight");
        })
        .await
    }

    async fn run(
        &self,
        backend: Arc<dyn Backend>,
        until: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let app = router(backend, &self.api(), self.addr.port());
        let listener = self.tokio_listener()?;
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            until.await;
            let _ = stop_tx.send(true);
        });
        let drain = self.settings.drain_timeout;
        serve_connections(listener, app, self.settings.limits, stop_rx, drain).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_line_is_exact() {
        assert_eq!(listening_line(8123), r#"{"event":"listening","port":8123}"#);
    }

    #[tokio::test]
    async fn refuses_public_host_without_token() {
        let settings = ServeSettings {
            host: IpAddr::from([0, 0, 0, 0]),
            ..ServeSettings::default()
        };
        let err = Listener::bind(settings).await.err().unwrap();
        assert!(matches!(err, ServerError::InsecureBind { .. }), "{err}");
    }

    #[tokio::test]
    async fn binds_public_host_with_token_and_loopback_without() {
        let mut settings = ServeSettings::default();
        let loopback = Listener::bind(settings.clone()).await.unwrap();
        assert_ne!(loopback.local_addr().port(), 0);
        settings.host = IpAddr::from([0, 0, 0, 0]);
        settings.api.access.token = Some("t".into());
        assert!(Listener::bind(settings).await.is_ok());
    }
}
