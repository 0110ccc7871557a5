//! Registry items and modules. A module is a registry item of type module (its metadata holds models,
//! entrypoint, ...); its versions are derived from the uploaded module files.
use std::collections::BTreeSet;

use tonic::Status;

use super::{ModuleFile, Pb, State, config_refs, find, find_mut, index_of, now, required};
use crate::proto::viam::app::packages::v1::PackageType;
use crate::proto::viam::app::v1::registry_item::Metadata;
use crate::proto::viam::app::v1::update_registry_item_request::Metadata as UpdateMetadata;
use crate::proto::viam::app::v1::*;

fn check_item_name(name: &str) -> Result<(), Status> {
    required(name, "name")?;
    let valid = name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !valid {
        return Err(Status::invalid_argument(format!(
            "invalid name {name:?}: use lowercase letters, digits, dashes and underscores"
        )));
    }
    Ok(())
}

/// `major.minor.patch`, optionally with a `-prerelease` suffix.
fn check_version(version: &str) -> Result<(), Status> {
    let core = version.split('-').next().unwrap_or_default();
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() != 3 || parts.iter().any(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_digit())) {
        return Err(Status::invalid_argument(format!(
            "invalid version {version:?}: expected semantic versioning like 1.2.3"
        )));
    }
    Ok(())
}

fn check_visibility(visibility: i32) -> Result<(), Status> {
    if Visibility::try_from(visibility).is_err() || visibility == Visibility::Unspecified as i32 {
        return Err(Status::invalid_argument("visibility is required"));
    }
    Ok(())
}

/// Where the item lives on app.viam.com.
fn app_url(item_id: &str) -> String {
    format!("https://app.viam.com/module/{}", item_id.replacen(':', "/", 1))
}

fn visible_to(item: &RegistryItem, org_id: Option<&str>) -> bool {
    org_id == Some(item.organization_id.as_str()) || item.visibility == Visibility::Public as i32
}

