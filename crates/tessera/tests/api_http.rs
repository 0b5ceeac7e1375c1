//! The HTTP API through the real server: `tessera serve` over a demo city, called over loopback.
//!
//! One server per test file run (starting one costs a demo import), shared by the tests below
//! through a `OnceLock`; each test uses its own clients and records, so they do not depend on
//! each other's order.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::blocking::{Client, RequestBuilder, Response};
use serde_json::{Value, json};

mod node;
mod postgres_test;

use node::{Node, tessera};

struct Server {
    _dir: tempfile::TempDir,
    data_dir: PathBuf,
    /// The PostgreSQL database (URL naming this server's own schema); `None` for SQLite.
    database: Option<postgres_test::Schema>,
    base: String,
    _node: Node,
    /// The identity provider's signing key (Ed25519, PKCS#8 DER).
    idp_key: Vec<u8>,
}

impl Server {
    fn tessera(&self, args: &[&str]) -> String {
        tessera(&self.data_dir, self.database.as_ref(), args)
    }
}

/// The server over SQLite, started once for every test of this file.
fn sqlite() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| start(None))
}

/// The server over PostgreSQL, started once; `None` (and one line saying so) where no PostgreSQL
/// can be reached and none is required.
fn postgres(test: &str) -> Option<&'static Server> {
    static SERVER: OnceLock<Option<Server>> = OnceLock::new();
    SERVER
        .get_or_init(|| postgres_test::Schema::fresh("api_http").map(|db| start(Some(db))))
        .as_ref()
        .or_else(|| {
            postgres_test::say_skipped(&format!("api_http::postgres::{test}"));
            None
        })
}

fn start(database: Option<postgres_test::Schema>) -> Server {
    let dir = tempfile::Builder::new()
        .prefix("tessera-api")
        .tempdir()
        .unwrap();
    let data_dir = dir.path().join("city");
    tessera(
        &data_dir,
        database.as_ref(),
        &["demo", "--persons", "400", "--seed", "11"],
    );
    // An identity provider's key pair for the JWT tests.
    use ed25519_dalek::pkcs8::{EncodePrivateKey, EncodePublicKey};
    let signing = ed25519_dalek::SigningKey::from_bytes(&[42; 32]);
    let idp_key = signing.to_pkcs8_der().unwrap().as_bytes().to_vec();
    let public_pem = signing
        .verifying_key()
        .to_public_key_pem(Default::default())
        .unwrap();
    let pem_path = dir.path().join("idp.pem");
    std::fs::write(&pem_path, public_pem).unwrap();
    let node = node::serve(
        &data_dir,
        database.as_ref(),
        &[
            "--oidc-issuer".as_ref(),
            "https://idp.test".as_ref(),
            "--oidc-audience".as_ref(),
            "tessera".as_ref(),
            "--oidc-key".as_ref(),
            pem_path.as_os_str(),
        ],
        "serve.log",
    );
    Server {
        _dir: dir,
        data_dir,
        database,
        base: node.base.clone(),
        _node: node,
        idp_key,
    }
}

/// Each test below runs once over SQLite and once over PostgreSQL, as `sqlite::name` and
/// `postgres::name`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test]
            fn $name() {
                super::$name(super::sqlite());
            })*
        }
        mod postgres {
            $(#[test]
            fn $name() {
                if let Some(server) = super::postgres(stringify!($name)) {
                    super::$name(server);
                }
            })*
        }
    };
}

on_both_backends!(
    health_and_openapi_need_no_token_and_hold_no_personal_data,
    tokens_missing_bad_revoked_or_expired_are_refused,
    a_read_is_filtered_to_its_purpose_and_special_data_needs_consent,
    lookup_search_and_online_ingest_find_one_person,
    bad_input_gets_a_clear_error_and_changes_nothing,
    a_correction_request_reaches_the_steward,
    sealed_values_survive_key_rotation_and_tampering_is_detected,
);

fn client(s: &Server, role: &str, name: &str, extra: &[&str]) -> String {
    let mut args = vec!["clients", "add", "--role", role, "--name", name];
    args.extend_from_slice(extra);
    s.tessera(&args).trim().to_string()
}

fn get(s: &Server, path: &str, token: &str, purpose: Option<&str>) -> RequestBuilder {
    let mut request = Client::new()
        .get(format!("{}{path}", s.base))
        .bearer_auth(token);
    if let Some(purpose) = purpose {
        request = request.header("Tessera-Purpose", purpose);
    }
    request
}

