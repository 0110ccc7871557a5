//! The README's tool, prompt and template tables and the demo-seed table of `docs/sandbox.md` are
//! generated, from the catalogue, the prompts, the templates and the seed; this keeps them in sync.
//! `UPDATE_README=1 cargo test --test it readme::` rewrites them.
use viam_fleet_mcp::sandbox::demo_table;
use viam_fleet_mcp::surface::{prompts, resources};
use viam_fleet_mcp::tools::catalogue;

const README: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
const SANDBOX_DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/sandbox.md");

/// Checks (or, with UPDATE_README, rewrites) the README between `<!-- NAME:begin -->` and
/// `<!-- NAME:end -->`.
fn generated_section(name: &str, expected: &str) {
    generated_section_of(README, name, expected);
}

/// The same, in the document at `path`.
fn generated_section_of(path: &str, name: &str, expected: &str) {
    let (begin, end) = (format!("<!-- {name}:begin -->\n"), format!("<!-- {name}:end -->"));
    let readme = std::fs::read_to_string(path).unwrap();
    let start = readme.find(&begin).unwrap_or_else(|| panic!("{begin} marker")) + begin.len();
    let stop = readme.find(&end).unwrap_or_else(|| panic!("{end} marker"));
    if std::env::var_os("UPDATE_README").is_some() {
        std::fs::write(path, format!("{}{expected}{}", &readme[..start], &readme[stop..])).unwrap();
        return;
    }
    assert!(
        readme[start..stop] == *expected,
        "{path}: the {name} table is stale: run UPDATE_README=1 cargo test --test it readme::"
    );
}

#[test]
fn readme_tool_table_matches_the_catalogue() {
    generated_section("tools", &catalogue().markdown_table());
}

#[test]
fn readme_prompt_and_template_tables_match_the_declarations() {
    generated_section("prompts", &prompts::markdown_table());
    generated_section("templates", &resources::markdown_table());
}

#[test]
fn readme_seed_table_matches_the_seed() {
    let table = demo_table();
    // What the examples above the table rely on.
    for name in ["`rover-1`", "`arm-station`", "`test-bench`", "Warehouse", "`demo-robotics:wheel-odometry`"] {
        assert!(table.contains(name), "{name} in\n{table}");
    }
    generated_section_of(SANDBOX_DOC, "seed", &table);
}
