//! Fieldbook sync server: durable storage, the sync actor, and the HTTP/WebSocket front.
pub mod access;
pub mod accounts;
pub mod api;
pub mod caseload;
pub mod config;
pub mod dataset;
pub mod demo;
pub mod feed;
pub mod http;
pub mod lone;
pub mod pg;
pub mod storage;
pub mod sync_actor;
pub mod transport;
pub mod watch_access;
