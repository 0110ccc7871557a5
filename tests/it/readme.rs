//! The README's tool table is generated from the catalogue; this keeps the two in sync.
//! `UPDATE_README=1 cargo test --test it readme::` rewrites it.
use viam_fleet_mcp::tools::catalogue;

const README: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
const BEGIN: &str = "<!-- tools:begin -->\n";
const END: &str = "<!-- tools:end -->";

#[test]
fn readme_tool_table_matches_the_catalogue() {
    let readme = std::fs::read_to_string(README).unwrap();
    let start = readme.find(BEGIN).expect("tools:begin marker") + BEGIN.len();
    let end = readme.find(END).expect("tools:end marker");
    let table = catalogue().markdown_table();
    if std::env::var_os("UPDATE_README").is_some() {
        std::fs::write(README, format!("{}{table}{}", &readme[..start], &readme[end..])).unwrap();
        return;
    }
    assert!(
        readme[start..end] == table,
        "the README's tool table is stale: run UPDATE_README=1 cargo test --test readme"
    );
}
