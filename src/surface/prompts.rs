//! The prompts: short workflows that name the tools to use. A prompt is one declaration here; its
//! text is `prompts/<name>.md`, compiled in, with `{arg}` (an argument as given, or the name and
//! id it was resolved to), `{arg.id}` (the id), and `{if arg}` / `{if tools a b …}`, `{else}`,
//! `{end}` (an argument given; every one of those tools exposed).
use super::Surface;
use super::completion::Kind;
use crate::tools::catalogue;
use rmcp::model::{ErrorData, GetPromptResult, JsonObject, Prompt, PromptArgument, PromptMessage, Role};
use std::collections::HashMap;

pub struct PromptRow {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub arguments: &'static [Argument],
    pub text: &'static str,
}

pub struct Argument {
    pub name: &'static str,
    pub description: &'static str,
    pub required: bool,
    /// What it names, for completion and resolving; `None` for free text.
    pub names: Option<Kind>,
}

const ORG: Argument = Argument {
    name: "org",
    description: "The organization: its name or id.",
    required: true,
    names: Some(Kind::Organization),
};

macro_rules! prompt {
    ($name:ident, $title:expr, $description:expr, $arguments:expr) => {
        PromptRow {
            name: stringify!($name),
            title: $title,
            description: $description,
            arguments: $arguments,
            text: include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/prompts/", stringify!($name), ".md")),
        }
    };
}

pub static PROMPTS: [PromptRow; 4] = [
    prompt!(
        fleet_health,
        "Fleet health",
        "Offline and awaiting-setup machines, old viam-server versions and noisy parts of an organization.",
        &[
            ORG,
            Argument {
                name: "location",
                description: "Only this location: its name or id.",
                required: false,
                names: Some(Kind::Location),
            },
        ]
    ),
    prompt!(
        diagnose_machine,
        "Diagnose a machine",
        "A machine's status, parts, recent errors and recent config changes.",
        &[Argument {
            name: "machine",
            description: "The machine: its name or id.",
            required: true,
            names: Some(Kind::Machine),
        }]
    ),
    prompt!(
        change_many_machines,
        "Change many machines",
        "Plan a config change across machines, review it, apply it in waves and verify, or roll back.",
        &[
            ORG,
            Argument {
                name: "change",
                description: "The change, in words (e.g. \"set the lidar's scan_rate to 10 on every rover\").",
                required: true,
                names: None,
            },
        ]
    ),
    prompt!(
        review_access,
        "Review access",
        "An organization's members, role grants and API keys: owners, and keys unused or over-privileged.",
        &[ORG]
    ),
];

impl PromptRow {
    /// The prompt as `prompts/list` shows it.
    pub fn listed(&self) -> Prompt {
        let arguments = self
            .arguments
            .iter()
            .map(|a| PromptArgument::new(a.name).with_description(a.description).with_required(a.required))
            .collect();
        Prompt::new(self.name, Some(self.description), Some(arguments)).with_title(self.title)
    }

    /// The tools its text names (in backticks) with the tools `exposed` says are there.
    pub fn tools_named(&self, exposed: &dyn Fn(&str) -> bool) -> Vec<&'static str> {
        let text = expand(self.text, &|_| true, exposed, &HashMap::new());
        let quoted = text.split('`').skip(1).step_by(2);
        let names: Vec<&str> = quoted.filter_map(|word| catalogue().get(word).map(|row| row.name)).collect();
        names.into_iter().fold(Vec::new(), |mut all, name| {
            if !all.contains(&name) {
                all.push(name);
            }
            all
        })
    }
}

/// The prompts a server with these tools lists: those whose every named tool is exposed.
pub fn listed(exposed: &dyn Fn(&str) -> bool) -> Vec<&'static PromptRow> {
    PROMPTS.iter().filter(|p| p.tools_named(exposed).into_iter().all(exposed)).collect()
}

impl Surface {
    pub fn prompts(&self) -> Vec<&'static PromptRow> {
        listed(&|tool| self.exposes(tool))
    }

    /// The prompt's text with its arguments resolved to names and ids where they can be.
    pub async fn render(&self, prompt: &PromptRow, given: &JsonObject) -> Result<GetPromptResult, ErrorData> {
        let mut problems: Vec<String> = given
            .keys()
            .filter(|k| !prompt.arguments.iter().any(|a| a.name == k.as_str()))
            .map(|k| format!("{k}: unknown argument"))
            .collect();
        let mut values = HashMap::new();
        for argument in prompt.arguments {
            match given.get(argument.name) {
                Some(serde_json::Value::String(s)) if !s.trim().is_empty() => {
                    values.insert(argument.name, s.trim().to_string());
                }
                Some(other) if !other.is_null() && !other.is_string() => {
                    problems.push(format!("{}: expected a string", argument.name))
                }
                _ if argument.required => problems.push(format!("{}: missing (required)", argument.name)),
                _ => {}
            }
        }
        if !problems.is_empty() {
            return Err(ErrorData::invalid_params(format!("{}: {}", prompt.name, problems.join("; ")), None));
        }
        // Organization first: it narrows what the other arguments name.
        let mut shown = HashMap::new();
        let mut org = None;
        for argument in prompt.arguments.iter().filter(|a| a.names == Some(Kind::Organization)) {
            if let Some(value) = values.get(argument.name) {
                let found = self.resolve(Kind::Organization, value, None).await;
                org = found.as_ref().map(|o| o.id.clone());
                shown.extend(placeholders(argument.name, value, found));
            }
        }
        for argument in prompt.arguments.iter().filter(|a| a.names != Some(Kind::Organization)) {
            let Some(value) = values.get(argument.name) else { continue };
            let found = match argument.names {
                Some(kind) => self.resolve(kind, value, org.as_deref()).await,
                None => None,
            };
            shown.extend(placeholders(argument.name, value, found));
        }
        let text = expand(prompt.text, &|name| values.contains_key(name), &|tool| self.exposes(tool), &shown);
        Ok(GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)]).with_description(prompt.description))
    }
}

