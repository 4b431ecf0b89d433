//! ike (under construction)
