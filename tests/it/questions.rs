//! Fleet questions in one call (issue 22), on `fleet:2000` through the real binary: columns, counts and
//! filters over the org-wide summary, checked against what the sandbox itself answers.
use crate::common::{Harness, assert_error_code};
use crate::fleet::{RESULT_BYTES, fleet_harness, text_len};
use crate::sandbox::client;
use prost::Message;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use viam_fleet_mcp::proto::viam::app::v1::{ListMachineSummariesRequest, OnlineState, PartSummary};
use viam_fleet_mcp::sandbox::ids;

/// One machine as the sandbox reports it, read straight from its ListMachineSummaries.
struct Truth {
    id: String,
    name: String,
    location_id: String,
    state: &'static str,
    /// The main part's viam-server version, as `major.minor`.
    server: Option<String>,
    agent: Option<String>,
    platform: Option<String>,
    /// The main part's last access, in seconds.
    last_online: Option<i64>,
    seconds_since_online: i64,
    fragments: BTreeSet<String>,
}

async fn truth(h: &Harness) -> Vec<Truth> {
    let request = ListMachineSummariesRequest { organization_id: ids::ORG.into(), ..Default::default() };
    let response = client(&h.sandbox).await.list_machine_summaries(request).await.unwrap().into_inner();
    let mut machines = Vec::new();
    for location in response.location_summaries {
        for machine in location.machine_summaries {
            let main: &PartSummary = machine.part_summaries.iter().find(|p| p.is_main_part).unwrap();
            let state = match OnlineState::try_from(main.online_state).unwrap() {
                OnlineState::Online => "online",
                OnlineState::Offline => "offline",
                OnlineState::AwaitingSetup => "awaiting_setup",
                OnlineState::Unspecified => "unknown",
            };
            machines.push(Truth {
                id: machine.machine_id.clone(),
                name: machine.machine_name.clone(),
                location_id: location.location_id.clone(),
                state,
                server: main.viam_server_version.as_ref().map(|v| format!("{}.{}", v.major, v.minor)),
                agent: main.viam_agent_version.as_ref().map(|v| format!("{}.{}", v.major, v.minor)),
                platform: main.platform.clone(),
                last_online: main.last_access.map(|t| t.seconds),
                seconds_since_online: main.seconds_since_online,
                fragments: machine.part_summaries.iter().flat_map(|p| &p.fragments).map(|f| f.id.clone()).collect(),
            });
        }
    }
    assert_eq!(machines.len(), 2000);
    machines
}

/// A version's numbers, to find the newest as a person would.
fn numbers(version: &str) -> Vec<u64> {
    version.split('.').map(|n| n.parse().unwrap()).collect()
}

/// The one result a question gets: small, complete and unpaged.
async fn one_call(h: &Harness, arguments: Value) -> Value {
    let result = h.call("list_machine_summaries", arguments.clone()).await;
    assert_ne!(result.is_error, Some(true), "{arguments}: {:?}", result.structured_content);
    assert!(text_len(&result) <= RESULT_BYTES, "{arguments}: {} bytes", text_len(&result));
    let value = result.structured_content.unwrap();
    assert!(value["next_cursor"].is_null(), "{arguments}: paged");
    assert!(value.get("other_groups").is_none() && value.get("truncated").is_none(), "{value}");
    value
}

/// Each group's count by its value (`null` as "null").
fn counts(result: &Value) -> BTreeMap<String, u64> {
    let groups = result["groups"].as_array().unwrap();
    assert_eq!(result["count"], json!(groups.len()));
    for pair in groups.windows(2) {
        assert!(pair[0]["count"].as_u64() >= pair[1]["count"].as_u64(), "biggest first: {pair:?}");
    }
    for group in groups {
        let examples = group["examples"].as_array().unwrap();
        assert_eq!(examples.len() as u64, group["count"].as_u64().unwrap().min(5), "{group}");
    }
    groups.iter().map(|g| (g["value"].as_str().unwrap_or("null").to_string(), g["count"].as_u64().unwrap())).collect()
}

fn tally<'a>(values: impl Iterator<Item = Option<&'a str>>) -> BTreeMap<String, u64> {
    let mut tally = BTreeMap::new();
    for value in values {
        *tally.entry(value.unwrap_or("null").to_string()).or_default() += 1;
    }
    tally
}

