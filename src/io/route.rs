//! Routes through tunnel interfaces, installed and removed over rtnetlink (no `ip` commands).

use std::io;
use std::net::IpAddr;

use futures::TryStreamExt;
use rtnetlink::{Handle, RouteMessageBuilder};

use crate::config::Subnet;

/// A netlink handle (its connection task runs on the current tokio runtime).
pub struct Netlink {
    handle: Handle,
}

fn err(e: rtnetlink::Error) -> io::Error {
    io::Error::other(e.to_string())
}

/// `r`, with the kernel errors `fine` (positive errno values) counted as success: "already
/// there" for an add, "already gone" for a delete.
fn ok_unless(r: Result<(), rtnetlink::Error>, fine: &[i32]) -> io::Result<()> {
    match r {
        Ok(()) => Ok(()),
        Err(rtnetlink::Error::NetlinkError(e)) if fine.contains(&-e.raw_code()) => Ok(()),
        Err(e) => Err(err(e)),
    }
}

/// The `main` routing table.
const MAIN_TABLE: u32 = 254;

impl Netlink {
    /// Opens a netlink connection in the current network namespace.
    pub fn new() -> io::Result<Netlink> {
        let (conn, handle, _) = rtnetlink::new_connection()?;
        tokio::spawn(conn);
        Ok(Netlink { handle })
    }

    fn message(
        dest: Subnet,
        if_index: u32,
        source: Option<IpAddr>,
        table: u32,
    ) -> rtnetlink::packet_route::route::RouteMessage {
        match dest.addr() {
            IpAddr::V4(a) => {
                let mut b = RouteMessageBuilder::<std::net::Ipv4Addr>::new()
                    .destination_prefix(a, dest.prefix())
                    .output_interface(if_index)
                    .table_id(table);
                if let Some(IpAddr::V4(s)) = source {
                    b = b.pref_source(s);
                }
                b.build()
            }
            IpAddr::V6(a) => {
                let mut b = RouteMessageBuilder::<std::net::Ipv6Addr>::new()
                    .destination_prefix(a, dest.prefix())
                    .output_interface(if_index)
                    .table_id(table);
                if let Some(IpAddr::V6(s)) = source {
                    b = b.pref_source(s);
                }
                b.build()
            }
        }
    }

    /// Adds (or replaces) a route to `dest` through the interface `if_index`.
    pub async fn add_route(
        &self,
        dest: Subnet,
        if_index: u32,
        source: Option<IpAddr>,
    ) -> io::Result<()> {
        self.handle
            .route()
            .add(Self::message(dest, if_index, source, MAIN_TABLE))
            .replace()
            .execute()
            .await
            .map_err(err)
    }

    /// Removes the route (ignores "no such route": the kernel drops routes with their device).
    pub async fn del_route(&self, dest: Subnet, if_index: u32) -> io::Result<()> {
        let msg = Self::message(dest, if_index, None, MAIN_TABLE);
        ok_unless(self.handle.route().del(msg).execute().await, &[libc::ESRCH])
    }

    /// Index of a link by name, if it exists.
    pub async fn link_index(&self, name: &str) -> io::Result<Option<u32>> {
        let mut links = self
            .handle
            .link()
            .get()
            .match_name(name.to_string())
            .execute();
        match links.try_next().await {
            Ok(Some(l)) => Ok(Some(l.header.index)),
            Ok(None) => Ok(None),
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -libc::ENODEV => Ok(None),
            Err(e) => Err(err(e)),
        }
    }
}

impl Netlink {
    /// Deletes the links `if_indices` in one kernel batch: they are put in a link group no other
    /// link of this namespace is in, and the group is deleted with one `RTM_DELLINK`. Closing a
    /// TUN device's descriptor unregisters it alone, with an RCU grace period and a walk of the
    /// IPv6 routing table each (≈ 20 ms here: 2,000 devices took 40 s); one batch of 1,000 takes
    /// 0.4 s. `group` is the group to try; when another link has it already, nothing is deleted
    /// (the caller's descriptors then take the devices down one by one, as before).
    pub async fn delete_links(&self, if_indices: &[u32], group: u32) -> io::Result<()> {
        use rtnetlink::packet_route::link::LinkAttribute;
        use rtnetlink::LinkUnspec;
        if if_indices.is_empty() {
            return Ok(());
        }
        let mut links = self.handle.link().get().execute();
        while let Some(l) = links.try_next().await.map_err(err)? {
            if l.attributes.contains(&LinkAttribute::Group(group)) {
                return Err(io::Error::other(format!(
                    "link group {group} is in use (link index {})",
                    l.header.index
                )));
            }
        }
        for &i in if_indices {
            let msg = LinkUnspec::new_with_index(i).link_group(group).build();
            // A device already gone is fine.
            ok_unless(self.handle.link().set(msg).execute().await, &[libc::ENODEV])?;
        }
        let mut group_msg = LinkUnspec::new_with_index(0).build();
        group_msg.attributes.push(LinkAttribute::Group(group));
        self.handle
            .link()
            .del_with_message(group_msg)
            .execute()
            .await
            .map_err(err)
    }
}