impl State {
    pub fn module_item(&self, module_id: &str) -> Result<&RegistryItem, Status> {
        find(&self.registry_items, module_id)
            .ok()
            .filter(|i| i.r#type == PackageType::Module as i32)
            .map(|i| &i.0)
            .ok_or_else(|| super::not_found("module", module_id))
    }

    fn module_metadata_mut(&mut self, module_id: &str) -> Result<&mut ModuleMetadata, Status> {
        match &mut find_mut(&mut self.registry_items, module_id)?.metadata {
            Some(Metadata::ModuleMetadata(m)) => Ok(m),
            _ => Err(super::not_found("module", module_id)),
        }
    }

    /// Machines (and their organizations) whose part configs load the module.
    fn module_usage(&self, module_id: &str) -> (i64, i64) {
        let machines: BTreeSet<&str> = self
            .parts
            .iter()
            .filter(|p| {
                config_refs(p.part.robot_config.as_ref(), "modules", "module_id").iter().any(|m| m == module_id)
            })
            .map(|p| p.part.robot.as_str())
            .collect();
        let orgs: BTreeSet<&str> = machines.iter().filter_map(|m| self.robot_org(m)).collect();
        (machines.len() as i64, orgs.len() as i64)
    }

    /// One entry per uploaded version, in upload order.
    fn module_versions(&self, module_id: &str, metadata: &ModuleMetadata) -> Vec<ModuleVersion> {
        let mut versions: Vec<ModuleVersion> = Vec::new();
        for file in self.module_files.iter().filter(|f| f.module_id == module_id) {
            let upload = Uploads { platform: file.platform.clone(), uploaded_at: Some(*file.uploaded_at) };
            match versions.iter_mut().find(|v| v.version == file.version) {
                Some(version) => version.files.push(upload),
                None => versions.push(ModuleVersion {
                    version: file.version.clone(),
                    files: vec![upload],
                    models: metadata.models.clone(),
                    entrypoint: metadata.entrypoint.clone(),
                    first_run: metadata.first_run.clone(),
                    markdown_description: metadata.markdown_description.clone(),
                    apps: metadata.apps.clone(),
                    ..Default::default()
                }),
            }
        }
        versions
    }

    fn item_view(&self, item: &RegistryItem) -> RegistryItem {
        let mut item = item.clone();
        item.public_namespace = self.org(&item.organization_id).map(|o| o.public_namespace.clone()).unwrap_or_default();
        if let Some(Metadata::ModuleMetadata(metadata)) = &mut item.metadata {
            metadata.versions = self.module_versions(&item.item_id, metadata);
            (item.total_robot_usage, item.total_organization_usage) = self.module_usage(&item.item_id);
        }
        item
    }

    fn module_view(&self, item: &RegistryItem) -> Module {
        let item = self.item_view(item);
        let metadata = match item.metadata {
            Some(Metadata::ModuleMetadata(m)) => m,
            _ => ModuleMetadata::default(),
        };
        Module {
            module_id: item.item_id,
            name: item.name,
            visibility: item.visibility,
            versions: metadata
                .versions
                .into_iter()
                .map(|v| VersionHistory {
                    version: v.version,
                    files: v.files,
                    models: v.models,
                    entrypoint: v.entrypoint,
                    first_run: v.first_run,
                    markdown_description: v.markdown_description,
                    apps: v.apps,
                    deprecated_status: v.deprecated_status,
                })
                .collect(),
            url: item.url,
            description: item.description,
            models: metadata.models,
            total_robot_usage: item.total_robot_usage,
            total_organization_usage: item.total_organization_usage,
            organization_id: item.organization_id,
            entrypoint: metadata.entrypoint,
            public_namespace: item.public_namespace,
            first_run: metadata.first_run,
            markdown_description: metadata.markdown_description,
            apps: metadata.apps,
            deprecated_status: item.deprecated_status,
        }
    }

    /// Items are named `<public namespace>:<name>`, or `<organization id>:<name>` without a namespace.
    fn add_item(&mut self, org_id: &str, name: String, package_type: PackageType) -> Result<String, Status> {
        check_item_name(&name)?;
        let org = self.org(org_id)?;
        let prefix = if org.public_namespace.is_empty() { &org.id } else { &org.public_namespace };
        let item_id = format!("{prefix}:{name}");
        if self.registry_items.iter().any(|i| i.item_id == item_id) {
            return Err(Status::already_exists(format!("registry item {item_id:?} already exists")));
        }
        let metadata = match package_type {
            PackageType::Module => Some(Metadata::ModuleMetadata(Default::default())),
            PackageType::MlModel => Some(Metadata::MlModelMetadata(Default::default())),
            PackageType::MlTraining => Some(Metadata::MlTrainingMetadata(Default::default())),
            _ => None,
        };
        let created = now();
        self.registry_items.push(Pb(RegistryItem {
            item_id: item_id.clone(),
            organization_id: org_id.to_string(),
            name,
            r#type: package_type as i32,
            visibility: Visibility::Private as i32,
            metadata,
            created_at: Some(created),
            updated_at: Some(created),
            ..Default::default()
        }));
        Ok(item_id)
    }

    pub fn get_registry_item(&self, r: GetRegistryItemRequest) -> Result<GetRegistryItemResponse, Status> {
        Ok(GetRegistryItemResponse { item: Some(self.item_view(find(&self.registry_items, &r.item_id)?)) })
    }

    pub fn create_registry_item(&mut self, r: CreateRegistryItemRequest) -> Result<CreateRegistryItemResponse, Status> {
        let package_type = PackageType::try_from(r.r#type)
            .ok()
            .filter(|t| *t != PackageType::Unspecified)
            .ok_or_else(|| Status::invalid_argument("a package type is required"))?;
        self.add_item(&r.organization_id, r.name, package_type)?;
        Ok(CreateRegistryItemResponse {})
    }

    pub fn update_registry_item(&mut self, r: UpdateRegistryItemRequest) -> Result<UpdateRegistryItemResponse, Status> {
        let item = find(&self.registry_items, &r.item_id)?;
        if r.r#type != item.r#type {
            return Err(Status::invalid_argument("the package type does not match the registry item"));
        }
        check_visibility(r.visibility)?;
        let metadata_fits = matches!(
            (&r.metadata, &item.metadata),
            (None, _)
                | (Some(UpdateMetadata::UpdateModuleMetadata(_)), Some(Metadata::ModuleMetadata(_)))
                | (Some(UpdateMetadata::UpdateMlModelMetadata(_)), Some(Metadata::MlModelMetadata(_)))
                | (Some(UpdateMetadata::UpdateMlTrainingMetadata(_)), Some(Metadata::MlTrainingMetadata(_)))
        );
        if !metadata_fits {
            return Err(Status::invalid_argument("the metadata does not match the registry item's type"));
        }
        let item = find_mut(&mut self.registry_items, &r.item_id)?;
        item.description = r.description;
        item.visibility = r.visibility;
        if let Some(url) = r.url {
            item.url = url;
        }
        if r.billing.is_some() {
            item.billing = r.billing;
        }
        item.updated_at = Some(now());
        match (r.metadata, &mut item.metadata) {
            (Some(UpdateMetadata::UpdateModuleMetadata(u)), Some(Metadata::ModuleMetadata(m))) => {
                m.models = u.models;
                m.entrypoint = u.entrypoint;
                m.apps = u.apps;
                m.source_type = u.source_type;
                m.language = u.language;
                m.min_viam_server_version = u.min_viam_server_version;
            }
            (Some(UpdateMetadata::UpdateMlModelMetadata(u)), Some(Metadata::MlModelMetadata(m))) => {
                m.model_type = u.model_type;
                m.model_framework = u.model_framework;
                m.deployment_modular_resources = u.deployment_modular_resources;
            }
            (Some(UpdateMetadata::UpdateMlTrainingMetadata(u)), Some(Metadata::MlTrainingMetadata(m))) => {
                m.model_type = u.model_type;
                m.model_framework = u.model_framework;
                m.draft = u.draft;
                m.deployment_modular_resources = u.deployment_modular_resources;
            }
            _ => {}
        }
        if let (Some(markdown), Some(Metadata::ModuleMetadata(m))) = (r.markdown_description, &mut item.metadata) {
            m.markdown_description = Some(markdown);
        }
        Ok(UpdateRegistryItemResponse {})
    }

    /// Items an organization can see (its own and public ones); without one, public items only.
    pub fn list_registry_items(&self, r: ListRegistryItemsRequest) -> Result<ListRegistryItemsResponse, Status> {
        if let Some(org_id) = &r.organization_id {
            self.org(org_id)?;
        }
        let search = r.search_term.as_deref().unwrap_or_default().to_lowercase();
        let items = self
            .registry_items
            .iter()
            .filter(|i| visible_to(i, r.organization_id.as_deref()))
            .filter(|i| r.types.is_empty() || r.types.contains(&i.r#type))
            .filter(|i| r.visibilities.is_empty() || r.visibilities.contains(&i.visibility))
            .map(|i| self.item_view(i))
            .filter(|i| r.public_namespaces.is_empty() || r.public_namespaces.contains(&i.public_namespace))
            .filter(|i| {
                search.is_empty() || format!("{} {}", i.item_id, i.description).to_lowercase().contains(&search)
            })
            .collect();
        Ok(ListRegistryItemsResponse { items })
    }

    /// Refused for a module that machines still load.
    pub fn delete_registry_item(&mut self, r: DeleteRegistryItemRequest) -> Result<DeleteRegistryItemResponse, Status> {
        let index = index_of(&self.registry_items, &r.item_id)?;
        let (machines, _) = self.module_usage(&r.item_id);
        if machines > 0 {
            return Err(Status::failed_precondition(format!(
                "{:?} is used by {machines} machine(s); remove it from their configs first",
                r.item_id
            )));
        }
        self.registry_items.remove(index);
        self.module_files.retain(|f| f.module_id != r.item_id);
        Ok(DeleteRegistryItemResponse {})
    }

    pub fn create_module(&mut self, r: CreateModuleRequest) -> Result<CreateModuleResponse, Status> {
        let module_id = self.add_item(&r.organization_id, r.name, PackageType::Module)?;
        Ok(CreateModuleResponse { url: app_url(&module_id), module_id })
    }

    pub fn update_module(&mut self, r: UpdateModuleRequest) -> Result<UpdateModuleResponse, Status> {
        check_visibility(r.visibility)?;
        required(&r.entrypoint, "entrypoint")?;
        let metadata = self.module_metadata_mut(&r.module_id)?;
        metadata.models = r.models;
        metadata.entrypoint = r.entrypoint;
        metadata.first_run = r.first_run;
        metadata.apps = r.apps;
        metadata.markdown_description = r.markdown_description;
        let item = find_mut(&mut self.registry_items, &r.module_id)?;
        item.visibility = r.visibility;
        item.url = r.url;
        item.description = r.description;
        item.updated_at = Some(now());
        Ok(UpdateModuleResponse { url: app_url(&r.module_id) })
    }

    /// Records a module file of `size` bytes (the stream's `file` chunks) for `info`'s version and platform.
    pub fn upload_module_file(&mut self, info: ModuleFileInfo, size: u64) -> Result<UploadModuleFileResponse, Status> {
        self.module_item(&info.module_id)?;
        check_version(&info.version)?;
        required(&info.platform, "platform")?;
        if size == 0 {
            return Err(Status::invalid_argument("no file data received"));
        }
        let exists = self
            .module_files
            .iter()
            .any(|f| f.module_id == info.module_id && f.version == info.version && f.platform == info.platform);
        if exists {
            return Err(Status::already_exists(format!(
                "version {:?} of {:?} already has a file for platform {:?}",
                info.version, info.module_id, info.platform
            )));
        }
        let url = format!("{}/{}", app_url(&info.module_id), info.version);
        let uploaded_at = now();
        find_mut(&mut self.registry_items, &info.module_id)?.updated_at = Some(uploaded_at);
        self.module_files.push(ModuleFile {
            module_id: info.module_id,
            version: info.version,
            platform: info.platform,
            platform_tags: info.platform_tags,
            size,
            uploaded_at: Pb(uploaded_at),
        });
        Ok(UploadModuleFileResponse { url })
    }

    pub fn get_module(&self, r: GetModuleRequest) -> Result<GetModuleResponse, Status> {
        Ok(GetModuleResponse { module: Some(self.module_view(self.module_item(&r.module_id)?)) })
    }

    /// Modules an organization can see (its own and public ones); without one, public modules only.
    pub fn list_modules(&self, r: ListModulesRequest) -> Result<ListModulesResponse, Status> {
        if let Some(org_id) = &r.organization_id {
            self.org(org_id)?;
        }
        let modules = self
            .registry_items
            .iter()
            .filter(|i| i.r#type == PackageType::Module as i32 && visible_to(i, r.organization_id.as_deref()))
            .map(|i| self.module_view(i))
            .collect();
        Ok(ListModulesResponse { modules })
    }
}
