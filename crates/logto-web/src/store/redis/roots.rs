//! The CAs a `rediss://` connection trusts when no CA file is given: the platform's store and
//! the Mozilla roots bundled in the binary, together. The platform's store (as OpenSSL finds it:
//! `SSL_CERT_FILE`/`SSL_CERT_DIR`, else the system bundle) holds a CA the operator added to the
//! host; the bundled roots make a managed Redis's public certificate work on a host without any
//! bundle (a `FROM scratch` image).
//!
//! The `redis` crate trusts one or the other by its features, never both, but takes the roots
//! of a connection as PEM: both sets go to it that way.

use std::collections::HashSet;
use std::sync::LazyLock;

use base64::Engine;
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;

/// The default roots as PEM, read once per process.
static DEFAULT_ROOTS: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let platform = rustls_native_certs::load_native_certs();
    if let Some(error) = platform.errors.first() {
        log::warn!(
            "Redis TLS: the platform's CA store could not be read in full ({error}); {} of its certificates \
             are trusted, with the bundled roots",
            platform.certs.len()
        );
    }
    roots_pem(&platform.certs, webpki_root_certs::TLS_SERVER_ROOT_CERTS)
});

/// PEM of the platform's and the bundled roots, for a connection with no CA file of its own.
pub(super) fn default_roots() -> Vec<u8> {
    DEFAULT_ROOTS.clone()
}

/// PEM of every usable certificate of `platform` and `bundled`, each once. A certificate that
/// cannot be a trust anchor is left out: the `redis` crate refuses a whole list for one of them.
fn roots_pem(platform: &[CertificateDer<'static>], bundled: &[CertificateDer<'static>]) -> Vec<u8> {
    let mut seen = HashSet::new();
    let mut usable = RootCertStore::empty();
    let mut pem = Vec::new();
    for cert in platform.iter().chain(bundled) {
        if !seen.insert(cert.as_ref()) || usable.add(cert.clone()).is_err() {
            continue;
        }
        pem.extend_from_slice(b"-----BEGIN CERTIFICATE-----\n");
        let encoded = base64::engine::general_purpose::STANDARD.encode(cert.as_ref());
        for line in encoded.as_bytes().chunks(64) {
            pem.extend_from_slice(line);
            pem.push(b'\n');
        }
        pem.extend_from_slice(b"-----END CERTIFICATE-----\n");
    }
    pem
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(pem: &[u8]) -> Vec<CertificateDer<'static>> {
        use rustls::pki_types::pem::PemObject;
        CertificateDer::pem_slice_iter(pem).map(Result::unwrap).collect()
    }

    #[test]
    fn both_sets_are_trusted_each_certificate_once_and_an_unusable_one_is_left_out() {
        let bundled = webpki_root_certs::TLS_SERVER_ROOT_CERTS;
        // The "platform": one bundled root again, and bytes that are no certificate.
        let platform = vec![bundled[3].clone(), CertificateDer::from(b"not a certificate".to_vec())];
        let pem = roots_pem(&platform, bundled);
        let certs = parsed(&pem);
        assert_eq!(certs.len(), bundled.len(), "each bundled root once, the junk left out");
        assert_eq!(certs[0], bundled[3], "the platform's come first");
        assert!(bundled.iter().all(|root| certs.contains(root)));
    }

    #[test]
    fn the_default_holds_every_bundled_root() {
        let certs = parsed(&default_roots());
        assert!(
            webpki_root_certs::TLS_SERVER_ROOT_CERTS
                .iter()
                .all(|root| certs.contains(root))
        );
    }

    #[test]
    fn a_certificate_only_the_platform_has_is_trusted_too() {
        // The first bundled root stands for a private CA the platform's store has.
        let bundled = webpki_root_certs::TLS_SERVER_ROOT_CERTS;
        let platform = vec![bundled[0].clone()];
        let certs = parsed(&roots_pem(&platform, &bundled[1..]));
        assert_eq!(certs.len(), bundled.len());
        assert!(certs.contains(&bundled[0]));
    }
}
