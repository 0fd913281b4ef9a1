//! Output of an instance waiting to be sent to the server.
//!
//! The server may be unreachable for a while (it restarts); instances keep running and keep
//! writing, so what is pending is capped and the oldest part is cut, as the server itself
//! does with what it keeps (DESIGN §4).

use super::wire::Output;

/// Send as soon as this much is pending, without waiting for the next 250 ms tick.
pub const FLUSH_BYTES: usize = 64 * 1024;
/// Most of one stream kept while it cannot be sent.
pub const STREAM_CAP_BYTES: usize = 1024 * 1024;

/// Which pipe of the child a chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Pending stdout and stderr of one instance.
#[derive(Debug)]
pub struct OutputBuffer {
    stdout: CappedText,
    stderr: CappedText,
}

impl Default for OutputBuffer {
    fn default() -> Self {
        Self::with_cap(STREAM_CAP_BYTES)
    }
}

impl OutputBuffer {
    pub fn with_cap(cap: usize) -> Self {
        Self {
            stdout: CappedText::new(cap),
            stderr: CappedText::new(cap),
        }
    }

    /// Appends text; true when enough is pending that it should be sent now.
    pub fn push(&mut self, stream: Stream, text: &str) -> bool {
        match stream {
            Stream::Stdout => self.stdout.push(text),
            Stream::Stderr => self.stderr.push(text),
        }
        self.pending() >= FLUSH_BYTES
    }

    pub fn pending(&self) -> usize {
        self.stdout.text.len() + self.stderr.text.len()
    }

    /// Takes everything pending, for one `/output` (or the final `/finished`).
    pub fn take(&mut self) -> Output {
        Output {
            stdout: std::mem::take(&mut self.stdout.text),
            stderr: std::mem::take(&mut self.stderr.text),
        }
    }

    /// Puts back a batch the server did not take, before what arrived since.
    pub fn restore(&mut self, batch: Output) {
        self.stdout.prepend(batch.stdout);
        self.stderr.prepend(batch.stderr);
    }

    /// Bytes cut so far because the server could not keep up (both streams).
    pub fn dropped(&self) -> usize {
        self.stdout.dropped + self.stderr.dropped
    }
}

#[derive(Debug)]
struct CappedText {
    text: String,
    cap: usize,
    dropped: usize,
}

impl CappedText {
    fn new(cap: usize) -> Self {
        Self {
            text: String::new(),
            cap,
            dropped: 0,
        }
    }

    fn push(&mut self, s: &str) {
        self.text.push_str(s);
        self.enforce_cap();
    }

    fn prepend(&mut self, mut older: String) {
        if older.is_empty() {
            return;
        }
        older.push_str(&self.text);
        self.text = older;
        self.enforce_cap();
    }

    fn enforce_cap(&mut self) {
        if self.text.len() <= self.cap {
            return;
        }
        let mut cut = self.text.len() - self.cap;
        // Never split a character: cut a little more instead.
        while !self.text.is_char_boundary(cut) {
            cut += 1;
        }
        self.text.drain(..cut);
        self.dropped += cut;
    }
}

/// Lossy UTF-8 decoding of a byte stream read in arbitrary chunks: a character split between
/// two reads is kept back until its end arrives instead of becoming two U+FFFD.
#[derive(Debug, Default)]
pub struct Utf8Stream {
    carry: Vec<u8>,
}

impl Utf8Stream {
    pub fn decode(&mut self, chunk: &[u8]) -> String {
        let mut bytes = std::mem::take(&mut self.carry);
        bytes.extend_from_slice(chunk);
        let mut out = String::with_capacity(bytes.len());
        let mut rest = &bytes[..];
        loop {
            match std::str::from_utf8(rest) {
                Ok(s) => {
                    out.push_str(s);
                    break;
                }
                Err(e) => {
                    let (valid, after) = rest.split_at(e.valid_up_to());
                    out.push_str(std::str::from_utf8(valid).expect("checked valid prefix"));
                    match e.error_len() {
                        Some(bad) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            rest = &after[bad..];
                        }
                        None => {
                            // An incomplete character at the end: wait for the next read.
                            self.carry = after.to_vec();
                            break;
                        }
                    }
                }
            }
        }
        out
    }

    /// At end of stream, whatever incomplete character is left.
    pub fn finish(&mut self) -> String {
        let rest = std::mem::take(&mut self.carry);
        String::from_utf8_lossy(&rest).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_asks_for_a_flush_at_64_kib() {
        let mut b = OutputBuffer::default();
        assert!(!b.push(Stream::Stdout, &"a".repeat(FLUSH_BYTES - 10)));
        assert!(b.push(Stream::Stderr, &"b".repeat(10)));
        let out = b.take();
        assert_eq!(out.stdout.len() + out.stderr.len(), FLUSH_BYTES);
        assert_eq!(b.pending(), 0);
    }

    #[test]
    fn cap_drops_the_oldest_bytes() {
        let mut b = OutputBuffer::with_cap(8);
        b.push(Stream::Stdout, "0123456");
        b.push(Stream::Stdout, "789ab");
        assert_eq!(b.take().stdout, "456789ab");
        assert_eq!(b.dropped(), 4);
    }

    #[test]
    fn cap_never_splits_a_character() {
        let mut b = OutputBuffer::with_cap(4);
        b.push(Stream::Stdout, "aé€"); // 1 + 2 + 3 bytes
        // Cutting 2 bytes would split 'é': cut 3 instead.
        assert_eq!(b.take().stdout, "€");
    }

    #[test]
    fn a_failed_batch_goes_back_before_newer_output() {
        let mut b = OutputBuffer::with_cap(10);
        b.push(Stream::Stdout, "first ");
        b.push(Stream::Stderr, "err1 ");
        let batch = b.take();
        b.push(Stream::Stdout, "second");
        b.push(Stream::Stderr, "err2");
        b.restore(batch);
        let out = b.take();
        // "first second" is 12 bytes: the oldest 2 are cut.
        assert_eq!(out.stdout, "rst second");
        assert_eq!(out.stderr, "err1 err2");
    }

    #[test]
    fn utf8_split_across_reads_is_rejoined() {
        let mut d = Utf8Stream::default();
        let euro = "€".as_bytes();
        assert_eq!(d.decode(&[b'x', euro[0]]), "x");
        assert_eq!(d.decode(&euro[1..]), "€");
        assert_eq!(d.finish(), "");
    }

    #[test]
    fn invalid_bytes_become_replacement_characters() {
        let mut d = Utf8Stream::default();
        assert_eq!(d.decode(b"a\xffb"), "a\u{fffd}b");
        assert_eq!(d.decode(&[0xe2, 0x82]), "");
        assert_eq!(d.finish(), "\u{fffd}");
    }
}