#[tokio::test]
async fn fleet_questions_take_one_small_call_each() {
    let h = fleet_harness(&[]).await;
    let fleet = truth(&h).await;
    let org = ids::ORG;
    h.sandbox.clear_journal();

    // "Which machines run a viam-server older than the newest?": the versions, counted.
    let versions = one_call(&h, json!({"org_id": org, "group_by": "viam_server_version"})).await;
    let expected = tally(fleet.iter().map(|m| m.server.as_deref()));
    assert!(expected.len() > 2, "{expected:?}");
    assert_eq!(counts(&versions), expected);
    // … and where those machines are, with the filter.
    let newest = fleet.iter().filter_map(|m| m.server.as_deref()).max_by_key(|v| numbers(v)).unwrap();
    let older: Vec<&Truth> =
        fleet.iter().filter(|m| m.server.as_deref().is_some_and(|v| numbers(v) < numbers(newest))).collect();
    let question = json!({"org_id": org, "viam_server_version": {"older_than": "newest"}, "group_by": "location"});
    let outdated = one_call(&h, question).await;
    assert_eq!(outdated["total"], json!(older.len()));
    assert_eq!(counts(&outdated), tally(older.iter().map(|m| Some(m.location_id.as_str()))));
    let by_version = json!({"org_id": org, "viam_server_version": {"older_than": newest}, "fields": ["machine_id"]});
    let ids = every_row(&h, by_version).await;
    assert_eq!(
        ids.iter().map(|r| r[0].as_str().unwrap()).collect::<BTreeSet<_>>(),
        older.iter().map(|m| m.id.as_str()).collect()
    );
    let same =
        json!({"org_id": org, "viam_server_version": {"equals": format!("v{newest}.0")}, "group_by": "online_state"});
    let at_newest = fleet.iter().filter(|m| m.server.as_deref() == Some(newest)).count();
    assert_eq!(one_call(&h, same).await["total"], json!(at_newest));

    // "Which machines are offline, and since when?": every offline machine with its last time online.
    let offline: BTreeMap<&str, &Truth> =
        fleet.iter().filter(|m| m.state == "offline").map(|m| (m.id.as_str(), m)).collect();
    assert!(offline.len() >= 100, "{}", offline.len());
    let fields = json!(["machine_id", "name", "location_id", "last_online"]);
    let answer = one_call(&h, json!({"org_id": org, "online_state": "offline", "fields": fields})).await;
    assert_eq!(answer["columns"], fields);
    let rows = answer["rows"].as_array().unwrap();
    assert_eq!(rows.len(), offline.len());
    for row in rows {
        let machine = offline[row[0].as_str().unwrap()];
        assert_eq!(
            (row[1].as_str(), row[2].as_str()),
            (Some(machine.name.as_str()), Some(machine.location_id.as_str()))
        );
        let since = chrono::DateTime::parse_from_rfc3339(row[3].as_str().unwrap()).unwrap().timestamp();
        assert_eq!(Some(since), machine.last_online, "{row}");
        assert!(answer["locations"][&machine.location_id].is_string(), "the page names {}", machine.location_id);
    }
    // Offline for longer than about half the offline machines: a bound in the widest gap of the middle
    // half, so a clock that moved on since the sandbox was read moves no machine across it.
    let mut seconds: Vec<i64> = offline.values().map(|m| m.seconds_since_online).collect();
    seconds.sort();
    let middle = seconds.len() / 4..seconds.len() * 3 / 4;
    let widest = middle.max_by_key(|&i| seconds[i + 1] - seconds[i]).unwrap();
    let over = (seconds[widest] + seconds[widest + 1]) / 2;
    let long = one_call(&h, json!({"org_id": org, "offline_for_seconds_over": over, "fields": ["machine_id"]})).await;
    let long: BTreeSet<&str> = long["rows"].as_array().unwrap().iter().map(|r| r[0].as_str().unwrap()).collect();
    let expected: BTreeSet<&str> =
        offline.values().filter(|m| m.seconds_since_online > over).map(|m| m.id.as_str()).collect();
    assert!(!expected.is_empty() && expected.len() < offline.len());
    assert_eq!(long, expected);

    // Each call sent one ListMachineSummaries, the request of old: the filters and columns are the server's.
    let plain = ListMachineSummariesRequest { organization_id: org.into(), ..Default::default() };
    for (method, bytes) in h.sandbox.journal() {
        assert_eq!(method, "ListMachineSummaries");
        assert_eq!(ListMachineSummariesRequest::decode(bytes.as_slice()).unwrap(), plain);
    }
    h.stop().await;
}

