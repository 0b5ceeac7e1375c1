//! End-to-end tests of `tessera import` through the real binary: good files, every bad input the
//! importer must answer clearly without losing anything, re-imports and an interrupted import.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const MAPPING: &str = r#"
[source]
name = "people"
format = "csv"
encoding = "utf-8"

[[field]]
column = "id"
target = "record.key"

[[field]]
column = "fio"
target = "name.full"

[[field]]
column = "dob"
target = "birth_date"
formats = ["%d.%m.%Y"]

[[field]]
column = "snils"
target = "id.snils"

[[field]]
column = "sex"
target = "sex"
codes = { "М" = "male", "Ж" = "female" }
"#;

const HEADER: &str = "id,fio,dob,snils,sex\n";

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        let env = Env {
            dir: tempfile::tempdir().unwrap(),
        };
        env.write("people.toml", MAPPING.as_bytes());
        env
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn data_dir(&self) -> PathBuf {
        self.path("data")
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.path(name);
        fs::write(&path, bytes).unwrap();
        path
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tessera"));
        // Reads (links, profile) name the steward's purpose, as every read must.
        command
            .env("TESSERA_PURPOSE", "data_quality")
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(args);
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn import(&self, mapping: &str, file: &Path) -> Output {
        self.run(&[
            "import",
            "--mapping",
            self.path(mapping).to_str().unwrap(),
            file.to_str().unwrap(),
        ])
    }

    fn quarantine_lines(&self) -> Vec<serde_json::Value> {
        let dir = self.data_dir().join("quarantine").join("people");
        let mut lines = Vec::new();
        for entry in fs::read_dir(dir).unwrap() {
            let text = fs::read_to_string(entry.unwrap().path()).unwrap();
            lines.extend(
                text.lines()
                    .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()),
            );
        }
        lines
    }

    fn links(&self) -> Vec<String> {
        let out = self.run(&["links", "--out", "-"]);
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out).lines().skip(1).map(str::to_string).collect()
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status,
        stdout(out),
        stderr(out)
    );
    stdout(out)
}

fn fails_with_2(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(2),
        "stdout: {}\nstderr: {}",
        stdout(out),
        stderr(out)
    );
    let err = stderr(out);
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line expected: {err}"
    );
    err
}

#[test]
fn good_rows_import_once_and_changes_become_versions() {
    let env = Env::new();
    let rows = "1,Иванов Иван Иванович,28.02.1990,112-233-445 95,М\n\
                2,Петрова Анна Сергеевна,01.01.1985,001-001-999 65,Ж\n\
                3,\"Сидоров, Пётр\",05.05.1970,,М\n";
    let file = env.write("people.csv", format!("{HEADER}{rows}").as_bytes());
    let first = ok(&env.import("people.toml", &file));
    assert!(
        first.contains("3 rows: 3 new, 0 changed (new version), 0 unchanged, 0 quarantined"),
        "{first}"
    );

    let again = ok(&env.import("people.toml", &file));
    assert!(
        again.contains("3 rows: 0 new, 0 changed (new version), 3 unchanged, 0 quarantined"),
        "{again}"
    );

    // An overlapping file: one row changed, one new, one the same.
    let overlapping = "1,Иванов Иван Иванович,28.02.1990,112-233-445 95,М\n\
                       2,Иванова Анна Сергеевна,01.01.1985,001-001-999 65,Ж\n\
                       4,Кузнецов Олег,03.03.1993,,М\n";
    let file2 = env.write("people2.csv", format!("{HEADER}{overlapping}").as_bytes());
    let third = ok(&env.import("people.toml", &file2));
    assert!(
        third.contains("3 rows: 1 new, 1 changed (new version), 1 unchanged, 0 quarantined"),
        "{third}"
    );
    assert_eq!(env.links().len(), 4);

    ok(&env.run(&["resolve"]));
    let profile = ok(&env.run(&["profile", "snils:001-001-999 65"]));
    assert!(profile.contains("Иванова Анна Сергеевна"), "{profile}");
    assert!(
        profile.contains("people/2 v2"),
        "the changed row is version 2: {profile}"
    );
    assert!(
        !profile.contains("Петрова"),
        "only the current version is on the profile: {profile}"
    );
    let by_snils = ok(&env.run(&["profile", "snils:11223344595"]));
    assert!(
        by_snils.contains("birth_date       1990-02-28"),
        "{by_snils}"
    );
    assert!(by_snils.contains("sex              male"), "{by_snils}");
}

