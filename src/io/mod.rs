//! io (under construction)
