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
    ) -> rtnetlink::packet_route::route::RouteMessage {
        match dest.addr() {
            IpAddr::V4(a) => {
                let mut b = RouteMessageBuilder::<std::net::Ipv4Addr>::new()
                    .destination_prefix(a, dest.prefix())
                    .output_interface(if_index);
                if let Some(IpAddr::V4(s)) = source {
                    b = b.pref_source(s);
                }
                b.build()
            }
            IpAddr::V6(a) => {
                let mut b = RouteMessageBuilder::<std::net::Ipv6Addr>::new()
                    .destination_prefix(a, dest.prefix())
                    .output_interface(if_index);
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
            .add(Self::message(dest, if_index, source))
            .replace()
            .execute()
            .await
            .map_err(err)
    }

    /// Removes the route (ignores "no such route": the kernel drops routes with their device).
    pub async fn del_route(&self, dest: Subnet, if_index: u32) -> io::Result<()> {
        match self
            .handle
            .route()
            .del(Self::message(dest, if_index, None))
            .execute()
            .await
        {
            Ok(()) => Ok(()),
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -libc::ESRCH => Ok(()),
            Err(e) => Err(err(e)),
        }
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