fn send(request: RequestBuilder) -> (StatusCode, Value) {
    let response: Response = request.send().unwrap();
    let status = response.status();
    let text = response.text().unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

/// Posts a body that announces 5 MiB and stops one byte past the server's limit, as a raw
/// HTTP/1.1 exchange. A server refuses an oversized body as soon as it passes the limit and
/// closes the connection; a client that went on writing would meet a reset instead of the
/// answer (reqwest does), so this client stops where the server stops reading.
fn post_oversized(s: &Server, path: &str, token: &str) -> (StatusCode, Value) {
    use std::io::{Read, Write};
    let address = s.base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        5 << 20
    );
    stream.write_all(head.as_bytes()).unwrap();
    let mut body = b"{\"records\": [\"".to_vec();
    body.resize(tessera_serve::BODY_LIMIT_BYTES + 1, b'x');
    stream.write_all(&body).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8(answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    let body = serde_json::from_str(body).unwrap_or(Value::String(body.to_string()));
    (StatusCode::from_u16(status).unwrap(), body)
}

fn kinds(profile: &Value) -> Vec<String> {
    let mut kinds: Vec<String> = profile["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["kind"].as_str().unwrap().to_string())
        .collect();
    kinds.dedup();
    kinds
}

/// Sends one health record for a new person online; returns its profile id.
fn new_person_with_diagnosis(s: &Server, key: &str, surname: &str, snils: &str) -> String {
    let agency = client(s, "agency", "Health insurer", &["--source", "health"]);
    let (status, body) = send(
        Client::new()
            .post(format!("{}/v1/sources/health/records", s.base))
            .bearer_auth(&agency)
            .json(&json!({"records": [{
                "id": key, "surname": surname, "given_name": "Тест", "patronymic": "Тестович",
                "birth_date": "1990-03-14", "sex": "1", "oms_policy": "", "snils": snils,
                "phone": "", "policy_date": "2024-01-01", "special_category": "E11.9"
            }]})),
    );
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["results"][0]["status"], "resolved", "{body}");
    body["results"][0]["profile"].as_str().unwrap().to_string()
}

fn health_and_openapi_need_no_token_and_hold_no_personal_data(s: &Server) {
    let (status, document) = send(Client::new().get(format!("{}/openapi.json", s.base)));
    assert_eq!(status, StatusCode::OK);
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/v1/profiles/{id}",
        "/v1/profiles/lookup",
        "/v1/profiles/search",
        "/v1/me",
        "/v1/me/access-log",
        "/v1/me/corrections",
        "/v1/sources/{source}/records",
    ] {
        assert!(document["paths"][path].is_object(), "{path} missing");
    }
    // Every path parameter is in its path's template (openapi-spec-validator's rule), and
    // every operation says what it answers.
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            assert!(operation["responses"].is_object(), "{method} {path}");
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                if parameter["in"] == "path" {
                    let name = parameter["name"].as_str().unwrap();
                    assert!(
                        path.contains(&format!("{{{name}}}")),
                        "{method} {path}: {name}"
                    );
                }
            }
        }
    }
    // Every $ref points at a schema the document defines.
    let text = document.to_string();
    for piece in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = piece.split('"').next().unwrap();
        assert!(
            document["components"]["schemas"][name].is_object(),
            "dangling $ref {name}"
        );
    }
    let (status, _) = send(Client::new().get(format!("{}/healthz", s.base)));
    assert_eq!(status, StatusCode::OK);
    let metrics = Client::new()
        .get(format!("{}/metrics", s.base))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(metrics.contains("tessera_http_requests_total"), "{metrics}");
}

