//! Which tools a server exposes: `--read-only`, `--no-destructive`, `--toolsets`, `--tools`,
//! `--exclude-tools`, all derived from each row's risk class and toolset.
use crate::tools::{Catalogue, Risk, Toolset};

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

const TOOLSETS: [(&str, Toolset); 8] = [
    ("organizations", Toolset::Organizations),
    ("locations", Toolset::Locations),
    ("machines", Toolset::Machines),
    ("logs", Toolset::Logs),
    ("fragments", Toolset::Fragments),
    ("access", Toolset::Access),
    ("registry", Toolset::Registry),
    ("keys", Toolset::Keys),
];

impl ToolFilter {
    /// The catalogue indices this filter exposes, in catalogue order. An unknown tool or
    /// toolset name is an error with a did-you-mean.
    pub fn select(&self, catalogue: &Catalogue) -> Result<Vec<usize>, String> {
        let names: Vec<&str> = catalogue.rows.iter().map(|r| r.name).collect();
        for name in self.tools.iter().chain(&self.exclude_tools) {
            if !names.contains(&name.as_str()) {
                return Err(unknown("tool", name, &names));
            }
        }
        let mut toolsets = Vec::new();
        let toolset_names: Vec<&str> = TOOLSETS.iter().map(|(n, _)| *n).chain(["all"]).collect();
        for name in &self.toolsets {
            match TOOLSETS.iter().find(|(n, _)| n == name) {
                Some((_, toolset)) => toolsets.push(*toolset),
                None if name == "all" => toolsets.extend(TOOLSETS.iter().map(|(_, t)| *t)),
                None => return Err(unknown("toolset", name, &toolset_names)),
            }
        }
        let allow_all = self.toolsets.is_empty() && self.tools.is_empty();
        Ok(catalogue
            .rows
            .iter()
            .enumerate()
            .filter(|(_, row)| allow_all || toolsets.contains(&row.toolset) || self.tools.iter().any(|t| t == row.name))
            .filter(|(_, row)| !self.exclude_tools.iter().any(|t| t == row.name))
            .filter(|(_, row)| !self.read_only || row.risk == Risk::Read)
            .filter(|(_, row)| !self.no_destructive || row.risk != Risk::Destructive)
            .map(|(i, _)| i)
            .collect())
    }
}

fn unknown(kind: &str, name: &str, known: &[&str]) -> String {
    let closest =
        known.iter().min_by_key(|k| edit_distance(name, k)).filter(|k| edit_distance(name, k) <= name.len() / 2 + 1);
    match closest {
        Some(k) => format!("unknown {kind} {name:?}; did you mean {k:?}?"),
        None => format!("unknown {kind} {name:?}; known: {}", known.join(", ")),
    }
}

/// Levenshtein distance, for did-you-mean suggestions.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = (previous + usize::from(ca != *cb)).min(row[j] + 1).min(current + 1);
            previous = current;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::catalogue;

    fn names(filter: ToolFilter) -> Vec<&'static str> {
        filter.select(catalogue()).unwrap().into_iter().map(|i| catalogue().rows[i].name).collect()
    }

    #[test]
    fn read_only_wins_over_allow_lists() {
        let exposed = names(ToolFilter { read_only: true, tools: vec!["delete_robot".into()], ..Default::default() });
        assert!(exposed.is_empty());
        let reads = names(ToolFilter { read_only: true, ..Default::default() });
        assert!(reads.iter().all(|n| catalogue().get(n).unwrap().risk == Risk::Read));
        assert!(reads.contains(&"list_robots"));
    }

    #[test]
    fn toolsets_tools_and_excludes_combine() {
        let filter = ToolFilter {
            toolsets: vec!["keys".into()],
            tools: vec!["list_robots".into()],
            exclude_tools: vec!["rotate_key".into(), "list_robots".into()],
            ..Default::default()
        };
        let exposed = names(filter);
        assert!(
            exposed.contains(&"list_keys") && !exposed.contains(&"rotate_key") && !exposed.contains(&"list_robots")
        );
        assert_eq!(names(ToolFilter { toolsets: vec!["all".into()], ..Default::default() }).len(), 74);
        let safe = names(ToolFilter { no_destructive: true, ..Default::default() });
        assert!(!safe.contains(&"delete_robot") && safe.contains(&"new_robot"));
    }

    #[test]
    fn unknown_names_get_a_suggestion() {
        let err =
            ToolFilter { tools: vec!["list_robot".into()], ..Default::default() }.select(catalogue()).unwrap_err();
        assert!(err.contains("did you mean \"list_robots\""), "{err}");
        let err =
            ToolFilter { toolsets: vec!["machine".into()], ..Default::default() }.select(catalogue()).unwrap_err();
        assert!(err.contains("did you mean \"machines\""), "{err}");
    }
}
