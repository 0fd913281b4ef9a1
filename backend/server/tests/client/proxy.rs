//! A small HTTP/1.1 proxy in front of the server, to see what the client sends and to make
//! the network fail on purpose: forward a request but lose its answer, answer in the
//! server's place, cut live connections (an event stream), refuse connections for a while.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

/// A request as the proxy saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// The path with its query.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    pub fn is(&self, method: &str, path: &str) -> bool {
        self.method == method && self.path() == path
    }
}

/// What to do with a request.
pub enum Action {
    /// Pass it on, and the answer back (streamed).
    Forward,
    /// Pass it on, let the server answer in full, then close the client's connection
    /// without a byte of the answer.
    LoseAnswer,
    /// Answer these bytes (a whole HTTP response) in the server's place.
    Answer(Vec<u8>),
}

type Rule = Box<dyn FnMut(&Seen) -> Action + Send>;

pub struct Proxy {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    rule: Arc<Mutex<Rule>>,
    refusing: Arc<AtomicBool>,
    live: Arc<Mutex<Vec<AbortHandle>>>,
    accept: AbortHandle,
}

/// A whole HTTP response of `status` with a JSON or text `body`.
pub fn answer(status: u16, headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut text = format!(
        "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        text.push_str(&format!("{k}: {v}\r\n"));
    }
    text.push_str("\r\n");
    text.push_str(body);
    text.into_bytes()
}

impl Proxy {
    /// A proxy to the server on `upstream`, forwarding everything until told otherwise.
    pub async fn start(upstream: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy bind");
        let port = listener.local_addr().expect("proxy address").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let rule: Arc<Mutex<Rule>> = Arc::new(Mutex::new(Box::new(|_: &Seen| Action::Forward)));
        let refusing = Arc::new(AtomicBool::new(false));
        let live: Arc<Mutex<Vec<AbortHandle>>> = Arc::new(Mutex::new(Vec::new()));
        let (s, r, f, l) = (seen.clone(), rule.clone(), refusing.clone(), live.clone());
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if f.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let task = tokio::spawn(serve(client, upstream, s.clone(), r.clone()));
                let mut live = l.lock().unwrap();
                live.retain(|h| !h.is_finished());
                live.push(task.abort_handle());
            }
        })
        .abort_handle();
        Proxy {
            port,
            seen,
            rule,
            refusing,
            live,
            accept,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Decides what happens to each request from now on.
    pub fn set_rule(&self, rule: impl FnMut(&Seen) -> Action + Send + 'static) {
        *self.rule.lock().unwrap() = Box::new(rule);
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// The requests seen of `method` on `path` (without query).
    pub fn seen_of(&self, method: &str, path: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.is(method, path))
            .collect()
    }

    /// Closes every connection open now (their streams end mid-way).
    pub fn cut_all(&self) {
        for h in self.live.lock().unwrap().drain(..) {
            h.abort();
        }
    }

    /// While set, new connections are closed as soon as they are accepted.
    pub fn refuse(&self, refusing: bool) {
        self.refusing.store(refusing, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut_all();
    }
}

/// One request of one connection (the upstream is asked with `connection: close`, and so
/// is the client told).
async fn serve(
    mut client: TcpStream,
    upstream: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    rule: Arc<Mutex<Rule>>,
) {
    let Some((head, request)) = read_request(&mut client).await else {
        return;
    };
    seen.lock().unwrap().push(request.clone());
    let action = (rule.lock().unwrap())(&request);
    if let Action::Answer(bytes) = action {
        let _ = client.write_all(&bytes).await;
        let _ = client.shutdown().await;
        return;
    }
    let Ok(mut server) = TcpStream::connect(("127.0.0.1", upstream)).await else {
        return;
    };
    if server.write_all(&head).await.is_err() || server.write_all(&request.body).await.is_err() {
        return;
    }
    match action {
        Action::LoseAnswer => {
            let mut answer = Vec::new();
            let _ = server.read_to_end(&mut answer).await;
            // The client's connection closes here, answerless.
        }
        _ => {
            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
        }
    }
}

/// The request head (rewritten with `connection: close`) and the request with its body.
async fn read_request(client: &mut TcpStream) -> Option<(Vec<u8>, Seen)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if buf.len() > 1 << 20 {
            return None;
        }
        let n = client.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let text = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut lines = text.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, target) = (first.next()?.to_owned(), first.next()?.to_owned());
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[end + 4..].to_vec();
    while body.len() < length {
        let n = client.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    let mut head = format!("{method} {target} HTTP/1.1\r\n");
    for (k, v) in &headers {
        if !k.eq_ignore_ascii_case("connection") {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    head.push_str("connection: close\r\n\r\n");
    Some((
        head.into_bytes(),
        Seen {
            method,
            target,
            headers,
            body,
        },
    ))
}