fn tokens_missing_bad_revoked_or_expired_are_refused(s: &Server) {
    let (status, body) = send(Client::new().get(format!("{}/v1/profiles/p-000000000000", s.base)));
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("token_missing"))
    );
    let (status, body) = send(get(
        s,
        "/v1/profiles/p-000000000000",
        "tsr_nonsense",
        Some("benefits"),
    ));
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("token_invalid"))
    );

    let token = client(s, "agency", "Soon revoked", &[]);
    let listed = s.tessera(&["clients", "list"]);
    let id = listed
        .lines()
        .find(|l| l.contains("Soon revoked"))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    assert!(!listed.contains(&token), "a token is never listed");
    s.tessera(&["clients", "revoke", &id]);
    let (status, body) = send(get(
        s,
        "/v1/profiles/p-000000000000",
        &token,
        Some("benefits"),
    ));
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("token_revoked"))
    );

    // JWTs from the configured issuer: valid, expired, wrong audience.
    let jwt = |exp_from_now: i64, audience: &str| {
        let claims = json!({
            "sub": "officer-17", "name": "Migration centre officer 17", "role": "agency",
            "iss": "https://idp.test", "aud": audience,
            "exp": chrono_now() + exp_from_now,
        });
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA),
            &claims,
            &jsonwebtoken::EncodingKey::from_ed_der(&s.idp_key),
        )
        .unwrap()
    };
    let (status, body) = send(get(
        s,
        "/v1/profiles/p-000000000000",
        &jwt(600, "tessera"),
        Some("migration"),
    ));
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found")),
        "{body}"
    );
    let (status, body) = send(get(
        s,
        "/v1/profiles/p-000000000000",
        &jwt(-600, "tessera"),
        Some("migration"),
    ));
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("token_expired"))
    );
    let (status, body) = send(get(
        s,
        "/v1/profiles/p-000000000000",
        &jwt(600, "other"),
        Some("migration"),
    ));
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("token_invalid"))
    );
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn a_read_is_filtered_to_its_purpose_and_special_data_needs_consent(s: &Server) {
    let profile = new_person_with_diagnosis(s, "api-1", "Проверкин", "112-233-445 95");
    let agency = client(s, "agency", "Benefits office", &[]);
    let employer = client(s, "employer", "Stroy LLC", &[]);
    let path = format!("/v1/profiles/{profile}");

    let (status, body) = send(get(s, &path, &agency, None));
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("purpose_missing"))
    );
    let (status, body) = send(get(s, &path, &agency, Some("fishing")));
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("purpose_unknown"))
    );
    let (status, body) = send(get(s, &path, &employer, Some("benefits")));
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("purpose_not_for_role"))
    );

    let (status, body) = send(get(s, &path, &agency, Some("benefits")));
    assert_eq!(status, StatusCode::OK, "{body}");
    let seen = kinds(&body);
    assert!(
        seen.contains(&"name".to_string()) && seen.contains(&"snils".to_string()),
        "{seen:?}"
    );
    assert!(
        !seen.contains(&"health".to_string()),
        "benefits may not see health: {seen:?}"
    );
    assert!(!body.to_string().contains("E11.9"));

    // medical_commission grants health, but only with the person's consent.
    let (status, body) = send(get(s, &path, &agency, Some("medical_commission")));
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("consent_required"))
    );
    let person = client(s, "person", "Тест Проверкин", &["--profile", &profile]);
    let consent = |method: reqwest::Method| {
        send(
            Client::new()
                .request(
                    method,
                    format!("{}/v1/me/consents/medical_commission", s.base),
                )
                .bearer_auth(&person),
        )
    };
    let (status, body) = consent(reqwest::Method::PUT);
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = send(get(s, &path, &agency, Some("medical_commission")));
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.to_string().contains("E11.9"), "{body}");
    assert!(!kinds(&body).contains(&"address".to_string()));
    // Withdrawal takes effect on the next read.
    let (status, body) = consent(reqwest::Method::DELETE);
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = send(get(s, &path, &agency, Some("medical_commission")));
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("consent_required"))
    );

    // The person sees everything about themselves, and who read it, and why.
    let (status, me) = send(get(s, "/v1/me", &person, None));
    assert_eq!(status, StatusCode::OK, "{me}");
    assert!(me.to_string().contains("E11.9"));
    assert_eq!(me["profile"]["id"], profile.as_str());
    let (status, log) = send(get(s, "/v1/me/access-log", &person, None));
    assert_eq!(status, StatusCode::OK, "{log}");
    let entries = log["entries"].as_array().unwrap();
    let agency_reads: Vec<&Value> = entries
        .iter()
        .filter(|e| e["who"] == "Benefits office")
        .collect();
    // Refused reads released nothing and are not reads; the two served ones are logged.
    assert_eq!(agency_reads.len(), 2, "{log}");
    assert!(
        agency_reads
            .iter()
            .any(|e| e["purpose"] == "medical_commission"
                && e["kinds"].as_array().unwrap().iter().any(|k| k == "health"))
    );
    assert!(
        entries
            .iter()
            .any(|e| e["action"] == "consent_withdraw" && e["who"] == "Тест Проверкин")
    );
    assert!(
        entries
            .iter()
            .any(|e| e["action"] == "ingest" && e["who"] == "Health insurer")
    );

    // A person may not read someone else's profile, nor use the officials' endpoints.
    let (status, body) = send(get(
        s,
        "/v1/profiles/lookup?snils=112-233-445%2095",
        &person,
        Some("benefits"),
    ));
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("purpose_not_for_role"))
    );
}

