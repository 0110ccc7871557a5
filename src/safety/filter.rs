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

/// A filter whose every name was found: the tools it exposes, and why it hides each other one.
#[derive(Debug, Clone)]
pub struct Selection {
    /// The indices of the exposed tools, in order.
    pub exposed: Vec<usize>,
    filter: ToolFilter,
    toolsets: Vec<Toolset>,
}

impl ToolFilter {
    /// What this filter exposes of `tools`. An unknown tool or toolset name is an error with a
    /// did-you-mean.
    pub fn select(&self, tools: &[Listed]) -> Result<Selection, String> {
        let names: Vec<&str> = tools.iter().map(|t| t.name).collect();
        for (flag, list) in [("--tools", &self.tools), ("--exclude-tools", &self.exclude_tools)] {
            if let Some(name) = list.iter().find(|name| !names.contains(&name.as_str())) {
                return Err(format!("{flag}: {}", unknown("tool", name, &names)));
            }
        }
        let mut toolsets = Vec::new();
        for name in &self.toolsets {
            match Toolset::from_str(name, false) {
                Ok(toolset) => toolsets.push(toolset),
                Err(_) if name == "all" => toolsets.extend(Toolset::value_variants()),
                Err(_) => {
                    let known: Vec<String> =
                        Toolset::value_variants().iter().map(|&t| toolset_name(t)).chain(["all".into()]).collect();
                    return Err(format!(
                        "--toolsets: {}",
                        unknown("toolset", name, &known.iter().map(String::as_str).collect::<Vec<_>>())
                    ));
                }
            }
        }
        let mut selection = Selection { exposed: Vec::new(), filter: self.clone(), toolsets };
        selection.exposed = (0..tools.len()).filter(|&i| selection.hidden_by(&tools[i]).is_none()).collect();
        Ok(selection)
    }
}

impl Selection {
    /// The flag that hides `tool`, or `None` when it is exposed.
    pub fn hidden_by(&self, tool: &Listed) -> Option<String> {
        let filter = &self.filter;
        if filter.read_only && tool.risk != Risk::Read {
            return Some("--read-only".into());
        }
        if filter.no_destructive && tool.risk == Risk::Destructive {
            return Some("--no-destructive".into());
        }
        if filter.exclude_tools.iter().any(|t| t == tool.name) {
            return Some("--exclude-tools".into());
        }
        let allowed = filter.toolsets.is_empty() && filter.tools.is_empty()
            || self.toolsets.contains(&tool.toolset)
            || filter.tools.iter().any(|t| t == tool.name);
        if allowed {
            return None;
        }
        let lists = [("--toolsets", &filter.toolsets), ("--tools", &filter.tools)];
        let given: Vec<String> = lists
            .iter()
            .filter(|(_, list)| !list.is_empty())
            .map(|(flag, list)| format!("{flag} {}", list.join(",")))
            .collect();
        Some(format!("{} (it is in the {} toolset)", given.join(" "), toolset_name(tool.toolset)))
    }
}

fn toolset_name(toolset: Toolset) -> String {
    toolset.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default()
}

/// An error for a name that is not one of `known`: the closest known name, or all of them.
pub fn unknown(kind: &str, name: &str, known: &[&str]) -> String {
    match closest(name, known) {
        Some(k) => format!("unknown {kind} {name:?}; did you mean {k:?}?"),
        None => format!("unknown {kind} {name:?}; known: {}", known.join(", ")),
    }
}

/// The known name nearest `name`, if it is near enough to be a misspelling of it.
pub fn closest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    let distance = |k: &&&str| strsim::levenshtein(name, k);
    known.iter().min_by_key(distance).filter(|k| distance(k) <= name.len() / 2 + 1).copied()
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
        filter.select(&tools).unwrap().exposed.into_iter().map(|i| tools[i].name).collect()
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
    fn a_hidden_tool_names_the_filter_that_hides_it() {
        let tools = tools();
        let hidden_by = |filter: ToolFilter, name: &str| {
            let tool = tools.iter().find(|t| t.name == name).unwrap();
            filter.select(&tools).unwrap().hidden_by(tool)
        };
        let read_only = ToolFilter { read_only: true, no_destructive: true, ..Default::default() };
        assert_eq!(hidden_by(read_only, "delete_robot").as_deref(), Some("--read-only"));
        let no_destructive = ToolFilter { no_destructive: true, ..Default::default() };
        assert_eq!(hidden_by(no_destructive, "rotate_key").as_deref(), Some("--no-destructive"));
        let excluded = ToolFilter { exclude_tools: vec!["list_keys".into()], ..Default::default() };
        assert_eq!(hidden_by(excluded, "list_keys").as_deref(), Some("--exclude-tools"));
        let machines =
            ToolFilter { toolsets: vec!["machines".into()], tools: vec!["rotate_key".into()], ..Default::default() };
        let reason = hidden_by(machines.clone(), "list_keys").unwrap();
        assert_eq!(reason, "--toolsets machines --tools rotate_key (it is in the keys toolset)");
        assert_eq!(hidden_by(machines, "rotate_key"), None);
    }

    #[test]
    fn unknown_names_get_a_suggestion() {
        let err = ToolFilter { tools: vec!["list_robot".into()], ..Default::default() }.select(&tools()).unwrap_err();
        assert!(err.contains("did you mean \"list_robots\""), "{err}");
        let err = ToolFilter { toolsets: vec!["machine".into()], ..Default::default() }.select(&tools()).unwrap_err();
        assert!(err.contains("did you mean \"machines\""), "{err}");
    }
}
