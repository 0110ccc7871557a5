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
