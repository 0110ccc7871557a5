//! The registry: items (modules, ML models, training scripts, archives) and modules.
use super::args::{Id, OrgArgs, PackageType, RegistryItemStatus, Visibility};
use super::{App, BoxFuture, CallContext, Row, ToolResult, custom, row, unary, unary_with_preview};
use crate::call::FileArg;
use crate::call::ScopeArg::*;
use crate::error::ToolError;
use crate::proto::viam::app::v1 as app;
use crate::proto_json::to_json;
use crate::safety::files;
use app::upload_module_file_request::ModuleFile;
use base64::Engine;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

pub(super) fn rows() -> Vec<Row> {
    vec![
        row!(get_registry_item, Read, unary(get_registry_item)),
        row!(create_registry_item, Additive, unary(create_registry_item))
            .scope(&[Org("organization_id")])
            .verify("get_registry_item"),
        row!(update_registry_item, Mutating, unary(update_registry_item))
            .scope(&[RegistryItem("item_id")])
            .verify("get_registry_item"),
        row!(list_registry_items, Read, unary(list_registry_items)).pages(&["items"]),
        row!(delete_registry_item, Destructive, unary_with_preview(delete_registry_item, delete_registry_item_preview))
            .scope(&[RegistryItem("item_id")])
            .verify("get_registry_item"),
        row!(create_module, Additive, unary(create_module)).scope(&[Org("org_id")]).verify("list_modules"),
        row!(update_module, Mutating, unary(update_module)).scope(&[Module("module_id")]).verify("get_module"),
        row!(
            upload_module_file,
            Additive,
            custom::<_, app::UploadModuleFileResponse>("UploadModuleFile", upload_module_file)
        )
        .scope(&[Module("module_file_info.module_id")])
        .verify("get_module")
        .files(&[FileArg::Read("file_path")]),
        row!(get_module, Read, unary(get_module)),
        row!(list_modules, Read, unary(list_modules)).pages(&["modules"]),
    ]
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct GetItemArgs {
    /// `namespace:name` (or `org_id:name` without a namespace).
    item_id: Id,
    #[serde(default)]
    include_markdown_documentation: bool,
}

fn get_registry_item(a: GetItemArgs, _: &App) -> Result<app::GetRegistryItemRequest, ToolError> {
    Ok(app::GetRegistryItemRequest {
        item_id: a.item_id.into(),
        include_markdown_documentation: Some(a.include_markdown_documentation),
    })
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CreateItemArgs {
    organization_id: Id,
    name: String,
    /// `archive`, `ml_model`, `module` or `ml_training`.
    r#type: PackageType,
}

fn create_registry_item(a: CreateItemArgs, _: &App) -> Result<app::CreateRegistryItemRequest, ToolError> {
    Ok(app::CreateRegistryItemRequest {
        organization_id: a.organization_id.into(),
        name: a.name,
        r#type: a.r#type.to_proto(),
    })
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct UpdateItemArgs {
    /// `namespace:name`.
    item_id: Id,
    /// `archive`, `ml_model`, `module` or `ml_training`.
    r#type: PackageType,
    description: String,
    visibility: Visibility,
}

fn update_registry_item(a: UpdateItemArgs, _: &App) -> Result<app::UpdateRegistryItemRequest, ToolError> {
    Ok(app::UpdateRegistryItemRequest {
        item_id: a.item_id.into(),
        r#type: a.r#type.to_proto(),
        description: a.description,
        visibility: a.visibility.to_proto(),
        ..Default::default()
    })
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ListItemsArgs {
    organization_id: Id,
    #[serde(default)]
    types: Vec<PackageType>,
    #[serde(default)]
    visibilities: Vec<Visibility>,
    /// e.g. `linux/amd64`.
    #[serde(default)]
    platforms: Vec<String>,
    #[serde(default)]
    statuses: Vec<RegistryItemStatus>,
    #[serde(default)]
    search_term: Option<String>,
    #[serde(default)]
    page_token: Option<String>,
}

fn list_registry_items(a: ListItemsArgs, _: &App) -> Result<app::ListRegistryItemsRequest, ToolError> {
    // The SDK always sends organization_id, search_term and page_token, empty or not.
    Ok(app::ListRegistryItemsRequest {
        organization_id: Some(a.organization_id.into()),
        types: a.types.into_iter().map(PackageType::to_proto).collect(),
        visibilities: a.visibilities.into_iter().map(Visibility::to_proto).collect(),
        platforms: a.platforms,
        statuses: a.statuses.into_iter().map(RegistryItemStatus::to_proto).collect(),
        search_term: Some(a.search_term.unwrap_or_default()),
        page_token: Some(a.page_token.unwrap_or_default()),
        ..Default::default()
    })
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ItemArgs {
    /// `namespace:name`.
    item_id: Id,
}

fn delete_registry_item(a: ItemArgs, _: &App) -> Result<app::DeleteRegistryItemRequest, ToolError> {
    Ok(app::DeleteRegistryItemRequest { item_id: a.item_id.into() })
}

/// The item's name, type and visibility, and how many machines and organizations use it.
fn delete_registry_item_preview(app: std::sync::Arc<App>, a: ItemArgs) -> BoxFuture<ToolResult> {
    Box::pin(async move {
        let request =
            app::GetRegistryItemRequest { item_id: a.item_id.into(), include_markdown_documentation: Some(false) };
        let item = app.read(request).await?.item.unwrap_or_default();
        // A registry item carries no secrets; its JSON gives the enum names.
        let named = to_json(&item);
        Ok(json!({
            "item": {"item_id": item.item_id, "name": item.name, "type": named["type"], "visibility": named["visibility"]},
            "total_robot_usage": item.total_robot_usage,
            "total_organization_usage": item.total_organization_usage,
        }))
    })
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CreateModuleArgs {
    org_id: Id,
    name: String,
}

fn create_module(a: CreateModuleArgs, _: &App) -> Result<app::CreateModuleRequest, ToolError> {
    Ok(app::CreateModuleRequest { organization_id: a.org_id.into(), name: a.name })
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Model {
    /// e.g. `rdk:component:camera`.
    api: String,
    /// e.g. `namespace:module:model`.
    model: String,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct UpdateModuleArgs {
    /// `namespace:name`.
    module_id: Id,
    /// Source or documentation URL.
    url: String,
    description: String,
    /// Omitted = none.
    #[serde(default)]
    models: Option<Vec<Model>>,
    /// e.g. `run.sh`.
    entrypoint: String,
    /// Omitting it makes a public module private.
    #[serde(default)]
    public: bool,
}

fn update_module(a: UpdateModuleArgs, _: &App) -> Result<app::UpdateModuleRequest, ToolError> {
    let visibility = if a.public { app::Visibility::Public } else { app::Visibility::Private };
    Ok(app::UpdateModuleRequest {
        module_id: a.module_id.into(),
        visibility: visibility as i32,
        url: a.url,
        description: a.description,
        models: a
            .models
            .unwrap_or_default()
            .into_iter()
            .map(|m| app::Model { api: m.api, model: m.model, ..Default::default() })
            .collect(),
        entrypoint: a.entrypoint,
        ..Default::default()
    })
}

/// The `ModuleFileInfo` proto message: which build an upload is.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ModuleFileInfo {
    /// `namespace:name`.
    module_id: Id,
    /// e.g. `1.0.0`.
    version: String,
    /// e.g. `linux/amd64`.
    platform: String,
    /// e.g. `distro:debian`.
    #[serde(default)]
    platform_tags: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct UploadArgs {
    module_file_info: ModuleFileInfo,
    /// The module archive (.tar.gz) on this server's machine; or give `file_base64`.
    #[serde(default)]
    file_path: Option<String>,
    /// Standard base64; or give `file_path`.
    #[serde(default)]
    file_base64: Option<String>,
}

/// File bytes per message: the Go SDK's chunk size, far below the service's message cap.
const CHUNK_SIZE: usize = 64 * 1024;

/// The client stream: the file info, then the file in chunks (one empty chunk for an empty file).
fn upload_messages(info: app::ModuleFileInfo, file: &[u8]) -> Vec<app::UploadModuleFileRequest> {
    let message = |part| app::UploadModuleFileRequest { module_file: Some(part) };
    let chunks: Vec<&[u8]> = if file.is_empty() { vec![file] } else { file.chunks(CHUNK_SIZE).collect() };
    std::iter::once(message(ModuleFile::ModuleFileInfo(info)))
        .chain(chunks.into_iter().map(|chunk| message(ModuleFile::File(chunk.to_vec()))))
        .collect()
}

fn upload_module_file(cx: std::sync::Arc<CallContext>, a: UploadArgs) -> BoxFuture<ToolResult> {
    Box::pin(async move {
        let file = match (a.file_path, a.file_base64) {
            (Some(path), None) => {
                // The pipeline checked the path: a regular file inside the allowed directories.
                let target = cx.file("file_path").cloned().ok_or_else(|| ToolError::invalid("file_path: empty"))?;
                files::read(target)
                    .await
                    .map_err(|e| ToolError::local(format!("cannot read file_path {path:?}: {e}")))?
            }
            (None, Some(text)) => base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .map_err(|e| ToolError::invalid(format!("file_base64: not valid standard base64: {e}")))?,
            _ => return Err(ToolError::invalid("pass exactly one of file_path or file_base64")),
        };
        let info = a.module_file_info;
        let info = app::ModuleFileInfo {
            module_id: info.module_id.into(),
            version: info.version,
            platform: info.platform,
            platform_tags: info.platform_tags,
        };
        let messages = upload_messages(info, &file);
        let chunks = messages.len() - 1;
        let response = cx.app.conn.client_stream(messages).await?;
        Ok(json!({"url": response.url, "bytes_uploaded": file.len(), "chunks": chunks}))
    })
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ModuleArgs {
    /// `namespace:name`.
    module_id: Id,
}

fn get_module(a: ModuleArgs, _: &App) -> Result<app::GetModuleRequest, ToolError> {
    Ok(app::GetModuleRequest { module_id: a.module_id.into(), include_markdown_documentation: None })
}

fn list_modules(a: OrgArgs, _: &App) -> Result<app::ListModulesRequest, ToolError> {
    Ok(app::ListModulesRequest { organization_id: Some(a.org_id.into()), include_markdown_documentation: None })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::tests::{args, golden, hex, offline_app, offline_context};

    #[tokio::test]
    async fn get_registry_item_always_sends_include_markdown_documentation() {
        let r = get_registry_item(args(json!({"item_id": "ns:mod"})), &offline_app()).unwrap();
        assert_eq!(hex(&r), golden("registry::get_registry_item_always_sends_include_markdown_documentation"));
    }

    #[tokio::test]
    async fn create_registry_item_sends_the_type_number() {
        let a = json!({"organization_id": "org1", "name": "mod", "type": "module"});
        assert_eq!(
            hex(&create_registry_item(args(a), &offline_app()).unwrap()),
            golden("registry::create_registry_item_sends_the_type_number")
        );
    }

    #[tokio::test]
    async fn update_registry_item_sends_all_four_fields() {
        let a = json!({"item_id": "ns:mod", "type": "PACKAGE_TYPE_MODULE", "description": "d", "visibility": "public"});
        assert_eq!(
            hex(&update_registry_item(args(a), &offline_app()).unwrap()),
            golden("registry::update_registry_item_sends_all_four_fields")
        );
    }

    #[tokio::test]
    async fn list_registry_items_sends_empty_search_and_page_token() {
        let app = offline_app();
        let a = json!({
            "organization_id": "org1", "types": ["module"], "visibilities": ["public"],
            "platforms": ["linux/amd64"], "statuses": ["published"],
        });
        assert_eq!(
            hex(&list_registry_items(args(a), &app).unwrap()),
            golden("registry::list_registry_items_sends_empty_search_and_page_token")
        );
        let a = json!({
            "organization_id": "org1", "types": [], "visibilities": [], "platforms": [], "statuses": [],
            "search_term": "cam", "page_token": "t",
        });
        assert_eq!(
            hex(&list_registry_items(args(a), &app).unwrap()),
            golden("registry::list_registry_items_sends_empty_search_and_page_token#2")
        );
    }

    #[tokio::test]
    async fn delete_registry_item_sends_the_id() {
        assert_eq!(
            hex(&delete_registry_item(args(json!({"item_id": "ns:mod"})), &offline_app()).unwrap()),
            golden("registry::delete_registry_item_sends_the_id")
        );
    }

    #[tokio::test]
    async fn create_module_sends_org_and_name() {
        let a = json!({"org_id": "org1", "name": "mod"});
        assert_eq!(
            hex(&create_module(args(a), &offline_app()).unwrap()),
            golden("registry::create_module_sends_org_and_name")
        );
    }

    #[tokio::test]
    async fn update_module_always_sets_visibility() {
        let app = offline_app();
        let a = json!({
            "module_id": "ns:mod", "url": "https://g", "description": "d", "entrypoint": "run.sh",
            "models": [{"api": "rdk:component:camera", "model": "ns:mod:cam"}],
        });
        assert_eq!(
            hex(&update_module(args(a), &app).unwrap()),
            golden("registry::update_module_always_sets_visibility")
        );
        let a = json!({
            "module_id": "ns:mod", "url": "https://g", "description": "d", "models": null,
            "entrypoint": "run.sh", "public": true,
        });
        assert_eq!(
            hex(&update_module(args(a), &app).unwrap()),
            golden("registry::update_module_always_sets_visibility#2")
        );
    }

    fn info() -> app::ModuleFileInfo {
        app::ModuleFileInfo {
            module_id: "ns:mod".into(),
            version: "1.0.0".into(),
            platform: "linux/amd64".into(),
            platform_tags: vec![],
        }
    }

    #[test]
    fn upload_sends_the_info_then_the_file() {
        let messages = upload_messages(info(), &[1, 2, 3]);
        let hexes: Vec<String> = messages.iter().map(hex).collect();
        assert_eq!(
            hexes,
            [
                golden("registry::upload_sends_the_info_then_the_file"),
                golden("registry::upload_sends_the_info_then_the_file#2")
            ]
        );
        // An empty file is still one file message.
        let hexes: Vec<String> = upload_messages(info(), &[]).iter().map(hex).collect();
        assert_eq!(hexes[1..], ["1200"]);
    }

    #[test]
    fn upload_chunks_big_files_at_64_kib() {
        let file: Vec<u8> = (0..CHUNK_SIZE * 2 + 5).map(|i| i as u8).collect();
        let messages = upload_messages(info(), &file);
        let sizes: Vec<usize> = messages[1..]
            .iter()
            .map(|m| match &m.module_file {
                Some(ModuleFile::File(bytes)) => bytes.len(),
                other => panic!("expected a file chunk, got {other:?}"),
            })
            .collect();
        assert_eq!(sizes, [CHUNK_SIZE, CHUNK_SIZE, 5]);
        let joined: Vec<u8> = messages[1..]
            .iter()
            .flat_map(|m| match &m.module_file {
                Some(ModuleFile::File(bytes)) => bytes.clone(),
                _ => vec![],
            })
            .collect();
        assert_eq!(joined, file);
    }

    #[tokio::test]
    async fn upload_needs_exactly_one_source() {
        let cx = || offline_context(crate::tools::Risk::Additive, Default::default());
        let base = json!({"module_id": "ns:mod", "version": "1.0.0", "platform": "linux/amd64"});
        for bad in [
            json!({"module_file_info": base}),
            json!({"module_file_info": base, "file_path": "a", "file_base64": "AQ=="}),
        ] {
            let err = upload_module_file(cx(), args(bad)).await.unwrap_err();
            assert_eq!(err.code(), "invalid_arguments");
            assert!(err.to_string().contains("file_path") && err.to_string().contains("file_base64"), "{err}");
        }
    }

    #[tokio::test]
    async fn get_and_list_modules_send_the_ids() {
        let app = offline_app();
        assert_eq!(
            hex(&get_module(args(json!({"module_id": "ns:mod"})), &app).unwrap()),
            golden("registry::get_and_list_modules_send_the_ids")
        );
        assert_eq!(
            hex(&list_modules(args(json!({"org_id": "org1"})), &app).unwrap()),
            golden("registry::get_and_list_modules_send_the_ids#2")
        );
    }
}
