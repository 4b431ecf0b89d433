//! Engine side of IKEv1 fragmentation: fragments in (reassembled, then handled like a whole
//! message), and our messages cut into fragments on their way out of `poll_transmit`.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use tracing::debug;

use crate::wire::isakmp::fragment::split;
use crate::wire::isakmp::{ExchangeType, FragmentPayload, Header, HeaderRepr, Payloads};

use super::super::policy::ExchangeMode;
use super::{fragment, hex8, Engine, Reassembled, Transmit};

/// The NAT-T port (fragments sent from it are 4 bytes shorter: the non-ESP marker).
const NAT_T_PORT: u16 = 4500;

impl Engine {
    /// A fragment message from the peer: reassembled (bounded, see
    /// [`fragment::Reassembly`]); the last missing piece hands the whole message on.
    pub(super) fn on_fragment(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        hdr: &HeaderRepr,
        body: &[u8],
    ) {
        self.io.stats.fragments_received += 1;
        if !self.policy.fragmentation {
            debug!(%remote, "dropping an IKEv1 fragment: fragmentation is disabled here");
            self.io.stats.dropped_fragments += 1;
            return;
        }
        let frag = Payloads::new(body, hdr.next_payload)
            .next()
            .and_then(Result::ok)
            .and_then(|p| FragmentPayload::parse(p.body).ok());
        let Some(frag) = frag else {
            self.io.stats.dropped_fragments += 1;
            return;
        };
        let cookies = (hdr.icookie, hdr.rcookie);
        match self.reassembly.add(now, remote.ip(), cookies, &frag) {
            Reassembled::Incomplete => {}
            Reassembled::Dropped(why) => {
                debug!(%remote, icookie = %hex8(&hdr.icookie), why, "dropping a fragmented message");
                self.io.stats.dropped_fragments += 1;
            }
            Reassembled::Complete(whole) => {
                let Ok(h) = Header::new_checked(&whole[..]) else {
                    self.io.stats.dropped_fragments += 1;
                    return;
                };
                debug!(%remote, icookie = %hex8(&hdr.icookie), bytes = whole.len(), "reassembled a fragmented message");
                self.io.stats.messages_reassembled += 1;
                self.on_message(now, local, remote, &h.repr(), h.body(), h.message());
            }
        }
    }

    /// Incomplete reassemblies past their time are forgotten (counted as dropped).
    pub(super) fn expire_fragments(&mut self, now: Instant) {
        let n = self.reassembly.expire(now);
        self.io.stats.dropped_fragments += n as u64;
    }

    /// The fragments `t` goes out as, or `None` to send it whole: fragmentation enabled here,
    /// the peer announced it in the exchange `t` belongs to, and `t` is larger than the fragment
    /// size allows.
    pub(super) fn cut_into_fragments(&self, t: &Transmit) -> Option<VecDeque<Transmit>> {
        if !self.policy.fragmentation {
            return None;
        }
        let h = Header::new_checked(&t.data[..]).ok()?;
        let cookies = (h.icookie(), h.rcookie());
        self.p1
            .iter()
            .find(|e| (e.icookie, e.rcookie) == cookies && e.peer_fragmentation)?;
        let chunk = fragment::chunk_len(
            self.policy.fragment_size,
            t.remote.is_ipv6(),
            t.local_port == NAT_T_PORT,
        )?;
        // As strongSwan: the exchange type of the phase-1 mode, whatever the message is.
        let exchange = if self.policy.exchange_mode == ExchangeMode::Aggressive
            || h.exchange() == ExchangeType::AGGRESSIVE
        {
            ExchangeType::AGGRESSIVE
        } else {
            ExchangeType::IDENTITY_PROTECTION
        };
        let frags = split(
            h.message(),
            chunk,
            fragment::fragment_id(h.message()),
            exchange,
        )?;
        Some(
            frags
                .into_iter()
                .map(|data| Transmit {
                    local_port: t.local_port,
                    remote: t.remote,
                    data,
                })
                .collect(),
        )
    }
}
