//! Mints the benchmark's pool of access tokens: COUNT distinct ES384 JWTs shaped like Logto's
//! machine-to-machine access tokens (header `{alg, typ: at+jwt, kid}`; claims `jti, sub,
//! client_id, iss, aud, iat, exp, scope`), one per line on stdout. Signing in Python takes ~2 ms
//! a token on this machine; aws-lc, on every core, mints 100,000 in seconds.
//!
//! Usage: es384-mint PRIVATE_KEY_PKCS8_PEM KID ISSUER AUDIENCE SCOPE CLIENT_ID LIFETIME_SECS COUNT

use std::io::{BufWriter, Write};

use jsonwebtoken::{Algorithm, EncodingKey, Header};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [pem, kid, issuer, audience, scope, client_id, lifetime, count] = args.as_slice() else {
        eprintln!("usage: es384-mint KEY_PEM KID ISSUER AUDIENCE SCOPE CLIENT_ID LIFETIME_SECS COUNT");
        std::process::exit(2);
    };
    let key = EncodingKey::from_ec_pem(&std::fs::read(pem).expect("read key")).expect("EC key");
    // Negative for tokens that expired already.
    let lifetime: i64 = lifetime.parse().expect("lifetime");
    let count: usize = count.parse().expect("count");
    let mut header = Header::new(Algorithm::ES384);
    header.kid = Some(kid.clone());
    header.typ = Some("at+jwt".into());
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let mint = |n: usize| {
        let claims = serde_json::json!({
            "jti": format!("bench-{n}"), "sub": client_id, "client_id": client_id, "iss": issuer,
            "aud": audience, "iat": now, "exp": now.saturating_add_signed(lifetime), "scope": scope,
        });
        jsonwebtoken::encode(&header, &claims, &key).expect("sign")
    };

    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunks: Vec<Vec<String>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| s.spawn(move || (t..count).step_by(threads).map(mint).collect::<Vec<_>>()))
            .collect();
        workers.into_iter().map(|w| w.join().expect("minting thread")).collect()
    });
    let mut out = BufWriter::new(std::io::stdout().lock());
    for token in chunks.iter().flatten() {
        writeln!(out, "{token}").expect("write");
    }
    out.flush().expect("flush");
}