/// Every row of a table listing, checking each page is within the budget.
async fn every_row(h: &Harness, mut arguments: Value) -> Vec<Value> {
    let mut rows = Vec::new();
    for _ in 0..10 {
        let result = h.call("list_machine_summaries", arguments.clone()).await;
        assert!(text_len(&result) <= RESULT_BYTES, "{} bytes", text_len(&result));
        let page = result.structured_content.unwrap();
        rows.extend(page["rows"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => arguments["cursor"] = json!(next),
            None => return rows,
        }
    }
    panic!("paging does not end")
}

#[tokio::test]
async fn the_whole_fleet_in_three_columns_and_every_count() {
    let h = fleet_harness(&[]).await;
    let fleet = truth(&h).await;
    let by_id: BTreeMap<&str, &Truth> = fleet.iter().map(|m| (m.id.as_str(), m)).collect();

    // All 2,000 machines with three columns in at most 3 pages, none lost or repeated.
    let mut arguments = json!({"org_id": ids::ORG, "fields": ["machine_id", "online_state", "viam_server_version"]});
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let result = h.call("list_machine_summaries", arguments.clone()).await;
        pages += 1;
        assert!(text_len(&result) <= RESULT_BYTES, "page {pages}: {} bytes", text_len(&result));
        let page = result.structured_content.unwrap();
        assert_eq!(page["total"], json!(2000));
        let rows = page["rows"].as_array().unwrap();
        assert_eq!(page["count"], json!(rows.len()));
        for row in rows {
            let machine = by_id[row[0].as_str().unwrap()];
            assert_eq!((row[1].as_str(), row[2].as_str()), (Some(machine.state), machine.server.as_deref()), "{row}");
            seen.push(machine.id.as_str());
        }
        match page["next_cursor"].as_str() {
            Some(next) => arguments["cursor"] = json!(next),
            None => break,
        }
        assert!(pages < 10, "paging does not end");
    }
    assert!(pages <= 3, "{pages} pages");
    let unique: BTreeSet<&str> = seen.iter().copied().collect();
    assert_eq!(seen.len(), unique.len(), "a machine came twice");
    assert_eq!(unique, by_id.keys().copied().collect());

    // Every group_by counts the whole fleet, in one result.
    let by_fragment = |m: &Truth| -> Vec<Option<String>> {
        if m.fragments.is_empty() { vec![None] } else { m.fragments.iter().cloned().map(Some).collect() }
    };
    let expected: [(&str, Vec<Option<String>>); 6] = [
        ("online_state", fleet.iter().map(|m| Some(m.state.to_string())).collect()),
        ("viam_server_version", fleet.iter().map(|m| m.server.clone()).collect()),
        ("viam_agent_version", fleet.iter().map(|m| m.agent.clone()).collect()),
        ("platform", fleet.iter().map(|m| m.platform.clone()).collect()),
        ("location", fleet.iter().map(|m| Some(m.location_id.clone())).collect()),
        ("fragment", fleet.iter().flat_map(by_fragment).collect()),
    ];
    for (by, values) in expected {
        let result = one_call(&h, json!({"org_id": ids::ORG, "group_by": by})).await;
        assert_eq!(result["total"], json!(2000), "{by}");
        let counts = counts(&result);
        assert_eq!(counts, tally(values.iter().map(Option::as_deref)), "{by}");
        let sum: u64 = counts.values().sum();
        if by == "fragment" {
            // A machine counts under each fragment it uses; those using none are the `null` group.
            assert_eq!(sum, fleet.iter().map(|m| m.fragments.len().max(1) as u64).sum::<u64>());
        } else {
            assert_eq!(sum, 2000, "{by}");
        }
    }

    // "Which parts use fragment X, and where?": the parts using it, by machine, with the location names.
    let pack = "f1ee0000-0005-4000-8000-000000000005";
    let users: BTreeMap<&str, &Truth> =
        fleet.iter().filter(|m| m.fragments.contains(pack)).map(|m| (m.id.as_str(), m)).collect();
    let fields = json!(["machine_id", "location_id", "part_names"]);
    h.sandbox.clear_journal();
    let answer = one_call(&h, json!({"org_id": ids::ORG, "fragment_ids": [pack], "fields": fields})).await;
    let sent = ListMachineSummariesRequest::decode(h.sandbox.journal()[0].1.as_slice()).unwrap();
    assert_eq!((sent.fragment_ids, sent.limit), (vec![pack.to_string()], None), "the fragment filter is AppService's");
    let rows = answer["rows"].as_array().unwrap();
    assert_eq!(rows.len(), users.len());
    let request = ListMachineSummariesRequest {
        organization_id: ids::ORG.into(),
        fragment_ids: vec![pack.into()],
        ..Default::default()
    };
    let reported = client(&h.sandbox).await.list_machine_summaries(request).await.unwrap().into_inner();
    let parts: BTreeMap<&str, Vec<&str>> = reported
        .location_summaries
        .iter()
        .flat_map(|l| &l.machine_summaries)
        .map(|m| {
            let using = m.part_summaries.iter().filter(|p| p.fragments.iter().any(|f| f.id == pack));
            (m.machine_id.as_str(), using.map(|p| p.part_name.as_str()).collect())
        })
        .collect();
    for row in rows {
        let id = row[0].as_str().unwrap();
        assert_eq!(row[1].as_str(), Some(users[id].location_id.as_str()));
        assert_eq!(row[2], json!(parts[id]), "{row}");
        assert!(answer["locations"][row[1].as_str().unwrap()].is_string());
    }
    h.stop().await;
}

