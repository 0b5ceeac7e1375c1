//! Several `tessera serve` processes over one database behave as one service: records of one
//! person sent at the same moment through two nodes end on one profile, each node finds what the
//! other stored, and the access log both append to stays one verifiable chain. Runs over SQLite
//! (two processes on one file) and over PostgreSQL.

mod node;
#[macro_use]
mod postgres_test;
#[allow(dead_code)]
mod webhook;

use std::path::Path;

use reqwest::StatusCode;
use reqwest::blocking::Client;
use serde_json::{Value, json};

use node::{Node, tessera};

on_both_backends!(
    two_nodes_resolve_as_one,
    a_killed_node_loses_no_acknowledged_record
);

/// A valid SNILS (its check number computed as the Pension Fund does) from nine digits.
fn snils(n: u32) -> String {
    let digits: Vec<u32> = format!("{n:09}")
        .chars()
        .map(|c| c as u32 - '0' as u32)
        .collect();
    let sum: u32 = digits.iter().zip((1..=9).rev()).map(|(d, w)| d * w).sum();
    let check = match sum {
        s if s < 100 => s,
        100 | 101 => 0,
        s => (s % 101) % 100,
    };
    let d: String = digits.iter().map(|d| d.to_string()).collect();
    format!("{}-{}-{} {check:02}", &d[0..3], &d[3..6], &d[6..9])
}

const SURNAMES: [&str; 12] = [
    "Параллелев",
    "Гонкина",
    "Одновременнов",
    "Двуузлов",
    "Синхронова",
    "Разом",
    "Вместеев",
    "Сразунова",
    "Встречнов",
    "Наперегонкин",
    "Сообщаев",
    "Дублетова",
];

fn post(node: &Node, token: &str, source: &str, record: Value) -> Value {
    let response = Client::new()
        .post(format!("{}/v1/sources/{source}/records", node.base))
        .bearer_auth(token)
        .json(&json!({ "records": [record] }))
        .send()
        .unwrap();
    let status = response.status();
    let body: Value = response.json().unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    body["results"][0].clone()
}

