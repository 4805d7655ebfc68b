//! Outgoing HTTP for guests (wasi:http/outgoing-handler and types, p2),
//! implemented by wasmtime-wasi-http and held to the component's grants:
//! a request goes out only when its authority matches one of the
//! component's `allow_http` patterns, and never waits past the guest call's
//! deadline.
//!
//! Patterns (the same rules as the C++ config check):
//! - `*`: any host, any port;
//! - `host:port`: that host (a name, an IPv4 address or a bracketed IPv6
//!   address; names compare without case) on that port;
//! - `host:*`: that host on any port;
//! - `*.suffix:port` / `*.suffix:*`: any name ending in `.suffix` (at least
//!   one more label: `*.example.com` does not match `example.com`).
//!
//! A request without a port in its URL is on 80 (http) or 443 (https).

use std::time::Duration;

use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpCtx, WasiHttpHooks};

/// One parsed `allow_http` pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpPattern {
    /// None: any host. Some("*.x") is a suffix pattern (kept with its dot).
    host: Option<String>,
    /// None: any port.
    port: Option<u16>,
}

impl HttpPattern {
    pub fn parse(text: &str) -> Result<HttpPattern, String> {
        let bad = |why: &str| format!("allow_http pattern \"{text}\" {why}; expected \"*\", \"host:port\", \"host:*\" or \"*.domain:port\"");
        if text == "*" {
            return Ok(HttpPattern { host: None, port: None });
        }
        let Some(colon) = text.rfind(':') else { return Err(bad("has no port")) };
        let (host, port) = (&text[..colon], &text[colon + 1..]);
        let port = match port {
            "*" => None,
            p if !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => match p.parse::<u16>() {
                Ok(n) if n > 0 => Some(n),
                _ => return Err(bad("has a port outside 1-65535")),
            },
            _ => return Err(bad("has a port that is neither a number nor *")),
        };
        if host.is_empty() {
            return Err(bad("has no host"));
        }
        let name = host.strip_prefix("*.").unwrap_or(host);
        let valid = if name.starts_with('[') {
            host == name
                && name.ends_with(']')
                && name.len() > 2
                && name[1..name.len() - 1].bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        } else {
            !name.is_empty()
                && !name.starts_with('.')
                && !name.ends_with('.')
                && !name.contains("..")
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
        };
        if !valid {
            return Err(bad("has a host that is not a name, an address or *.domain"));
        }
        Ok(HttpPattern { host: Some(host.to_ascii_lowercase()), port })
    }

    /// Whether the pattern covers `host` (lower case, IPv6 in brackets) on `port`.
    pub fn matches(&self, host: &str, port: u16) -> bool {
        if self.port.is_some_and(|p| p != port) {
            return false;
        }
        match &self.host {
            None => true,
            Some(h) => match h.strip_prefix('*') {
                Some(suffix) => host.len() > suffix.len() && host.ends_with(suffix),
                None => h == host,
            },
        }
    }
}

/// The host and port a request goes to: its URL's, the port by scheme when
/// the URL has none. None for a URL without a host.
pub fn request_target(uri: &http::Uri) -> Option<(String, u16)> {
    let authority = uri.authority()?;
    let port = authority.port_u16().unwrap_or(if uri.scheme() == Some(&http::uri::Scheme::HTTPS) { 443 } else { 80 });
    Some((authority.host().to_ascii_lowercase(), port))
}

/// The hooks of one instance: its grants and the current call's deadline.
#[derive(Default)]
pub struct HttpHooks {
    pub grants: Vec<HttpPattern>,
    /// When the running guest call must end (crate::clock; 0: no deadline);
    /// set before every call.
    pub deadline_ns: u64,
}

impl HttpHooks {
    pub fn allowed(&self, uri: &http::Uri) -> bool {
        match request_target(uri) {
            Some((host, port)) => self.grants.iter().any(|g| g.matches(&host, port)),
            None => false,
        }
    }

    /// The guest's timeouts, each bounded by the time left in the call.
    fn bounded(&self, options: Option<RequestOptions>, left: Duration) -> RequestOptions {
        let o = options.unwrap_or_default();
        let cap = |t: Option<Duration>| Some(t.map_or(left, |t| t.min(left)));
        RequestOptions {
            connect_timeout: cap(o.connect_timeout),
            first_byte_timeout: cap(o.first_byte_timeout),
            between_bytes_timeout: cap(o.between_bytes_timeout),
        }
    }
}

type ResponseFuture = Box<
    dyn Future<Output = Result<(http::Response<WasiBody>, Box<dyn Future<Output = Result<(), Error>> + Send>), Error>>
        + Send,
>;

