pub mod proto;
pub mod sandbox;
