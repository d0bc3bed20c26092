//! The seed's systems end to end (SPEC §4), each usable with one call per request.

pub mod ctr;
pub mod fraud;
pub mod recommend;
pub mod retrieval;
pub mod search;
