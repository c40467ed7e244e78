//! Certificates for TLS tests, made fresh by each test: a CA, a server certificate for
//! `localhost` and `127.0.0.1` signed by it, and client certificates for mutual TLS.
//!
//! ```
//! let pki = flunq_testkit::pki::TestPki::new();
//! assert!(pki.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
//! let (chain, key) = pki.client_identity();
//! assert!(chain.contains("CERTIFICATE") && key.contains("PRIVATE KEY"));
//! ```

#![allow(clippy::expect_used)]

/// A test CA and a server certificate it signed.
pub struct TestPki {
    /// The CA's certificate, PEM: what a client trusts.
    pub ca_pem: String,
    /// The server's certificate, PEM.
    pub server_cert_pem: String,
    /// The server's private key, PEM (PKCS #8).
    pub server_key_pem: String,
    /// The server's certificate, DER.
    pub server_cert_der: Vec<u8>,
    /// The server's private key, DER (PKCS #8).
    pub server_key_der: Vec<u8>,
    ca: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl TestPki {
    /// A new CA and server certificate (for `localhost` and `127.0.0.1`).
    ///
    /// # Panics
    /// If rcgen cannot make them: a test helper, the test fails there.
    pub fn new() -> Self {
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())
            .expect("empty subject alternative names are valid");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "flunq test CA");
        let ca_key = rcgen::KeyPair::generate().expect("a key pair");
        let ca_cert = ca_params.self_signed(&ca_key).expect("a CA certificate");
        let ca = rcgen::Issuer::new(ca_params, ca_key);

        let server_params =
            rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .expect("valid subject alternative names");
        let server_key = rcgen::KeyPair::generate().expect("a key pair");
        let server_cert = server_params
            .signed_by(&server_key, &ca)
            .expect("a server certificate");
        Self {
            ca_pem: ca_cert.pem(),
            server_cert_pem: server_cert.pem(),
            server_key_pem: server_key.serialize_pem(),
            server_cert_der: server_cert.der().to_vec(),
            server_key_der: server_key.serialize_der(),
            ca,
        }
    }

    /// A client certificate signed by the same CA, as (chain PEM, key PEM).
    ///
    /// # Panics
    /// If rcgen cannot make it.
    pub fn client_identity(&self) -> (String, String) {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new())
            .expect("empty subject alternative names are valid");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "flunq test client");
        let key = rcgen::KeyPair::generate().expect("a key pair");
        let cert = params
            .signed_by(&key, &self.ca)
            .expect("a client certificate");
        (cert.pem(), key.serialize_pem())
    }
}

impl std::fmt::Debug for TestPki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestPki").finish_non_exhaustive()
    }
}

impl Default for TestPki {
    fn default() -> Self {
        Self::new()
    }
}