/// Policy routing of transport-mode tunnels (no kernel XFRM): the traffic of this host to a
/// transport-mode peer must enter the TUN, while ikegate's own IKE and ESP packets to the same
/// address must not. ikegate's sockets carry [`TRANSPORT_FWMARK`] (`SO_MARK`); the rule
/// `not fwmark TRANSPORT_FWMARK lookup TRANSPORT_TABLE` (priority [`TRANSPORT_RULE_PRIORITY`])
/// sends everything else to [`TRANSPORT_TABLE`], which holds `PEER/32 dev TUN src LOCAL` per
/// transport-mode tunnel. Inspect with `ip rule`, `ip route show table 4500` (and `-6`).
pub const TRANSPORT_FWMARK: u32 = 0x4500;
/// The routing table of the transport-mode peers (see [`TRANSPORT_FWMARK`]).
pub const TRANSPORT_TABLE: u32 = 4500;
/// Priority of the rule, before `main` (32766).
pub const TRANSPORT_RULE_PRIORITY: u32 = 4500;

impl Netlink {
    fn transport_rule(&self, v6: bool) -> rtnetlink::packet_route::rule::RuleMessage {
        use rtnetlink::packet_route::rule::{RuleAction, RuleFlags};
        use rtnetlink::packet_route::AddressFamily;
        let mut msg = self
            .handle
            .rule()
            .add()
            .v4()
            .table_id(TRANSPORT_TABLE)
            .priority(TRANSPORT_RULE_PRIORITY)
            .fw_mark(TRANSPORT_FWMARK)
            .action(RuleAction::ToTable)
            .message_mut()
            .clone();
        if v6 {
            msg.header.family = AddressFamily::Inet6;
        }
        msg.header.flags = RuleFlags::Invert;
        msg
    }

    /// Adds the rule `not fwmark TRANSPORT_FWMARK lookup TRANSPORT_TABLE` for one family; an
    /// existing identical rule (a previous run, another tunnel) is fine.
    pub async fn add_transport_rule(&self, v6: bool) -> io::Result<()> {
        let mut req = self.handle.rule().add();
        *req.message_mut() = self.transport_rule(v6);
        ok_unless(req.execute().await, &[libc::EEXIST])
    }

    /// Removes that rule (a rule already gone is fine).
    pub async fn del_transport_rule(&self, v6: bool) -> io::Result<()> {
        let req = self.handle.rule().del(self.transport_rule(v6));
        ok_unless(req.execute().await, &[libc::ENOENT, libc::ESRCH])
    }

    fn peer_route(
        peer: IpAddr,
        if_index: u32,
        local: IpAddr,
    ) -> rtnetlink::packet_route::route::RouteMessage {
        Self::message(Subnet::host(peer), if_index, Some(local), TRANSPORT_TABLE)
    }

    /// Adds (or replaces) `peer dev TUN src local` in [`TRANSPORT_TABLE`].
    pub async fn add_peer_route(
        &self,
        peer: IpAddr,
        if_index: u32,
        local: IpAddr,
    ) -> io::Result<()> {
        self.handle
            .route()
            .add(Self::peer_route(peer, if_index, local))
            .replace()
            .execute()
            .await
            .map_err(err)
    }

    /// Removes that route (already gone is fine: the kernel drops it with the device).
    pub async fn del_peer_route(
        &self,
        peer: IpAddr,
        if_index: u32,
        local: IpAddr,
    ) -> io::Result<()> {
        let req = self
            .handle
            .route()
            .del(Self::peer_route(peer, if_index, local));
        ok_unless(req.execute().await, &[libc::ESRCH, libc::ENODEV])
    }
}