fn lookup_search_and_online_ingest_find_one_person(s: &Server) {
    let profile = new_person_with_diagnosis(s, "api-2", "Искомов", "112-233-446 96");
    let agency = client(s, "agency", "Tax office", &["--source", "tax"]);

    let (status, body) = send(get(
        s,
        "/v1/profiles/lookup?snils=11223344696",
        &agency,
        Some("benefits"),
    ));
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["profiles"][0]["id"], profile.as_str());
    let (status, body) = send(get(
        s,
        "/v1/profiles/lookup?snils=112-233-447%2097",
        &agency,
        Some("benefits"),
    ));
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (status, body) = send(get(
        s,
        "/v1/profiles/lookup?snils=1&inn=2",
        &agency,
        Some("benefits"),
    ));
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_request"))
    );

    let search = |body: Value| {
        send(
            Client::new()
                .post(format!("{}/v1/profiles/search", s.base))
                .bearer_auth(&agency)
                .header("Tessera-Purpose", "benefits")
                .json(&body),
        )
    };
    // The name in Latin letters, in another order, still finds the Cyrillic record.
    let (status, body) = search(json!({"name": "TEST ISKOMOV", "birth_date": "1990-03-14"}));
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["hits"][0]["profile"]["id"], profile.as_str(), "{body}");
    // No fishing: a surname alone is refused; a wrong birth date finds no one.
    let (status, body) = search(json!({"name": "Искомов", "birth_date": "1990-03-14"}));
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_request"))
    );
    let (status, body) = search(json!({"name": "Тест Искомов", "birth_date": "1971-11-02"}));
    assert_eq!(status, StatusCode::OK);
    assert!(body["hits"].as_array().unwrap().is_empty(), "{body}");
    let (status, _) =
        search(json!({"name": "Ё\u{308} 🙂 \u{202e}Иван \u{0}Ж", "birth_date": "1990-03-14"}));
    assert!(status == StatusCode::OK || status == StatusCode::BAD_REQUEST);

    // The tax office sends a record of the same person (whole name in one field, Latin order
    // reversed): it joins the profile. A bad record next to it is answered, not stored.
    let (status, body) = send(
        Client::new()
            .post(format!("{}/v1/sources/tax/records", s.base))
            .bearer_auth(&agency)
            .json(&json!({"records": [
                {"№": "api-tax-1", "ИНН": "500100732259", "ФИО": "Искомов Тест Тестович",
                 "Дата рождения": "14.03.1990", "СНИЛС": "112-233-446 96", "Гражданство": "Россия",
                 "Адрес регистрации": "г. Тестоград, ул. Первая, д. 1",
                 "Дата постановки на учет": "01.02.2024"},
                {"№": "api-tax-2", "ФИО": "Кто-то", "Дата рождения": "31.02.1990"}
            ]})),
    );
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["accepted"], 1, "{body}");
    assert_eq!(body["results"][0]["profile"], profile.as_str(), "{body}");
    assert_eq!(body["results"][1]["status"], "rejected");
    assert!(
        !body["results"][1]["problems"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // Sending it again changes nothing.
    let (_, again) = send(
        Client::new()
            .post(format!("{}/v1/sources/tax/records", s.base))
            .bearer_auth(&agency)
            .json(&json!({"records": [
                {"№": "api-tax-1", "ИНН": "500100732259", "ФИО": "Искомов Тест Тестович",
                 "Дата рождения": "14.03.1990", "СНИЛС": "112-233-446 96", "Гражданство": "Россия",
                 "Адрес регистрации": "г. Тестоград, ул. Первая, д. 1",
                 "Дата постановки на учет": "01.02.2024"}
            ]})),
    );
    assert_eq!(again["results"][0]["status"], "unchanged", "{again}");
    // A client may write only to its own sources.
    let (status, body) = send(
        Client::new()
            .post(format!("{}/v1/sources/health/records", s.base))
            .bearer_auth(&agency)
            .json(&json!({"records": []})),
    );
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("role_forbidden"))
    );
}

