//! Just enough of the Chrome DevTools Protocol to drive Debian's headless `chromium` from a
//! test: launch it, open a page, navigate, evaluate JavaScript, take a screenshot. A
//! blocking WebSocket client over `std::net::TcpStream` (text frames, client-masked, no
//! extensions): no new dependency for a few hundred messages per test.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The chromium binary on PATH, if any.
pub fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|dir| dir.join(name))
                    .find(|path| path.is_file())
            })
        })
}

/// A headless chromium and one DevTools connection to it; killed on drop.
pub struct Browser {
    child: Child,
    socket: TcpStream,
    next_id: u64,
    _profile: tempfile::TempDir,
}

/// A page (tab) attached with a flat session.
#[derive(Clone, Debug)]
pub struct Page {
    session: String,
}

impl Browser {
    /// Launches `chromium` headless at 1280x800 and connects to its DevTools socket.
    pub fn launch(binary: &Path) -> anyhow::Result<Self> {
        let profile = tempfile::tempdir()?;
        let mut child = Command::new(binary)
            .args([
                "--headless=new",
                "--remote-debugging-port=0",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--no-default-browser-check",
                "--window-size=1280,800",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        let stderr = child
            .stderr
            .take()
            .ok_or_else(|| anyhow::anyhow!("no stderr"))?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // Keep draining after the line we want, so chromium never blocks on stderr.
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    let _ = tx.send(url.trim().to_string());
                }
            }
        });
        let url = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                anyhow::bail!("chromium did not print its DevTools address within 30s");
            }
        };
        let rest = url
            .strip_prefix("ws://")
            .ok_or_else(|| anyhow::anyhow!("unexpected DevTools address {url}"))?;
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        let mut socket = TcpStream::connect(host)?;
        socket.set_read_timeout(Some(Duration::from_secs(60)))?;
        write!(
            socket,
            "GET /{path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )?;
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            socket.read_exact(&mut byte)?;
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head);
        anyhow::ensure!(
            head.starts_with("HTTP/1.1 101"),
            "no websocket upgrade: {head}"
        );
        Ok(Self {
            child,
            socket,
            next_id: 1,
            _profile: profile,
        })
    }

    fn send(&mut self, text: &str) -> std::io::Result<()> {
        let payload = text.as_bytes();
        let mut frame = vec![0x81u8];
        let len = payload.len();
        if len < 126 {
            frame.push(0x80 | len as u8);
        } else if len <= 0xFFFF {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(len as u64).to_be_bytes());
        }
        let mask = [0x5a, 0x17, 0xc3, 0x8e];
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.socket.write_all(&frame)
    }

    fn receive(&mut self) -> anyhow::Result<String> {
        let mut message = Vec::new();
        loop {
            let mut head = [0u8; 2];
            self.socket.read_exact(&mut head)?;
            let fin = head[0] & 0x80 != 0;
            let opcode = head[0] & 0x0f;
            let mut len = u64::from(head[1] & 0x7f);
            if len == 126 {
                let mut ext = [0u8; 2];
                self.socket.read_exact(&mut ext)?;
                len = u64::from(u16::from_be_bytes(ext));
            } else if len == 127 {
                let mut ext = [0u8; 8];
                self.socket.read_exact(&mut ext)?;
                len = u64::from_be_bytes(ext);
            }
            let mut payload = vec![0u8; usize::try_from(len)?];
            self.socket.read_exact(&mut payload)?;
            match opcode {
                0x8 => anyhow::bail!("chromium closed the DevTools connection"),
                0x9 | 0xA => continue,
                _ => message.extend_from_slice(&payload),
            }
            if fin {
                return Ok(String::from_utf8(message)?);
            }
        }
    }

    /// Calls a DevTools method (on a page's session, or the browser) and returns its result.
    pub fn call(
        &mut self,
        page: Option<&Page>,
        method: &str,
        params: Value,
    ) -> anyhow::Result<Value> {
        let id = self.next_id;
        self.next_id += 1;
        let mut request = json!({"id": id, "method": method, "params": params});
        if let Some(page) = page {
            request["sessionId"] = json!(page.session);
        }
        self.send(&request.to_string())?;
        loop {
            let reply: Value = serde_json::from_str(&self.receive()?)?;
            if reply["id"] == json!(id) {
                if let Some(error) = reply.get("error") {
                    anyhow::bail!("{method}: {error}");
                }
                return Ok(reply["result"].clone());
            }
        }
    }

    /// Opens a new tab at `url`.
    pub fn open(&mut self, url: &str) -> anyhow::Result<Page> {
        let target = self.call(None, "Target.createTarget", json!({"url": "about:blank"}))?;
        let attached = self.call(
            None,
            "Target.attachToTarget",
            json!({"targetId": target["targetId"], "flatten": true}),
        )?;
        let page = Page {
            session: attached["sessionId"]
                .as_str()
                .ok_or_else(|| anyhow::anyhow!("no session id"))?
                .to_string(),
        };
        self.call(Some(&page), "Page.enable", json!({}))?;
        self.navigate(&page, url)?;
        Ok(page)
    }

    /// Loads `url` in the page and waits for its new document to be complete. The old
    /// document is marked first, so an old page that is still `complete` while the new one
    /// loads is not taken for it.
    pub fn navigate(&mut self, page: &Page, url: &str) -> anyhow::Result<()> {
        self.mark_document(page)?;
        self.call(Some(page), "Page.navigate", json!({"url": url}))?;
        self.wait_new_document(page)
    }

    /// Marks the page's current document (see [`Self::wait_new_document`]).
    pub fn mark_document(&mut self, page: &Page) -> anyhow::Result<()> {
        self.eval(page, "window.__cdp_old_document = true")?;
        Ok(())
    }

    /// Waits until a document other than the marked one is loaded: its load event has
    /// ended (so its navigation timing is whole).
    pub fn wait_new_document(&mut self, page: &Page) -> anyhow::Result<()> {
        self.wait(
            page,
            "!window.__cdp_old_document && document.readyState === 'complete' \
             && location.href !== 'about:blank' \
             && (performance.getEntriesByType('navigation')[0] || {loadEventEnd: 1}).loadEventEnd > 0",
            Duration::from_secs(20),
        )?;
        Ok(())
    }

    /// Evaluates `expression` in the page (promises awaited) and returns its value.
    pub fn eval(&mut self, page: &Page, expression: &str) -> anyhow::Result<Value> {
        let result = self.call(
            Some(page),
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
        )?;
        if let Some(thrown) = result.get("exceptionDetails") {
            anyhow::bail!("{expression}: {thrown}");
        }
        Ok(result["result"]["value"].clone())
    }

    /// Evaluates `expression` until it is truthy (within `timeout`); returns its value.
    pub fn wait(
        &mut self,
        page: &Page,
        expression: &str,
        timeout: Duration,
    ) -> anyhow::Result<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let value = self.eval(page, expression).unwrap_or(Value::Null);
            let truthy = !matches!(&value, Value::Null | Value::Bool(false))
                && value != json!(0)
                && value != json!("");
            if truthy {
                return Ok(value);
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "timed out waiting for {expression}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A PNG of the page's viewport.
    pub fn screenshot(&mut self, page: &Page) -> anyhow::Result<Vec<u8>> {
        let shot = self.call(
            Some(page),
            "Page.captureScreenshot",
            json!({"format": "png"}),
        )?;
        base64_decode(shot["data"].as_str().unwrap_or(""))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Standard base64 (with padding), for screenshots.
fn base64_decode(text: &str) -> anyhow::Result<Vec<u8>> {
    let value = |c: u8| -> anyhow::Result<u32> {
        Ok(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => anyhow::bail!("not base64: {c}"),
        }))
    };
    let bytes: Vec<u8> = text.bytes().filter(|c| *c != b'=').collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= value(*c)? << (18 - 6 * i);
        }
        let [_, a, b, c] = n.to_be_bytes();
        out.push(a);
        if chunk.len() > 2 {
            out.push(b);
        }
        if chunk.len() > 3 {
            out.push(c);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_decodes() {
        assert_eq!(super::base64_decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(super::base64_decode("aGk=").unwrap(), b"hi");
        assert_eq!(super::base64_decode("YWJj").unwrap(), b"abc");
    }
}
