//! Change events end to end through the binary: records imported and resolved write the
//! outbox; `tessera events deliver` sends each subscriber, by signed webhook, only what its
//! purpose may see, logs every delivery, and sends again what a subscriber refused. Each test
//! runs over SQLite and over PostgreSQL.

use std::collections::HashMap;
use std::path::PathBuf;

use chrono::{Days, NaiveDate, Utc};
use serde_json::Value;

#[allow(dead_code)]
mod node;
#[macro_use]
mod postgres_test;
#[allow(dead_code)]
mod webhook;

use postgres_test::Schema;
use webhook::{Delivery, Receiver};

on_both_backends!(
    subscribers_receive_what_their_purpose_may_see_signed_logged_and_again_when_refused,
    subscriptions_refuse_a_purpose_the_client_may_not_use_and_a_bad_target,
    a_jetstream_subscriber_gets_each_event_once_under_its_id,
);

/// A migration registry: the person's address and permit.
const REGISTRY_FIELDS: &str = r#"
[[field]]
column = "address"
target = "address.registered"

[[field]]
column = "permit"
target = "permit.number"

[[field]]
column = "permit_until"
target = "permit.valid_until"
formats = ["%Y-%m-%d"]
"#;

/// An employer's payroll: the employment, and when it ended.
const PAYROLL_FIELDS: &str = r#"
[[field]]
column = "employer"
target = "employment.employer_name"

[[field]]
column = "tab_no"
target = "employment.personnel_number"

[[field]]
column = "ended"
target = "employment.to"
formats = ["%Y-%m-%d"]
"#;

struct Place {
    _dir: tempfile::TempDir,
    data_dir: PathBuf,
    files: PathBuf,
    database: Option<Schema>,
}

impl Place {
    fn new(database: Option<Schema>) -> Place {
        let dir = tempfile::tempdir().unwrap();
        let files = dir.path().join("files");
        std::fs::create_dir_all(&files).unwrap();
        std::fs::write(
            files.join("registry.toml"),
            node::mapping("registry", REGISTRY_FIELDS),
        )
        .unwrap();
        std::fs::write(
            files.join("payroll.toml"),
            node::mapping("payroll", PAYROLL_FIELDS),
        )
        .unwrap();
        Place {
            data_dir: dir.path().join("data"),
            files,
            _dir: dir,
            database,
        }
    }

    fn tessera(&self, args: &[&str]) -> String {
        node::tessera(&self.data_dir, self.database.as_ref(), args)
    }

    /// Runs a command expected to fail; returns its exit code and stderr.
    fn failing(&self, args: &[&str]) -> (i32, String) {
        let out = node::command(&self.data_dir, self.database.as_ref())
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} succeeded");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn import(&self, source: &str, csv: &str, name: &str) {
        let file = self.files.join(name);
        std::fs::write(&file, csv).unwrap();
        let mapping = self.files.join(format!("{source}.toml"));
        self.tessera(&[
            "import",
            "--mapping",
            mapping.to_str().unwrap(),
            file.to_str().unwrap(),
            "--resolve",
        ]);
    }

    /// Adds a client and returns its id.
    fn client(&self, role: &str, name: &str) -> String {
        let out = node::command(&self.data_dir, self.database.as_ref())
            .args(["clients", "add", "--role", role, "--name", name])
            .output()
            .unwrap();
        assert!(out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        stderr
            .split_whitespace()
            .find(|word| word.starts_with("c-"))
            .unwrap_or_else(|| panic!("no client id in {stderr}"))
            .to_string()
    }

    /// Subscribes a client by webhook to the events from now on; returns the signing secret.
    fn subscribe(&self, name: &str, client: &str, purpose: &str, url: &str) -> String {
        let out = self.tessera(&[
            "events",
            "subscribe",
            "--name",
            name,
            "--client",
            client,
            "--purpose",
            purpose,
            "--webhook",
            url,
        ]);
        out.lines().last().unwrap().trim().to_string()
    }

    /// How many entries the access log holds (and that its chain is intact).
    fn log_entries(&self) -> u64 {
        let out = self.tessera(&["audit", "verify"]);
        let anchor = out
            .lines()
            .find_map(|l| l.trim().strip_prefix("anchor: "))
            .unwrap();
        anchor.split(':').next().unwrap().parse().unwrap()
    }
}

