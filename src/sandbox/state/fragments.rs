//! Fragments, their revision history, and their use by parts (`"fragments": [...]` in a part config).
use std::collections::BTreeSet;

use prost_types::Struct;
use tonic::Status;

use super::{
    FragmentRecord, Pb, State, check_last_known_update, config_from, config_json, config_refs, find, find_mut,
    index_of, new_id, now, page, primary_org, required,
};
use crate::proto::viam::app::v1::*;

/// Sets a fragment's config, keeping `fragment_config_json` in step.
pub fn set_fragment_config(fragment: &mut Fragment, config: Struct) {
    fragment.fragment_config_json = Some(config_json(Some(&config)));
    fragment.fragment = Some(config);
}

fn uses_fragment(part: &RobotPart, fragment_id: &str) -> bool {
    config_refs(part.robot_config.as_ref(), "fragments", "id").iter().any(|f| f == fragment_id)
}

fn visibility_from(visibility: Option<i32>, public: Option<bool>) -> Option<i32> {
    visibility.or(public.map(|p| (if p { FragmentVisibility::Public } else { FragmentVisibility::Private }) as i32))
}

impl State {
    fn parts_using_fragment<'a>(&'a self, fragment_id: &'a str) -> impl Iterator<Item = &'a RobotPart> + 'a {
        self.parts.iter().map(|p| &p.part.0).filter(move |p| uses_fragment(p, fragment_id))
    }

    /// The organization owning the location of a machine.
    pub fn robot_org(&self, robot_id: &str) -> Option<&str> {
        let robot = find(&self.robots, robot_id).ok()?;
        find(&self.locations, &robot.location).ok().map(|l| primary_org(l))
    }

    fn fragment_usage(&self, fragment_id: &str, current_org: &str) -> FragmentUsage {
        let machines: BTreeSet<&str> = self.parts_using_fragment(fragment_id).map(|p| p.robot.as_str()).collect();
        let orgs: Vec<&str> = machines.iter().filter_map(|m| self.robot_org(m)).collect();
        FragmentUsage {
            fragment_id: fragment_id.to_string(),
            organizations: orgs.iter().collect::<BTreeSet<_>>().len() as i32,
            machines: machines.len() as i32,
            machines_in_current_org: orgs.iter().filter(|o| **o == current_org).count() as i32,
            version: None,
        }
    }

    fn fragment_view(&self, fragment: &Fragment) -> Fragment {
        let usage = self.fragment_usage(&fragment.id, &fragment.organization_owner);
        let owner = self.org(&fragment.organization_owner).ok();
        Fragment {
            robot_part_count: self.parts_using_fragment(&fragment.id).count() as i32,
            organization_count: usage.organizations,
            only_used_by_owner: usage.machines == usage.machines_in_current_org,
            organization_name: owner.map(|o| o.name.clone()).unwrap_or_default(),
            public_namespace: owner.map(|o| o.public_namespace.clone()).filter(|n| !n.is_empty()),
            ..fragment.clone()
        }
    }

    /// The organization's fragments, plus other organizations' public ones when `show_public`.
    pub fn list_fragments(&self, r: ListFragmentsRequest) -> Result<ListFragmentsResponse, Status> {
        self.org(&r.organization_id)?;
        let public = FragmentVisibility::Public as i32;
        let fragments: Vec<Fragment> = self
            .fragments
            .iter()
            .map(|f| &f.fragment.0)
            .filter(|f| f.organization_owner == r.organization_id || (r.show_public && f.visibility == public))
            .filter(|f| r.fragment_visibility.is_empty() || r.fragment_visibility.contains(&f.visibility))
            .map(|f| self.fragment_view(f))
            .collect();
        let fragment_usages = fragments.iter().map(|f| self.fragment_usage(&f.id, &r.organization_id)).collect();
        Ok(ListFragmentsResponse { fragments, fragment_usages })
    }

    /// `version` picks an older revision from the history.
    pub fn get_fragment(&self, r: GetFragmentRequest) -> Result<GetFragmentResponse, Status> {
        let record = find(&self.fragments, &r.id)?;
        let current = &record.fragment;
        let fragment = match r.version.as_deref().filter(|v| !v.is_empty() && *v != "latest" && *v != current.revision)
        {
            None => current.0.clone(),
            Some(version) => record
                .history
                .iter()
                .find(|e| e.revision == version)
                .and_then(|e| e.old.clone())
                .ok_or_else(|| Status::not_found(format!("fragment {:?} has no revision {version:?}", r.id)))?,
        };
        let current_org =
            if r.current_organization_id.is_empty() { &current.organization_owner } else { &r.current_organization_id };
        let revisions = record
            .history
            .iter()
            .filter_map(|e| e.old.as_ref())
            .chain([&current.0])
            .map(|f| FragmentRevision { revision: f.revision.clone(), created_at: f.last_updated })
            .collect();
        Ok(GetFragmentResponse {
            fragment: Some(self.fragment_view(&fragment)),
            fragment_usage: Some(self.fragment_usage(&r.id, current_org)),
            revisions,
            tags: vec![FragmentTag { tag: "latest".into(), revision: current.revision.clone() }],
        })
    }

    pub fn create_fragment(&mut self, r: CreateFragmentRequest) -> Result<CreateFragmentResponse, Status> {
        required(&r.name, "fragment name")?;
        self.org(&r.organization_id)?;
        let visibility = r.visibility.unwrap_or(FragmentVisibility::Private as i32);
        let created = now();
        let mut fragment = Fragment {
            id: new_id(),
            name: r.name,
            organization_owner: r.organization_id,
            public: visibility == FragmentVisibility::Public as i32,
            created_on: Some(created),
            visibility,
            last_updated: Some(created),
            revision: "1".into(),
            ..Default::default()
        };
        set_fragment_config(&mut fragment, r.config.unwrap_or_default());
        self.fragments.push(FragmentRecord { fragment: Pb(fragment.clone()), history: Vec::new() });
        Ok(CreateFragmentResponse { fragment: Some(self.fragment_view(&fragment)) })
    }

    /// Records the fragment as it was in its history and bumps the revision.
    pub fn update_fragment(
        &mut self,
        r: UpdateFragmentRequest,
        caller: &str,
    ) -> Result<UpdateFragmentResponse, Status> {
        required(&r.name, "fragment name")?;
        let current = find(&self.fragments, &r.id)?.fragment.0.clone();
        check_last_known_update(r.last_known_update.as_ref(), current.last_updated.as_ref(), "fragment")?;
        let config = config_from(r.fragment_config_json.as_deref(), r.config)?;
        let when = now();
        let record = find_mut(&mut self.fragments, &r.id)?;
        record.history.push(Pb(FragmentHistoryEntry {
            fragment: current.id.clone(),
            edited_on: Some(when),
            revision: current.revision.clone(),
            config: current.fragment.clone(),
            edited_by: Some(AuthenticatorInfo {
                r#type: AuthenticationType::ApiKey as i32,
                value: caller.to_string(),
                is_deactivated: false,
            }),
            old: Some(current),
        }));
        let fragment = &mut record.fragment;
        fragment.name = r.name;
        if let Some(config) = config {
            set_fragment_config(fragment, config);
        }
        if let Some(visibility) = visibility_from(r.visibility, r.public) {
            fragment.visibility = visibility;
            fragment.public = visibility == FragmentVisibility::Public as i32;
        }
        fragment.last_updated = Some(when);
        fragment.revision = (fragment.revision.parse::<u64>().unwrap_or(0) + 1).to_string();
        let fragment = fragment.0.clone();
        let users: Vec<usize> = (0..self.parts.len()).filter(|&i| uses_fragment(&self.parts[i].part, &r.id)).collect();
        for index in users {
            self.config_changed(index, &when);
        }
        Ok(UpdateFragmentResponse { fragment: Some(self.fragment_view(&fragment)) })
    }

    /// Refused while parts still use the fragment: their configs would point at nothing.
    pub fn delete_fragment(&mut self, r: DeleteFragmentRequest) -> Result<DeleteFragmentResponse, Status> {
        let index = index_of(&self.fragments, &r.id)?;
        let users = self.parts_using_fragment(&r.id).count();
        if users > 0 {
            return Err(Status::failed_precondition(format!(
                "fragment {:?} is used by {users} robot part(s); remove it from their configs first",
                r.id
            )));
        }
        self.fragments.remove(index);
        Ok(DeleteFragmentResponse {})
    }

    /// Newest first.
    pub fn get_fragment_history(&self, r: GetFragmentHistoryRequest) -> Result<GetFragmentHistoryResponse, Status> {
        let record = find(&self.fragments, &r.id)?;
        let entries: Vec<FragmentHistoryEntry> = record.history.iter().rev().map(|e| e.0.clone()).collect();
        let (history, next_page_token) = page(&entries, r.page_token.as_deref(), r.page_limit, 10)?;
        Ok(GetFragmentHistoryResponse { history, next_page_token })
    }
}
