//! The resource templates: a part's config, a machine with its parts' status, a fragment, and an
//! organization's fleet summary, each read with the tools a model would call. `resources/list`
//! offers only the organizations' summaries: listing every machine would be a listing of the fleet.
use super::completion::Kind;
use super::{Surface, rpc_error};
use crate::safety::budget;
use rmcp::model::{
    CacheScope, ErrorData, JsonObject, ReadResourceResult, Resource, ResourceContents, ResourceTemplate,
};
use serde_json::{Value, json};

pub struct Template {
    pub uri_template: &'static str,
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    /// The one variable, and what it names (for completion).
    pub variable: &'static str,
    pub names: Kind,
    read: Read,
}

/// How a template's resource is read.
enum Read {
    /// One tool's result, called with the variable as this argument.
    Tool { tool: &'static str, argument: &'static str },
    /// The machine (`get_robot`) with its parts (`get_robot_parts`) without their configs, which
    /// are resources of their own.
    Machine,
}

pub static TEMPLATES: [Template; 4] = [
    Template {
        uri_template: "viam://parts/{part_id}/config",
        name: "part_config",
        title: "Machine part config",
        description: "A machine part's config JSON, secrets redacted (get_config_items).",
        variable: "part_id",
        names: Kind::Part,
        read: Read::Tool { tool: "get_config_items", argument: "robot_part_id" },
    },
    Template {
        uri_template: "viam://machines/{machine_id}",
        name: "machine",
        title: "Machine and its parts' status",
        description: "A machine and each part's online state, last access and versions (get_robot, get_robot_parts).",
        variable: "machine_id",
        names: Kind::Machine,
        read: Read::Machine,
    },
    Template {
        uri_template: "viam://fragments/{fragment_id}",
        name: "fragment",
        title: "Fragment",
        description: "A fragment with its config (get_fragment).",
        variable: "fragment_id",
        names: Kind::Fragment,
        read: Read::Tool { tool: "get_fragment", argument: "fragment_id" },
    },
    Template {
        uri_template: "viam://orgs/{org_id}/summary",
        name: "fleet_summary",
        title: "Fleet summary",
        description: "Every machine of an organization in compact rows, the first page (list_machine_summaries).",
        variable: "org_id",
        names: Kind::Organization,
        read: Read::Tool { tool: "list_machine_summaries", argument: "org_id" },
    },
];

const JSON: &str = "application/json";
/// The most organizations `resources/list` offers.
const MAX_LISTED: usize = 100;

impl Template {
    /// The tools a read calls.
    pub fn tools(&'static self) -> &'static [&'static str] {
        match &self.read {
            Read::Tool { tool, .. } => std::slice::from_ref(tool),
            Read::Machine => &["get_robot", "get_robot_parts"],
        }
    }

    pub fn listed(&self) -> ResourceTemplate {
        ResourceTemplate::new(self.uri_template, self.name)
            .with_title(self.title)
            .with_description(self.description)
            .with_mime_type(JSON)
    }

    /// The variable's value in `uri`, if the URI is one of this template's.
    fn id_in<'a>(&self, uri: &'a str) -> Option<&'a str> {
        let (prefix, suffix) = self.uri_template.split_once(&format!("{{{}}}", self.variable))?;
        let id = uri.strip_prefix(prefix)?.strip_suffix(suffix)?;
        (!id.is_empty() && !id.contains(['/', '?', '#'])).then_some(id)
    }

    fn uri(&self, id: &str) -> String {
        self.uri_template.replace(&format!("{{{}}}", self.variable), id)
    }
}

/// The templates a server with these tools serves: those whose every tool is exposed.
pub fn served(exposed: &dyn Fn(&str) -> bool) -> Vec<&'static Template> {
    TEMPLATES.iter().filter(|t| t.tools().iter().all(|tool| exposed(tool))).collect()
}

