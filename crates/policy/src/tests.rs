//! Tests of the policy file, authorisation, filtering and the access-log chain: the default
//! policy as shipped, each loading rule, each refusal, and tampering with the chain.

use std::collections::BTreeSet;

use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use tessera_model::{
    Address, AddressKind, Attribute, AttributeKind, CountryCode, HealthNote, IdKind, Identifier,
    NameOrder, PartialDate, Pet, Sensitivity, Sex, Special, parse_full_name,
};

use super::*;

fn kinds(names: &[&str]) -> BTreeSet<AttributeKind> {
    names
        .iter()
        .flat_map(|name| match *name {
            "identifiers" => IdKind::ALL
                .into_iter()
                .map(AttributeKind::Identifier)
                .collect::<Vec<_>>(),
            name => vec![kind_from_name(name).unwrap_or_else(|| panic!("{name}"))],
        })
        .collect()
}

/// purpose, role, operations, attributes, has a special basis, consent required.
type PurposeCase = (
    &'static str,
    Role,
    Vec<Operation>,
    Vec<&'static str>,
    bool,
    bool,
);
/// role, purpose sent, operation, the purpose granted or the refusal code.
type AuthorizeCase = (
    Role,
    Option<&'static str>,
    Operation,
    Result<&'static str, &'static str>,
);
type Edit = fn(&mut AccessEntry);

fn ops(list: &[Operation]) -> BTreeSet<Operation> {
    list.iter().copied().collect()
}

// ---- the default policy ----

#[test]
fn the_default_policy_loads() {
    let policy = Policy::from_toml(Policy::DEFAULT_TOML).unwrap();
    assert_eq!(policy, Policy::default_policy());
}

#[test]
fn the_default_policy_has_the_documented_purposes() {
    use Operation::{Lookup, Read, Search};
    let non_special: Vec<&str> = vec![
        "name",
        "birth_date",
        "sex",
        "citizenship",
        "identifiers",
        "address",
        "employment",
        "education",
        "relation",
        "income",
        "pet",
        "permit",
    ];
    let mut every = non_special.clone();
    every.extend(["health", "biometric", "criminal_record"]);
    #[rustfmt::skip]
    let expected: Vec<PurposeCase> = vec![
        // purpose, role, operations, attributes, special basis, consent required
        ("benefits", Role::Agency, vec![Read, Lookup, Search],
            vec!["name", "birth_date", "sex", "citizenship", "address", "snils", "inn", "relation", "income", "employment", "education"], false, false),
        ("migration", Role::Agency, vec![Read, Lookup, Search],
            vec!["name", "birth_date", "sex", "citizenship", "address", "passport_foreign", "work_patent", "permit", "phone", "employment"], false, false),
        ("tax", Role::Agency, vec![Read, Lookup],
            vec!["name", "birth_date", "inn", "snils", "address", "income", "employment"], false, false),
        ("police_check", Role::Inspector, vec![Lookup],
            vec!["name", "birth_date", "citizenship", "passport_rf", "passport_foreign", "work_patent", "permit"], false, false),
        ("employer_check", Role::Employer, vec![Lookup],
            vec!["name", "birth_date", "citizenship", "work_patent", "permit"], false, true),
        ("medical_commission", Role::Agency, vec![Read, Lookup],
            vec!["name", "birth_date", "sex", "snils", "oms", "health"], true, true),
        ("data_quality", Role::Steward, vec![Read, Lookup, Search], non_special.clone(), false, false),
        ("statistics", Role::Analyst, vec![],
            vec!["birth_date", "sex", "citizenship", "address", "employment", "education", "income"], false, false),
        ("self", Role::Person, vec![Read], every, true, false),
    ];
    let policy = Policy::default_policy();
    assert_eq!(policy.purposes().count(), expected.len());
    for (name, role, operations, attributes, special, consent) in expected {
        let rule = policy
            .rule(&Purpose::parse(name).unwrap())
            .unwrap_or_else(|| panic!("no purpose {name}"));
        assert_eq!(rule.roles, BTreeSet::from([role]), "{name}");
        assert_eq!(rule.operations, ops(&operations), "{name}");
        assert_eq!(rule.kinds, kinds(&attributes), "{name}");
        assert_eq!(rule.special_basis.is_some(), special, "{name}");
        assert_eq!(rule.consent_required, consent, "{name}");
        assert!(
            !rule.description.is_empty() && !rule.legal_basis.is_empty(),
            "{name}"
        );
    }
}

