//! Tunnel or transport mode of an IKEv2 child (RFC 7296 §1.3.1): the USE_TRANSPORT_MODE
//! notification and what each side makes of its presence or absence. Shared by IKE_AUTH's
//! first child and CREATE_CHILD_SA.

use crate::ike::policy::EspMode;
use crate::wire::ikev2::{NotifyRepr, NotifyType, ProtocolId};

/// USE_TRANSPORT_MODE (RFC 7296 §1.3.1): asks for a transport-mode child in a request, and
/// accepts that in the response.
pub(super) const USE_TRANSPORT_MODE: NotifyRepr<'static> = NotifyRepr {
    protocol: ProtocolId(0),
    kind: NotifyType::USE_TRANSPORT_MODE,
    spi: &[],
    data: &[],
};

/// Initiator: the mode of a child we asked for in `ours` mode, given whether the response
/// carried USE_TRANSPORT_MODE. A responder may decline transport mode (§1.3.1): the child
/// then runs in tunnel mode (host-to-host selectors work in either), said in plain words.
pub(super) fn initiator_mode(ours: EspMode, answered_transport: bool) -> EspMode {
    match (ours, answered_transport) {
        (EspMode::Transport, true) => EspMode::Transport,
        (EspMode::Transport, false) => {
            tracing::warn!(
                "IKEv2: we asked for transport mode (`mode: transport`) and the peer answered \
                 without USE_TRANSPORT_MODE, so it wants tunnel mode: the child runs in tunnel \
                 mode (traffic still flows, 20/40 bytes more per packet); configure transport \
                 mode on the peer to get it"
            );
            EspMode::Tunnel
        }
        (EspMode::Tunnel, _) => EspMode::Tunnel,
    }
}

/// Responder: the mode of a child requested with or without USE_TRANSPORT_MODE when we are
/// configured for `ours`. Transport only when both want it; otherwise tunnel mode, with the
/// disagreement said in plain words.
pub(super) fn responder_mode(ours: EspMode, requested_transport: bool) -> EspMode {
    match (ours, requested_transport) {
        (EspMode::Transport, true) => EspMode::Transport,
        (EspMode::Tunnel, false) => EspMode::Tunnel,
        (EspMode::Tunnel, true) => {
            tracing::info!(
                "IKEv2: the peer asks for transport mode (USE_TRANSPORT_MODE) and this tunnel \
                 is configured for tunnel mode: answering in tunnel mode; set `mode: transport` \
                 on this interface to accept it"
            );
            EspMode::Tunnel
        }
        (EspMode::Transport, false) => {
            tracing::warn!(
                "IKEv2: the peer asks for a tunnel-mode child and this tunnel is configured \
                 `mode: transport`: the child runs in tunnel mode (traffic still flows); \
                 configure transport mode on the peer to get it"
            );
            EspMode::Tunnel
        }
    }
}
