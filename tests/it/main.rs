//! The integration tests, as one binary (one link instead of fifteen): each module drives the real
//! binary, the sandbox or the catalogue.
mod all_tools;
mod audit;
mod budget;
mod checkins;
mod cli;
mod common;
mod config_items;
mod config_once;
mod confirm;
mod connection;
mod defects;
mod files;
mod filters;
mod fleet;
mod fleet_changes;
mod http;
mod mcp;
mod packaging;
mod readme;
mod sandbox;
mod scope;
mod secrets;
mod streaming;
mod tls;
mod wire;
