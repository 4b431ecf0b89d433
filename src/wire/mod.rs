//! Wire formats: zero-copy, bounds-checked views and emitters.

pub mod isakmp;
