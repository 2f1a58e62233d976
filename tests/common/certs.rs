//! Test certificates made with rcgen: a CA, and server or client
//! certificates it signs, as PEM strings or files.

use std::path::Path;

/// A certificate authority made for a test.
pub struct Ca {
    cert: rcgen::Certificate,
    key: rcgen::KeyPair,
}

/// A certificate and its key, as PEM.
pub struct Issued {
    pub cert: String,
    pub key: String,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Ca { cert, key }
    }

    /// A server (or client) certificate for `names` (DNS names or IPs),
    /// with common name `common_name` and the given serial number.
    pub fn issue(&self, common_name: &str, names: &[&str], client: bool, serial: u64) -> Issued {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = rcgen::CertificateParams::new(names).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, common_name);
        params.serial_number = Some(serial.into());
        params.extended_key_usages = vec![if client {
            rcgen::ExtendedKeyUsagePurpose::ClientAuth
        } else {
            rcgen::ExtendedKeyUsagePurpose::ServerAuth
        }];
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        Issued {
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }

    /// Writes `<name>.pem` and `<name>.key` in `dir`: a certificate for
    /// `names` (client or server use) named `name`.
    pub fn issue_to(&self, dir: &Path, name: &str, names: &[&str], client: bool) {
        let issued = self.issue(name, names, client, 1);
        std::fs::write(dir.join(format!("{name}.pem")), issued.cert).unwrap();
        std::fs::write(dir.join(format!("{name}.key")), issued.key).unwrap();
    }

    /// The CA's own certificate, as PEM.
    pub fn pem(&self) -> String {
        self.cert.pem()
    }

    /// Writes the CA's certificate to `path`.
    pub fn write(&self, path: &Path) {
        std::fs::write(path, self.pem()).unwrap();
    }
}
