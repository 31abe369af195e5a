//! Sign-in throttling per account and per address. STUB: the contract.
#![allow(unused_variables)]
use std::net::IpAddr;

/// Sans-IO: the caller passes the time (ms). Failures within a window lock the account (and,
/// more generously, the address) for a back-off that grows; a success clears the account.
#[derive(Debug, Default)]
pub struct Throttle {}

impl Throttle {
    /// `Err(retry_after_ms)` while `username` or `address` is locked out.
    pub fn check(&self, username: &str, address: IpAddr, now: i64) -> Result<(), i64> {
        todo!()
    }
    pub fn failed(&mut self, username: &str, address: IpAddr, now: i64) {
        todo!()
    }
    pub fn succeeded(&mut self, username: &str, address: IpAddr) {
        todo!()
    }
}