fn day(offset: i64) -> NaiveDate {
    let today = Utc::now().date_naive();
    if offset >= 0 {
        today + Days::new(offset as u64)
    } else {
        today - Days::new((-offset) as u64)
    }
}

/// The kinds delivered to `path`, in arrival order, with each answer.
fn kinds_at(deliveries: &[Delivery], path: &str) -> Vec<(String, u16)> {
    deliveries
        .iter()
        .filter(|d| d.path == path)
        .map(|d| (d.json()["kind"].as_str().unwrap().to_string(), d.status))
        .collect()
}

fn values_of(delivery: &Delivery) -> Vec<Value> {
    delivery.json()["values"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn subscribers_receive_what_their_purpose_may_see_signed_logged_and_again_when_refused(
    database: Option<Schema>,
) {
    let place = Place::new(database);
    // A small city first: the matching model is learned from the registry's records.
    place.tessera(&["demo", "--persons", "300", "--seed", "11"]);
    let receiver = Receiver::start();
    let migration = place.client("agency", "Migration centre");
    let tax = place.client("agency", "Tax office");
    let migration_secret = place.subscribe(
        "migration-centre",
        &migration,
        "migration",
        &format!("{}/migration", receiver.base),
    );
    let tax_secret = place.subscribe("tax-office", &tax, "tax", &format!("{}/tax", receiver.base));
    assert_eq!(migration_secret.len(), 64, "{migration_secret}");
    let header = "key,surname,given,birth,snils,address,permit,permit_until\n";
    place.import(
        "registry",
        &format!(
            "{header}m1,Каримов,Алишер,1990-03-15,112-233-445 95,\"г. Казань, ул. Ленина, д. 5\",77 1234567,{}\n\
             m2,Рахимова,Дилноза,1988-07-01,112-233-446 96,\"г. Казань, ул. Баумана, д. 1\",77 7654321,{}\n",
            day(10),
            day(45)
        ),
        "registry-1.csv",
    );

    // The person moves and is dismissed; the tax office's webhook refuses the move once.
    place.import(
        "registry",
        &format!(
            "{header}m1,Каримов,Алишер,1990-03-15,112-233-445 95,\"г. Москва, ул. Тверская, д. 7\",77 1234567,{}\n\
             m2,Рахимова,Дилноза,1988-07-01,112-233-446 96,\"г. Казань, ул. Баумана, д. 1\",77 7654321,{}\n",
            day(10),
            day(45)
        ),
        "registry-2.csv",
    );
    place.import(
        "payroll",
        &format!(
            "key,surname,given,birth,snils,employer,tab_no,ended\n\
             e1,Каримов,Алишер,1990-03-15,112-233-445 95,ООО Ромашка,17,{}\n",
            day(-3)
        ),
        "payroll.csv",
    );
    eprintln!(
        "DEBUG {}",
        place.tessera(&["events", "tail", "--purpose", "data_quality"])
    );
    receiver.refuse_once("/tax", "address_changed");
    let logged = place.log_entries();
    let (code, stderr) = place.failing(&["events", "deliver"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("tax-office") && stderr.contains("503"),
        "{stderr}"
    );
    // Every attempt, the refused one too, was logged before it was sent.
    assert_eq!(
        place.log_entries() - logged,
        receiver.deliveries().len() as u64
    );
    place.tessera(&["events", "deliver"]);

    let deliveries = receiver.deliveries();
    let created = ("profile_created".to_string(), 200);
    assert_eq!(
        kinds_at(&deliveries, "/migration"),
        vec![
            created.clone(),
            created.clone(),
            ("permit_expiring".into(), 200),
            ("address_changed".into(), 200),
            ("dismissed".into(), 200),
        ]
    );
    // The tax office may not see permits; it gets the move again after refusing it.
    assert_eq!(
        kinds_at(&deliveries, "/tax"),
        vec![
            created.clone(),
            created,
            ("address_changed".into(), 503),
            ("address_changed".into(), 200),
            ("dismissed".into(), 200),
        ]
    );
    let secrets = HashMap::from([
        ("/migration", migration_secret.as_str()),
        ("/tax", tax_secret.as_str()),
    ]);
    let now = Utc::now().timestamp();
    let mut last_seq: HashMap<&str, u64> = HashMap::new();
    for delivery in &deliveries {
        let body = delivery.json();
        tessera_events::signature::verify(
            secrets[delivery.path.as_str()].as_bytes(),
            &delivery.headers["tessera-signature"],
            &delivery.body,
            now,
            300,
        )
        .unwrap_or_else(|e| panic!("{}: {e}", delivery.path));
        assert_eq!(delivery.headers["tessera-event-id"], body["id"]);
        // In outbox order: a repeat only after a refusal.
        let seq = body["seq"].as_u64().unwrap();
        let last = last_seq.entry(delivery.path.as_str()).or_default();
        assert!(
            seq > *last || (seq == *last && delivery.status == 200),
            "{body}"
        );
        if delivery.status == 200 {
            *last = seq;
        }
    }
    let refused: Vec<&Delivery> = deliveries
        .iter()
        .filter(|d| d.path == "/tax" && d.json()["kind"] == "address_changed")
        .collect();
    assert_eq!(
        refused[0].json(),
        refused[1].json(),
        "a repeat is the same event"
    );

    let at = |path: &str, kind: &str| {
        deliveries
            .iter()
            .find(|d| d.path == path && d.json()["kind"] == kind)
            .unwrap()
    };
    let moved = values_of(at("/migration", "address_changed"));
    assert_eq!(moved.len(), 1, "{moved:?}");
    assert!(
        moved[0]["value"]["text"]
            .as_str()
            .unwrap()
            .contains("Тверская")
    );
    let permit = values_of(at("/migration", "permit_expiring"));
    assert_eq!(permit[0]["kind"], "permit", "{permit:?}");
    assert_eq!(permit[0]["value"]["valid_until"], day(10).to_string());
    let dismissal = values_of(at("/tax", "dismissed"));
    assert_eq!(dismissal[0]["kind"], "employment", "{dismissal:?}");
    assert_eq!(dismissal[0]["value"]["to"], day(-3).to_string());
    // One person's events name one profile: the move and the dismissal are on the first's.
    let person = at("/migration", "permit_expiring").json()["profile"].clone();
    assert_eq!(
        at("/migration", "address_changed").json()["profile"],
        person
    );
    assert_eq!(at("/migration", "dismissed").json()["profile"], person);
    // Nothing is delivered twice once acknowledged.
    let before = receiver.deliveries().len();
    place.tessera(&["events", "deliver"]);
    assert_eq!(receiver.deliveries().len(), before);

    // Twenty days on, the second permit is within 30 days of its end: announced once.
    let later = day(20).to_string();
    let scanned = place.tessera(&["events", "scan-permits", "--today", &later]);
    assert!(scanned.starts_with("1 permits"), "{scanned}");
    let again = place.tessera(&["events", "scan-permits", "--today", &later]);
    assert!(again.starts_with("0 permits"), "{again}");
    place.tessera(&["events", "deliver"]);
    let deliveries = receiver.deliveries();
    let news: Vec<(String, u16)> = kinds_at(&deliveries[before..], "/migration");
    assert_eq!(news, vec![("permit_expiring".into(), 200)]);
    assert!(kinds_at(&deliveries[before..], "/tax").is_empty());

    let tail = place.tessera(&["events", "tail", "--purpose", "data_quality"]);
    assert!(
        tail.contains("dismissed") && tail.contains("Тверская"),
        "{tail}"
    );
    let listed = place.tessera(&["events", "subscriptions"]);
    assert!(
        listed.contains("migration-centre") && listed.contains("(0 waiting)"),
        "{listed}"
    );
    place.tessera(&["events", "unsubscribe", "tax-office"]);
    let listed = place.tessera(&["events", "subscriptions"]);
    assert!(!listed.contains("tax-office"), "{listed}");
}

fn subscriptions_refuse_a_purpose_the_client_may_not_use_and_a_bad_target(
    database: Option<Schema>,
) {
    let place = Place::new(database);
    let agency = place.client("agency", "Benefits office");
    let (code, stderr) = place.failing(&[
        "events",
        "subscribe",
        "--name",
        "police",
        "--client",
        &agency,
        "--purpose",
        "police_check",
        "--webhook",
        "http://127.0.0.1:9/hook",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("police_check"), "{stderr}");
    let (code, stderr) = place.failing(&[
        "events",
        "subscribe",
        "--name",
        "benefits",
        "--client",
        &agency,
        "--purpose",
        "benefits",
        "--jetstream",
        "somewhere.else",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("tessera.events."), "{stderr}");
    let (code, stderr) = place.failing(&[
        "events",
        "subscribe",
        "--name",
        "benefits",
        "--client",
        "c-nobody",
        "--purpose",
        "benefits",
        "--webhook",
        "http://127.0.0.1:9/hook",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("c-nobody"), "{stderr}");
    let listed = place.tessera(&["events", "subscriptions"]);
    assert_eq!(listed.lines().count(), 1, "{listed}");
}

/// Events published to a JetStream subject carry `Nats-Msg-Id`; delivered again (a dispatcher
/// that died before moving its cursor), the stream keeps each once.
fn a_jetstream_subscriber_gets_each_event_once_under_its_id(database: Option<Schema>) {
    let test = "events_cli::a_jetstream_subscriber_gets_each_event_once_under_its_id";
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    if runtime
        .block_on(tessera_jetstream::testing::nats(test))
        .is_none()
    {
        return;
    }
    let place = Place::new(database);
    place.tessera(&["demo", "--persons", "200", "--seed", "5"]);
    // A NATS prefix of this run's own, as a registry sharing the server would have.
    let prefix = tessera_jetstream::testing::unique_prefix();
    let (name, subject) = (
        "migration-js".to_string(),
        format!("{prefix}.events.migration"),
    );
    let agency = place.client("agency", "Migration centre");
    place.tessera(&[
        "--queue-prefix",
        &prefix,
        "events",
        "subscribe",
        "--name",
        &name,
        "--client",
        &agency,
        "--purpose",
        "migration",
        "--jetstream",
        &subject,
    ]);
    place.import(
        "registry",
        &format!(
            "key,surname,given,birth,snils,address,permit,permit_until\n\
             m1,Каримов,Алишер,1990-03-15,112-233-445 95,\"г. Казань, ул. Ленина, д. 5\",77 1234567,{}\n",
            day(5)
        ),
        "registry.csv",
    );
    let nats = tessera_jetstream::testing::nats_url();
    let deliver = [
        "--nats",
        &nats,
        "--queue-prefix",
        &prefix,
        "events",
        "deliver",
    ];
    place.tessera(&deliver);
    let read = || -> Vec<(String, Value)> {
        let messages = runtime.block_on(tessera_jetstream::testing::messages_on(
            &nats,
            &tessera_events::event_stream(&prefix),
            &subject,
        ));
        messages
            .into_iter()
            .map(|(id, payload)| (id, serde_json::from_slice(&payload).unwrap()))
            .collect()
    };
    let first = read();
    let kinds: Vec<&str> = first
        .iter()
        .map(|(_, m)| m["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        vec!["profile_created", "permit_expiring"],
        "{first:?}"
    );
    for (id, message) in &first {
        assert_eq!(id, &format!("{name}:{}", message["id"].as_str().unwrap()));
    }
    // The dispatcher "died" before moving its cursor: it publishes both again.
    let rewind = format!("UPDATE subscription SET cursor = cursor - 2 WHERE name = '{name}'");
    match &place.database {
        Some(schema) => assert_eq!(schema.execute(&rewind), 1),
        None => {
            let db = rusqlite::Connection::open(place.data_dir.join("tessera.sqlite3")).unwrap();
            assert_eq!(db.execute(&rewind, []).unwrap(), 1);
        }
    }
    let again = place.tessera(&deliver);
    assert!(again.starts_with("delivered 2 "), "{again}");
    assert_eq!(read().len(), 2, "the stream kept each event once");
}
