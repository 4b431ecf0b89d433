//! Fuzz harness for the admin API's request bodies (target `api_json` in `fuzz/`), shared with
//! the `cargo test` replay below, like `ike::v2::fuzzing`. Not an API.

use std::net::{IpAddr, Ipv4Addr};

use axum::body::Bytes;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};

use super::handlers::{body_value, rekey_now};
use super::model;
use crate::ike::IkePolicy;

/// One request body as the handlers read it. The first byte picks the content type (JSON or
/// YAML) and what reads the body: the `PUT …/proposals` validation (against a current policy),
/// the `PUT …/proxy-ids` validation, the `?rekey=` query, or the response models the CLI
/// client deserializes. Everything refused is a 400 with words; nothing panics.
pub fn bodies(data: &[u8]) {
    let [pick, body @ ..] = data else {
        return;
    };
    if pick & 0x80 != 0 {
        return responses(body);
    }
    if pick & 0x40 != 0 {
        let q = model::RekeyQuery {
            rekey: Some(String::from_utf8_lossy(body).into_owned()),
        };
        if let Err(e) = rekey_now(&q) {
            assert_eq!(e.status, StatusCode::BAD_REQUEST);
            assert!(e.detail.len() < 256, "the echo of a query is not bounded");
        }
        return;
    }
    let mut headers = HeaderMap::new();
    if pick & 1 != 0 {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/yaml"),
        );
    }
    let v = match body_value(&headers, &Bytes::copy_from_slice(body)) {
        Ok(v) => v,
        Err(e) => {
            assert_eq!(e.status, StatusCode::BAD_REQUEST);
            return assert!(!e.detail.is_empty());
        }
    };
    let current = IkePolicy::seil_defaults(
        IpAddr::V4(Ipv4Addr::new(10, 88, 0, 2)),
        IpAddr::V4(Ipv4Addr::new(10, 88, 0, 1)),
        b"fuzz",
    );
    let errors = if pick & 2 == 0 {
        crate::config::parse_proposals(&v, &current).err()
    } else {
        crate::config::parse_proxy_ids(&v).err()
    };
    for e in errors.unwrap_or_default() {
        assert!(
            !e.message.is_empty(),
            "an error without words at {}",
            e.path
        );
    }
}

/// The response models as `ikegate` (the CLI client) reads them from a server.
fn responses(body: &[u8]) {
    fn read<T: serde::de::DeserializeOwned + serde::Serialize>(b: &[u8]) {
        if let Ok(x) = serde_json::from_slice::<T>(b) {
            serde_json::to_vec(&x).expect("what was read is written again");
        }
    }
    read::<Vec<model::Tunnel>>(body);
    read::<model::Proposals>(body);
    read::<model::ProxyIds>(body);
    read::<model::Accepted>(body);
    read::<model::ErrorBody>(body);
    read::<model::Health>(body);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ike::v2::fuzzing::tests::{random_inputs, seeds};

    #[test]
    fn bodies_survive_seeds_and_random_inputs() {
        for s in seeds("api_json") {
            bodies(&s);
        }
        for s in random_inputs(51, 1000, 200) {
            bodies(&s);
        }
    }

    /// The seeds reach the validation: a proposals body and a proxy-ids body that are valid.
    #[test]
    fn the_seeds_are_valid_bodies() {
        let s = seeds("api_json");
        let current = IkePolicy::seil_defaults(
            IpAddr::V4(Ipv4Addr::new(10, 88, 0, 2)),
            IpAddr::V4(Ipv4Addr::new(10, 88, 0, 1)),
            b"fuzz",
        );
        let mut valid = 0;
        for b in &s {
            let (0, Ok(v)) = (
                b[0] & 0xc0,
                body_value(&HeaderMap::new(), &Bytes::copy_from_slice(&b[1..])),
            ) else {
                continue;
            };
            let ok = if b[0] & 2 == 0 {
                crate::config::parse_proposals(&v, &current).is_ok()
            } else {
                crate::config::parse_proxy_ids(&v).is_ok()
            };
            valid += usize::from(ok);
        }
        assert!(valid >= 2, "{valid} valid seeds");
    }
}