impl Surface {
    pub fn templates(&self) -> Vec<&'static Template> {
        served(&|tool| self.exposes(tool))
    }

    /// Each organization's fleet summary, when that template is served.
    pub async fn resources(&self) -> Result<Vec<Resource>, ErrorData> {
        let Some(summary) = self.templates().into_iter().find(|t| t.names == Kind::Organization) else {
            return Ok(Vec::new());
        };
        if !self.exposes("list_organizations") {
            return Ok(Vec::new());
        }
        let orgs = self.read("list_organizations", json!({"limit": MAX_LISTED})).await.map_err(rpc_error)?;
        let orgs = orgs.value["organizations"].as_array().cloned().unwrap_or_default();
        Ok(orgs
            .iter()
            .filter_map(|org| {
                let (id, name) = (org["id"].as_str()?, org["name"].as_str()?);
                let resource = Resource::new(summary.uri(id), format!("{name} fleet summary"))
                    .with_title(format!("{name}: fleet summary"))
                    .with_description(summary.description)
                    .with_mime_type(JSON);
                Some(resource)
            })
            .collect())
    }

    /// The resource at `uri`, read through the tools of its template.
    pub async fn read_resource(&self, uri: &str) -> Result<ReadResourceResult, ErrorData> {
        let found = self.templates().into_iter().find_map(|t| Some((t, t.id_in(uri)?)));
        let Some((template, id)) = found else {
            return Err(ErrorData::resource_not_found(
                format!("no resource {uri:?}; see resources/templates/list"),
                None,
            ));
        };
        let text = match template.read {
            Read::Tool { tool, argument } => {
                let arguments = JsonObject::from_iter([(argument.to_string(), json!(id))]);
                self.read(tool, Value::Object(arguments)).await.map_err(rpc_error)?.text
            }
            Read::Machine => self.machine(id).await?,
        };
        let contents = ResourceContents::text(text, uri).with_mime_type(JSON);
        // Fleet state is the reader's own and changes any time.
        Ok(ReadResourceResult::new(vec![contents]).with_ttl_ms(0).with_cache_scope(CacheScope::Private))
    }

    /// The machine and its parts' status, within the result budget.
    async fn machine(&self, id: &str) -> Result<String, ErrorData> {
        let machine = self.read("get_robot", json!({"robot_id": id})).await.map_err(rpc_error)?.value;
        let mut parts = self.read("get_robot_parts", json!({"robot_id": id})).await.map_err(rpc_error)?.value;
        if let Some(Value::Array(listed)) = parts.get_mut("parts") {
            for part in listed.iter_mut().filter_map(Value::as_object_mut) {
                part.remove("robot_config");
            }
        }
        let mut status = json!({"robot": machine["robot"], "parts": parts["parts"]});
        for paging in ["total", "next_cursor", "truncated"] {
            if let Some(value) = parts.get(paging).filter(|v| !v.is_null()) {
                status[paging] = value.clone();
            }
        }
        let row = self.row("get_robot_parts").expect("the template is served only with its tools");
        let fitted = budget::fit(&row.policy, None, status, self.fleet.policy.budget)
            .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
        Ok(fitted.text)
    }
}

/// The templates as the README lists them.
pub fn markdown_table() -> String {
    let mut table = String::from("| resource template | what it holds |\n|---|---|\n");
    for template in &TEMPLATES {
        table.push_str(&format!("| `{}` | {} |\n", template.uri_template, template.description));
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uri_gives_its_template_and_id() {
        let config = &TEMPLATES[0];
        assert_eq!(config.id_in("viam://parts/p-1/config"), Some("p-1"));
        assert_eq!(config.uri("p-1"), "viam://parts/p-1/config");
        for not_one in ["viam://parts//config", "viam://parts/a/b/config", "viam://parts/p-1", "viam://machines/p-1"] {
            assert_eq!(config.id_in(not_one), None, "{not_one}");
        }
        assert_eq!(TEMPLATES[1].id_in("viam://machines/m-1"), Some("m-1"));
        assert_eq!(TEMPLATES[1].id_in("viam://machines/m-1/config"), None);
    }
}
