//! A bounded validator for automerge sync messages, run before automerge 0.12 parses them.
//!
//! automerge 0.12 trusts its input in ways a hostile peer can exploit (docs/AUTOMERGE-BUGS.md):
//! a Bloom filter with entries but no bits divides by zero, one claiming 2^32 probes
//! allocates 16 GiB, compressed chunks inflate without bound, a run-length column can claim
//! 2^62 operations in a few bytes, and a hash repeated in `need` panics the reply.
//! [`decode`] walks the message once (type byte, heads, need, have entries and their Bloom
//! filters, change and document chunks down to every column's runs, every deflate stream,
//! flags), checks each count and length against [`GuardLimits`], and only then hands the
//! bytes to `automerge::sync::Message::decode`. Deflated data is parsed as it streams
//! through a small buffer and stopped at the limit, so a bomb costs CPU up to
//! `max_inflated_bytes` and no memory; a run costs O(1) whatever it claims.
//!
//! The layout checked is automerge 0.12's (`sync.rs`, `sync/bloom.rs`, `storage/chunk.rs`,
//! `storage/change.rs`, `storage/document.rs`, `columnar/encoding/`); the workspace pins
//! that version.

use std::io::{BufRead, BufReader};

use automerge::sync;

/// What one sync message may contain. Defaults fit a large real caseload (a case document
/// with hundreds of notes typed one keystroke per change syncs well inside them) while
/// bounding what one message can make automerge do: inflate at most 64 MiB and decode at
/// most 2 million operations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardLimits {
    /// `heads`, and `lastSync` in each have entry (concurrent branch tips: a handful).
    pub max_heads: u64,
    /// Hashes in `need`.
    pub max_need: u64,
    /// Have entries (automerge sends at most one).
    pub max_have: u64,
    /// Entries a Bloom filter may summarise (its bit array must also fit in the frame).
    pub max_bloom_entries: u64,
    /// Bits per Bloom entry; automerge (Rust and JS) uses 10.
    pub max_bloom_bits_per_entry: u64,
    /// Hash probes per Bloom lookup; automerge uses 7.
    pub max_bloom_probes: u64,
    /// Change chunks in one message.
    pub max_changes: u64,
    /// Actors listed in one document or change chunk.
    pub max_actors: u64,
    /// Operations (rows) all chunks of one message expand to. Run-length encoding lets a
    /// few bytes claim billions, each of which automerge would decode and store.
    pub max_ops: u64,
    /// Bytes one deflate stream (a compressed change or a document column) may inflate to.
    pub max_inflated_chunk: u64,
    /// Bytes of change data in one message once everything is inflated.
    pub max_inflated_bytes: u64,
}

impl Default for GuardLimits {
    fn default() -> Self {
        GuardLimits {
            max_heads: 1024,
            max_need: 100_000,
            max_have: 16,
            max_bloom_entries: 4_000_000,
            max_bloom_bits_per_entry: 32,
            max_bloom_probes: 32,
            max_changes: 1_000_000,
            max_actors: 100_000,
            max_ops: 2_000_000,
            max_inflated_chunk: 32 << 20,
            max_inflated_bytes: 64 << 20,
        }
    }
}

