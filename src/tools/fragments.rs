//! Fragments: reusable config pieces shared by machines.
use super::args::{FragmentVisibility, Id, Time, config_struct, within_opt};
use super::config_items::config_changes;
use super::{App, BoxFuture, Row, ToolResult, row, unary, unary_with_preview};
use crate::call::ScopeArg::*;
use crate::error::ToolError;
use crate::proto::viam::app::v1 as app;
use crate::proto_json::to_json;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::sync::Arc;

pub(super) fn rows() -> Vec<Row> {
    vec![
        row!(list_fragments, Read, unary(list_fragments)).pages(&["fragments", "fragment_usages"]),
        row!(get_fragment, Read, unary(get_fragment)),
        row!(create_fragment, Additive, unary(create_fragment)).scope(&[Org("org_id")]).verify("list_fragments"),
        row!(update_fragment, Destructive, unary_with_preview(update_fragment, update_fragment_preview))
            .scope(&[Fragment("fragment_id")])
            .verify("get_fragment"),
        row!(delete_fragment, Destructive, unary_with_preview(delete_fragment, delete_fragment_preview))
            .scope(&[Fragment("fragment_id")])
            .verify("get_fragment"),
        row!(get_fragment_history, Read, unary(get_fragment_history)).pages(&["history"]),
    ]
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ListFragmentsArgs {
    org_id: Id,
    /// Also public fragments (deprecated: use `visibilities`).
    #[serde(default = "yes")]
    show_public: bool,
    #[serde(default)]
    visibilities: Option<Vec<FragmentVisibility>>,
}

fn list_fragments(a: ListFragmentsArgs, _: &App) -> Result<app::ListFragmentsRequest, ToolError> {
    Ok(app::ListFragmentsRequest {
        organization_id: a.org_id.into(),
        show_public: a.show_public,
        fragment_visibility: a.visibilities.unwrap_or_default().into_iter().map(FragmentVisibility::to_proto).collect(),
    })
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct GetFragmentArgs {
    fragment_id: Id,
    /// A revision or tag; omitted = current.
    #[serde(default)]
    version: Option<String>,
}

fn get_fragment(a: GetFragmentArgs, _: &App) -> Result<app::GetFragmentRequest, ToolError> {
    Ok(app::GetFragmentRequest { id: a.fragment_id.into(), current_organization_id: String::new(), version: a.version })
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CreateFragmentArgs {
    org_id: Id,
    name: String,
    /// Like a machine config; omitted = empty.
    #[serde(default)]
    config: Option<Map<String, Value>>,
}

fn create_fragment(a: CreateFragmentArgs, _: &App) -> Result<app::CreateFragmentRequest, ToolError> {
    Ok(app::CreateFragmentRequest {
        name: a.name,
        config: config_struct(a.config.as_ref()),
        organization_id: a.org_id.into(),
        visibility: None,
    })
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct UpdateFragmentArgs {
    fragment_id: Id,
    /// Pass the current one to keep it.
    name: String,
    /// Replaces the whole config; omitted or {} = not sent.
    #[serde(default)]
    config: Option<Map<String, Value>>,
    /// Deprecated: use `visibility`.
    #[serde(default)]
    public: Option<bool>,
    #[serde(default)]
    visibility: Option<FragmentVisibility>,
    /// `last_updated` as last read; refused if it changed since.
    #[serde(default)]
    last_known_update: Option<Time>,
}

fn update_fragment(a: UpdateFragmentArgs, _: &App) -> Result<app::UpdateFragmentRequest, ToolError> {
    Ok(app::UpdateFragmentRequest {
        id: a.fragment_id.into(),
        name: a.name,
        config: config_struct(a.config.as_ref()),
        public: a.public,
        visibility: a.visibility.map(FragmentVisibility::to_proto),
        last_known_update: a.last_known_update.map(Time::to_proto),
        fragment_config_json: None,
    })
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct FragmentArgs {
    fragment_id: Id,
}

fn delete_fragment(a: FragmentArgs, _: &App) -> Result<app::DeleteFragmentRequest, ToolError> {
    Ok(app::DeleteFragmentRequest { id: a.fragment_id.into() })
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct FragmentHistoryArgs {
    /// The fragment's id.
    id: Id,
    /// null = not sent.
    #[serde(default = "first_page")]
    page_token: Option<String>,
    /// null = not sent (the service's default).
    #[serde(default = "ten", deserialize_with = "within_opt::<_, 1, 1000>")]
    #[schemars(range(min = 1, max = 1000))]
    page_limit: Option<i64>,
}

fn first_page() -> Option<String> {
    Some(String::new())
}

fn ten() -> Option<i64> {
    Some(10)
}

fn get_fragment_history(a: FragmentHistoryArgs, _: &App) -> Result<app::GetFragmentHistoryRequest, ToolError> {
    Ok(app::GetFragmentHistoryRequest { id: a.id.into(), page_token: a.page_token, page_limit: a.page_limit })
}

/// The fragment as it is now, with its usage.
async fn current_fragment(app: &App, id: Id) -> Result<(app::Fragment, app::FragmentUsage), ToolError> {
    let request = app::GetFragmentRequest { id: id.into(), ..Default::default() };
    let response = app.read(request).await?;
    Ok((response.fragment.unwrap_or_default(), response.fragment_usage.unwrap_or_default()))
}

fn usage_json(fragment: &app::Fragment, usage: &app::FragmentUsage) -> Value {
    json!({
        "robot_part_count": fragment.robot_part_count,
        "machines": usage.machines,
        "organizations": usage.organizations,
    })
}

fn delete_fragment_preview(app: Arc<App>, a: FragmentArgs) -> BoxFuture<ToolResult> {
    Box::pin(async move {
        let (fragment, usage) = current_fragment(&app, a.fragment_id).await?;
        Ok(json!({
            "would_delete": {"id": fragment.id, "name": fragment.name},
            "used_by": usage_json(&fragment, &usage),
        }))
    })
}

fn update_fragment_preview(app: Arc<App>, a: UpdateFragmentArgs) -> BoxFuture<ToolResult> {
    Box::pin(async move {
        let (fragment, usage) = current_fragment(&app, a.fragment_id).await?;
        let current = to_json(&fragment);
        let mut preview = json!({
            "fragment": {"id": fragment.id, "name": fragment.name},
            "used_by": usage_json(&fragment, &usage),
        });
        if a.name != fragment.name {
            preview["name"] = json!({"from": fragment.name, "to": a.name});
        }
        preview["config"] = match a.config.filter(|c| !c.is_empty()) {
            Some(config) => config_changes(&current["fragment"], &Value::Object(config)),
            None => json!("not sent"),
        };
        if let Some(visibility) = a.visibility {
            let to =
                app::FragmentVisibility::try_from(visibility.to_proto()).map(|v| v.as_str_name()).unwrap_or_default();
            preview["visibility"] = json!({"from": current["visibility"], "to": to});
        }
        if let Some(public) = a.public {
            preview["public"] = json!({"from": fragment.public, "to": public});
        }
        Ok(preview)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::tests::{args, golden, hex, offline_app};

    #[tokio::test]
    async fn list_fragments_always_sends_show_public() {
        let app = offline_app();
        let r = list_fragments(args(json!({"org_id": "org1"})), &app).unwrap();
        assert_eq!(hex(&r), golden("fragments::list_fragments_always_sends_show_public"));
        let a = json!({"org_id": "org1", "show_public": false, "visibilities": ["private", "public_unlisted"]});
        assert_eq!(
            hex(&list_fragments(args(a), &app).unwrap()),
            golden("fragments::list_fragments_always_sends_show_public#2")
        );
    }

    #[tokio::test]
    async fn get_fragment_sends_the_version_when_given() {
        let app = offline_app();
        assert_eq!(
            hex(&get_fragment(args(json!({"fragment_id": "f1"})), &app).unwrap()),
            golden("fragments::get_fragment_sends_the_version_when_given")
        );
        let r = get_fragment(args(json!({"fragment_id": "f1", "version": "v2"})), &app).unwrap();
        assert_eq!(hex(&r), golden("fragments::get_fragment_sends_the_version_when_given#2"));
    }

    #[tokio::test]
    async fn create_fragment_sends_config_only_when_given() {
        let app = offline_app();
        let r = create_fragment(args(json!({"org_id": "org1", "name": "frag"})), &app).unwrap();
        assert_eq!(hex(&r), golden("fragments::create_fragment_sends_config_only_when_given"));
        let r = create_fragment(args(json!({"org_id": "org1", "name": "frag", "config": {"k": "v"}})), &app).unwrap();
        assert_eq!(hex(&r), golden("fragments::create_fragment_sends_config_only_when_given#2"));
    }

    #[tokio::test]
    async fn update_fragment_sends_optional_fields_when_given() {
        let app = offline_app();
        let r = update_fragment(args(json!({"fragment_id": "f1", "name": "frag"})), &app).unwrap();
        assert_eq!(hex(&r), golden("fragments::update_fragment_sends_optional_fields_when_given"));
        let a = json!({
            "fragment_id": "f1", "name": "frag", "config": {"k": 2}, "public": false,
            "visibility": "public", "last_known_update": "2024-01-02T03:04:05.678Z",
        });
        assert_eq!(
            hex(&update_fragment(args(a), &app).unwrap()),
            golden("fragments::update_fragment_sends_optional_fields_when_given#2")
        );
    }

    #[tokio::test]
    async fn delete_fragment_sends_the_id() {
        assert_eq!(
            hex(&delete_fragment(args(json!({"fragment_id": "f1"})), &offline_app()).unwrap()),
            golden("fragments::delete_fragment_sends_the_id")
        );
    }

    #[tokio::test]
    async fn fragment_history_pages_are_present_by_default_and_null_omits_them() {
        let app = offline_app();
        assert_eq!(
            hex(&get_fragment_history(args(json!({"id": "f1"})), &app).unwrap()),
            golden("fragments::fragment_history_pages_are_present_by_default_and_null_omits_them")
        );
        let a = json!({"id": "f1", "page_token": null, "page_limit": null});
        assert_eq!(
            hex(&get_fragment_history(args(a), &app).unwrap()),
            golden("fragments::fragment_history_pages_are_present_by_default_and_null_omits_them#2")
        );
    }
}
