//! Running the real binary in end-to-end tests: commands over a data directory (and a
//! PostgreSQL schema), and `tessera serve` processes that stop when the test process ends.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use serde_json::Value;

use crate::postgres_test::Schema;

/// The binary over a data directory and, for PostgreSQL, a database.
pub fn command(data_dir: &Path, database: Option<&Schema>) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tessera"));
    command.arg("--data-dir").arg(data_dir);
    if let Some(database) = database {
        command.arg("--database").arg(database.url());
    }
    command
}

/// Runs a command as a steward checking data quality; panics with its stderr if it fails.
pub fn tessera(data_dir: &Path, database: Option<&Schema>, args: &[&str]) -> String {
    let out = command(data_dir, database)
        .env("TESSERA_PURPOSE", "data_quality")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// One `tessera serve` process, killed when dropped.
pub struct Node {
    pub base: String,
    process: std::sync::Mutex<Child>,
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Ok(mut child) = self.process.lock() {
            let _ = child.kill();
        }
    }
}

/// Starts `tessera serve` on a free loopback port and waits until its resolver is ready. Its log
/// is kept in `<data-dir>/<log_name>` for a failing test to be read.
pub fn serve(data_dir: &Path, database: Option<&Schema>, extra: &[&OsStr], log_name: &str) -> Node {
    start(command(data_dir, database), data_dir, extra, log_name)
}

/// [`serve`] over the database at `url` (which a test may route through a relay).
#[allow(dead_code)]
pub fn serve_with_url(data_dir: &Path, url: &str, log_name: &str) -> Node {
    let mut command = command(data_dir, None);
    command.arg("--database").arg(url);
    start(command, data_dir, &[], log_name)
}

fn start(mut command: Command, data_dir: &Path, extra: &[&OsStr], log_name: &str) -> Node {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    command
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(extra)
        .stderr(Stdio::piped())
        .stdout(Stdio::null());
    let mut child = spawn_tied_to_this_process(command);
    // The server says where it listens once it does; its log lines follow on stderr.
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.contains("tessera serves"), "{first}");
    let log_path = data_dir.join(log_name);
    std::thread::spawn(move || {
        use std::io::Write;
        let mut log = std::fs::File::create(log_path).unwrap();
        for line in lines.map_while(Result::ok) {
            let _ = writeln!(log, "{line}");
        }
    });
    let base = format!("http://127.0.0.1:{port}");
    let node = Node {
        base,
        process: std::sync::Mutex::new(child),
    };
    node.wait_until_ready();
    node
}

impl Node {
    /// Kills the process at once (SIGKILL), as a crash would, and waits for it to be gone.
    #[allow(dead_code)]
    pub fn kill(&self) {
        if let Ok(mut child) = self.process.lock() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Waits until the online resolver is loaded (at most a minute).
    pub fn wait_until_ready(&self) {
        let started = Instant::now();
        loop {
            let health: Value = Client::new()
                .get(format!("{}/healthz", self.base))
                .send()
                .unwrap()
                .json()
                .unwrap();
            if health["resolver"] == "ready" {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "resolver never ready"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Spawns the server so that it is stopped when the test process ends, however it ends: from a
/// thread that lives as long as the process, with the kernel told to send SIGTERM to the child
/// when that thread is gone.
#[allow(dead_code)]
pub fn spawn_tied_to_this_process(mut command: Command) -> Child {
    use std::os::unix::process::CommandExt;
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // SAFETY: prctl is async-signal-safe and touches only the child's own settings.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        sender.send(command.spawn().unwrap()).unwrap();
        loop {
            std::thread::park();
        }
    });
    receiver.recv().unwrap()
}

/// A CSV source's mapping: a person's key, name, birth date and SNILS, then `rest` (more
/// `[[field]]` tables).
#[allow(dead_code)]
pub fn mapping(source: &str, rest: &str) -> String {
    format!(
        r#"
[source]
name = "{source}"
format = "csv"
encoding = "utf-8"
delimiter = ","
header = true
null_values = [""]

[[field]]
column = "key"
target = "record.key"
required = true

[[field]]
column = "surname"
target = "name.surname"

[[field]]
column = "given"
target = "name.given"

[[field]]
column = "birth"
target = "birth_date"
formats = ["%Y-%m-%d"]

[[field]]
column = "snils"
target = "id.snils"
{rest}"#
    )
}
