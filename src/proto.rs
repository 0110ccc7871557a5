//! Generated protobuf and gRPC code, plus the descriptor pool behind the proto3 JSON path.
#![allow(clippy::all, missing_docs)]

pub mod viam {
    pub mod app {
        pub mod v1 {
            tonic::include_proto!("viam.app.v1");
        }
        pub mod packages {
            pub mod v1 {
                tonic::include_proto!("viam.app.packages.v1");
            }
        }
        pub mod mltraining {
            pub mod v1 {
                tonic::include_proto!("viam.app.mltraining.v1");
            }
        }
    }
    pub mod common {
        pub mod v1 {
            tonic::include_proto!("viam.common.v1");
        }
    }
}

pub mod rpc {
    pub mod v1 {
        tonic::include_proto!("proto.rpc.v1");
    }
}

pub const DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/descriptor.bin"));

/// Ties a request message to its gRPC method: the path and the response type are derived from
/// the service definition in `build.rs`, so handlers only build requests.
pub trait Rpc: prost::Message + prost::Name + Clone + Default + Send + Sync + 'static {
    type Response: prost::Message + prost::Name + Default + Send + Sync + 'static;
    const PATH: &'static str;

    /// The method name, e.g. `GetRobot`.
    fn method() -> &'static str {
        Self::PATH.rsplit('/').next().unwrap_or(Self::PATH)
    }
}

include!(concat!(env!("OUT_DIR"), "/rpcs.rs"));