#[test]
fn the_persons_own_purpose_sees_every_kind_and_the_steward_every_non_special_one() {
    let policy = Policy::default_policy();
    let own = policy
        .authorize(Role::Person, Some("self"), Operation::Read)
        .unwrap();
    assert_eq!(own.kinds, all_kinds().collect());
    let steward = policy
        .authorize(Role::Steward, Some("data_quality"), Operation::Search)
        .unwrap();
    let non_special: BTreeSet<_> = all_kinds()
        .filter(|kind| kind.sensitivity() != Sensitivity::Special)
        .collect();
    assert_eq!(steward.kinds, non_special);
    assert!(!steward.allows_special());
}

// ---- authorisation ----

#[test]
fn authorize_decides_by_purpose_role_and_operation() {
    use Operation::{Lookup, Read, Search};
    let policy = Policy::default_policy();
    #[rustfmt::skip]
    let cases: Vec<AuthorizeCase> = vec![
        (Role::Agency, Some("benefits"), Read, Ok("benefits")),
        (Role::Agency, Some("benefits"), Search, Ok("benefits")),
        (Role::Agency, Some("tax"), Lookup, Ok("tax")),
        (Role::Agency, Some("tax"), Search, Err("operation_not_allowed")),
        (Role::Inspector, Some("police_check"), Lookup, Ok("police_check")),
        (Role::Inspector, Some("police_check"), Read, Err("operation_not_allowed")),
        (Role::Inspector, Some("benefits"), Lookup, Err("purpose_not_for_role")),
        (Role::Employer, Some("employer_check"), Lookup, Ok("employer_check")),
        (Role::Employer, Some("employer_check"), Search, Err("operation_not_allowed")),
        (Role::Employer, Some("migration"), Lookup, Err("purpose_not_for_role")),
        (Role::Analyst, Some("statistics"), Read, Err("operation_not_allowed")),
        (Role::Analyst, Some("statistics"), Lookup, Err("operation_not_allowed")),
        (Role::Analyst, Some("benefits"), Read, Err("purpose_not_for_role")),
        (Role::Person, Some("self"), Read, Ok("self")),
        (Role::Person, Some("self"), Search, Err("operation_not_allowed")),
        (Role::Person, Some("benefits"), Read, Err("purpose_not_for_role")),
        (Role::Agency, Some("self"), Read, Err("purpose_not_for_role")),
        (Role::Steward, Some("medical_commission"), Read, Err("purpose_not_for_role")),
        (Role::Agency, None, Read, Err("purpose_missing")),
        (Role::Agency, Some(""), Read, Err("purpose_missing")),
        (Role::Agency, Some("  "), Read, Err("purpose_missing")),
        (Role::Agency, Some("curiosity"), Read, Err("purpose_unknown")),
        (Role::Agency, Some("Benefits"), Read, Err("purpose_unknown")),
        (Role::Agency, Some("benefits "), Read, Err("purpose_unknown")),
        (Role::Agency, Some("benefits' OR 1=1 --"), Read, Err("purpose_unknown")),
        (Role::Agency, Some("пособие"), Read, Err("purpose_unknown")),
    ];
    for (role, purpose, operation, expect) in cases {
        let outcome = policy.authorize(role, purpose, operation);
        match (&outcome, expect) {
            (Ok(grant), Ok(name)) => {
                assert_eq!(grant.purpose.as_str(), name);
                let rule = policy.rule(&grant.purpose).unwrap();
                assert_eq!(grant.kinds, rule.kinds);
                assert_eq!(grant.consent_required, rule.consent_required);
            }
            (Err(refusal), Err(code)) => {
                assert_eq!(refusal.code(), code, "{role} {purpose:?} {operation}")
            }
            _ => panic!("{role} {purpose:?} {operation}: got {outcome:?}, expected {expect:?}"),
        }
    }
}

