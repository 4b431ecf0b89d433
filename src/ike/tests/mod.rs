//! Engine tests: two engines on a virtual clock, failures with their diagnostics, fuzzing.

mod aggressive;
mod certificates;
mod failures;
mod fragments;
mod fuzz;
mod lifecycle;
mod negotiation;
pub(crate) mod pair;
mod transport;
