//! A line reader with a bound on line length, for streaming files of any size.
//!
//! `BufRead::read_until` would hold a 100 MB line in memory; this reader keeps at most
//! `max_bytes` of a line and skips (but counts) the rest, so an over-long row is reported with its
//! size and a prefix instead of exhausting memory.

use std::io::{self, BufRead};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Where a physical line was and whether it was cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LineInfo {
    /// 1-based line number in the file.
    pub(crate) number: u64,
    /// Byte offset of the line's first byte in the file.
    pub(crate) offset: u64,
    /// `Some(total)` when the line was longer than the limit; the buffer then holds only a prefix.
    pub(crate) cut_at_total: Option<u64>,
}

pub(crate) struct LineReader<R> {
    inner: R,
    next_number: u64,
    offset: u64,
    max_bytes: usize,
    progress: Option<Arc<AtomicU64>>,
}

impl<R: BufRead> LineReader<R> {
    pub(crate) fn new(
        inner: R,
        start_offset: u64,
        max_bytes: usize,
        progress: Option<Arc<AtomicU64>>,
    ) -> Self {
        LineReader {
            inner,
            next_number: 1,
            offset: start_offset,
            max_bytes,
            progress,
        }
    }

    /// Reads the next line into `buf` (cleared first) without its `\n` or `\r\n`.
    pub(crate) fn next_line(&mut self, buf: &mut Vec<u8>) -> io::Result<Option<LineInfo>> {
        buf.clear();
        let start = self.offset;
        let mut total: u64 = 0;
        let mut saw_newline = false;
        loop {
            let available = match self.inner.fill_buf() {
                Ok(bytes) => bytes,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                break;
            }
            let (chunk, used, done) = match memchr_newline(available) {
                Some(i) => (&available[..i], i + 1, true),
                None => (available, available.len(), false),
            };
            let room = self.max_bytes.saturating_sub(buf.len());
            buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
            total += chunk.len() as u64;
            self.inner.consume(used);
            self.offset += used as u64;
            if done {
                saw_newline = true;
                break;
            }
        }
        if total == 0 && !saw_newline {
            return Ok(None);
        }
        if let Some(progress) = &self.progress {
            progress.store(self.offset, Ordering::Relaxed);
        }
        if buf.last() == Some(&b'\r') && total as usize == buf.len() {
            buf.pop();
        }
        let number = self.next_number;
        self.next_number += 1;
        let cut_at_total = (total > self.max_bytes as u64).then_some(total);
        Ok(Some(LineInfo {
            number,
            offset: start,
            cut_at_total,
        }))
    }
}

fn memchr_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|b| *b == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_numbered_and_long_ones_cut() {
        let text = b"a,b\r\nshort\n0123456789abcdef\nlast";
        let mut reader = LineReader::new(&text[..], 0, 8, None);
        let mut buf = Vec::new();
        let mut seen = Vec::new();
        while let Some(info) = reader.next_line(&mut buf).unwrap() {
            seen.push((info, String::from_utf8(buf.clone()).unwrap()));
        }
        assert_eq!(seen.len(), 4);
        assert_eq!(seen[0].1, "a,b");
        assert_eq!(
            seen[1],
            (
                LineInfo {
                    number: 2,
                    offset: 5,
                    cut_at_total: None
                },
                "short".into()
            )
        );
        assert_eq!(
            seen[2],
            (
                LineInfo {
                    number: 3,
                    offset: 11,
                    cut_at_total: Some(16)
                },
                "01234567".into()
            )
        );
        assert_eq!(seen[3].1, "last");
    }
}