impl WasiHttpHooks for HttpHooks {
    // Called from outgoing-handler.handle on the guest's thread; the future
    // it returns runs on wasmtime-wasi's tokio runtime while the guest
    // polls for the response.
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> ResponseFuture {
        drop(fut);
        // Refused before anything is resolved or connected.
        if !self.allowed(request.uri()) {
            return Box::new(async { Err(Error::HttpRequestDenied) });
        }
        // A call without a deadline (none is set outside calls) still gets
        // the crate's own 600 s bounds.
        let left = crate::clock::left(self.deadline_ns);
        if left == Some(Duration::ZERO) {
            return Box::new(async { Err(Error::ConnectionTimeout) });
        }
        let options = match left {
            Some(left) => Some(self.bounded(options, left)),
            None => options,
        };
        Box::new(async move {
            use http_body_util::BodyExt;
            let send = wasmtime_wasi_http::default_send_request(request, options);
            // The connect and first-byte timeouts bound their own steps; the
            // TLS handshake has none, so the whole exchange up to the
            // response head is held to the time left as well.
            let (res, io) = match left {
                Some(left) => tokio::time::timeout(left, send).await.map_err(|_| Error::HttpResponseTimeout)??,
                None => send.await?,
            };
            Ok((res.map(BodyExt::boxed_unsync), Box::new(io) as Box<dyn Future<Output = _> + Send>))
        })
    }
}

/// wasi:http state of one store.
#[derive(Default)]
pub struct HttpState {
    pub ctx: WasiHttpCtx,
    pub hooks: HttpHooks,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allows(patterns: &[&str], url: &str) -> bool {
        let hooks = HttpHooks {
            grants: patterns.iter().map(|p| HttpPattern::parse(p).unwrap()).collect(),
            deadline_ns: 0,
        };
        hooks.allowed(&url.parse().unwrap())
    }

    #[test]
    fn nothing_is_allowed_by_default() {
        assert!(!allows(&[], "http://127.0.0.1:8080/"));
    }

    #[test]
    fn patterns_match_host_and_port() {
        assert!(allows(&["*"], "https://example.com/x"));
        assert!(allows(&["127.0.0.1:*"], "http://127.0.0.1:9/"));
        assert!(!allows(&["127.0.0.1:*"], "http://127.0.0.2:9/"));
        assert!(allows(&["api.example.com:443"], "https://API.example.com/v1"));
        assert!(!allows(&["api.example.com:443"], "http://api.example.com/v1"));
        assert!(allows(&["api.example.com:80"], "http://api.example.com/v1"));
        assert!(allows(&["*.example.com:443"], "https://a.b.example.com/"));
        assert!(!allows(&["*.example.com:443"], "https://example.com/"));
        assert!(!allows(&["*.example.com:443"], "https://badexample.com/"));
        assert!(allows(&["[::1]:8080"], "http://[::1]:8080/"));
    }

    #[test]
    fn bad_patterns_are_refused() {
        for p in ["", "host", "host:", ":80", "host:0", "host:65536", "host:x", "a*b:80", "*:80", "ho st:80", "*.:80", "a..b:1"] {
            assert!(HttpPattern::parse(p).is_err(), "{p}");
        }
        for p in ["*", "h:1", "h:*", "*.h.io:443", "10.0.0.1:80", "[::1]:*"] {
            assert!(HttpPattern::parse(p).is_ok(), "{p}");
        }
    }

    // What the guest's future-incoming-response yields: the error code, for
    // a denied URL and for a granted port nothing listens on.
    fn send(patterns: &[&str], url: &str) -> Error {
        use http_body_util::BodyExt;
        let mut hooks = HttpHooks {
            grants: patterns.iter().map(|p| HttpPattern::parse(p).unwrap()).collect(),
            deadline_ns: crate::clock::monotonic_ns() + 10_000_000_000,
        };
        let body = http_body_util::Empty::<bytes::Bytes>::new().map_err(|_| unreachable!()).boxed_unsync();
        let request = http::Request::get(url).body(body).unwrap();
        let future = hooks.send_request(request, None, Box::new(async { Ok(()) }));
        match wasmtime_wasi::runtime::in_tokio(std::pin::Pin::from(future)) {
            Ok(_) => panic!("{url} answered"),
            Err(e) => e,
        }
    }

    #[test]
    fn a_request_outside_the_grants_is_http_request_denied() {
        // Port 9 on loopback: nothing is asked of it either way.
        assert!(matches!(send(&[], "http://127.0.0.1:9/"), Error::HttpRequestDenied));
        assert!(matches!(send(&["127.0.0.1:8"], "http://127.0.0.1:9/"), Error::HttpRequestDenied));
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let e = send(&["127.0.0.1:*"], &format!("http://127.0.0.1:{closed}/"));
        assert!(matches!(e, Error::Connect(_)), "{e}");
    }

    #[test]
    fn timeouts_are_bounded_by_the_call() {
        let hooks = HttpHooks::default();
        let left = Duration::from_millis(500);
        let o = hooks.bounded(Some(RequestOptions { connect_timeout: Some(Duration::from_millis(100)), ..Default::default() }), left);
        assert_eq!(o.connect_timeout, Some(Duration::from_millis(100)));
        assert_eq!(o.first_byte_timeout, Some(left));
        assert_eq!(o.between_bytes_timeout, Some(left));
    }
}