#[test]
fn bad_rows_go_to_quarantine_alone_with_row_and_reason() {
    let env = Env::new();
    let rows = "1,Иванов Иван,28.02.1990,112-233-445 95,М\n\
                2,\"Петрова Анна,01.01.1985,001-001-999 65,Ж\n\
                3,Сидоров Пётр,05.05.1970,,М\n\
                4,Кузнецов Олег,03.03.1993,,М,extra\n\
                5,Смирнова Ольга,31.02.1990,,Ж\n\
                6,Попов Павел,01.02.1980,112-233-445 96,М\n\
                7,Волков Ян,01.02.1981,,X\n";
    let file = env.write("people.csv", format!("{HEADER}{rows}").as_bytes());
    let out = ok(&env.import("people.toml", &file));
    assert!(
        out.contains("7 rows: 3 new, 0 changed (new version), 0 unchanged, 4 quarantined"),
        "{out}"
    );

    let quarantine = env.quarantine_lines();
    let summary: Vec<(u64, u64, &str)> = quarantine
        .iter()
        .map(|q| {
            (
                q["row"].as_u64().unwrap(),
                q["line"].as_u64().unwrap(),
                q["reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(summary.len(), 4, "{summary:?}");
    assert_eq!((summary[0].0, summary[0].1), (2, 3));
    assert!(
        summary[0]
            .2
            .contains("quoted field opens on this line and never closes"),
        "{summary:?}"
    );
    assert_eq!(
        quarantine[0]["raw"],
        "2,\"Петрова Анна,01.01.1985,001-001-999 65,Ж"
    );
    assert_eq!(
        (summary[1].0, summary[1].2),
        (4, "row has 6 fields, the header has 5")
    );
    assert_eq!(
        (summary[2].0, summary[2].2),
        (
            5,
            "dob (birth_date): \"31.02.1990\": no such date: 1990-02-31"
        )
    );
    assert_eq!(
        (summary[3].0, summary[3].2),
        (7, "sex (sex): unknown code \"X\"; known codes: Ж, М")
    );
    assert_eq!(quarantine[3]["problems"][0]["column"], "sex");

    // The row after the broken quote was read on its own; the bad SNILS row is kept, flagged.
    ok(&env.run(&["resolve"]));
    let links = env.links();
    assert_eq!(links.len(), 3, "{links:?}");
    assert!(
        links.iter().any(|l| l.starts_with("people,3,")),
        "{links:?}"
    );
    let flagged = ok(&env.run(&["profile", "snils:112-233-445 96"]));
    assert!(
        flagged.contains("112-233-445 96 (invalid: SNILS check number is 96, expected 95)"),
        "{flagged}"
    );

    // Re-importing the same file does not duplicate the quarantine.
    ok(&env.import("people.toml", &file));
    assert_eq!(env.quarantine_lines().len(), 4);
}

#[test]
fn windows_1251_is_refused_as_utf8_and_read_when_declared() {
    let env = Env::new();
    let text = format!("{HEADER}1,Иванов Иван Иванович,28.02.1990,112-233-445 95,М\n");
    let bytes = encoding_rs::WINDOWS_1251.encode(&text).0.into_owned();
    let file = env.write("cp1251.csv", &bytes);
    let err = fails_with_2(&env.import("people.toml", &file));
    assert!(
        err.contains("is not valid UTF-8") && err.contains("windows-1251"),
        "{err}"
    );
    assert!(
        !env.data_dir().join("quarantine").exists(),
        "nothing was read as mojibake"
    );

    env.write(
        "cp1251.toml",
        MAPPING.replace("utf-8", "windows-1251").as_bytes(),
    );
    let out = ok(&env.import("cp1251.toml", &file));
    assert!(out.contains("(windows-1251), 1 rows: 1 new"), "{out}");
    ok(&env.run(&["resolve"]));
    let profile = ok(&env.run(&["profile", "snils:112-233-445 95"]));
    assert!(profile.contains("Иванов Иван Иванович"), "{profile}");

    // Undeclared: detected and said so.
    env.write(
        "auto.toml",
        MAPPING.replace("encoding = \"utf-8\"", "").as_bytes(),
    );
    let out = ok(&env.import("auto.toml", &file));
    assert!(out.contains("detected windows-1251"), "{out}");
}

#[test]
fn whole_file_problems_exit_2_with_one_line() {
    let env = Env::new();
    let empty = env.write("empty.csv", b"");
    assert!(fails_with_2(&env.import("people.toml", &empty)).contains("empty.csv is empty"));

    let missing = env.write("missing.csv", b"id,fio,dob,sex\n1,A,01.01.1990,M\n");
    let err = fails_with_2(&env.import("people.toml", &missing));
    assert!(
        err.contains(r#"the mapping reads column(s) ["snils"], which the header does not have"#),
        "{err}"
    );
    assert!(err.contains(r#"["id", "fio", "dob", "sex"]"#), "{err}");

    env.write(
        "bad.toml",
        MAPPING.replace("name.full", "name.fullname").as_bytes(),
    );
    let err = fails_with_2(&env.import("bad.toml", &missing));
    assert!(
        err.contains("invalid mapping") && err.contains("field 2 (name.fullname): unknown target"),
        "{err}"
    );

    let err = fails_with_2(&env.import("people.toml", &env.path("no-such-file.csv")));
    assert!(
        err.contains("cannot read") && err.contains("no-such-file.csv"),
        "{err}"
    );
}

#[test]
fn a_100_mb_line_is_quarantined_without_holding_it() {
    let env = Env::new();
    let huge_len = 100 << 20;
    let mut bytes = format!("{HEADER}1,Иванов Иван,28.02.1990,,М\n2,").into_bytes();
    bytes.resize(bytes.len() + huge_len, b'x');
    bytes.extend_from_slice(b",01.01.1990,,M\n3,Petrov Petr,01.01.1991,,\xD0\x96\n");
    let file = env.write("huge.csv", &bytes);
    let out = ok(&env.import("people.toml", &file));
    assert!(
        out.contains("3 rows: 2 new, 0 changed (new version), 0 unchanged, 1 quarantined"),
        "{out}"
    );
    let quarantine = env.quarantine_lines();
    assert_eq!(quarantine.len(), 1);
    assert_eq!(quarantine[0]["row"], 2);
    assert_eq!(quarantine[0]["raw_bytes"], huge_len as u64 + 16);
    assert!(quarantine[0]["raw"].as_str().unwrap().len() <= 1 << 20);
    assert!(quarantine[0]["byte_offset"].as_u64().unwrap() > 0);
}

#[test]
fn json_lines_and_arrays_import_and_bad_elements_are_quarantined() {
    let env = Env::new();
    env.write(
        "ndjson.toml",
        br#"
[source]
name = "people"
format = "ndjson"

[[field]]
column = "id"
target = "record.key"

[[field]]
column = "person.name"
target = "name.full"
order = "given_first"

[[field]]
column = "phone"
target = "id.phone"
"#,
    );
    let lines = "{\"id\": 1, \"person\": {\"name\": \"Rustam Karimov\"}, \"phone\": \"+998 90 123 45 67\"}\n\
                 {\"id\": 2, \"person\": {\"name\": \"Анна\"\n\
                 \n\
                 [1, 2]\n\
                 {\"id\": 3, \"person\": {\"name\": [\"x\"]}}\n\
                 {\"id\": 4, \"person\": {\"name\": \"Oleg Ivanov\"}}\n";
    let file = env.write("people.ndjson", lines.as_bytes());
    let out = ok(&env.import("ndjson.toml", &file));
    assert!(
        out.contains("5 rows: 2 new, 0 changed (new version), 0 unchanged, 3 quarantined"),
        "{out}"
    );
    let quarantine = env.quarantine_lines();
    assert_eq!(quarantine[0]["line"], 2);
    assert!(
        quarantine[0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("not JSON")
    );
    assert_eq!(quarantine[1]["reason"], "line is JSON but not an object");
    assert_eq!(quarantine[2]["line"], 5);
    assert_eq!(
        quarantine[2]["reason"],
        "person.name (name.full): holds an array, expected a single value"
    );

    env.write(
        "json.toml",
        fs::read_to_string(env.path("ndjson.toml"))
            .unwrap()
            .replace("ndjson", "json")
            .as_bytes(),
    );
    let array = env.write(
        "people.json",
        "[{\"id\": 10, \"person\": {\"name\": \"Ivan Petrov\"}}, {\"id\": 11}, 5]".as_bytes(),
    );
    let out = ok(&env.import("json.toml", &array));
    assert!(
        out.contains("3 rows: 2 new, 0 changed (new version), 0 unchanged, 1 quarantined"),
        "{out}"
    );

    let broken = env.write(
        "broken.json",
        b"[{\"id\": 20},\n {\"id\": 21},\n {\"id\": 22 oops}]",
    );
    let err = fails_with_2(&env.import("json.toml", &broken));
    assert!(
        err.contains("JSON syntax error at line 3")
            && err.contains("the 2 elements before it were read"),
        "{err}"
    );
    assert!(env.links().iter().any(|l| l.starts_with("people,21,")));
}

/// Kill an import mid-file, run it again: every row is stored exactly once.
#[test]
fn an_interrupted_import_completes_exactly_once_when_run_again() {
    let env = Env::new();
    let rows = 300_000;
    let mut text = String::from(HEADER);
    for i in 0..rows {
        text.push_str(&format!("{i},Иванов Иван {i},28.02.1990,,М\n"));
    }
    let file = env.write("big.csv", text.as_bytes());
    let mapping = env.path("people.toml");
    let mut child = env
        .command(&[
            "import",
            "--mapping",
            mapping.to_str().unwrap(),
            file.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until batches are committed (checkpoints copy only committed pages into the main
    // database file), then kill the process without warning.
    let database = env.data_dir().join("tessera.sqlite3");
    let deadline = Instant::now() + Duration::from_secs(60);
    while fs::metadata(&database).map(|m| m.len()).unwrap_or(0) < 8 << 20 {
        assert!(Instant::now() < deadline, "the import never wrote");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the import finished before it could be interrupted"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "the first run was interrupted");

    let out = ok(&env.import("people.toml", &file));
    let counts = out.split("rows: ").nth(1).unwrap();
    let new: u64 = counts
        .split(" new")
        .next()
        .unwrap()
        .replace(',', "")
        .parse()
        .unwrap();
    let unchanged: u64 = counts
        .split(", ")
        .nth(2)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .replace(',', "")
        .parse()
        .unwrap();
    assert!(unchanged > 0, "the first run had committed rows: {out}");
    assert_eq!(new + unchanged, rows, "{out}");

    let links = env.links();
    assert_eq!(links.len() as u64, rows);
    let mut keys: Vec<&str> = links.iter().map(|l| l.split(',').nth(1).unwrap()).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len() as u64, rows, "no row twice");
}
