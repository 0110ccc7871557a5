//! Golden wire tests through the whole path (MCP → tool → gRPC → sandbox journal) for the
//! organization operations, whose requests are built inline in their table rows: the bytes the
//! sandbox received must equal what the Python SDK 0.85.1 sent for the same call (the `wire::`
//! cases of tests/golden/sdk_requests.json). The other domains test their builders beside the code.
use crate::common;

use common::Harness;
use serde_json::{Value, json};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The SDK's request bytes for one case of tests/golden/sdk_requests.json, in hex.
fn golden(case: &str) -> &'static str {
    static FILE: std::sync::LazyLock<Value> = std::sync::LazyLock::new(|| {
        serde_json::from_str(include_str!("../golden/sdk_requests.json")).expect("the golden file is JSON")
    });
    FILE["cases"][case].as_str().unwrap_or_else(|| panic!("no golden case {case:?}"))
}

#[tokio::test]
async fn organization_requests_match_the_sdk_bytes() {
    let grant = json!({"authorization_type": "role", "authorization_id": "organization_owner",
        "resource_type": "organization", "resource_id": "org1", "identity_id": "u1", "organization_id": "org1",
        "identity_type": "user"});
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        ("get_user_id_by_email", json!({"email": "a@b.c"}), "GetUserIDByEmail", golden("wire::get_user_id_by_email")),
        ("create_organization", json!({"name": "org"}), "CreateOrganization", golden("wire::create_organization")),
        ("list_organizations", json!({}), "ListOrganizations", golden("wire::list_organizations")),
        (
            "get_organizations_with_access_to_location",
            json!({"location_id": "loc1"}),
            "GetOrganizationsWithAccessToLocation",
            golden("wire::get_organizations_with_access_to_location"),
        ),
        (
            "list_organizations_by_user",
            json!({"user_id": "u1"}),
            "ListOrganizationsByUser",
            golden("wire::list_organizations_by_user"),
        ),
        ("get_organization", json!({"org_id": "org1"}), "GetOrganization", golden("wire::get_organization")),
        (
            "get_organization_namespace_availability",
            json!({"public_namespace": "ns"}),
            "GetOrganizationNamespaceAvailability",
            golden("wire::get_organization_namespace_availability"),
        ),
        ("update_organization", json!({"org_id": "org1"}), "UpdateOrganization", golden("wire::update_organization")),
        (
            "update_organization",
            json!({"org_id": "org1", "name": "n", "public_namespace": "ns", "region": "us-central", "cid": "c",
                "default_fragments": [{"fragment_id": "f1", "version": "latest"}]}),
            "UpdateOrganization",
            golden("wire::update_organization#2"),
        ),
        (
            "update_organization",
            json!({"org_id": "org1", "default_fragments": []}),
            "UpdateOrganization",
            golden("wire::update_organization#3"),
        ),
        (
            "delete_organization",
            json!({"org_id": "org1", "confirm": true}),
            "DeleteOrganization",
            golden("wire::delete_organization"),
        ),
        (
            "list_organization_members",
            json!({"org_id": "org1"}),
            "ListOrganizationMembers",
            golden("wire::list_organization_members"),
        ),
        (
            "create_organization_invite",
            json!({"org_id": "org1", "email": "a@b.c"}),
            "CreateOrganizationInvite",
            golden("wire::create_organization_invite"),
        ),
        (
            "create_organization_invite",
            json!({"org_id": "org1", "email": "a@b.c", "authorizations": [grant], "send_email_invite": false}),
            "CreateOrganizationInvite",
            golden("wire::create_organization_invite#2"),
        ),
        (
            "update_organization_invite_authorizations",
            json!({"org_id": "org1", "email": "a@b.c", "add_authorizations": [grant]}),
            "UpdateOrganizationInviteAuthorizations",
            golden("wire::update_organization_invite_authorizations"),
        ),
        (
            "delete_organization_member",
            json!({"org_id": "org1", "user_id": "u1", "confirm": true}),
            "DeleteOrganizationMember",
            golden("wire::delete_organization_member"),
        ),
        (
            "delete_organization_invite",
            json!({"org_id": "org1", "email": "a@b.c", "confirm": true}),
            "DeleteOrganizationInvite",
            golden("wire::delete_organization_invite"),
        ),
        (
            "resend_organization_invite",
            json!({"org_id": "org1", "email": "a@b.c"}),
            "ResendOrganizationInvite",
            golden("wire::resend_organization_invite"),
        ),
    ];
    let harness = Harness::start().await;
    for (tool, arguments, method, expected) in cases {
        harness.sandbox.clear_journal();
        // The ids do not exist in the sandbox: most calls fail, after the request was recorded.
        harness.call(tool, arguments.clone()).await;
        let journal = harness.sandbox.journal();
        let sent: Vec<_> = journal.iter().filter(|(m, _)| m == method).collect();
        assert_eq!(sent.len(), 1, "{tool} {arguments}: {journal:?}");
        assert_eq!(hex(&sent[0].1), expected, "{tool} {arguments}");
    }
    harness.stop().await;
}