/// Why a sync message was refused. Messages name counts and positions, never content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardError {
    #[error("sync message is truncated")]
    Truncated,
    #[error("not a sync message (type byte {0:#04x})")]
    WrongType(u8),
    #[error("malformed LEB128 number")]
    BadLeb128,
    #[error("too many {what}: {count} (limit {limit})")]
    TooMany {
        what: &'static str,
        count: u64,
        limit: u64,
    },
    #[error("a hash appears twice in {what}")]
    DuplicateHash { what: &'static str },
    #[error("invalid Bloom filter: {0}")]
    BadBloom(&'static str),
    #[error("invalid chunk {index}: {reason}")]
    BadChunk { index: u64, reason: &'static str },
    #[error("invalid column: {0}")]
    BadColumn(&'static str),
    #[error("compressed data inflates past the limit of {limit} bytes")]
    InflateLimit { limit: u64 },
    #[error("compressed data is not a valid deflate stream")]
    BadDeflate,
    #[error("automerge refused the sync message: {0}")]
    Automerge(String),
}

/// What a message that passed the guard contains.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub heads: u64,
    pub need: u64,
    pub have: u64,
    pub chunks: u64,
    pub compressed_streams: u64,
    /// Change data once inflated (uncompressed chunks count at their size).
    pub inflated_bytes: u64,
    /// Operations (and, in document chunks, changes) the chunks expand to.
    pub ops: u64,
}

/// Validates `data` against `limits`, then decodes it with automerge.
pub fn decode(data: &[u8], limits: &GuardLimits) -> Result<sync::Message, GuardError> {
    validate(data, limits)?;
    sync::Message::decode(data).map_err(|e| GuardError::Automerge(e.to_string()))
}

/// [`decode`] with [`GuardLimits::default`].
pub fn decode_default(data: &[u8]) -> Result<sync::Message, GuardError> {
    decode(data, &GuardLimits::default())
}

const MESSAGE_TYPE_SYNC: u8 = 0x42;
const MESSAGE_TYPE_SYNC_V2: u8 = 0x43;
const HASH_LEN: u64 = 32;
const CHUNK_MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
const CHUNK_DOCUMENT: u8 = 0;
const CHUNK_CHANGE: u8 = 1;
const CHUNK_COMPRESSED: u8 = 2;
const COLUMN_DEFLATE: u64 = 0b0000_1000;
/// automerge defines about a dozen column kinds per chunk.
const MAX_COLUMNS: u64 = 256;
/// Flags are one legacy byte plus one bitfield byte today; leave room for growth.
const MAX_FLAGS_LEN: u64 = 1024;

/// Checks the whole layout of a sync message without decoding it.
pub fn validate(data: &[u8], limits: &GuardLimits) -> Result<Summary, GuardError> {
    let mut r = Reader::new(data);
    let mut sum = Summary::default();
    match r.byte()? {
        MESSAGE_TYPE_SYNC | MESSAGE_TYPE_SYNC_V2 => {}
        other => return Err(GuardError::WrongType(other)),
    }
    sum.heads = hashes(&mut r, "heads", limits.max_heads)?;
    sum.need = hashes(&mut r, "need", limits.max_need)?;
    sum.have = r.count("have entries", limits.max_have, 2)?;
    for _ in 0..sum.have {
        hashes(&mut r, "lastSync heads", limits.max_heads)?;
        let len = r.leb()?;
        bloom(r.take(len)?, limits)?;
    }
    let entries = r.count("changes", limits.max_changes, 1)?;
    for _ in 0..entries {
        let len = r.leb()?;
        let mut chunk = Reader::new(r.take(len)?);
        // automerge concatenates the entries and loads them as a sequence of chunks.
        while !chunk.is_empty() {
            sum.chunks += 1;
            if sum.chunks > limits.max_changes {
                return Err(GuardError::TooMany {
                    what: "change chunks",
                    count: sum.chunks,
                    limit: limits.max_changes,
                });
            }
            change_chunk(&mut chunk, sum.chunks - 1, limits, &mut sum)?;
        }
    }
    if !r.is_empty() {
        let len = r.leb()?;
        if len > MAX_FLAGS_LEN {
            return Err(GuardError::TooMany {
                what: "flag bytes",
                count: len,
                limit: MAX_FLAGS_LEN,
            });
        }
        r.take(len)?;
        // automerge 0.12 ignores anything after the flags (room for future extensions).
    }
    Ok(sum)
}

/// A list of change hashes. automerge sends them sorted and unique; a repeated hash in
/// `need` makes automerge 0.12 panic while building its reply (docs/AUTOMERGE-BUGS.md §5).
fn hashes(r: &mut Reader<'_>, what: &'static str, limit: u64) -> Result<u64, GuardError> {
    let n = r.count(what, limit, HASH_LEN)?;
    let bytes = r.take(n * HASH_LEN)?;
    let list: Vec<&[u8]> = bytes.chunks_exact(HASH_LEN as usize).collect();
    if !list.windows(2).all(|w| w[0] < w[1]) {
        let mut sorted = list;
        crate::order::sort(&mut sorted);
        if sorted.windows(2).any(|w| w[0] == w[1]) {
            return Err(GuardError::DuplicateHash { what });
        }
    }
    Ok(n)
}

/// automerge's `BloomFilter::parse`: empty, or entries, bits per entry, probes (LEB128) and
/// exactly ceil(entries * bits / 8) bytes of bit array.
fn bloom(bytes: &[u8], limits: &GuardLimits) -> Result<(), GuardError> {
    if bytes.is_empty() {
        return Ok(());
    }
    let mut r = Reader::new(bytes);
    let entries = r.leb()?;
    let bits_per_entry = r.leb()?;
    let probes = r.leb()?;
    if entries == 0 {
        // automerge encodes an empty filter as no bytes at all.
        return Err(GuardError::BadBloom("parameters without entries"));
    }
    if entries > limits.max_bloom_entries {
        return Err(GuardError::TooMany {
            what: "Bloom filter entries",
            count: entries,
            limit: limits.max_bloom_entries,
        });
    }
    if bits_per_entry == 0 || bits_per_entry > limits.max_bloom_bits_per_entry {
        return Err(GuardError::BadBloom("bits per entry out of range"));
    }
    if probes == 0 || probes > limits.max_bloom_probes {
        return Err(GuardError::BadBloom("probe count out of range"));
    }
    // Both factors are bounded above, so this cannot overflow.
    let bit_bytes = (entries * bits_per_entry).div_ceil(8);
    // automerge computes the probe modulus as `8 * len` in u32.
    if bit_bytes * 8 > u64::from(u32::MAX) {
        return Err(GuardError::BadBloom("bit array too large"));
    }
    if r.remaining() != bit_bytes {
        return Err(GuardError::BadBloom(
            "bit array length does not match its entries",
        ));
    }
    Ok(())
}

/// One chunk from `r`: header (magic, checksum, type, length), then the body: for a change
/// (plain or compressed) its header fields and every column; for a document chunk its
/// prefix and every column. Columns are walked run by run to count the rows they expand
/// to, and deflated data is streamed, never buffered.
fn change_chunk(
    r: &mut Reader<'_>,
    index: u64,
    limits: &GuardLimits,
    sum: &mut Summary,
) -> Result<(), GuardError> {
    let bad = |reason| GuardError::BadChunk { index, reason };
    let magic = r.take(4).map_err(|_| bad("truncated header"))?;
    if magic != CHUNK_MAGIC {
        return Err(bad("bad magic bytes"));
    }
    r.take(4).map_err(|_| bad("truncated header"))?; // checksum, verified by automerge
    let kind = r.byte().map_err(|_| bad("truncated header"))?;
    let len = r.leb()?;
    let body = r.take(len).map_err(|_| bad("length exceeds the message"))?;
    match kind {
        CHUNK_CHANGE => {
            add_inflated(sum, len, limits)?;
            let mut src = Src::plain(body);
            let rows = change_body(&mut src, index, limits, sum)?;
            add_ops(sum, rows, limits)
        }
        CHUNK_COMPRESSED => {
            let mut src = Src::deflated(body, remaining_budget(sum, limits));
            let rows = change_body(&mut src, index, limits, sum)?;
            src.skip_rest()?; // extra bytes, kept by automerge
            sum.compressed_streams += 1;
            add_inflated(sum, src.read, limits)?;
            add_ops(sum, rows, limits)
        }
        CHUNK_DOCUMENT => document(body, index, limits, sum),
        // Bundles (3) are experimental and never sent in sync messages.
        _ => Err(bad("chunk type not allowed in a sync message")),
    }
}

/// The body of a change chunk (automerge `Change::parse_following_header`); returns the
/// number of operations its columns expand to.
fn change_body<R: BufRead>(
    src: &mut Src<R>,
    index: u64,
    limits: &GuardLimits,
    sum: &Summary,
) -> Result<u64, GuardError> {
    let deps = src.uleb()?;
    if deps > limits.max_heads {
        return Err(GuardError::TooMany {
            what: "change dependencies",
            count: deps,
            limit: limits.max_heads,
        });
    }
    src.skip(deps * HASH_LEN)?;
    let actor = src.uleb()?;
    src.skip(actor)?;
    for _ in 0..3 {
        src.skip_leb()?; // seq, start op, timestamp
    }
    let message = src.uleb()?;
    src.skip(message)?;
    let others = src.uleb()?;
    if others > limits.max_actors {
        return Err(GuardError::TooMany {
            what: "actors",
            count: others,
            limit: limits.max_actors,
        });
    }
    for _ in 0..others {
        let len = src.uleb()?;
        src.skip(len)?;
    }
    let n = src.uleb()?;
    if n > MAX_COLUMNS {
        return Err(GuardError::TooMany {
            what: "columns",
            count: n,
            limit: MAX_COLUMNS,
        });
    }
    let mut columns = Vec::new();
    for _ in 0..n {
        let spec = src.uleb()?;
        if spec > u64::from(u32::MAX) || spec & COLUMN_DEFLATE != 0 {
            // automerge refuses deflated columns inside a change (it compresses whole chunks).
            return Err(GuardError::BadChunk {
                index,
                reason: "invalid column spec",
            });
        }
        columns.push((spec, src.uleb()?));
    }
    let mut rows = 0;
    for (spec, len) in columns {
        rows = rows.max(src.column(len, spec, sum.ops, limits.max_ops)?);
    }
    Ok(rows)
}

/// A document chunk (sent by sync message v2): walks its prefix, then every column,
/// inflating deflated ones as a stream under the limits.
fn document(
    body: &[u8],
    index: u64,
    limits: &GuardLimits,
    sum: &mut Summary,
) -> Result<(), GuardError> {
    let bad = |reason| GuardError::BadChunk { index, reason };
    let mut r = Reader::new(body);
    let actors = r.count("actors", limits.max_actors, 1)?;
    for _ in 0..actors {
        let len = r.leb()?;
        r.take(len)?;
    }
    hashes(&mut r, "document heads", limits.max_heads)?;
    let mut columns = Vec::new();
    for _ in 0..2 {
        let n = r.count("columns", MAX_COLUMNS, 2)?;
        for _ in 0..n {
            let spec = r.leb()?;
            if spec > u64::from(u32::MAX) {
                return Err(bad("column spec out of range"));
            }
            columns.push((spec, r.leb()?));
        }
    }
    let mut rows = 0;
    for (spec, len) in columns {
        let col = r
            .take(len)
            .map_err(|_| bad("column data exceeds the chunk"))?;
        if spec & COLUMN_DEFLATE != 0 {
            let mut src = Src::deflated(col, remaining_budget(sum, limits));
            rows = rows.max(src.column(u64::MAX, spec, sum.ops, limits.max_ops)?);
            sum.compressed_streams += 1;
            add_inflated(sum, src.read, limits)?;
        } else {
            rows = rows.max(Src::plain(col).column(len, spec, sum.ops, limits.max_ops)?);
            add_inflated(sum, len, limits)?;
        }
    }
    // The rest is head indices, which automerge reads as one LEB128 per head.
    add_ops(sum, rows, limits)
}

fn remaining_budget(sum: &Summary, limits: &GuardLimits) -> u64 {
    limits
        .max_inflated_chunk
        .min(limits.max_inflated_bytes.saturating_sub(sum.inflated_bytes))
}

fn add_inflated(sum: &mut Summary, n: u64, limits: &GuardLimits) -> Result<(), GuardError> {
    sum.inflated_bytes = sum.inflated_bytes.saturating_add(n);
    if sum.inflated_bytes > limits.max_inflated_bytes {
        return Err(GuardError::InflateLimit {
            limit: limits.max_inflated_bytes,
        });
    }
    Ok(())
}

fn add_ops(sum: &mut Summary, rows: u64, limits: &GuardLimits) -> Result<(), GuardError> {
    sum.ops = sum.ops.saturating_add(rows);
    if sum.ops > limits.max_ops {
        return Err(GuardError::TooMany {
            what: "operations",
            count: sum.ops,
            limit: limits.max_ops,
        });
    }
    Ok(())
}

const COLUMN_TYPE_BOOLEAN: u64 = 4;
const COLUMN_TYPE_STRING: u64 = 5;
const COLUMN_TYPE_VALUE: u64 = 7;

/// Chunk bytes read either straight from the frame or out of a deflate stream (then at most
/// `cap` of them, read through a small buffer: a bomb costs CPU up to `cap`, no memory).
struct Src<R> {
    r: R,
    /// Bytes read so far.
    read: u64,
    /// Position of the end of the current column (`u64::MAX`: the end of the data).
    end: u64,
    cap: u64,
}

impl<'a> Src<&'a [u8]> {
    fn plain(bytes: &'a [u8]) -> Self {
        Src {
            r: bytes,
            read: 0,
            end: u64::MAX,
            cap: u64::MAX,
        }
    }
}

impl<'a> Src<BufReader<flate2::bufread::DeflateDecoder<&'a [u8]>>> {
    fn deflated(bytes: &'a [u8], cap: u64) -> Self {
        Src {
            r: BufReader::with_capacity(8192, flate2::bufread::DeflateDecoder::new(bytes)),
            read: 0,
            end: u64::MAX,
            cap,
        }
    }
}

impl<R: BufRead> Src<R> {
    /// The buffered bytes, empty at the end of the data.
    fn fill(&mut self) -> Result<&[u8], GuardError> {
        let left = usize::try_from(self.end - self.read).unwrap_or(usize::MAX);
        let buf = self.r.fill_buf().map_err(|_| GuardError::BadDeflate)?;
        Ok(&buf[..buf.len().min(left)])
    }
    fn advance(&mut self, n: usize) -> Result<(), GuardError> {
        self.r.consume(n);
        self.read += n as u64;
        if self.read > self.cap {
            return Err(GuardError::InflateLimit { limit: self.cap });
        }
        Ok(())
    }
    fn at_end(&mut self) -> Result<bool, GuardError> {
        Ok(self.fill()?.is_empty())
    }
    fn byte(&mut self) -> Result<u8, GuardError> {
        let b = *self.fill()?.first().ok_or(GuardError::Truncated)?;
        self.advance(1)?;
        Ok(b)
    }
    fn skip(&mut self, mut n: u64) -> Result<(), GuardError> {
        while n > 0 {
            let avail = self.fill()?.len() as u64;
            if avail == 0 {
                return Err(GuardError::Truncated);
            }
            let k = avail.min(n);
            self.advance(k as usize)?;
            n -= k;
        }
        Ok(())
    }
    fn skip_rest(&mut self) -> Result<(), GuardError> {
        loop {
            let avail = self.fill()?.len();
            if avail == 0 {
                return Ok(());
            }
            self.advance(avail)?;
        }
    }
    fn skip_leb(&mut self) -> Result<(), GuardError> {
        for _ in 0..10 {
            if self.byte()? & 0x80 == 0 {
                return Ok(());
            }
        }
        Err(GuardError::BadLeb128)
    }
    fn uleb(&mut self) -> Result<u64, GuardError> {
        uleb128(|| self.byte())
    }
    fn sleb(&mut self) -> Result<i64, GuardError> {
        let mut value = 0i64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            if shift == 63 && b != 0 && b != 0x7f {
                return Err(GuardError::BadLeb128);
            }
            value |= i64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                if shift + 7 < 64 && b & 0x40 != 0 {
                    value |= -1i64 << (shift + 7);
                }
                return Ok(value);
            }
        }
        Err(GuardError::BadLeb128)
    }

    /// Walks the next `len` bytes as one column of type `spec & 7` and returns how many rows
    /// it expands to. A run-length column can claim 2^63 rows in a few bytes; automerge
    /// would iterate (and store) every one, so more than `max_ops - used` is refused.
    fn column(&mut self, len: u64, spec: u64, used: u64, max_ops: u64) -> Result<u64, GuardError> {
        let outer = self.end;
        self.end = if len == u64::MAX {
            outer
        } else {
            self.read
                .checked_add(len)
                .filter(|e| *e <= outer)
                .ok_or(GuardError::Truncated)?
        };
        let mut rows = 0u64;
        let mut add = |n: u64| {
            rows = rows.saturating_add(n);
            if used.saturating_add(rows) > max_ops {
                Err(GuardError::TooMany {
                    what: "operations",
                    count: used.saturating_add(rows),
                    limit: max_ops,
                })
            } else {
                Ok(())
            }
        };
        match spec & 0b111 {
            COLUMN_TYPE_VALUE => self.skip_rest()?,
            COLUMN_TYPE_BOOLEAN => {
                // Alternating run lengths, starting with `false`; only that first run may be
                // empty. Refusing empty runs bounds the work by `budget`, however the bytes
                // were compressed.
                let mut first = true;
                while !self.at_end()? {
                    let n = self.uleb()?;
                    if n == 0 && !first {
                        return Err(GuardError::BadColumn("empty run"));
                    }
                    first = false;
                    add(n)?;
                }
            }
            // Every other type is run-length encoded: +n (a run of one value), -n (n literal
            // values), 0 then n (n nulls). Values are LEB128, or length-prefixed strings.
            ty => {
                let value = |s: &mut Self| {
                    if ty == COLUMN_TYPE_STRING {
                        let n = s.uleb()?;
                        s.skip(n)
                    } else {
                        s.skip_leb()
                    }
                };
                while !self.at_end()? {
                    match self.sleb()? {
                        0 => match self.uleb()? {
                            0 => return Err(GuardError::BadColumn("empty run")),
                            n => add(n)?,
                        },
                        n if n > 0 => {
                            add(n.unsigned_abs())?;
                            value(self)?;
                        }
                        n => {
                            add(n.unsigned_abs())?;
                            for _ in 0..n.unsigned_abs() {
                                value(self)?;
                            }
                        }
                    }
                }
            }
        }
        if len != u64::MAX && self.read != self.end {
            return Err(GuardError::Truncated);
        }
        self.end = outer;
        Ok(rows)
    }
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }
    fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
    fn remaining(&self) -> u64 {
        self.buf.len() as u64
    }
    fn byte(&mut self) -> Result<u8, GuardError> {
        let (&b, rest) = self.buf.split_first().ok_or(GuardError::Truncated)?;
        self.buf = rest;
        Ok(b)
    }
    fn take(&mut self, n: u64) -> Result<&'a [u8], GuardError> {
        if n > self.remaining() {
            return Err(GuardError::Truncated);
        }
        let (head, rest) = self.buf.split_at(n as usize);
        self.buf = rest;
        Ok(head)
    }
    /// Unsigned LEB128 that fits in a u64.
    fn leb(&mut self) -> Result<u64, GuardError> {
        uleb128(|| self.byte())
    }
    /// A count of items each at least `min_size` bytes long: refused if over `limit` or if
    /// the rest of the input could not hold that many.
    fn count(&mut self, what: &'static str, limit: u64, min_size: u64) -> Result<u64, GuardError> {
        let n = self.leb()?;
        if n > limit {
            return Err(GuardError::TooMany {
                what,
                count: n,
                limit,
            });
        }
        if n.saturating_mul(min_size) > self.remaining() {
            return Err(GuardError::Truncated);
        }
        Ok(n)
    }
}

/// Unsigned LEB128 that fits in a u64, from whatever yields the next byte.
fn uleb128(mut byte: impl FnMut() -> Result<u8, GuardError>) -> Result<u64, GuardError> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let b = byte()?;
        let bits = u64::from(b & 0x7f);
        if shift == 63 && bits > 1 {
            return Err(GuardError::BadLeb128);
        }
        value |= bits << shift;
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(GuardError::BadLeb128)
}
