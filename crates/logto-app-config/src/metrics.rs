//! Where Prometheus metrics are served (`METRICS_ADDR`).

use std::net::SocketAddr;

use super::reader::Reader;

/// Reads `METRICS_ADDR`: `Some(None)` when unset (no metrics listener), `None` when wrong (the
/// reader has the problem). `public` is the app's own listen address, when it is valid: metrics
/// never share it.
pub(super) fn read(r: &mut Reader<'_>, public: Option<SocketAddr>) -> Option<Option<SocketAddr>> {
    let Some(raw) = r.get("METRICS_ADDR") else {
        return Some(None);
    };
    match raw.parse::<SocketAddr>() {
        Ok(address) if public.is_some_and(|public| public.ip() == address.ip() && public.port() == address.port()) => r
            .fail(
                "METRICS_ADDR",
                "is the public listen address; metrics need a port of their own, e.g. 127.0.0.1:9100",
            ),
        Ok(address) => Some(Some(address)),
        Err(_) => r.fail(
            "METRICS_ADDR",
            format!(
                "`{}` is not an address and port, e.g. 127.0.0.1:9100",
                raw.escape_debug()
            ),
        ),
    }
}
