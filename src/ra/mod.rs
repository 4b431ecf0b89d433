//! Remote access: the user directory behind XAUTH and EAP (RADIUS), MS-CHAPv2 maths and the
//! slowing-down of repeated login failures.

pub mod mschapv2;
pub mod radius;
pub mod throttle;
