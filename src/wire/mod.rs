//! wire (under construction)
