//! Keep-alive loaders for testing a drain (feature `loader`): each sends requests one after
//! another on one connection, as App Service's front end and the Functions host do, and
//! records which got an answer.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread::JoinHandle;
use std::time::Duration;

/// What the loaders saw, by request tag (`<loader>-<n>`).
#[derive(Debug, Default)]
pub struct Load {
    /// Requests answered with a 200.
    pub answered: Vec<String>,
    /// Requests sent (or being sent) when the connection closed with no answer.
    pub unanswered: Vec<String>,
}

/// Running loaders; [`Loaders::finish`] waits for them.
pub struct Loaders(Vec<JoinHandle<Load>>);

/// Starts `count` loaders against `127.0.0.1:port`. `request` builds the bytes of the request
/// tagged `tag`. A loader reconnects when an answer says `Connection: close` or a connection
/// closes unanswered, and stops when a connection is refused.
pub fn start(port: u16, count: usize, request: fn(&str) -> Vec<u8>) -> Loaders {
    Loaders(
        (0..count)
            .map(|id| std::thread::spawn(move || load(port, id, request)))
            .collect(),
    )
}

impl Loaders {
    /// Waits until every loader has been refused a connection; panics if one saw a status
    /// other than 200.
    pub fn finish(self) -> Load {
        let mut all = Load::default();
        for loader in self.0 {
            let load = loader.join().expect("a loader saw a status other than 200");
            all.answered.extend(load.answered);
            all.unanswered.extend(load.unanswered);
        }
        all
    }
}

fn load(port: u16, id: usize, request: fn(&str) -> Vec<u8>) -> Load {
    let mut seen = Load::default();
    let mut n = 0;
    'connections: loop {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
            return seen;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        loop {
            n += 1;
            let tag = format!("{id}-{n}");
            if stream.write_all(&request(&tag)).is_err() {
                seen.unanswered.push(tag);
                continue 'connections;
            }
            match read_response(&mut stream) {
                Some((status, close)) => {
                    assert_eq!(status, 200, "request {tag}");
                    seen.answered.push(tag);
                    if close {
                        continue 'connections;
                    }
                }
                None => {
                    seen.unanswered.push(tag);
                    continue 'connections;
                }
            }
        }
    }
}

/// Reads one response with a `Content-Length`: its status and whether the server closes the
/// connection after it. `None` if the connection ends first.
pub fn read_response(stream: &mut TcpStream) -> Option<(u16, bool)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(k) => buf.extend_from_slice(&chunk[..k]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let status: u16 = head.get(9..12)?.parse().ok()?;
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())?;
    while buf.len() < head_end + length {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(k) => buf.extend_from_slice(&chunk[..k]),
        }
    }
    Some((status, head.contains("connection: close")))
}

/// A `POST /predict` whose body is only half sent: the request a signal should let finish.
pub struct HalfSent {
    stream: TcpStream,
    rest: Vec<u8>,
}

impl HalfSent {
    /// Connects to `127.0.0.1:port` and sends the head and the first half of `body` (JSON),
    /// with `Connection: close`, then waits 200 ms so the server has read them.
    pub fn start(port: u16, body: &[u8]) -> std::io::Result<HalfSent> {
        let (first, rest) = body.split_at(body.len() / 2);
        let mut stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        write!(
            stream,
            "POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )?;
        stream.write_all(first)?;
        stream.flush()?;
        std::thread::sleep(Duration::from_millis(200));
        Ok(HalfSent {
            stream,
            rest: rest.to_vec(),
        })
    }

    /// Sends the rest of the body and reads the whole answer, head and body.
    pub fn finish(mut self) -> std::io::Result<String> {
        self.stream.write_all(&self.rest)?;
        let mut response = Vec::new();
        self.stream.read_to_end(&mut response)?;
        Ok(String::from_utf8_lossy(&response).into_owned())
    }
}
