//! TUN devices: one per tunnel interface, with virtio-net offloads (TSO/USO superpackets split
//! by tun-rs's GSO helpers on read, GRO coalescing on write) when the kernel offers them.

use std::io;
use std::sync::Arc;

use tun_rs::{AsyncDevice, DeviceBuilder};

/// Room reserved before each packet read from a TUN, for the outer headers we prepend in place
/// (virtio-net header, ESP header and IV). Must be ≥ [`tun_rs::VIRTIO_NET_HDR_LEN`].
pub const HEADROOM: usize = 64;

/// Packets the kernel queues for us to read before it drops (the TUN default is 500). A burst
/// of a gigabit of small UDP packets outruns a busy reader by more than that; 5000 packets of
/// queue is a few milliseconds at these rates and costs nothing while empty.
pub const TX_QUEUE_LEN: u32 = 5000;

/// An open TUN device and its index.
pub struct Tun {
    /// The device (shared by the reader and the writers).
    pub dev: Arc<AsyncDevice>,
    /// Kernel interface index, for routes.
    pub if_index: u32,
    /// Whether virtio-net offloads (and so GSO/GRO batches) are on.
    pub offload: bool,
}

/// Creates (and brings up) the TUN device `name` with `mtu`. Offloads are asked for and used
/// when the kernel accepts them; otherwise the device works packet by packet.
pub fn open(name: &str, mtu: u16) -> io::Result<Tun> {
    let build = |offload: bool| {
        DeviceBuilder::new()
            .name(name)
            .mtu(mtu)
            .offload(offload)
            .tx_queue_len(TX_QUEUE_LEN)
            .enable(true)
            .build_async()
    };
    let (dev, offload) = match build(true) {
        Ok(d) => (d, true),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => return Err(e),
        Err(_) => (build(false)?, false),
    };
    let if_index = dev.if_index()?;
    Ok(Tun {
        dev: Arc::new(dev),
        if_index,
        offload,
    })
}