#[tokio::test]
async fn full_rows_carry_each_parts_state_and_bad_combinations_are_refused() {
    let h = fleet_harness(&[]).await;
    let fleet = truth(&h).await;
    let page = h.ok("list_machine_summaries", json!({"org_id": ids::ORG, "limit": 50})).await;
    for machine in page["machines"].as_array().unwrap() {
        let truth = fleet.iter().find(|m| m.id == machine["machine_id"]).unwrap();
        assert_eq!(machine["online_state"], json!(truth.state));
        for part in machine["parts"].as_array().unwrap() {
            assert!(part["online_state"].is_string(), "{part}");
            if part["main"] == json!(true) {
                assert_eq!(part["online_state"], json!(truth.state));
                assert_eq!(part["viam_server"].as_str(), truth.server.as_deref());
            }
        }
        assert!(page["locations"][truth.location_id.as_str()].is_string());
    }

    h.sandbox.clear_journal();
    let refused = [
        (json!({"group_by": "platform", "fields": ["name"]}), vec!["group_by:"]),
        (json!({"fields": ["nam"]}), vec!["fields", "did you mean \"name\""]),
        (json!({"group_by": "versions"}), vec!["group_by", "\"versions\""]),
        (json!({"fields": ["name", "name"]}), vec!["fields: \"name\" is named twice"]),
        (json!({"fields": []}), vec!["fields:"]),
        (json!({"group_by": "location", "cursor": "x"}), vec!["cursor:"]),
        (json!({"viam_server_version": {"older_than": "dev"}}), vec!["viam_server_version.older_than"]),
        (json!({"viam_server_version": {"older_than": "0.6", "equals": "0.6"}}), vec!["viam_server_version:"]),
        (json!({"offline_for_seconds_over": 60, "online_state": "online"}), vec!["offline_for_seconds_over:"]),
        (json!({"limit": 1001}), vec!["limit:"]),
        (json!({"name_contains": "x".repeat(201)}), vec!["name_contains:"]),
        (json!({"group_by": "location", "fields": ["name"], "limit": 0}), vec!["2 problems", "group_by:", "limit:"]),
    ];
    for (mut arguments, words) in refused {
        arguments["org_id"] = json!(ids::ORG);
        let error = h.err("list_machine_summaries", arguments.clone()).await;
        assert_error_code(&error, "invalid_arguments");
        let message = error["message"].as_str().unwrap();
        for word in words {
            assert!(message.contains(word), "{arguments}: {word} in {message}");
        }
    }
    assert!(h.methods().is_empty(), "{:?}", h.methods());

    // The new arguments send nothing new: the reference's golden request for organization "org1".
    let arguments = json!({"org_id": "org1", "group_by": "platform", "viam_server_version": {"older_than": "0.9"},
                           "offline_for_seconds_over": 60, "name_contains": "arm"});
    assert_error_code(&h.err("list_machine_summaries", arguments).await, "NOT_FOUND");
    // (A NOT_FOUND is explained by reads of other methods.)
    let journal = h.sandbox.journal();
    let sent: Vec<String> =
        journal.iter().filter(|(method, _)| method == "ListMachineSummaries").map(|(_, bytes)| hex(bytes)).collect();
    assert_eq!(sent, ["0a046f726731"]);
    h.stop().await;
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
