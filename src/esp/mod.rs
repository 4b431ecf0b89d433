//! esp (under construction)