/// `{name}` and `{name.id}`: the name and id it resolved to, or the value as given.
fn placeholders(name: &str, value: &str, found: Option<super::completion::Named>) -> [(String, String); 2] {
    let (shown, id) = match found {
        Some(found) => (format!("{} (id {})", found.name, found.id), found.id),
        None => (value.to_string(), value.to_string()),
    };
    [(format!("{{{name}}}"), shown), (format!("{{{name}.id}}"), id)]
}

/// The text with its conditions decided and its placeholders filled. A directive alone on its
/// line takes the line with it.
fn expand(
    text: &str,
    given: &dyn Fn(&str) -> bool,
    exposed: &dyn Fn(&str) -> bool,
    placeholders: &HashMap<String, String>,
) -> String {
    let mut out = String::new();
    // For each open `{if}`: whether its branch now being read is kept, and whether the `{if}` was.
    let mut open: Vec<(bool, bool)> = Vec::new();
    let keeping = |open: &[(bool, bool)]| open.iter().all(|&(branch, _)| branch);
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else { break };
        let token = &rest[start + 1..start + len];
        if keeping(&open) {
            out.push_str(&rest[..start]);
        }
        let directive = if let Some(condition) = token.strip_prefix("if ") {
            let holds = match condition.strip_prefix("tools ") {
                Some(tools) => tools.split_whitespace().all(exposed),
                None => given(condition.trim()),
            };
            open.push((holds, keeping(&open)));
            true
        } else if token == "else" {
            if let Some((branch, _)) = open.last_mut() {
                *branch = !*branch;
            }
            true
        } else if token == "end" {
            open.pop();
            true
        } else {
            if keeping(&open) {
                let placeholder = &rest[start..=start + len];
                out.push_str(placeholders.get(placeholder).map_or(placeholder, String::as_str));
            }
            false
        };
        rest = &rest[start + len + 1..];
        if directive && (out.is_empty() || out.ends_with('\n')) {
            rest = rest.strip_prefix('\n').unwrap_or(rest);
        }
    }
    if keeping(&open) {
        out.push_str(rest);
    }
    out
}

/// The prompts as the README lists them: name, arguments and what each is for.
pub fn markdown_table() -> String {
    let mut table = String::from("| prompt | arguments | what it does |\n|---|---|---|\n");
    for prompt in &PROMPTS {
        let arguments: Vec<String> = prompt
            .arguments
            .iter()
            .map(|a| if a.required { format!("`{}`", a.name) } else { format!("`{}` (optional)", a.name) })
            .collect();
        table.push_str(&format!("| `{}` | {} | {} |\n", prompt.name, arguments.join(", "), prompt.description));
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tool name mistyped in a prompt would be read as plain text and never checked.
    #[test]
    fn every_tool_a_prompt_names_is_in_the_catalogue() {
        // The fleet-change tools may not be in this build; the rest of each text must name tools.
        let in_catalogue = |tool: &str| catalogue().get(tool).is_some();
        let not_tools = ["offline", "awaiting_setup"];
        for prompt in &PROMPTS {
            let text = expand(prompt.text, &|_| true, &in_catalogue, &HashMap::new());
            for word in text.split('`').skip(1).step_by(2) {
                assert!(
                    catalogue().get(word).is_some() || not_tools.contains(&word),
                    "{}: `{word}` is not a tool",
                    prompt.name
                );
            }
            assert!(!prompt.tools_named(&in_catalogue).is_empty(), "{} names no tool", prompt.name);
            // A branch for tools this build lacks must name them as the branch that adds them does:
            // once one is in the catalogue, all are.
            for condition in prompt.text.split("{if tools ").skip(1) {
                let tools: Vec<&str> = condition.split('}').next().unwrap_or_default().split_whitespace().collect();
                let present = tools.iter().filter(|tool| in_catalogue(tool)).count();
                assert!(present == 0 || present == tools.len(), "{}: only some of {tools:?} exist", prompt.name);
            }
            assert!(prompt.text.len() <= 2048, "{} is {} bytes", prompt.name, prompt.text.len());
        }
    }

    #[test]
    fn conditions_keep_one_branch_and_take_their_lines() {
        let text = "a {x}{if y} and {y.id}{end}\n{if tools t1 t2}\nwith\n{else}\nwithout\n{end}\nz";
        let values = HashMap::from([("{x}".to_string(), "X".to_string()), ("{y.id}".to_string(), "Y".to_string())]);
        let only_t1 = |tool: &str| tool == "t1";
        assert_eq!(expand(text, &|_| true, &|_| true, &values), "a X and Y\nwith\nz");
        assert_eq!(expand(text, &|_| false, &only_t1, &values), "a X\nwithout\nz");
    }

    #[test]
    fn change_many_machines_uses_the_fleet_change_tools_only_when_all_are_exposed() {
        let prompt = PROMPTS.iter().find(|p| p.name == "change_many_machines").unwrap();
        let fleet_change = ["plan_fleet_change", "apply_fleet_change", "get_fleet_change", "stop_fleet_change"];
        let with = expand(prompt.text, &|_| true, &|_| true, &HashMap::new());
        let without = expand(prompt.text, &|_| true, &|tool| !tool.ends_with("_fleet_change"), &HashMap::new());
        for tool in fleet_change {
            assert!(with.contains(tool) && !without.contains(tool), "{tool}");
        }
        assert!(without.contains("`update_config_item`") && !with.contains("`update_config_item`"));
    }
}
