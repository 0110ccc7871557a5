//! Golden wire tests through the whole path (MCP → tool → gRPC → sandbox journal) for the
//! organization operations, whose requests are built inline in their table rows: the bytes the
//! sandbox received must equal what the Python SDK 0.85.1 sent for the same call
//! (viam-app-api.md §1.2.1–1.2.15). The other domains test their builders beside the code.
use crate::common;

use common::Harness;
use serde_json::{Value, json};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn organization_requests_match_the_sdk_bytes() {
    let grant = json!({"authorization_type": "role", "authorization_id": "organization_owner",
        "resource_type": "organization", "resource_id": "org1", "identity_id": "u1", "organization_id": "org1",
        "identity_type": "user"});
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        ("get_user_id_by_email", json!({"email": "a@b.c"}), "GetUserIDByEmail", "0a056140622e63"),
        ("create_organization", json!({"name": "org"}), "CreateOrganization", "0a036f7267"),
        ("list_organizations", json!({}), "ListOrganizations", ""),
        (
            "get_organizations_with_access_to_location",
            json!({"location_id": "loc1"}),
            "GetOrganizationsWithAccessToLocation",
            "0a046c6f6331",
        ),
        ("list_organizations_by_user", json!({"user_id": "u1"}), "ListOrganizationsByUser", "0a027531"),
        ("get_organization", json!({"org_id": "org1"}), "GetOrganization", "0a046f726731"),
        (
            "get_organization_namespace_availability",
            json!({"public_namespace": "ns"}),
            "GetOrganizationNamespaceAvailability",
            "0a026e73",
        ),
        ("update_organization", json!({"org_id": "org1"}), "UpdateOrganization", "0a046f726731"),
        (
            "update_organization",
            json!({"org_id": "org1", "name": "n", "public_namespace": "ns", "region": "us-central", "cid": "c",
                "default_fragments": [{"fragment_id": "f1", "version": "latest"}]}),
            "UpdateOrganization",
            "0a046f72673112016e1a026e73220a75732d63656e7472616c2a0163320e0a0c0a02663112066c6174657374",
        ),
        (
            "update_organization",
            json!({"org_id": "org1", "default_fragments": []}),
            "UpdateOrganization",
            "0a046f7267313200",
        ),
        ("delete_organization", json!({"org_id": "org1", "confirm": true}), "DeleteOrganization", "0a046f726731"),
        ("list_organization_members", json!({"org_id": "org1"}), "ListOrganizationMembers", "0a046f726731"),
        (
            "create_organization_invite",
            json!({"org_id": "org1", "email": "a@b.c"}),
            "CreateOrganizationInvite",
            "0a046f72673112056140622e632001",
        ),
        (
            "create_organization_invite",
            json!({"org_id": "org1", "email": "a@b.c", "authorizations": [grant], "send_email_invite": false}),
            "CreateOrganizationInvite",
            "0a046f72673112056140622e631a3e0a04726f6c6512126f7267616e697a6174696f6e5f6f776e65721a0c6f7267616e697a6174696f6e22046f7267312a02753132046f7267313a04757365722000",
        ),
        (
            "update_organization_invite_authorizations",
            json!({"org_id": "org1", "email": "a@b.c", "add_authorizations": [grant]}),
            "UpdateOrganizationInviteAuthorizations",
            "0a046f72673112056140622e631a3e0a04726f6c6512126f7267616e697a6174696f6e5f6f776e65721a0c6f7267616e697a6174696f6e22046f7267312a02753132046f7267313a0475736572",
        ),
        (
            "delete_organization_member",
            json!({"org_id": "org1", "user_id": "u1", "confirm": true}),
            "DeleteOrganizationMember",
            "0a046f72673112027531",
        ),
        (
            "delete_organization_invite",
            json!({"org_id": "org1", "email": "a@b.c", "confirm": true}),
            "DeleteOrganizationInvite",
            "0a046f72673112056140622e63",
        ),
        (
            "resend_organization_invite",
            json!({"org_id": "org1", "email": "a@b.c"}),
            "ResendOrganizationInvite",
            "0a046f72673112056140622e63",
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
