//! Phase-1 authentication: which method a tunnel's policy uses.

use crate::ike::policy::IkePolicy;
use crate::ike::proposal::Phase1Auth;

/// The authentication method the policy proposes and accepts.
pub(crate) fn phase1_auth(_policy: &IkePolicy) -> Phase1Auth {
    Phase1Auth::Psk
}
