//! Several `tessera serve` processes over one database behave as one service: records of one
//! person sent at the same moment through two nodes end on one profile, each node finds what the
//! other stored, and the access log both append to stays one verifiable chain. Runs over SQLite
//! (two processes on one file) and over PostgreSQL.

mod node;
mod postgres_test;

use std::path::Path;

use reqwest::StatusCode;
use reqwest::blocking::Client;
use serde_json::{Value, json};

use node::{Node, tessera};

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

fn client(data_dir: &Path, database: Option<&postgres_test::Database>, source: &str) -> String {
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

fn two_nodes_resolve_as_one(database: Option<postgres_test::Database>) {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("city");
    let database = database.as_ref();
    tessera(
        &data_dir,
        database,
        &["demo", "--persons", "200", "--seed", "21"],
    );
    let first = node::serve(&data_dir, database, &[], "node-1.log");
    let second = node::serve(&data_dir, database, &[], "node-2.log");
    let health = client(&data_dir, database, "health");
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

    // Both nodes appended to one access log, and it verifies as one chain.
    drop((first, second));
    let verified = tessera(&data_dir, database, &["audit", "verify"]);
    assert!(verified.contains("access log intact"), "{verified}");
}

#[test]
fn two_sqlite_nodes_resolve_as_one() {
    two_nodes_resolve_as_one(None);
}

#[test]
fn two_postgres_nodes_resolve_as_one() {
    match postgres_test::Database::fresh("nodes") {
        Some(database) => two_nodes_resolve_as_one(Some(database)),
        None => postgres_test::say_skipped("nodes_http::two_postgres_nodes_resolve_as_one"),
    }
}
