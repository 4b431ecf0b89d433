//! The responder's side of the configuration payload for remote access (RFC 7296 §2.19,
//! §3.15): what a client's CFG_REQUEST asks for, the CFG_REPLY with its lease, DNS servers and
//! split-include networks, and the traffic selectors narrowed to its virtual address.

use std::net::IpAddr;

use crate::config::RemoteAccessConfig;
use crate::ike::policy::Subnet;
use crate::ra::Lease;
use crate::wire::ikev2::{CfgType, CpAttribute, CpAttributeType, CpRepr, NotifyType};

/// Which virtual addresses a client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AddressRequest {
    /// INTERNAL_IP4_ADDRESS was requested.
    pub ipv4: bool,
    /// INTERNAL_IP6_ADDRESS was requested.
    pub ipv6: bool,
    /// INTERNAL_IP4_DNS / INTERNAL_IP6_DNS were requested (per family).
    pub dns4: bool,
    /// INTERNAL_IP6_DNS was requested.
    pub dns6: bool,
}

/// Reads the client's CP payload. A remote-access client must send a CFG_REQUEST for an
/// address the pool has; otherwise the answer is FAILED_CP_REQUIRED (RFC 7296 §3.10.1), with
/// the reason in words for our log.
pub fn address_request(
    cp: Option<&CpRepr<'_>>,
    ra: &RemoteAccessConfig,
) -> Result<AddressRequest, (NotifyType, String)> {
    let Some(cp) = cp.filter(|c| c.cfg_type == CfgType::REQUEST) else {
        return Err((
            NotifyType::FAILED_CP_REQUIRED,
            "the client asked for no virtual address (no CFG_REQUEST in IKE_AUTH); configure it \
             to request one (strongSwan: `vips = 0.0.0.0`)"
                .into(),
        ));
    };
    let has = |t: CpAttributeType| cp.attributes.iter().any(|a| a.kind == t);
    let r = AddressRequest {
        ipv4: has(CpAttributeType::INTERNAL_IP4_ADDRESS) && ra.pool_ipv4.is_some(),
        ipv6: has(CpAttributeType::INTERNAL_IP6_ADDRESS) && ra.pool_ipv6.is_some(),
        dns4: has(CpAttributeType::INTERNAL_IP4_DNS),
        dns6: has(CpAttributeType::INTERNAL_IP6_DNS),
    };
    if !r.ipv4 && !r.ipv6 {
        let pool = [ra.pool_ipv4, ra.pool_ipv6]
            .iter()
            .flatten()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(" and ");
        return Err((
            NotifyType::FAILED_CP_REQUIRED,
            format!(
                "the client's CFG_REQUEST asks for no address family the pool has (pool: \
                 {pool}); ask for an address of that family (strongSwan: `vips = 0.0.0.0` or \
                 `::`)"
            ),
        ));
    }
    Ok(r)
}

/// The CFG_REPLY attribute values for `lease` (owned; [`CfgReply::repr`] borrows them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CfgReply {
    attributes: Vec<(CpAttributeType, Vec<u8>)>,
}

impl CfgReply {
    /// Builds the reply: the requested addresses of the lease (with the IPv4 netmask of the
    /// pool), the configured DNS servers of the requested families (all of them when the
    /// client asked for none), and one INTERNAL_IP4/6_SUBNET per split-include network.
    pub fn new(req: AddressRequest, lease: &Lease, ra: &RemoteAccessConfig) -> CfgReply {
        let mut a = Vec::new();
        if let (true, Some(ip), Some(pool)) = (req.ipv4, lease.ipv4, ra.pool_ipv4) {
            a.push((CpAttributeType::INTERNAL_IP4_ADDRESS, ip.octets().to_vec()));
            a.push((CpAttributeType::INTERNAL_IP4_NETMASK, pool.mask_bytes()));
        }
        if let (true, Some(ip), Some(pool)) = (req.ipv6, lease.ipv6, ra.pool_ipv6) {
            let mut v = ip.octets().to_vec();
            v.push(pool.prefix());
            a.push((CpAttributeType::INTERNAL_IP6_ADDRESS, v));
        }
        let any_dns = !req.dns4 && !req.dns6;
        for d in &ra.dns {
            match d {
                IpAddr::V4(v) if req.dns4 || any_dns => {
                    a.push((CpAttributeType::INTERNAL_IP4_DNS, v.octets().to_vec()))
                }
                IpAddr::V6(v) if req.dns6 || any_dns => {
                    a.push((CpAttributeType::INTERNAL_IP6_DNS, v.octets().to_vec()))
                }
                _ => {}
            }
        }
        for s in &ra.split_include {
            let mut v = match s.addr() {
                IpAddr::V4(n) => n.octets().to_vec(),
                IpAddr::V6(n) => n.octets().to_vec(),
            };
            let kind = if s.addr().is_ipv4() {
                v.extend_from_slice(&s.mask_bytes());
                CpAttributeType::INTERNAL_IP4_SUBNET
            } else {
                v.push(s.prefix());
                CpAttributeType::INTERNAL_IP6_SUBNET
            };
            a.push((kind, v));
        }
        CfgReply { attributes: a }
    }

    /// The CP payload to emit.
    pub fn repr(&self) -> CpRepr<'_> {
        CpRepr {
            cfg_type: CfgType::REPLY,
            attributes: self
                .attributes
                .iter()
                .map(|(kind, value)| CpAttribute { kind: *kind, value })
                .collect(),
        }
    }
}