fn bad_input_gets_a_clear_error_and_changes_nothing(s: &Server) {
    let agency = client(s, "agency", "Migration centre", &["--source", "tax"]);
    for path in [
        "/v1/profiles/p-1'%20OR%201=1--",
        "/v1/profiles/..%2F..%2Fetc%2Fpasswd",
        "/v1/profiles/P-ABCDEFABCDEF",
    ] {
        let (status, body) = send(get(s, path, &agency, Some("migration")));
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_id")),
            "{path}"
        );
    }
    let (status, body) = send(get(
        s,
        "/v1/profiles/lookup?snils=1'%20OR%20'1'='1",
        &agency,
        Some("benefits"),
    ));
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found")),
        "{body}"
    );
    let (status, body) = send(get(
        s,
        "/v1/profiles/lookup?name=Ivanov",
        &agency,
        Some("benefits"),
    ));
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_request"))
    );

    let post = |body: Vec<u8>, content_type: Option<&str>| {
        let mut request = Client::new()
            .post(format!("{}/v1/sources/tax/records", s.base))
            .bearer_auth(&agency)
            .body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        send(request)
    };
    let (status, body) = post(b"{\"records\": [".to_vec(), Some("application/json"));
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("malformed_json"))
    );
    let (status, body) = post(b"{\"records\": []}".to_vec(), None);
    assert_eq!(
        (status, body["code"].as_str()),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Some("unsupported_media_type")
        )
    );
    let (status, body) = post_oversized(s, "/v1/sources/tax/records", &agency);
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large"))
    );
    let (status, body) = send(get(s, "/v1/nowhere", &agency, None));
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
}

fn a_correction_request_reaches_the_steward(s: &Server) {
    let profile = new_person_with_diagnosis(s, "api-3", "Исправляев", "112-233-448 98");
    let person = client(s, "person", "Тест Исправляев", &["--profile", &profile]);
    let steward = client(s, "steward", "Data steward", &[]);
    let (status, body) = send(
        Client::new()
            .post(format!("{}/v1/me/corrections", s.base))
            .bearer_auth(&person)
            .json(&json!({"text": "My birth date is 1990-03-15, not 14"})),
    );
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = send(get(s, "/v1/corrections", &steward, Some("data_quality")));
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body["corrections"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["profile"] == profile.as_str()
                && c["text"].as_str().unwrap().contains("1990-03-15"))
    );
    let (status, body) = send(get(s, "/v1/corrections", &person, Some("data_quality")));
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("role_forbidden"))
    );
}

fn sealed_values_survive_key_rotation_and_tampering_is_detected(s: &Server) {
    let profile = new_person_with_diagnosis(s, "api-4", "Ключевой", "112-233-449 99");
    let person = client(s, "person", "Тест Ключевой", &["--profile", &profile]);
    let rotated = s.tessera(&["keys", "rotate"]);
    assert!(rotated.contains("retired"), "{rotated}");
    let (status, me) = send(get(s, "/v1/me", &person, None));
    assert_eq!(status, StatusCode::OK, "{me}");
    assert!(me.to_string().contains("E11.9"));

    // Someone with the database flips the last byte of this person's sealed value.
    let changed = match &s.database {
        None => {
            let db = rusqlite::Connection::open(s.data_dir.join("tessera.sqlite3")).unwrap();
            db.busy_timeout(Duration::from_secs(10)).unwrap();
            db.execute(
                "UPDATE sealed_value SET sealed = substr(sealed, 1, length(sealed) - 1)
                     || CASE WHEN substr(sealed, -1) = x'00' THEN x'01' ELSE x'00' END
                 WHERE record_id = (SELECT id FROM source_record
                                    WHERE source = 'health' AND record_key = 'api-4')",
                [],
            )
            .unwrap() as u64
        }
        Some(database) => database.execute(
            "UPDATE sealed_value
             SET sealed = set_byte(sealed, length(sealed) - 1,
                                   get_byte(sealed, length(sealed) - 1) # 1)
             WHERE record_id = (SELECT id FROM source_record
                                WHERE source = 'health' AND record_key = 'api-4')",
        ),
    };
    assert_eq!(changed, 1);
    let (status, body) = send(get(s, "/v1/me", &person, None));
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body["code"], "sealed_value_tampered", "{body}");
    assert!(!body.to_string().contains("E11"));
    // Other profiles are unaffected.
    let other = new_person_with_diagnosis(s, "api-5", "Соседов", "112-233-450 92");
    let person = client(s, "person", "Тест Соседов", &["--profile", &other]);
    assert_eq!(send(get(s, "/v1/me", &person, None)).0, StatusCode::OK);
}