#[test]
fn refusals_carry_what_was_asked_and_explain_themselves() {
    let policy = Policy::default_policy();
    let role_refusal = policy
        .authorize(Role::Employer, Some("tax"), Operation::Lookup)
        .unwrap_err();
    assert_eq!(
        role_refusal,
        Refusal::RoleMayNotUse {
            role: Role::Employer,
            purpose: Purpose::parse("tax").unwrap()
        }
    );
    assert_eq!(
        role_refusal.to_string(),
        "role employer may not use purpose tax"
    );
    let operation_refusal = policy
        .authorize(Role::Inspector, Some("police_check"), Operation::Search)
        .unwrap_err();
    assert_eq!(
        operation_refusal.to_string(),
        "purpose police_check does not permit search"
    );
    let long = "x".repeat(10_000);
    let Refusal::UnknownPurpose(echo) = policy
        .authorize(Role::Agency, Some(&long), Operation::Read)
        .unwrap_err()
    else {
        panic!("expected an unknown purpose");
    };
    assert_eq!(
        echo.len(),
        PURPOSE_MAX_LEN + 1,
        "a long purpose is cut before it is echoed"
    );
    assert!(
        Refusal::NoPurpose
            .to_string()
            .starts_with("no purpose given")
    );
}

#[test]
fn special_categories_need_a_purpose_that_grants_them() {
    let policy = Policy::default_policy();
    let medical = policy
        .authorize(Role::Agency, Some("medical_commission"), Operation::Read)
        .unwrap();
    assert!(medical.allows(AttributeKind::Health));
    assert!(!medical.allows(AttributeKind::CriminalRecord));
    assert!(medical.allows_special());
    assert!(medical.consent_required);
    for purpose in ["benefits", "migration", "tax"] {
        let grant = policy
            .authorize(Role::Agency, Some(purpose), Operation::Read)
            .unwrap();
        assert!(!grant.allows_special(), "{purpose}");
    }
}

// ---- filtering ----

fn sample_attributes() -> Vec<Attribute> {
    vec![
        Attribute::Name(parse_full_name(
            "Иванов Иван Иванович",
            NameOrder::SurnameFirst,
        )),
        Attribute::BirthDate(PartialDate::day(1990, 2, 14).unwrap()),
        Attribute::Sex(Sex::Male),
        Attribute::Citizenship(CountryCode::parse("UZB").unwrap()),
        Attribute::Identifier(Identifier::parse(IdKind::Snils, "112-233-445 95")),
        Attribute::Identifier(Identifier::parse(IdKind::WorkPatent, "77 1234567")),
        Attribute::Identifier(Identifier::parse(IdKind::Phone, "+7 916 123-45-67")),
        Attribute::Address(Address {
            kind: AddressKind::Registered,
            text: "Москва, ул. Тверская, 1".into(),
        }),
        Attribute::Pet(Pet {
            species: Some("cat".into()),
            name: Some("Мурка".into()),
            chip: None,
        }),
        Attribute::Health(Special::new(HealthNote("E11".into()))),
    ]
}

#[test]
fn filter_keeps_only_granted_kinds_in_order() {
    let policy = Policy::default_policy();
    let attributes = sample_attributes();
    let names = |grant: &Grant| -> Vec<&'static str> {
        filter(grant, &attributes)
            .into_iter()
            .map(|attribute| attribute.kind().name())
            .collect()
    };
    let cases: [(Role, &str, Vec<&str>); 5] = [
        (
            Role::Inspector,
            "police_check",
            vec!["name", "birth_date", "citizenship", "work_patent"],
        ),
        (
            Role::Employer,
            "employer_check",
            vec!["name", "birth_date", "citizenship", "work_patent"],
        ),
        (
            Role::Agency,
            "benefits",
            vec![
                "name",
                "birth_date",
                "sex",
                "citizenship",
                "snils",
                "address",
            ],
        ),
        (
            Role::Agency,
            "medical_commission",
            vec!["name", "birth_date", "sex", "snils", "health"],
        ),
        (
            Role::Person,
            "self",
            attributes.iter().map(|a| a.kind().name()).collect(),
        ),
    ];
    for (role, purpose, expect) in cases {
        let operation = if role == Role::Person {
            Operation::Read
        } else {
            Operation::Lookup
        };
        let grant = policy.authorize(role, Some(purpose), operation).unwrap();
        assert_eq!(names(&grant), expect, "{purpose}");
    }
}

