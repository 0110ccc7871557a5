//! Which tools a server exposes: `--read-only`, `--no-destructive`, `--toolsets`, `--tools`,
//! `--exclude-tools`, all derived from each row's risk class and toolset.
use crate::call::{Risk, Toolset};
use clap::ValueEnum;

#[derive(Debug, Default, Clone, clap::Args)]
pub struct ToolFilter {
    /// Expose only read tools. Wins over every allow-list.
    #[arg(long, global = true)]
    pub read_only: bool,
    /// Leave out destructive tools.
    #[arg(long, global = true)]
    pub no_destructive: bool,
    /// Expose only these toolsets (comma-separated): organizations, locations, machines, logs,
    /// fragments, access, registry, keys, or all.
    #[arg(long, global = true, value_delimiter = ',')]
    pub toolsets: Vec<String>,
    /// Expose only these tools (comma-separated); added to --toolsets.
    #[arg(long, global = true, value_delimiter = ',')]
    pub tools: Vec<String>,
    /// Never expose these tools (comma-separated). Wins over every allow-list.
    #[arg(long, global = true, value_delimiter = ',')]
    pub exclude_tools: Vec<String>,
}

/// What the filter needs to know of a tool.
#[derive(Debug, Clone, Copy)]
pub struct Listed {
    pub name: &'static str,
    pub risk: Risk,
    pub toolset: Toolset,
}

impl ToolFilter {
    /// The indices into `tools` this filter exposes, in order. An unknown tool or toolset name
    /// is an error with a did-you-mean.
    pub fn select(&self, tools: &[Listed]) -> Result<Vec<usize>, String> {
        let names: Vec<&str> = tools.iter().map(|t| t.name).collect();
        for name in self.tools.iter().chain(&self.exclude_tools) {
            if !names.contains(&name.as_str()) {
                return Err(unknown("tool", name, &names));
            }
        }
        let mut toolsets = Vec::new();
        for name in &self.toolsets {
            match Toolset::from_str(name, false) {
                Ok(toolset) => toolsets.push(toolset),
                Err(_) if name == "all" => toolsets.extend(Toolset::value_variants()),
                Err(_) => {
                    let known: Vec<String> = Toolset::value_variants()
                        .iter()
                        .filter_map(|t| t.to_possible_value().map(|v| v.get_name().to_string()))
                        .chain(["all".to_string()])
                        .collect();
                    return Err(unknown("toolset", name, &known.iter().map(String::as_str).collect::<Vec<_>>()));
                }
            }
        }
        let allow_all = self.toolsets.is_empty() && self.tools.is_empty();
        Ok(tools
            .iter()
            .enumerate()
            .filter(|(_, tool)| {
                allow_all || toolsets.contains(&tool.toolset) || self.tools.iter().any(|t| t == tool.name)
            })
            .filter(|(_, tool)| !self.exclude_tools.iter().any(|t| t == tool.name))
            .filter(|(_, tool)| !self.read_only || tool.risk == Risk::Read)
            .filter(|(_, tool)| !self.no_destructive || tool.risk != Risk::Destructive)
            .map(|(i, _)| i)
            .collect())
    }
}

fn unknown(kind: &str, name: &str, known: &[&str]) -> String {
    match closest(name, known) {
        Some(k) => format!("unknown {kind} {name:?}; did you mean {k:?}?"),
        None => format!("unknown {kind} {name:?}; known: {}", known.join(", ")),
    }
}

/// The known name nearest to `name`, when it is near enough to be what was meant.
pub fn closest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    let distance = |k: &str| strsim::levenshtein(name, k);
    known.iter().copied().min_by_key(|k| distance(k)).filter(|k| distance(k) <= name.len() / 2 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(name: &'static str, risk: Risk, toolset: Toolset) -> Listed {
        Listed { name, risk, toolset }
    }

    fn tools() -> Vec<Listed> {
        vec![
            tool("list_robots", Risk::Read, Toolset::Machines),
            tool("new_robot", Risk::Additive, Toolset::Machines),
            tool("delete_robot", Risk::Destructive, Toolset::Machines),
            tool("list_keys", Risk::Read, Toolset::Keys),
            tool("rotate_key", Risk::Destructive, Toolset::Keys),
        ]
    }

    fn names(filter: ToolFilter) -> Vec<&'static str> {
        let tools = tools();
        filter.select(&tools).unwrap().into_iter().map(|i| tools[i].name).collect()
    }

    #[test]
    fn read_only_wins_over_allow_lists() {
        let exposed = names(ToolFilter { read_only: true, tools: vec!["delete_robot".into()], ..Default::default() });
        assert!(exposed.is_empty());
        assert_eq!(names(ToolFilter { read_only: true, ..Default::default() }), ["list_robots", "list_keys"]);
    }

    #[test]
    fn toolsets_tools_and_excludes_combine() {
        let filter = ToolFilter {
            toolsets: vec!["keys".into()],
            tools: vec!["list_robots".into()],
            exclude_tools: vec!["rotate_key".into(), "list_robots".into()],
            ..Default::default()
        };
        assert_eq!(names(filter), ["list_keys"]);
        assert_eq!(names(ToolFilter { toolsets: vec!["all".into()], ..Default::default() }).len(), 5);
        let safe = names(ToolFilter { no_destructive: true, ..Default::default() });
        assert_eq!(safe, ["list_robots", "new_robot", "list_keys"]);
    }

    #[test]
    fn unknown_names_get_a_suggestion() {
        let err = ToolFilter { tools: vec!["list_robot".into()], ..Default::default() }.select(&tools()).unwrap_err();
        assert!(err.contains("did you mean \"list_robots\""), "{err}");
        let err = ToolFilter { toolsets: vec!["machine".into()], ..Default::default() }.select(&tools()).unwrap_err();
        assert!(err.contains("did you mean \"machines\""), "{err}");
    }
}
