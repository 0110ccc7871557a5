pub mod connection;
pub mod error;
pub mod proto;
pub mod proto_json;
pub mod safety;
pub mod sandbox;
pub mod server;
pub mod tools;