// ---- loading rules ----

const VALID: &str = r#"
[purpose.benefits]
description = "Deciding a social-benefit application"
legal_basis = "152-FZ art. 6(1)(2)"
roles = ["agency"]
operations = ["read"]
attributes = ["name", "snils"]
consent_required = false
"#;

#[test]
fn a_minimal_policy_loads() {
    let policy = Policy::from_toml(VALID).unwrap();
    let (purpose, rule) = policy.purposes().next().unwrap();
    assert_eq!(purpose.as_str(), "benefits");
    assert_eq!(rule.kinds, kinds(&["name", "snils"]));
}

#[test]
fn the_identifiers_shorthand_means_every_identifier_kind() {
    let policy = Policy::from_toml(&VALID.replace("\"snils\"", "\"identifiers\"")).unwrap();
    let rule = policy.purposes().next().unwrap().1;
    assert_eq!(rule.kinds.len(), 1 + IdKind::ALL.len());
}

#[test]
fn special_kinds_with_a_basis_load() {
    let text = VALID
        .replace("\"snils\"]", "\"snils\", \"criminal_record\"]")
        .replace(
            "consent_required",
            "special_basis = \"a law\"\nconsent_required",
        );
    let policy = Policy::from_toml(&text).unwrap();
    let rule = policy.purposes().next().unwrap().1;
    assert_eq!(rule.special_basis.as_deref(), Some("a law"));
    assert!(rule.kinds.contains(&AttributeKind::CriminalRecord));
}

#[test]
fn loading_refuses_doubtful_policies_naming_purpose_and_value() {
    let with = |from: &str, to: &str| {
        assert!(VALID.contains(from), "{from}");
        VALID.replace(from, to)
    };
    let cases: Vec<(String, PolicyError)> = vec![
        (
            with("\"snils\"]", "\"snils\", \"religion\"]"),
            PolicyError::UnknownAttribute {
                purpose: "benefits".into(),
                value: "religion".into(),
            },
        ),
        (
            with("\"snils\"]", "\"snils\", \"Name\"]"),
            PolicyError::UnknownAttribute {
                purpose: "benefits".into(),
                value: "Name".into(),
            },
        ),
        (
            with("\"snils\"]", "\"snils\", \"identifier\"]"),
            PolicyError::UnknownAttribute {
                purpose: "benefits".into(),
                value: "identifier".into(),
            },
        ),
        (
            with("[\"agency\"]", "[\"agency\", \"police\"]"),
            PolicyError::UnknownRole {
                purpose: "benefits".into(),
                value: "police".into(),
            },
        ),
        (
            with("[\"agency\"]", "[]"),
            PolicyError::NoRoles {
                purpose: "benefits".into(),
            },
        ),
        (
            with("[\"read\"]", "[\"read\", \"write\"]"),
            PolicyError::UnknownOperation {
                purpose: "benefits".into(),
                value: "write".into(),
            },
        ),
        (
            with("\"snils\"]", "\"snils\", \"health\", \"biometric\"]"),
            PolicyError::SpecialWithoutBasis {
                purpose: "benefits".into(),
                kinds: "health, biometric".into(),
            },
        ),
        (
            with(
                "consent_required",
                "special_basis = \"art. 10\"\nconsent_required",
            ),
            PolicyError::BasisWithoutSpecial {
                purpose: "benefits".into(),
            },
        ),
        (
            with("\"snils\"]", "\"health\"]").replace(
                "consent_required",
                "special_basis = \"  \"\nconsent_required",
            ),
            PolicyError::SpecialWithoutBasis {
                purpose: "benefits".into(),
                kinds: "health".into(),
            },
        ),
        (
            with("\"Deciding a social-benefit application\"", "\" \""),
            PolicyError::EmptyField {
                purpose: "benefits".into(),
                field: "description",
            },
        ),
        (
            with("\"152-FZ art. 6(1)(2)\"", "\"\""),
            PolicyError::EmptyField {
                purpose: "benefits".into(),
                field: "legal_basis",
            },
        ),
        (
            with("[purpose.benefits]", "[purpose.Benefits]"),
            PolicyError::InvalidPurposeName("Benefits".into()),
        ),
        ("".into(), PolicyError::NoPurposes),
    ];
    for (text, expect) in cases {
        assert_eq!(Policy::from_toml(&text), Err(expect), "{text}");
    }
}

