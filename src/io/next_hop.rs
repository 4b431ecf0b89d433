//! Where a packet socket must send ESP to reach a peer: the route's output interface, that
//! interface's MAC, and the next hop's MAC from the neighbour table, asked over rtnetlink
//! (RTM_GETROUTE, RTM_GETLINK, RTM_GETNEIGH; the replies are parsed by netlink-packet-route).
//! When any of it is missing the answer says why, and the raw IP socket carries the packets.

use std::fmt;
use std::net::IpAddr;

use futures::TryStreamExt;
use rtnetlink::packet_route::link::{LinkAttribute, LinkFlags, LinkLayerType};
use rtnetlink::packet_route::neighbour::{NeighbourAddress, NeighbourAttribute, NeighbourState};
use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute};
use rtnetlink::{Handle, RouteMessageBuilder};

use crate::wire::outer_frame::OuterFrame;

/// The link-layer path to one peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextHop {
    /// The route's output interface.
    pub ifindex: u32,
    /// That interface's MTU (bigger ESP packets take the raw socket, which fragments or
    /// reports them as the kernel does).
    pub mtu: u32,
    /// Headers for every packet to the peer.
    pub frame: OuterFrame,
}

/// Why the packet socket cannot reach a peer (the raw IP socket is used instead).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoFastPath {
    /// The netlink query failed.
    Netlink(String),
    /// No route, or a route without an output interface (blackhole, unreachable).
    NoRoute,
    /// The output interface is not Ethernet (a TUN, WireGuard, loopback, …).
    NotEthernet { ifindex: u32, kind: String },
    /// No usable neighbour entry for the next hop yet (the kernel resolves it when the raw
    /// socket sends; asked again later).
    NoNeighbour { ifindex: u32, next_hop: IpAddr },
}

impl fmt::Display for NoFastPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoFastPath::Netlink(e) => write!(f, "netlink query failed: {e}"),
            NoFastPath::NoRoute => f.write_str("no route with an output interface"),
            NoFastPath::NotEthernet { ifindex, kind } => {
                write!(f, "interface {ifindex} is {kind}, not Ethernet")
            }
            NoFastPath::NoNeighbour { ifindex, next_hop } => write!(
                f,
                "no resolved neighbour entry for next hop {next_hop} on interface {ifindex}"
            ),
        }
    }
}

fn netlink(e: rtnetlink::Error) -> NoFastPath {
    NoFastPath::Netlink(e.to_string())
}

/// Resolves the path from `src` to `dst` as the kernel would route a packet with `SO_MARK`
/// `mark` (the transport-mode bypass of the tunnel's own route needs it).
pub async fn resolve(
    handle: &Handle,
    src: IpAddr,
    dst: IpAddr,
    mark: Option<u32>,
) -> Result<NextHop, NoFastPath> {
    let (ifindex, next_hop) = route(handle, src, dst, mark).await?;
    let (src_mac, mtu) = link(handle, ifindex).await?;
    let dst_mac = neighbour(handle, ifindex, next_hop).await?;
    Ok(NextHop {
        ifindex,
        mtu,
        frame: OuterFrame {
            dst_mac,
            src_mac,
            src,
            dst,
        },
    })
}

/// The output interface and the next hop (the gateway, or `dst` itself when on-link).
async fn route(
    handle: &Handle,
    src: IpAddr,
    dst: IpAddr,
    mark: Option<u32>,
) -> Result<(u32, IpAddr), NoFastPath> {
    let bits = if dst.is_ipv4() { 32 } else { 128 };
    let mut b = RouteMessageBuilder::<IpAddr>::new()
        .destination_prefix(dst, bits)
        .and_then(|b| b.source_prefix(src, bits))
        .map_err(|e| NoFastPath::Netlink(e.to_string()))?;
    if let Some(m) = mark {
        b = b.mark(m);
    }
    let mut replies = handle.route().get(b.build()).execute();
    let msg = replies
        .try_next()
        .await
        .map_err(netlink)?
        .ok_or(NoFastPath::NoRoute)?;
    let mut oif = None;
    let mut gateway = None;
    for a in &msg.attributes {
        match a {
            RouteAttribute::Oif(i) => oif = Some(*i),
            RouteAttribute::Gateway(RouteAddress::Inet(g)) => gateway = Some(IpAddr::V4(*g)),
            RouteAttribute::Gateway(RouteAddress::Inet6(g)) => gateway = Some(IpAddr::V6(*g)),
            _ => {}
        }
    }
    let oif = oif.ok_or(NoFastPath::NoRoute)?;
    Ok((oif, gateway.unwrap_or(dst)))
}