/// The traffic selectors of a remote-access child: the client's side narrowed to its virtual
/// addresses, ours to the split-include networks (everything when none are configured), by
/// the families the client got an address of. Returns `(client side, our side)`.
pub fn narrowed_selectors(
    lease: &Lease,
    req: AddressRequest,
    ra: &RemoteAccessConfig,
) -> (Vec<Subnet>, Vec<Subnet>) {
    let mut client = Vec::new();
    let mut ours = Vec::new();
    let families = [
        (req.ipv4, lease.ipv4.map(IpAddr::V4), true),
        (req.ipv6, lease.ipv6.map(IpAddr::V6), false),
    ];
    for (wanted, ip, v4) in families {
        let (true, Some(ip)) = (wanted, ip) else {
            continue;
        };
        client.push(Subnet::host(ip));
        let split: Vec<Subnet> = ra
            .split_include
            .iter()
            .filter(|s| s.addr().is_ipv4() == v4)
            .copied()
            .collect();
        if split.is_empty() {
            let any = if v4 {
                Subnet::any_v4()
            } else {
                Subnet::new(IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED), 0)
            };
            ours.push(any);
        } else {
            ours.extend(split);
        }
    }
    (client, ours)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RaAuth;
    use crate::wire::ikev2::PayloadRepr;

    fn ra() -> RemoteAccessConfig {
        RemoteAccessConfig {
            pool_ipv4: Some("10.8.0.0/24".parse().unwrap()),
            pool_ipv6: Some("fd00:8::/112".parse().unwrap()),
            dns: vec!["10.8.0.53".parse().unwrap(), "fd00:8::53".parse().unwrap()],
            split_include: vec!["192.168.1.0/24".parse().unwrap()],
            auth: vec![RaAuth::Psk],
            users: None,
            mode_cfg: None,
        }
    }

    fn lease() -> Lease {
        Lease {
            offset: 4,
            ipv4: Some("10.8.0.5".parse().unwrap()),
            ipv6: Some("fd00:8::5".parse().unwrap()),
        }
    }

    #[test]
    fn strongswan_vips_request_gets_address_dns_and_split() {
        // What charon sends with `vips = 0.0.0.0`: IP4 address, IP4 DNS and IP6 DNS, all empty.
        let req_bytes = [1, 0, 0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0, 10, 0, 0];
        let cp = CpRepr::parse(&req_bytes).unwrap();
        let req = address_request(Some(&cp), &ra()).unwrap();
        assert_eq!(
            req,
            AddressRequest {
                ipv4: true,
                ipv6: false,
                dns4: true,
                dns6: true
            }
        );
        let reply = CfgReply::new(req, &lease(), &ra());
        let r = reply.repr();
        let mut out = vec![0u8; r.buffer_len()];
        r.emit(&mut out).unwrap();
        assert_eq!(
            out,
            [
                2, 0, 0, 0, // CFG_REPLY
                0, 1, 0, 4, 10, 8, 0, 5, // INTERNAL_IP4_ADDRESS 10.8.0.5
                0, 2, 0, 4, 255, 255, 255, 0, // INTERNAL_IP4_NETMASK
                0, 3, 0, 4, 10, 8, 0, 53, // INTERNAL_IP4_DNS
                0, 10, 0, 16, 0xfd, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x53, // IP6 DNS
                0, 13, 0, 8, 192, 168, 1, 0, 255, 255, 255, 0, // INTERNAL_IP4_SUBNET
            ]
        );
        let (client, ours) = narrowed_selectors(&lease(), req, &ra());
        assert_eq!(client, vec![Subnet::host("10.8.0.5".parse().unwrap())]);
        assert_eq!(ours, vec!["192.168.1.0/24".parse().unwrap()]);
    }

    #[test]
    fn ipv6_address_and_no_split_means_everything() {
        let mut cfg = ra();
        cfg.split_include.clear();
        let req_bytes = [1, 0, 0, 0, 0, 8, 0, 0];
        let cp = CpRepr::parse(&req_bytes).unwrap();
        let req = address_request(Some(&cp), &cfg).unwrap();
        let reply = CfgReply::new(req, &lease(), &cfg);
        let r = reply.repr();
        assert_eq!(r.attributes[0].kind, CpAttributeType::INTERNAL_IP6_ADDRESS);
        assert_eq!(r.attributes[0].value.len(), 17);
        assert_eq!(r.attributes[0].value[16], 112);
        // No DNS family asked: all configured servers.
        assert_eq!(r.attributes.len(), 3);
        let (client, ours) = narrowed_selectors(&lease(), req, &cfg);
        assert_eq!(client, vec![Subnet::host("fd00:8::5".parse().unwrap())]);
        assert_eq!(ours[0].prefix(), 0);
        assert!(ours[0].addr().is_ipv6());
    }

    #[test]
    fn missing_or_useless_requests_say_why() {
        let (n, why) = address_request(None, &ra()).unwrap_err();
        assert_eq!(n, NotifyType::FAILED_CP_REQUIRED);
        assert!(why.contains("vips = 0.0.0.0"), "{why}");
        let mut v4_only = ra();
        v4_only.pool_ipv6 = None;
        let req_bytes = [1, 0, 0, 0, 0, 8, 0, 0];
        let cp = CpRepr::parse(&req_bytes).unwrap();
        let (_, why) = address_request(Some(&cp), &v4_only).unwrap_err();
        assert!(why.contains("pool: 10.8.0.0/24"), "{why}");
    }
}
