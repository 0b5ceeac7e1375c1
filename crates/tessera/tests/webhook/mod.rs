//! A webhook receiver for end-to-end tests: a loopback HTTP/1.1 server that keeps every POST
//! (path, headers, body) and answers 200, or 503 to the first delivery of an event kind to a
//! path it was told to refuse once.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// One request as received.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub path: String,
    /// Header names in lower case.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    /// The answer it got.
    pub status: u16,
}

impl Delivery {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

#[derive(Default)]
struct Shared {
    deliveries: Vec<Delivery>,
    refuse_once: HashSet<String>,
}

pub struct Receiver {
    pub base: String,
    shared: Arc<Mutex<Shared>>,
}

impl Receiver {
    pub fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let shared = Arc::new(Mutex::new(Shared::default()));
        let accepted = shared.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let shared = accepted.clone();
                std::thread::spawn(move || serve(stream, &shared));
            }
        });
        Receiver { base, shared }
    }

    /// Every request so far, in arrival order.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.shared.lock().unwrap().deliveries.clone()
    }

    /// Answer 503 to the next delivery of an event of `kind` to `path`.
    pub fn refuse_once(&self, path: &str, kind: &str) {
        self.shared
            .lock()
            .unwrap()
            .refuse_once
            .insert(format!("{path} {kind}"));
    }
}

/// Serves one keep-alive connection until the client closes it.
fn serve(stream: TcpStream, shared: &Mutex<Shared>) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_string();
        let mut headers = HashMap::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
            }
        }
        let length: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let status = {
            let mut shared = shared.lock().unwrap();
            let kind = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["kind"].as_str().map(str::to_string))
                .unwrap_or_default();
            let refused = shared.refuse_once.remove(&format!("{path} {kind}"));
            let status = if refused { 503 } else { 200 };
            shared.deliveries.push(Delivery {
                path,
                headers,
                body,
                status,
            });
            status
        };
        let reason = if status == 200 {
            "OK"
        } else {
            "Service Unavailable"
        };
        if writer
            .write_all(
                format!("HTTP/1.1 {status} {reason}\r\ncontent-length: 0\r\n\r\n").as_bytes(),
            )
            .is_err()
        {
            return;
        }
    }
}