#[test]
fn loading_refuses_unknown_and_missing_keys_with_the_line_and_table() {
    let cases: Vec<(String, &str)> = vec![
        (
            VALID.replace(
                "consent_required = false",
                "consent_required = false\nretention = \"1y\"",
            ),
            "policy file line 9 in [purpose.benefits]: unknown field `retention`",
        ),
        (
            VALID.replace("consent_required = false\n", ""),
            "missing field `consent_required`",
        ),
        (
            VALID.replace("operations = [\"read\"]\n", ""),
            "missing field `operations`",
        ),
        (
            format!("version = 2\n{VALID}"),
            "policy file line 1: unknown field `version`",
        ),
        (
            VALID.replace("[purpose.benefits]", "[purposes.benefits]"),
            "unknown field `purposes`",
        ),
        (
            VALID.replace("consent_required = false", "consent_required = \"no\""),
            "line 8 in [purpose.benefits]",
        ),
        (
            VALID.replace("roles = [\"agency\"]", "roles = \"agency\""),
            "in [purpose.benefits]",
        ),
        ("[purpose.x\n".into(), "policy file line 1"),
    ];
    for (text, expect) in cases {
        let error = Policy::from_toml(&text).unwrap_err().to_string();
        assert!(error.contains(expect), "{error:?} lacks {expect:?}");
    }
}

#[test]
fn every_kind_has_a_unique_policy_name() {
    let all: Vec<AttributeKind> = all_kinds().collect();
    assert_eq!(all.len(), 14 + IdKind::ALL.len());
    let names: BTreeSet<&str> = all.iter().map(|kind| kind.name()).collect();
    assert_eq!(names.len(), all.len(), "two kinds share a name");
    assert!(
        !names.contains("identifiers"),
        "the shorthand must not shadow a kind"
    );
    for kind in all {
        assert_eq!(kind_from_name(kind.name()), Some(kind));
    }
}

// ---- the access log chain ----

fn entry(n: u32) -> AccessEntry {
    AccessEntry {
        at: Utc.with_ymd_and_hms(2026, 12, 1, 7, 0, n % 60).unwrap(),
        client: format!("c-{n}"),
        client_name: "Benefits office, district 3".into(),
        role: Role::Agency,
        purpose: Some("benefits".into()),
        action: Action::Read,
        profile: Some(format!("p-{n:04}")),
        kinds: vec!["name".into(), "snils".into()],
        request_id: format!("req-{n}"),
        detail: None,
    }
}

fn chain(length: u32) -> Vec<StoredEntry> {
    let mut summary = ChainSummary::EMPTY;
    (1..=length)
        .map(|n| summary.append(entry(n).to_json()))
        .collect()
}

#[test]
fn a_chain_verifies_and_reports_its_head() {
    assert_eq!(verify_chain(Vec::new()), Ok(ChainSummary::EMPTY));
    let entries = chain(5);
    assert_eq!(entries[0].prev_hash, GENESIS);
    assert_eq!(entries[0].seq, 1);
    for pair in entries.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash);
    }
    let summary = verify_chain(entries.clone()).unwrap();
    assert_eq!(summary.entries, 5);
    assert_eq!(summary.head, entries[4].hash);
}

#[test]
fn chain_hash_is_sha256_of_prev_seq_and_json() {
    use sha2::{Digest, Sha256};
    let mut input = vec![7u8; 32];
    input.extend_from_slice(&[0, 0, 0, 0, 0, 0, 1, 2]);
    input.extend_from_slice("{\"a\":1}".as_bytes());
    let expect: [u8; 32] = Sha256::digest(&input).into();
    assert_eq!(chain_hash(&[7u8; 32], 258, "{\"a\":1}"), expect);
    // GENESIS, seq 0 and an empty entry hash exactly 40 zero bytes.
    let zeros: [u8; 32] = Sha256::digest([0u8; 40]).into();
    assert_eq!(chain_hash(&GENESIS, 0, ""), zeros);
}

