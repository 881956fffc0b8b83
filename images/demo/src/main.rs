//! berth-demo: the service berth's example fleet and real-engine tests run. It serves
//! `GET /health` (and `/`) on every port it is given, logs its configuration without
//! values that look secret, and exits at once on SIGTERM — as PID 1 in a `FROM scratch`
//! image, where a signal without a handler would be ignored. For tests of failure:
//! `BERTH_DEMO_HEALTH=fail` makes `/health` answer 503, `BERTH_DEMO_EXIT=N` exits with
//! code N at once. `berth-demo --check` is its own exec probe: exit 0 when healthy, 1
//! when `BERTH_DEMO_HEALTH=fail`; `--check-fails` always exits 1. `--stand-in` makes it
//! a stand-in for any service: every path answers 200, and every other argument (the
//! service's own command, appended to that entrypoint) is ignored but `--port`.
//! `berth-demo --fetch http://HOST:PORT/PATH` is a client for tests (`docker exec`): it
//! resolves HOST as any program in the container would, GETs the path, prints the
//! response and exits 0 on a 200.

// berth's clippy.toml keeps I/O out of berth's core; this whole program is an edge.
#![allow(clippy::disallowed_methods)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;

/// Ports from `--port N` (repeatable), else `PORT` / `SERVER_PORT`, else 8080.
fn ports(args: &[String]) -> Vec<u16> {
    let mut ports: Vec<u16> = args
        .windows(2)
        .filter(|w| w[0] == "--port")
        .filter_map(|w| w[1].parse().ok())
        .collect();
    if ports.is_empty() {
        ports.extend(
            ["PORT", "SERVER_PORT"]
                .iter()
                .filter_map(|k| std::env::var(k).ok()?.parse::<u16>().ok()),
        );
    }
    if ports.is_empty() {
        ports.push(8080);
    }
    ports.sort_unstable();
    ports.dedup();
    ports
}

extern "C" fn on_term(_: libc::c_int) {
    // Only async-signal-safe calls here.
    unsafe { libc::_exit(0) }
}

fn looks_secret(key: &str) -> bool {
    let k = key.to_ascii_uppercase();
    ["PASS", "SECRET", "TOKEN", "KEY", "CREDENTIAL"]
        .iter()
        .any(|w| k.contains(w))
}

fn serve(stream: TcpStream, name: &str, healthy: bool, stand_in: bool) {
    let mut reader = BufReader::new(&stream);
    let mut request = String::new();
    if reader.read_line(&mut request).is_err() {
        return;
    }
    // Drain the headers; a request without a body ends at the blank line.
    let mut line = String::new();
    while reader.read_line(&mut line).map(|n| n > 2).unwrap_or(false) {
        line.clear();
    }
    let path = request.split_whitespace().nth(1).unwrap_or("/");
    let (status, body) = match path {
        _ if stand_in && healthy => ("200 OK", format!("{{\"status\":\"UP\",\"name\":\"{name}\"}}\n")),
        "/" | "/health" if healthy => ("200 OK", format!("{{\"status\":\"UP\",\"name\":\"{name}\"}}\n")),
        "/" | "/health" => (
            "503 Service Unavailable",
            format!("{{\"status\":\"DOWN\",\"name\":\"{name}\"}}\n"),
        ),
        _ => ("404 Not Found", "{\"status\":\"not found\"}\n".to_string()),
    };
    let _ = write!(
        &stream,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// GETs `url` (`http://host:port/path`); the exit code is 0 on a 200.
fn fetch(url: &str) -> i32 {
    let Some(rest) = url.strip_prefix("http://") else {
        eprintln!("--fetch takes http://HOST:PORT/PATH");
        return 2;
    };
    let (authority, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_string()), |(a, p)| (a, format!("/{p}")));
    let mut stream = match TcpStream::connect(authority) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cannot connect to {authority}: {e}");
            return 1;
        }
    };
    let _ = write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    );
    let mut response = String::new();
    let _ = std::io::Read::read_to_string(&mut stream, &mut response);
    print!("{response}");
    if response.starts_with("HTTP/1.1 200") {
        0
    } else {
        1
    }
}

fn main() {
    if let Some(url) = std::env::args().skip_while(|a| a != "--fetch").nth(1) {
        std::process::exit(fetch(&url));
    }
    unsafe {
        libc::signal(libc::SIGTERM, on_term as *const () as libc::sighandler_t);
        libc::signal(libc::SIGINT, on_term as *const () as libc::sighandler_t);
    }
    let args: Vec<String> = std::env::args().collect();
    let healthy = std::env::var("BERTH_DEMO_HEALTH").map_or(true, |h| h != "fail");
    if args.iter().any(|a| a == "--check-fails") {
        std::process::exit(1);
    }
    let stand_in = args.iter().any(|a| a == "--stand-in");
    if args.iter().any(|a| a == "--check") && !stand_in {
        std::process::exit(if healthy { 0 } else { 1 });
    }
    let name = args
        .windows(2)
        .find(|w| w[0] == "--name")
        .map(|w| w[1].clone())
        .unwrap_or_else(|| "berth-demo".into());
    println!("{name}: args {:?}", &args[1..]);
    let mut env: Vec<(String, String)> = std::env::vars().collect();
    env.sort();
    for (k, v) in env {
        let shown = if looks_secret(&k) { "(set)".to_string() } else { v };
        println!("{name}: env {k}={shown}");
    }
    if let Ok(files) = std::fs::read_dir("/run/secrets") {
        for f in files.flatten() {
            println!("{name}: secret file {}", f.path().display());
        }
    }
    if let Some(code) = std::env::var("BERTH_DEMO_EXIT").ok().and_then(|c| c.parse().ok()) {
        eprintln!("{name}: exiting with {code}, as BERTH_DEMO_EXIT says");
        std::process::exit(code);
    }
    let mut handles = Vec::new();
    for port in ports(&args) {
        let listener = match TcpListener::bind(("0.0.0.0", port)) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("{name}: cannot listen on {port}: {e}");
                std::process::exit(1);
            }
        };
        println!("{name}: listening on {port}");
        let name = name.clone();
        handles.push(thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                serve(stream, &name, healthy, stand_in);
            }
        }));
    }
    for h in handles {
        let _ = h.join();
    }
}