/// The interface's MAC and MTU, if it is an Ethernet interface (not loopback).
async fn link(handle: &Handle, ifindex: u32) -> Result<([u8; 6], u32), NoFastPath> {
    let mut replies = handle.link().get().match_index(ifindex).execute();
    let msg = replies
        .try_next()
        .await
        .map_err(netlink)?
        .ok_or(NoFastPath::NoRoute)?;
    let not_ether = |kind: String| NoFastPath::NotEthernet { ifindex, kind };
    if msg.header.link_layer_type != LinkLayerType::Ether {
        return Err(not_ether(format!("{:?}", msg.header.link_layer_type)));
    }
    if msg.header.flags.contains(LinkFlags::Loopback) {
        return Err(not_ether("a loopback".into()));
    }
    let mut mac = None;
    let mut mtu = 1500;
    for a in &msg.attributes {
        match a {
            LinkAttribute::Address(m) => mac = <[u8; 6]>::try_from(m.as_slice()).ok(),
            LinkAttribute::Mtu(m) => mtu = *m,
            _ => {}
        }
    }
    let mac = mac.ok_or_else(|| not_ether("without a 6-byte address".into()))?;
    Ok((mac, mtu))
}

/// The next hop's MAC from a neighbour entry the kernel considers usable.
async fn neighbour(handle: &Handle, ifindex: u32, next_hop: IpAddr) -> Result<[u8; 6], NoFastPath> {
    let mut replies = handle.neighbours().get().execute();
    while let Some(msg) = replies.try_next().await.map_err(netlink)? {
        if msg.header.ifindex != ifindex || !usable(msg.header.state) {
            continue;
        }
        let mut dest = None;
        let mut mac = None;
        for a in &msg.attributes {
            match a {
                NeighbourAttribute::Destination(NeighbourAddress::Inet(d)) => {
                    dest = Some(IpAddr::V4(*d))
                }
                NeighbourAttribute::Destination(NeighbourAddress::Inet6(d)) => {
                    dest = Some(IpAddr::V6(*d))
                }
                NeighbourAttribute::LinkLayerAddress(m) => {
                    mac = <[u8; 6]>::try_from(m.as_slice()).ok()
                }
                _ => {}
            }
        }
        if let (Some(d), Some(m)) = (dest, mac) {
            if d == next_hop {
                return Ok(m);
            }
        }
    }
    Err(NoFastPath::NoNeighbour { ifindex, next_hop })
}

/// States whose link-layer address the kernel itself would send to (STALE and DELAY too: it
/// sends and re-confirms meanwhile; INCOMPLETE and FAILED have none).
fn usable(s: NeighbourState) -> bool {
    matches!(
        s,
        NeighbourState::Reachable
            | NeighbourState::Stale
            | NeighbourState::Delay
            | NeighbourState::Probe
            | NeighbourState::Permanent
            | NeighbourState::Noarp
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    /// Loopback is not Ethernet: no fast path, and the reason names the interface kind. (Read-only
    /// netlink queries: no root needed.)
    #[tokio::test]
    async fn loopback_peer_has_no_fast_path() {
        let (conn, handle, _) = rtnetlink::new_connection().expect("netlink");
        tokio::spawn(conn);
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let r = resolve(&handle, lo, lo, None).await;
        let Err(why @ NoFastPath::NotEthernet { .. }) = r else {
            panic!("expected NotEthernet, got {r:?}");
        };
        assert!(why.to_string().contains("not Ethernet"), "{why}");
    }
}
