//! Zero-copy, bounds-checked views and emitters for the packets the gateway handles.

/// Declares an open registry newtype: named constants, `name()`, `Debug` and `Display`; an
/// unknown value still parses (shared by the IKEv1 and IKEv2 registries, which stay apart).
macro_rules! open_enum {
    ($(#[$m:meta])* $name:ident($t:ty) { $($(#[$cm:meta])* $c:ident = $v:expr),* $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub $t);
        impl $name {
            $($(#[$cm])* pub const $c: $name = $name($v);)*
            /// The registry name of a known value.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($v => Some(stringify!($c)),)*
                    _ => None,
                }
            }
        }
        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                match self.name() {
                    Some(n) => write!(f, "{}", n),
                    None => write!(f, "{}({})", stringify!($name), self.0),
                }
            }
        }
        impl core::fmt::Display for $name {
            /// The registry spelling with hyphens (`NO-PROPOSAL-CHOSEN`), or the number.
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                match self.name() {
                    Some(n) => f.write_str(&n.replace('_', "-")),
                    None => write!(f, "{}", self.0),
                }
            }
        }
    };
}
/// Also for the registries outside `wire` (RADIUS in `ra::radius`).
pub(crate) use open_enum;

#[doc(hidden)]
pub mod fuzzing;
pub mod ikev2;
pub mod ip;
pub mod isakmp;
pub mod outer_frame;
pub mod tcp_mss;
pub mod udp_encap;