#[test]
fn entry_json_round_trips_and_is_stable() {
    let mut full = entry(1);
    full.detail = Some("source=tax rows=120".into());
    full.kinds = vec![];
    full.purpose = None;
    for original in [entry(1), full] {
        let json = original.to_json();
        let back = AccessEntry::from_json(&json).unwrap();
        assert_eq!(back, original);
        assert_eq!(back.to_json(), json, "re-encoding gives the same bytes");
    }
    assert_eq!(
        entry(1).to_json(),
        r#"{"at":"2026-12-01T07:00:01Z","client":"c-1","client_name":"Benefits office, district 3","role":"agency","purpose":"benefits","action":"read","profile":"p-0001","kinds":["name","snils"],"request_id":"req-1","detail":null}"#
    );
    for action in Action::ALL {
        assert_eq!(
            serde_json::to_string(&action).unwrap(),
            format!("\"{}\"", action.name())
        );
        assert_eq!(Action::from_name(action.name()), Some(action));
    }
}

#[test]
fn editing_any_field_of_one_entry_is_found_at_that_entry() {
    let edits: Vec<(&str, Edit)> = vec![
        ("at", |e| e.at += chrono::Duration::seconds(1)),
        ("client", |e| e.client.push('x')),
        ("client_name", |e| e.client_name = "someone else".into()),
        ("role", |e| e.role = Role::Steward),
        ("purpose", |e| e.purpose = None),
        ("action", |e| e.action = Action::Export),
        ("profile", |e| e.profile = Some("p-9999".into())),
        ("kinds", |e| e.kinds.retain(|kind| kind != "snils")),
        ("request_id", |e| e.request_id.clear()),
        ("detail", |e| e.detail = Some("nothing to see".into())),
    ];
    for (field, edit) in edits {
        let mut entries = chain(6);
        let mut changed = AccessEntry::from_json(&entries[3].entry_json).unwrap();
        edit(&mut changed);
        entries[3].entry_json = changed.to_json();
        assert_eq!(
            verify_chain(entries),
            Err(ChainBreak::HashMismatch { seq: 4 }),
            "{field}"
        );
    }
}

#[test]
fn tampering_is_reported_at_the_first_bad_entry() {
    type Tamper = fn(&mut Vec<StoredEntry>);
    let cases: Vec<(&str, Tamper, ChainBreak)> = vec![
        (
            "delete entry 3",
            |c| {
                c.remove(2);
            },
            ChainBreak::Gap {
                expected_seq: 3,
                found_seq: 4,
            },
        ),
        (
            "delete entry 1",
            |c| {
                c.remove(0);
            },
            ChainBreak::Gap {
                expected_seq: 1,
                found_seq: 2,
            },
        ),
        (
            "swap rows 3 and 4",
            |c| c.swap(2, 3),
            ChainBreak::Gap {
                expected_seq: 3,
                found_seq: 4,
            },
        ),
        (
            "swap contents of 3 and 4, keeping seq",
            |c| {
                let (a, b) = (c[2].clone(), c[3].clone());
                c[2] = StoredEntry { seq: 3, ..b };
                c[3] = StoredEntry { seq: 4, ..a };
            },
            ChainBreak::PrevMismatch { seq: 3 },
        ),
        (
            "duplicate entry 2",
            |c| {
                let copy = c[1].clone();
                c.insert(2, copy);
            },
            ChainBreak::Gap {
                expected_seq: 3,
                found_seq: 2,
            },
        ),
        (
            "renumber entry 5",
            |c| c[4].seq = 50,
            ChainBreak::Gap {
                expected_seq: 5,
                found_seq: 50,
            },
        ),
        (
            "change stored hash of 2",
            |c| c[1].hash[0] ^= 1,
            ChainBreak::HashMismatch { seq: 2 },
        ),
        (
            "change stored prev_hash of 4",
            |c| c[3].prev_hash[31] ^= 1,
            ChainBreak::PrevMismatch { seq: 4 },
        ),
        (
            "change a byte of the json of 1",
            |c| c[0].entry_json = c[0].entry_json.replacen("req-1", "req-2", 1),
            ChainBreak::HashMismatch { seq: 1 },
        ),
        (
            "rewrite 3 and rehash it alone",
            |c| {
                c[2].entry_json = entry(99).to_json();
                c[2].hash = chain_hash(&c[2].prev_hash, 3, &c[2].entry_json);
            },
            ChainBreak::PrevMismatch { seq: 4 },
        ),
    ];
    for (name, tamper, expect) in cases {
        let mut entries = chain(6);
        tamper(&mut entries);
        let outcome = verify_chain(entries);
        assert_eq!(
            outcome.as_ref().map_err(ChainBreak::seq),
            Err(expect.seq()),
            "{name}"
        );
        assert_eq!(outcome, Err(expect), "{name}");
    }
}

