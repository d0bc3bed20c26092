//! Helpers shared by the integration tests. Each test file pulls in what it needs with
//! `mod common;`; unused helpers are expected.
#![allow(dead_code)]

pub mod fraud;
pub mod isa;
pub mod st;
