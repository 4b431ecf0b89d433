//! `mode: tunnel | transport` of an interface (RFC 4303 §3.1): transport mode is host-to-host
//! ESP between the interface's own outer addresses, so its proxy-id is those two hosts.

use yaml_serde::Mapping;

use super::node::{child, Errors, Node};
use super::Keying;
use crate::ike::EspMode;

/// Parses `mode` (default `tunnel`).
pub(super) fn parse_mode(m: &Mapping, n: &Node<'_>, errs: &mut Errors) -> EspMode {
    child(m, n, "mode")
        .and_then(|v| {
            v.choice(
                errs,
                &[("tunnel", EspMode::Tunnel), ("transport", EspMode::Transport)],
            )
        })
        .unwrap_or_default()
}

/// Applies transport mode to the parsed keying: the proxy-id defaults to the two hosts'
/// addresses, and anything else is an error naming the key and the fix. Tunnel mode changes
/// nothing.
pub(super) fn apply_mode(
    mode: EspMode,
    n: &Node<'_>,
    dynamic_peer: bool,
    keying: Option<&mut Keying>,
    errs: &mut Errors,
) {
    if mode == EspMode::Tunnel {
        return;
    }
    let path = n.child_path("mode");
    if dynamic_peer {
        errs.push(
            &path,
            "transport mode is host-to-host between the configured addresses: give the peer's \
             address as `destination` (not `dynamic`), or use `mode: tunnel`",
        );
        return;
    }
    match keying {
        Some(Keying::Ike(p)) => {
            p.phase2.mode = EspMode::Transport;
            let given = n
                .value
                .get("ike")
                .and_then(|v| v.get("proposal"))
                .and_then(|v| v.get("phase2"))
                .and_then(|v| v.get("proxy-id"))
                .is_some();
            if !given {
                p.phase2.proxy_ids = vec![p.transport_proxy_id()];
            }
            if let Err(e) = p.check_transport_proxy_ids() {
                errs.push(&n.child_path("ike.proposal.phase2.proxy-id"), e);
            }
        }
        Some(Keying::Manual { .. }) => errs.push(
            &path,
            "transport mode needs IKE keying (`ike:`); manually keyed SAs are tunnel mode: \
             remove `mode` or replace `manual-sa` with an `ike:` block",
        ),
        None => {}
    }
}