#[test]
fn an_entry_that_hashes_but_is_not_an_access_entry_is_unreadable() {
    let mut summary = ChainSummary::EMPTY;
    let mut entries = vec![summary.append(entry(1).to_json())];
    entries.push(summary.append("{\"not\":\"an entry\"}".into()));
    match verify_chain(entries) {
        Err(ChainBreak::Unreadable { seq: 2, reason }) => {
            assert!(reason.contains("missing field"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn chain_breaks_explain_themselves() {
    let cases = [
        (
            ChainBreak::Gap {
                expected_seq: 3,
                found_seq: 5,
            },
            "entry 3 is missing: the next entry found is 5",
        ),
        (
            ChainBreak::PrevMismatch { seq: 4 },
            "entry 4 does not follow the entry before it (prev_hash differs)",
        ),
        (
            ChainBreak::HashMismatch { seq: 2 },
            "entry 2 was altered (its hash does not match its content)",
        ),
    ];
    for (error, message) in cases {
        assert_eq!(error.to_string(), message);
    }
}

proptest! {
    #[test]
    fn authorize_never_panics_and_grants_only_what_the_rule_says(
        role in prop::sample::select(Role::ALL.to_vec()),
        operation in prop::sample::select(Operation::ALL.to_vec()),
        purpose in prop::option::of(prop_oneof![
            prop::sample::select(vec!["benefits", "migration", "tax", "police_check", "employer_check",
                "medical_commission", "data_quality", "statistics", "self"]).prop_map(String::from),
            ".{0,80}",
        ]),
    ) {
        let policy = Policy::default_policy();
        match policy.authorize(role, purpose.as_deref(), operation) {
            Ok(grant) => {
                let rule = policy.rule(&grant.purpose).unwrap();
                prop_assert_eq!(Some(grant.purpose.as_str()), purpose.as_deref());
                prop_assert!(rule.roles.contains(&role));
                prop_assert!(rule.operations.contains(&operation));
                prop_assert_eq!(&grant.kinds, &rule.kinds);
                let attributes = sample_attributes();
                let kept = filter(&grant, &attributes);
                prop_assert!(kept.iter().all(|attribute| grant.allows(attribute.kind())));
                let again = filter(&grant, kept.iter().copied());
                prop_assert_eq!(again, kept, "filtering is idempotent");
            }
            Err(refusal) => prop_assert!(!refusal.code().is_empty()),
        }
    }

    #[test]
    fn any_single_tamper_is_found_at_its_seq(length in 2u32..24, at in any::<prop::sample::Index>(), kind in 0u8..4) {
        let mut entries = chain(length);
        let index = at.index(entries.len());
        let seq = index as u64 + 1;
        let expect = match kind {
            0 => { entries[index].entry_json.push(' '); ChainBreak::HashMismatch { seq } }
            1 => { entries[index].hash[7] ^= 0x40; ChainBreak::HashMismatch { seq } }
            2 => { entries[index].prev_hash[0] ^= 0x01; ChainBreak::PrevMismatch { seq } }
            _ => {
                // Removing the last entry leaves a valid shorter chain (see the module docs);
                // remove an inner one instead.
                let index = index.min(entries.len() - 2);
                entries.remove(index);
                ChainBreak::Gap { expected_seq: index as u64 + 1, found_seq: index as u64 + 2 }
            }
        };
        prop_assert_eq!(verify_chain(entries), Err(expect));
    }

    #[test]
    fn purpose_names_in_the_allowed_alphabet_parse(name in "[a-z0-9_-]{1,64}") {
        let purpose = Purpose::parse(&name).unwrap();
        prop_assert_eq!(purpose.as_str(), name.as_str());
    }
}