fn lookup(node: &Node, token: &str, snils: &str) -> Vec<String> {
    let response = Client::new()
        .get(format!("{}/v1/profiles/lookup", node.base))
        .query(&[("snils", snils)])
        .bearer_auth(token)
        .header("Tessera-Purpose", "benefits")
        .send()
        .unwrap();
    let body: Value = response.json().unwrap();
    body["profiles"]
        .as_array()
        .map(|profiles| {
            profiles
                .iter()
                .map(|p| p["id"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn client(data_dir: &Path, database: Option<&postgres_test::Schema>, source: &str) -> String {
    tessera(
        data_dir,
        database,
        &[
            "clients", "add", "--role", "agency", "--name", source, "--source", source,
        ],
    )
    .trim()
    .to_string()
}

/// A demo city of 200 persons in `dir` served by two nodes (logs `node-1.log`, `node-2.log`),
/// and a token of an agency that sends health records.
fn city_with_two_nodes(
    dir: &Path,
    database: Option<&postgres_test::Schema>,
    seed: &str,
) -> (std::path::PathBuf, Node, Node, String) {
    let data_dir = dir.join("city");
    tessera(
        &data_dir,
        database,
        &["demo", "--persons", "200", "--seed", seed],
    );
    // A node that dies holds a subscription's delivery for two seconds at most.
    let lease = [
        std::ffi::OsStr::new("--event-lease-seconds"),
        std::ffi::OsStr::new("2"),
    ];
    let first = node::serve(&data_dir, database, &lease, "node-1.log");
    let second = node::serve(&data_dir, database, &lease, "node-2.log");
    let health = client(&data_dir, database, "health");
    (data_dir, first, second, health)
}

fn two_nodes_resolve_as_one(database: Option<postgres_test::Schema>) {
    let dir = tempfile::tempdir().unwrap();
    let database = database.as_ref();
    let (data_dir, first, second, health) = city_with_two_nodes(dir.path(), database, "21");
    let tax = client(&data_dir, database, "tax");

    // Each person's health record goes to the first node and their tax record to the second,
    // at the same moment.
    let people: Vec<(String, String, String)> = SURNAMES
        .iter()
        .enumerate()
        .map(|(i, surname)| {
            let number = 700_100_000 + i as u32 * 7_919;
            (surname.to_string(), snils(number), format!("{:02}", i + 1))
        })
        .collect();
    let placed: Vec<(Value, Value)> = std::thread::scope(|scope| {
        let handles: Vec<_> = people
            .iter()
            .map(|(surname, snils, day)| {
                let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
                let (b1, b2) = (barrier.clone(), barrier);
                let (first, second, health, tax) = (&first, &second, &health, &tax);
                let via_first = scope.spawn(move || {
                    b1.wait();
                    post(
                        first,
                        health,
                        "health",
                        json!({
                            "id": format!("race-{snils}"), "surname": surname,
                            "given_name": "Гонка", "patronymic": "Узловна",
                            "birth_date": format!("1988-04-{day}"), "sex": "2",
                            "oms_policy": "", "snils": snils, "phone": "",
                            "policy_date": "2025-01-01", "special_category": ""
                        }),
                    )
                });
                let via_second = scope.spawn(move || {
                    b2.wait();
                    post(
                        second,
                        tax,
                        "tax",
                        json!({
                            "№": format!("race-{snils}"),
                            "ФИО": format!("{surname} Гонка Узловна"),
                            "Дата рождения": format!("{day}.04.1988"), "СНИЛС": snils,
                            "Гражданство": "Россия",
                            "Адрес регистрации": "г. Тестоград, ул. Узловая, д. 2",
                            "Дата постановки на учет": "01.02.2025"
                        }),
                    )
                });
                (via_first, via_second)
            })
            .collect();
        handles
            .into_iter()
            .map(|(a, b)| (a.join().unwrap(), b.join().unwrap()))
            .collect()
    });
    for ((surname, snils, _), (a, b)) in people.iter().zip(&placed) {
        assert_eq!(a["status"], "resolved", "{a}");
        assert_eq!(b["status"], "resolved", "{b}");
        assert_eq!(
            a["profile"], b["profile"],
            "{surname}: two profiles for one person"
        );
        // Either node finds the one profile by the identifier.
        let profile = a["profile"].as_str().unwrap().to_string();
        assert_eq!(
            lookup(&first, &tax, snils),
            vec![profile.clone()],
            "{surname}"
        );
        assert_eq!(lookup(&second, &health, snils), vec![profile], "{surname}");
    }

    // A third record of the first person, through the first node, joins the same profile,
    // although the second node placed the person's tax record.
    let (surname, snils, day) = &people[0];
    let third = post(
        &first,
        &tax,
        "tax",
        json!({
            "№": "race-third", "ФИО": format!("{surname} Гонка Узловна"),
            "Дата рождения": format!("{day}.04.1988"), "СНИЛС": snils,
            "Гражданство": "Россия", "Адрес регистрации": "г. Тестоград, ул. Узловая, д. 2",
            "Дата постановки на учет": "01.03.2025"
        }),
    );
    assert_eq!(third["profile"], placed[0].0["profile"], "{third}");

    // Both nodes appended to one access log, and it verifies as one chain, holding the head
    // each node wrote to its own log when it started (the anchor an operator keeps).
    drop((first, second));
    let mut args = vec!["audit".to_string(), "verify".to_string()];
    for log in ["node-1.log", "node-2.log"] {
        let log = std::fs::read_to_string(data_dir.join(log)).unwrap();
        let line = log
            .lines()
            .find(|l| l.contains("access log head"))
            .unwrap_or_else(|| panic!("no anchor in {log}"));
        let anchor: Value = serde_json::from_str(line).unwrap();
        args.push("--anchor".into());
        args.push(anchor["fields"]["anchor"].as_str().unwrap().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let verified = tessera(&data_dir, database, &args);
    assert!(
        verified.contains("holds every anchor given (2)"),
        "{verified}"
    );
}

/// One health record of a new person, as an agency sends it.
fn newcomer(i: u32) -> Value {
    json!({
        "id": format!("kill-{i}"), "surname": SURNAMES[i as usize % SURNAMES.len()],
        "given_name": format!("Сбой{}", ["А", "Б", "В", "Г", "Д", "Е", "Ж", "З"][i as usize % 8]),
        "patronymic": "Узлович", "birth_date": format!("19{:02}-0{}-1{}", 50 + i % 40, 1 + i % 9, i % 10),
        "sex": "1", "oms_policy": "", "snils": snils(800_200_000 + i * 7_919), "phone": "",
        "policy_date": "2025-01-01", "special_category": ""
    })
}

/// Sends one record; `None` if the node did not answer (it is gone).
fn try_post(node: &Node, token: &str, record: &Value) -> Option<Value> {
    let response = Client::new()
        .post(format!("{}/v1/sources/health/records", node.base))
        .bearer_auth(token)
        .timeout(std::time::Duration::from_secs(20))
        .json(&json!({ "records": [record] }))
        .send()
        .ok()?;
    (response.status() == StatusCode::OK)
        .then(|| response.json::<Value>().unwrap()["results"][0].clone())
}

/// A load through two nodes, one of which is killed halfway: a client that gets no answer sends
/// the record again through the other node, and in the end every record is stored once, on a
/// profile, every change event reached the subscriber the nodes deliver to, and the access log
/// is whole.
fn a_killed_node_loses_no_acknowledged_record(database: Option<postgres_test::Schema>) {
    let dir = tempfile::tempdir().unwrap();
    let database = database.as_ref();
    let (data_dir, doomed, survivor, health) = city_with_two_nodes(dir.path(), database, "22");
    let receiver = webhook::Receiver::start();
    let steward = node::command(&data_dir, database)
        .args([
            "clients",
            "add",
            "--role",
            "steward",
            "--name",
            "Registry office",
        ])
        .output()
        .unwrap();
    let steward = String::from_utf8_lossy(&steward.stderr)
        .split_whitespace()
        .find(|w| w.starts_with("c-"))
        .unwrap()
        .to_string();
    let subscribed = tessera(
        &data_dir,
        database,
        &[
            "events",
            "subscribe",
            "--name",
            "registry",
            "--client",
            &steward,
            "--purpose",
            "data_quality",
            "--webhook",
            &format!("{}/registry", receiver.base),
        ],
    );
    let first_event: u64 = subscribed
        .split("events after #")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    const RECORDS: u32 = 40;
    // Lane 0 sends through the node that will die, lane 1 through the other; a request that
    // gets no answer is sent again through the survivor. The kill comes once the doomed node
    // has answered a few.
    let answered_by_doomed = std::sync::atomic::AtomicU32::new(0);
    let acknowledged: Vec<(u32, Value, bool)> = std::thread::scope(|scope| {
        let senders: Vec<_> = (0..2u32)
            .map(|lane| {
                let (doomed, survivor, health) = (&doomed, &survivor, &health);
                let answered_by_doomed = &answered_by_doomed;
                scope.spawn(move || {
                    let mut acked = Vec::new();
                    for i in (lane..RECORDS).step_by(2) {
                        let record = newcomer(i);
                        let first = if lane == 0 { doomed } else { survivor };
                        let (result, via_doomed) = match try_post(first, health, &record) {
                            Some(result) => (result, lane == 0),
                            None => (
                                try_post(survivor, health, &record).expect("the survivor answers"),
                                false,
                            ),
                        };
                        if via_doomed {
                            answered_by_doomed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        }
                        acked.push((i, result, via_doomed));
                    }
                    acked
                })
            })
            .collect();
        while answered_by_doomed.load(std::sync::atomic::Ordering::SeqCst) < 4 {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        doomed.kill();
        senders
            .into_iter()
            .flat_map(|sender| sender.join().unwrap())
            .collect()
    });
    let (before_kill, after_kill) = acknowledged.iter().filter(|(i, _, _)| i % 2 == 0).fold(
        (0, 0),
        |(b, a), (_, _, via_doomed)| {
            if *via_doomed { (b + 1, a) } else { (b, a + 1) }
        },
    );
    assert!(
        before_kill >= 4 && after_kill > 0,
        "the kill came mid-load: {before_kill} answered by the doomed node, {after_kill} after"
    );
    assert_eq!(acknowledged.len(), RECORDS as usize);
    for (i, result, _) in &acknowledged {
        assert!(
            ["resolved", "unchanged", "changed"].contains(&result["status"].as_str().unwrap()),
            "record {i}: {result}"
        );
        assert!(result["profile"].is_string(), "record {i}: {result}");
    }
    // Every record is stored once (one current record per key) and is on a profile.
    let links = tessera(&data_dir, database, &["links", "--out", "-"]);
    for i in 0..RECORDS {
        let rows: Vec<&str> = links
            .lines()
            .filter(|l| l.starts_with(&format!("health,kill-{i},")))
            .collect();
        assert_eq!(rows.len(), 1, "kill-{i}: {rows:?}");
        assert!(
            rows[0]
                .split(',')
                .nth(2)
                .is_some_and(|p| p.starts_with("p-")),
            "{rows:?}"
        );
    }
    // Every change event since the subscription reaches the subscriber, in order, though the
    // node that held its delivery may have died holding it: the survivor takes it over.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !tessera(&data_dir, database, &["events", "subscriptions"]).contains("(0 waiting)") {
        assert!(std::time::Instant::now() < deadline, "events still waiting");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let outbox = tessera(
        &data_dir,
        database,
        &[
            "events",
            "tail",
            "--from",
            &first_event.to_string(),
            "--limit",
            "100000",
        ],
    );
    let expected: Vec<u64> = outbox
        .lines()
        .filter_map(|l| l.strip_prefix('#')?.split_whitespace().next()?.parse().ok())
        .collect();
    assert!(expected.len() as u32 >= RECORDS / 2, "{outbox}");
    let mut first_receipts: Vec<u64> = Vec::new();
    for delivery in receiver.deliveries() {
        let seq = delivery.json()["seq"].as_u64().unwrap();
        if delivery.status == 200 && !first_receipts.contains(&seq) {
            first_receipts.push(seq);
        }
    }
    assert_eq!(
        first_receipts, expected,
        "each event once at least, in outbox order"
    );
    drop(survivor);
    let verified = tessera(&data_dir, database, &["audit", "verify"]);
    assert!(verified.contains("access log intact"), "{verified}");
}

/// A TCP relay to PostgreSQL that a test can cut and mend, to play a database outage.
struct Relay {
    address: std::net::SocketAddr,
    open: std::sync::Arc<std::sync::atomic::AtomicBool>,
    streams: std::sync::Arc<std::sync::Mutex<Vec<std::net::TcpStream>>>,
}

impl Relay {
    fn to(upstream: String) -> Relay {
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let open = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let streams = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (accepting, kept) = (open.clone(), streams.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().map_while(Result::ok) {
                if !accepting.load(Ordering::SeqCst) {
                    continue;
                }
                let Ok(server) = std::net::TcpStream::connect(&upstream) else {
                    continue;
                };
                let mut kept = kept.lock().unwrap();
                kept.push(client.try_clone().unwrap());
                kept.push(server.try_clone().unwrap());
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        Relay {
            address,
            open,
            streams,
        }
    }

    fn cut(&self) {
        self.open.store(false, std::sync::atomic::Ordering::SeqCst);
        for stream in self.streams.lock().unwrap().drain(..) {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }

    fn mend(&self) {
        self.open.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

fn health(node: &Node) -> (StatusCode, Value) {
    let response = Client::new()
        .get(format!("{}/healthz", node.base))
        .timeout(std::time::Duration::from_secs(30))
        .send()
        .unwrap();
    (response.status(), response.json().unwrap())
}

/// A node whose database stops answering says so on /healthz (503, for a load balancer to
/// route around it), and recovers when the database is back.
#[test]
fn a_node_without_its_database_is_unhealthy_until_it_returns() {
    let Some(database) = postgres_test::Schema::fresh("a_node_without_its_database") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("city");
    tessera(
        &data_dir,
        Some(&database),
        &["demo", "--persons", "100", "--seed", "23"],
    );
    // The node reaches the database through a relay: the URL's host and port are replaced.
    let url = database.url();
    let (authority_start, path_start) = {
        let at = url
            .find('@')
            .map_or(url.find("://").unwrap() + 3, |at| at + 1);
        (at, at + url[at..].find('/').unwrap())
    };
    let relay = Relay::to(url[authority_start..path_start].to_string());
    let relayed = format!(
        "{}{}{}",
        &url[..authority_start],
        relay.address,
        &url[path_start..]
    );
    let node = node::serve_with_url(&data_dir, &relayed, "node-relayed.log");
    assert_eq!(health(&node).0, StatusCode::OK);

    relay.cut();
    let (status, body) = health(&node);
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "unavailable");

    relay.mend();
    let started = std::time::Instant::now();
    while health(&node).0 != StatusCode::OK {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "the node never recovered"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}
