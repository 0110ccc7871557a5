//! Where configs sit in Viam's messages: shared by the proto → JSON walk (`proto_json`) and by the
//! output schemas `build.rs` derives (`output_schema.rs`), which leave out what the walk never writes.

/// Each config once (issue 7): a part or fragment carries its config as one JSON object, in its
/// `Struct` field (`kept`), taken from the first of these that holds a JSON object: the config text
/// its response carries beside it (see [`HANDED_DOWN`]), its own `*_config_json` text (`text`;
/// texts keep integers exact), its `Struct`. The texts are not written. (message, kept, text)
pub const CONFIGS: [(&str, &str, &str); 2] = [
    ("viam.app.v1.RobotPart", "robot_config", "robot_config_json"),
    ("viam.app.v1.Fragment", "fragment", "fragment_config_json"),
];

/// A config a message carries beside the part or fragment it belongs to: (message, field, child).
/// A text is the child's first choice and a `Struct` its last; it is not written itself, except a
/// `Struct` when the child is absent. No config text is ever written, so redaction need not parse
/// one.
pub const HANDED_DOWN: [(&str, &str, &str); 2] = [
    ("viam.app.v1.GetRobotPartResponse", "config_json", "part"),
    ("viam.app.v1.FragmentHistoryEntry", "config", "old"),
];
