//! Readers of the formats a kernel comes in: ar (`.deb`), tar, cpio (newc: RPM
//! payloads and initrds), RPM headers, the bzImage header and the config a kernel
//! image embeds (`CONFIG_IKCONFIG`), and the decompressors (gzip, xz, zstd, lzma).
//!
//! Everything is read once, as a stream, and nothing is written anywhere. Every
//! byte decompressed counts against [`Caps::max_unpacked`], every archive entry
//! against [`Caps::max_entries`], every file kept in memory against
//! [`Caps::max_kept_file`]; metadata (tar long names and PAX records, RPM headers,
//! cpio names) has its own small bounds. Host data is hostile: nothing here
//! panics on it, and every failure is a `Fail` that says what was wrong.
//!
//! ar and tar are parsed by hand on purpose: the `tar` crate reads GNU long names
//! and PAX headers whole into memory with no bound (a 4 GiB PAX record compresses
//! to a few kilobytes), and the parallel xz reader needs the file offset of the
//! `.deb`'s `data.tar.xz` member, which the `ar` crate does not give. Both formats
//! are a fixed-size header and a body; the parsers are small and fuzzable.
//!
//! The `.deb` floor (`dpkg-deb --fsys-tarfile | tar -t`) decodes xz on two threads
//! with liblzma's multithreaded decoder, which holds two whole blocks (dpkg writes
//! 24 MiB blocks) and their inputs: about 100 MB. `XzPar` decodes the same
//! blocks on two threads in about half that: the caller's thread decodes block
//! *k* straight into the reader, a worker decodes block *k+1* into one buffer, each
//! reading its compressed bytes from the file at their offset.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};

use liblzma::stream::{Action, Filters, Status, Stream};

use super::source::{Caps, InspectError};
use crate::facts::parse;

// ---------------------------------------------------------------------------
// Failures and budgets

/// Why reading failed (the target is named by the caller: [`Fail::inspect`]).
#[derive(Debug)]
pub(crate) enum Fail {
    Corrupt(String),
    TooLarge { what: String, limit: u64 },
    Unsafe { entry: String, why: String },
    Unsupported(String),
    NotAKernel(String),
    Io(io::Error),
}

impl std::fmt::Display for Fail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fail::Corrupt(w) => write!(f, "corrupt: {w}"),
            Fail::TooLarge { what, limit } => write!(f, "{what} over the cap of {limit}"),
            Fail::Unsafe { entry, why } => write!(f, "unsafe entry {entry:?}: {why}"),
            Fail::Unsupported(w) => write!(f, "unsupported: {w}"),
            Fail::NotAKernel(w) => write!(f, "no kernel: {w}"),
            Fail::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Fail {}

impl Fail {
    /// The error of inspecting `target`.
    pub(crate) fn inspect(self, target: &str) -> InspectError {
        let target = target.to_string();
        match self {
            Fail::Corrupt(why) => InspectError::Corrupt { target, why },
            Fail::TooLarge { what, limit } => InspectError::TooLarge {
                target,
                what,
                limit,
            },
            Fail::Unsafe { entry, why } => InspectError::Unsafe { target, entry, why },
            Fail::Unsupported(why) => InspectError::Unsupported { target, why },
            Fail::NotAKernel(why) => InspectError::NotAKernel { target, why },
            Fail::Io(source) => InspectError::Io { target, source },
        }
    }

    fn corrupt(why: impl Into<String>) -> Fail {
        Fail::Corrupt(why.into())
    }

    /// Carries a `Fail` through layers that speak `io::Error` (decoders, parsers).
    fn into_io(self) -> io::Error {
        io::Error::other(self)
    }
}

/// An `io::Error` as a `Fail`: a `Fail` carried through is itself; an error of the
/// operating system is I/O; an early end is truncation; anything else a decoder
/// or parser said is corruption.
pub(crate) fn from_io(e: io::Error) -> Fail {
    if e.get_ref().is_some_and(|i| i.is::<Fail>()) {
        if let Some(inner) = e.into_inner()
            && let Ok(f) = inner.downcast::<Fail>()
        {
            return *f;
        }
        return Fail::corrupt("unreadable");
    }
    if e.raw_os_error().is_some() {
        return Fail::Io(e);
    }
    if e.kind() == io::ErrorKind::UnexpectedEof {
        return Fail::corrupt(format!("truncated ({e})"));
    }
    Fail::Corrupt(e.to_string())
}

/// What one target may cost: decompressed bytes and archive entries, counted on
/// the reading thread.
pub(crate) struct Budget {
    pub(crate) caps: Caps,
    unpacked: Cell<u64>,
    entries: Cell<u64>,
}

impl Budget {
    pub(crate) fn new(caps: &Caps) -> Budget {
        Budget {
            caps: caps.clone(),
            unpacked: Cell::new(0),
            entries: Cell::new(0),
        }
    }

    /// Counts one archive entry.
    pub(crate) fn entry(&self) -> Result<(), Fail> {
        let n = self.entries.get() + 1;
        self.entries.set(n);
        if n > self.caps.max_entries {
            return Err(Fail::TooLarge {
                what: "archive entries".into(),
                limit: self.caps.max_entries,
            });
        }
        Ok(())
    }

    /// Counts `n` bytes decompressed (or read raw where there is no compression).
    pub(crate) fn unpacked(&self, n: u64) -> Result<(), Fail> {
        let t = self.unpacked.get().saturating_add(n);
        self.unpacked.set(t);
        if t > self.caps.max_unpacked {
            return Err(Fail::TooLarge {
                what: "bytes decompressed from the target".into(),
                limit: self.caps.max_unpacked,
            });
        }
        Ok(())
    }

    pub(crate) fn unpacked_total(&self) -> u64 {
        self.unpacked.get()
    }
}

/// A reader whose bytes count against the budget's [`Caps::max_unpacked`].
pub(crate) struct Counted<'b, R> {
    pub(crate) inner: R,
    pub(crate) budget: &'b Budget,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.budget.unpacked(n as u64).map_err(Fail::into_io)?;
        Ok(n)
    }
}

/// Reads `n` bytes into a vector, failing on an early end.
fn read_vec(r: &mut dyn Read, n: usize) -> Result<Vec<u8>, Fail> {
    let mut v = vec![0u8; n];
    r.read_exact(&mut v).map_err(from_io)?;
    Ok(v)
}

/// Reads and drops `n` bytes.
pub(crate) fn skip(r: &mut dyn Read, n: u64) -> Result<(), Fail> {
    let got = io::copy(&mut r.take(n), &mut io::sink()).map_err(from_io)?;
    if got < n {
        return Err(Fail::corrupt("truncated: the data ends inside an entry"));
    }
    Ok(())
}

/// Reads a file kept in memory (a config, a module index): at most
/// [`Caps::max_kept_file`] bytes, as a buffered stream for the parsers.
pub(crate) fn kept<T>(
    r: &mut dyn Read,
    size: u64,
    what: &str,
    caps: &Caps,
    parse: impl FnOnce(&mut dyn BufRead) -> T,
) -> Result<T, Fail> {
    if size > caps.max_kept_file {
        return Err(Fail::TooLarge {
            what: format!("bytes of {what}"),
            limit: caps.max_kept_file,
        });
    }
    let mut b = BufReader::new(r.take(size));
    let out = parse(&mut b);
    // What the parser left (it stops at an error) is read to the end of the file.
    io::copy(&mut b, &mut io::sink()).map_err(from_io)?;
    Ok(out)
}

/// An archive entry's name as a safe relative path: `./` and leading `/` dropped,
/// empty and `.` components dropped; a `..` component is refused.
pub(crate) fn normalize_entry(name: &str) -> Result<String, Fail> {
    let mut parts = Vec::new();
    for c in name.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                return Err(Fail::Unsafe {
                    entry: name.to_string(),
                    why: "a `..` component (path traversal)".into(),
                });
            }
            c => parts.push(c),
        }
    }
    Ok(parts.join("/"))
}

// ---------------------------------------------------------------------------
// Compression

/// A compression format, told by its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compression {
    Gzip,
    Xz,
    Zstd,
    Lzma,
    Bzip2,
    Lz4,
    Lzo,
}

pub(crate) const XZ_MAGIC: &[u8] = &[0xFD, b'7', b'z', b'X', b'Z', 0];
pub(crate) const ZSTD_MAGIC: &[u8] = &[0x28, 0xB5, 0x2F, 0xFD];
pub(crate) const GZIP_MAGIC: &[u8] = &[0x1F, 0x8B];

impl Compression {
    /// The format whose magic `b` starts with.
    pub(crate) fn sniff(b: &[u8]) -> Option<Compression> {
        if b.starts_with(GZIP_MAGIC) {
            Some(Compression::Gzip)
        } else if b.starts_with(XZ_MAGIC) {
            Some(Compression::Xz)
        } else if b.starts_with(ZSTD_MAGIC) {
            Some(Compression::Zstd)
        } else if b.starts_with(&[0x5D, 0, 0]) {
            Some(Compression::Lzma)
        } else if b.starts_with(b"BZh") {
            Some(Compression::Bzip2)
        } else if b.starts_with(&[0x02, 0x21, 0x4C, 0x18])
            || b.starts_with(&[0x04, 0x22, 0x4D, 0x18])
        {
            Some(Compression::Lz4)
        } else if b.starts_with(&[0x89, b'L', b'Z', b'O']) {
            Some(Compression::Lzo)
        } else {
            None
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Xz => "xz",
            Compression::Zstd => "zstd",
            Compression::Lzma => "lzma",
            Compression::Bzip2 => "bzip2",
            Compression::Lz4 => "lz4",
            Compression::Lzo => "lzo",
        }
    }
}

/// The most memory an xz or lzma stream may ask for (xz -9 needs 65 MiB).
const XZ_MEMLIMIT: u64 = 96 << 20;
/// The largest xz dictionary accepted (xz -9 uses 64 MiB).
const XZ_DICT_MAX: u64 = 64 << 20;
/// zstd windows up to 128 MiB (`--long=27`, zstd's own default limit).
const ZSTD_WINDOW_LOG_MAX: u32 = 27;

/// A decoder of `c` over `r`, reading every member or frame that follows.
pub(crate) fn decoder<'a, R: BufRead + 'a>(
    c: Compression,
    r: R,
) -> Result<Box<dyn Read + 'a>, Fail> {
    Ok(match c {
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(r)),
        Compression::Xz => Box::new(liblzma::bufread::XzDecoder::new_stream(
            r,
            Stream::new_stream_decoder(XZ_MEMLIMIT, liblzma::stream::CONCATENATED)
                .map_err(|e| Fail::Corrupt(format!("xz: {e:?}")))?,
        )),
        Compression::Lzma => Box::new(liblzma::bufread::XzDecoder::new_stream(
            r,
            Stream::new_lzma_decoder(XZ_MEMLIMIT)
                .map_err(|e| Fail::Corrupt(format!("lzma: {e:?}")))?,
        )),
        Compression::Zstd => {
            let mut d = zstd::stream::read::Decoder::with_buffer(r).map_err(from_io)?;
            d.window_log_max(ZSTD_WINDOW_LOG_MAX).map_err(from_io)?;
            Box::new(d)
        }
        other => {
            return Err(Fail::Unsupported(format!(
                "{}-compressed data (gzip, xz, zstd and lzma are read)",
                other.name()
            )));
        }
    })
}

/// A decoder of one gzip member, xz stream or zstd frame (a kernel image's payload,
/// which the kernel's build follows with its size): it ends where the data ends.
fn single_decoder<'a, R: BufRead + 'a>(c: Compression, r: R) -> Result<Box<dyn Read + 'a>, Fail> {
    Ok(match c {
        Compression::Gzip => Box::new(flate2::bufread::GzDecoder::new(r)),
        Compression::Xz => Box::new(liblzma::bufread::XzDecoder::new_stream(
            r,
            Stream::new_stream_decoder(XZ_MEMLIMIT, 0)
                .map_err(|e| Fail::Corrupt(format!("xz: {e:?}")))?,
        )),
        Compression::Zstd => {
            let mut d = zstd::stream::read::Decoder::with_buffer(r)
                .map_err(from_io)?
                .single_frame();
            d.window_log_max(ZSTD_WINDOW_LOG_MAX).map_err(from_io)?;
            Box::new(d)
        }
        other => return decoder(other, r),
    })
}

/// A byte range of a file, read with positional reads (no shared offset).
pub(crate) struct Range {
    pub(crate) file: Arc<File>,
    pub(crate) pos: u64,
    pub(crate) end: u64,
}

impl Read for Range {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = (self.end.saturating_sub(self.pos)).min(buf.len() as u64) as usize;
        if want == 0 {
            return Ok(0);
        }
        let n = loop {
            match self.file.read_at(&mut buf[..want], self.pos) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                r => break r?,
            }
        };
        if n == 0 {
            return Err(Fail::corrupt("truncated: the file ends early").into_io());
        }
        self.pos += n as u64;
        Ok(n)
    }
}

fn read_exact_at(file: &File, buf: &mut [u8], at: u64) -> Result<(), Fail> {
    file.read_exact_at(buf, at).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            Fail::corrupt("truncated: the file ends early")
        } else {
            Fail::Io(e)
        }
    })
}

// ---------------------------------------------------------------------------
// ar (Debian packages)

/// One member of an ar archive.
#[derive(Debug, Clone)]
pub(crate) struct ArMember {
    pub(crate) name: String,
    pub(crate) offset: u64,
    pub(crate) size: u64,
}

pub(crate) const AR_MAGIC: &[u8] = b"!<arch>\n";

/// The members of the ar archive that is `file` (`len` bytes): the 60-byte
/// headers only, each member's data left where it is.
pub(crate) fn ar_members(file: &File, len: u64, budget: &Budget) -> Result<Vec<ArMember>, Fail> {
    let mut magic = [0u8; 8];
    read_exact_at(file, &mut magic, 0)?;
    if magic != AR_MAGIC {
        return Err(Fail::corrupt("not an ar archive"));
    }
    let mut out = Vec::new();
    let mut pos = 8u64;
    while pos < len {
        budget.entry()?;
        let mut h = [0u8; 60];
        read_exact_at(file, &mut h, pos)?;
        if &h[58..60] != b"`\n" {
            return Err(Fail::corrupt(format!(
                "bad ar member header at offset {pos}"
            )));
        }
        let name = String::from_utf8_lossy(&h[..16])
            .trim_end()
            .trim_end_matches('/')
            .to_string();
        let size = std::str::from_utf8(&h[48..58])
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .ok_or_else(|| Fail::corrupt(format!("bad size of ar member {name:?}")))?;
        let offset = pos + 60;
        if offset.saturating_add(size) > len {
            return Err(Fail::corrupt(format!(
                "truncated: ar member {name:?} ends past the end of the file"
            )));
        }
        out.push(ArMember { name, offset, size });
        pos = offset + size + (size & 1);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// tar

/// What an archive entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    File,
    Dir,
    Symlink,
    Other,
}

/// One archive entry: the name as stored, its kind and the size of its data.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) name: String,
    pub(crate) kind: Kind,
    pub(crate) size: u64,
}

/// Bound on a GNU long name or link name.
const TAR_LONG_NAME_MAX: u64 = 64 << 10;
/// Bound on one PAX header (extended or global).
const TAR_PAX_MAX: u64 = 1 << 20;

/// Calls `f` with each entry of the tar stream `r` and a reader of its data (what
/// `f` leaves unread is skipped). GNU long names and PAX `path`/`size` records are
/// applied; sparse and device entries are skipped as data.
pub(crate) fn tar_entries(
    r: &mut dyn Read,
    budget: &Budget,
    f: &mut dyn FnMut(&Entry, &mut dyn Read) -> Result<(), Fail>,
) -> Result<(), Fail> {
    let mut long_name: Option<String> = None;
    let mut pax_path: Option<String> = None;
    let mut pax_size: Option<u64> = None;
    let mut index = 0u64;
    loop {
        let mut h = [0u8; 512];
        let got = read_full(r, &mut h)?;
        if got == 0 {
            // The end without the end-of-archive blocks: accepted as GNU tar does.
            return Ok(());
        }
        if got < 512 {
            return Err(Fail::corrupt("truncated tar header"));
        }
        if h.iter().all(|&b| b == 0) {
            return Ok(());
        }
        index += 1;
        budget.entry()?;
        if !tar_checksum_ok(&h) {
            return Err(Fail::corrupt(format!(
                "bad tar header checksum (entry {index})"
            )));
        }
        let size = tar_number(&h[124..136])
            .ok_or_else(|| Fail::corrupt(format!("bad tar size field (entry {index})")))?;
        let typeflag = h[156];
        let padded = size.div_ceil(512) * 512;
        match typeflag {
            b'L' | b'K' => {
                if size > TAR_LONG_NAME_MAX {
                    return Err(Fail::TooLarge {
                        what: "bytes of a tar long name".into(),
                        limit: TAR_LONG_NAME_MAX,
                    });
                }
                let v = read_vec(r, size as usize)?;
                skip(r, padded - size)?;
                if typeflag == b'L' {
                    long_name = Some(c_string(&v));
                }
                continue;
            }
            b'x' | b'g' => {
                if size > TAR_PAX_MAX {
                    return Err(Fail::TooLarge {
                        what: "bytes of a tar PAX header".into(),
                        limit: TAR_PAX_MAX,
                    });
                }
                let v = read_vec(r, size as usize)?;
                skip(r, padded - size)?;
                if typeflag == b'x' {
                    for (k, val) in pax_records(&v)? {
                        match k.as_str() {
                            "path" => pax_path = Some(val),
                            "size" => {
                                pax_size = Some(val.trim().parse().map_err(|_| {
                                    Fail::corrupt(format!("bad PAX size (entry {index})"))
                                })?)
                            }
                            _ => {}
                        }
                    }
                }
                continue;
            }
            _ => {}
        }
        let size = pax_size.take().unwrap_or(size);
        let padded = size.div_ceil(512) * 512;
        let name = match (pax_path.take(), long_name.take()) {
            (Some(p), _) => p,
            (None, Some(l)) => l,
            (None, None) => {
                let name = c_string(&h[..100]);
                // POSIX ustar: a prefix; GNU's `ustar  ` keeps other things there.
                if &h[257..263] == b"ustar\0" && h[345] != 0 {
                    format!("{}/{}", c_string(&h[345..500]), name)
                } else {
                    name
                }
            }
        };
        let kind = match typeflag {
            // A hard link (`1`) names a file too; its data is with the first name.
            b'0' | 0 | b'7' | b'S' | b'1' => Kind::File,
            b'5' => Kind::Dir,
            b'2' => Kind::Symlink,
            _ => Kind::Other,
        };
        // Symlinks, hard links, directories and devices have no data.
        let data = if matches!(kind, Kind::File | Kind::Other) && typeflag != b'1' {
            size
        } else {
            0
        };
        let entry = Entry {
            name,
            kind,
            size: data,
        };
        let mut body = (&mut *r).take(data);
        f(&entry, &mut body)?;
        let left = body.limit();
        skip(r, left + (if data > 0 { padded - size } else { 0 }))?;
    }
}

/// Reads until `buf` is full or the stream ends; the bytes read.
fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> Result<usize, Fail> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(from_io(e)),
        }
    }
    Ok(n)
}

fn c_string(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// A tar number: octal text, or base-256 when the high bit of the first byte is set.
fn tar_number(b: &[u8]) -> Option<u64> {
    if b.first().is_some_and(|&c| c & 0x80 != 0) {
        if b[0] & 0x40 != 0 {
            return None; // negative
        }
        let mut v: u64 = (b[0] & 0x3F) as u64;
        for &c in &b[1..] {
            v = v.checked_mul(256)?.checked_add(c as u64)?;
        }
        return Some(v);
    }
    let s = std::str::from_utf8(b).ok()?;
    let s = s.trim_matches(|c: char| c == '\0' || c == ' ');
    if s.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(s, 8).ok()
}

fn tar_checksum_ok(h: &[u8; 512]) -> bool {
    let Some(want) = tar_number(&h[148..156]) else {
        return false;
    };
    let mut unsigned: u64 = 0;
    let mut signed: i64 = 0;
    for (i, &b) in h.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { b };
        unsigned += b as u64;
        signed += b as i8 as i64;
    }
    want == unsigned || want as i64 == signed
}

/// PAX records: `LEN key=value\n`, LEN counting the whole record.
fn pax_records(b: &[u8]) -> Result<Vec<(String, String)>, Fail> {
    let mut out = Vec::new();
    let mut rest = b;
    while !rest.is_empty() {
        if rest.iter().all(|&c| c == 0) {
            break;
        }
        let sp = rest
            .iter()
            .position(|&c| c == b' ')
            .ok_or_else(|| Fail::corrupt("bad PAX record"))?;
        let len: usize = std::str::from_utf8(&rest[..sp])
            .ok()
            .and_then(|s| s.parse().ok())
            .filter(|&l: &usize| l > sp + 1 && l <= rest.len())
            .ok_or_else(|| Fail::corrupt("bad PAX record length"))?;
        let rec = &rest[sp + 1..len];
        let rec = rec.strip_suffix(b"\n").unwrap_or(rec);
        if let Some(eq) = rec.iter().position(|&c| c == b'=') {
            out.push((
                String::from_utf8_lossy(&rec[..eq]).into_owned(),
                String::from_utf8_lossy(&rec[eq + 1..]).into_owned(),
            ));
        }
        rest = &rest[len..];
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// cpio (newc)

/// Longest cpio entry name accepted (PATH_MAX).
const CPIO_NAME_MAX: u64 = 4096;

/// How a cpio stream ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum CpioEnd {
    /// At a `TRAILER!!!` entry (only with `stop_at_trailer`).
    Trailer,
    /// At the end of the stream.
    Eof,
}

/// Calls `f` with each entry of the newc cpio stream `r` (`070701`, or `070702`
/// with checksums) and a reader of its data. With `stop_at_trailer` it returns at
/// the first `TRAILER!!!`; else it goes on through NUL padding and further
/// archives to the end of the stream (one compressed initrd part may hold several).
pub(crate) fn cpio_entries(
    r: &mut dyn Read,
    budget: &Budget,
    stop_at_trailer: bool,
    f: &mut dyn FnMut(&Entry, &mut dyn Read) -> Result<(), Fail>,
) -> Result<CpioEnd, Fail> {
    loop {
        // Headers are 4-aligned: NUL padding between archives is skipped 4 by 4.
        let mut h = [0u8; 110];
        let got = read_full(r, &mut h[..4])?;
        if got == 0 {
            return Ok(CpioEnd::Eof);
        }
        if got < 4 {
            if h[..got].iter().all(|&b| b == 0) {
                return Ok(CpioEnd::Eof);
            }
            return Err(Fail::corrupt("truncated cpio header"));
        }
        if h[..4] == [0, 0, 0, 0] {
            continue;
        }
        if read_full(r, &mut h[4..])? < 106 {
            return Err(Fail::corrupt("truncated cpio header"));
        }
        if &h[..6] != b"070701" && &h[..6] != b"070702" {
            return Err(Fail::corrupt(format!(
                "not a newc cpio header (magic {:?})",
                String::from_utf8_lossy(&h[..6])
            )));
        }
        budget.entry()?;
        let field = |i: usize| -> Result<u64, Fail> {
            let s = std::str::from_utf8(&h[6 + i * 8..14 + i * 8])
                .map_err(|_| Fail::corrupt("bad cpio header field"))?;
            u64::from_str_radix(s, 16).map_err(|_| Fail::corrupt("bad cpio header field"))
        };
        let mode = field(1)?;
        let size = field(6)?;
        let namesize = field(11)?;
        if namesize == 0 || namesize > CPIO_NAME_MAX {
            return Err(Fail::corrupt(format!("cpio name of {namesize} bytes")));
        }
        let name = c_string(&read_vec(r, namesize as usize)?);
        skip(r, (4 - (110 + namesize) % 4) % 4)?;
        let data_pad = (4 - size % 4) % 4;
        if name == "TRAILER!!!" {
            skip(r, size + data_pad)?;
            if stop_at_trailer {
                return Ok(CpioEnd::Trailer);
            }
            continue;
        }
        let kind = match mode & 0o170000 {
            0o100000 => Kind::File,
            0o040000 => Kind::Dir,
            0o120000 => Kind::Symlink,
            _ => Kind::Other,
        };
        let entry = Entry { name, kind, size };
        let mut body = (&mut *r).take(size);
        f(&entry, &mut body)?;
        let left = body.limit();
        skip(r, left + data_pad)?;
    }
}

// ---------------------------------------------------------------------------
// RPM

/// What preflight needs of an RPM's headers.
#[derive(Debug, Clone)]
pub(crate) struct Rpm {
    /// File offset of the payload (the compressed cpio archive).
    pub(crate) payload_offset: u64,
    /// `PAYLOADCOMPRESSOR` (tag 1125): `gzip`, `xz`, `zstd`, ...
    pub(crate) compressor: Option<String>,
    /// `PAYLOADFORMAT` (tag 1124): `cpio`.
    pub(crate) format: Option<String>,
    /// `NAME-VERSION-RELEASE` (tags 1000-1002).
    pub(crate) nvr: Option<String>,
}

pub(crate) const RPM_MAGIC: &[u8] = &[0xED, 0xAB, 0xEE, 0xDB];
const RPM_HEADER_MAGIC: &[u8] = &[0x8E, 0xAD, 0xE8, 0x01];
/// rpm's own bound on the tags of one header (`hdrchkTags`).
const RPM_TAGS_MAX: u64 = 0xFFFF;

/// Parses the lead (96 bytes), the signature header (padded to 8 bytes) and the
/// main header of the RPM that is `file`.
pub(crate) fn rpm_headers(file: &File, len: u64, caps: &Caps) -> Result<Rpm, Fail> {
    let mut lead = [0u8; 96];
    read_exact_at(file, &mut lead, 0)?;
    if &lead[..4] != RPM_MAGIC {
        return Err(Fail::corrupt("not an RPM (bad lead magic)"));
    }
    if lead[4] < 3 {
        return Err(Fail::Unsupported(format!("RPM format version {}", lead[4])));
    }
    let (sig_len, _) = rpm_header(file, 96, len, caps, "signature header")?;
    let main = 96 + sig_len.div_ceil(8) * 8;
    let (main_len, tags) = rpm_header(file, main, len, caps, "header")?;
    let get = |t: u32| tags.get(&t).cloned();
    let nvr = match (get(1000), get(1001), get(1002)) {
        (Some(n), Some(v), Some(r)) => Some(format!("{n}-{v}-{r}")),
        (Some(n), _, _) => Some(n),
        _ => None,
    };
    Ok(Rpm {
        payload_offset: main + main_len,
        compressor: get(1125),
        format: get(1124),
        nvr,
    })
}

/// One header structure at `at`: its length, and its string tags.
fn rpm_header(
    file: &File,
    at: u64,
    len: u64,
    caps: &Caps,
    what: &str,
) -> Result<(u64, BTreeMap<u32, String>), Fail> {
    let mut intro = [0u8; 16];
    read_exact_at(file, &mut intro, at)?;
    if &intro[..4] != RPM_HEADER_MAGIC {
        return Err(Fail::corrupt(format!("RPM {what}: bad magic")));
    }
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    let il = be(&intro[8..12]) as u64;
    let dl = be(&intro[12..16]) as u64;
    if il > RPM_TAGS_MAX {
        return Err(Fail::TooLarge {
            what: format!("tags of the RPM {what}"),
            limit: RPM_TAGS_MAX,
        });
    }
    if il * 16 + dl > caps.max_kept_file {
        return Err(Fail::TooLarge {
            what: format!("bytes of the RPM {what}"),
            limit: caps.max_kept_file,
        });
    }
    let total = 16 + il * 16 + dl;
    if at + total > len {
        return Err(Fail::corrupt(format!("truncated RPM {what}")));
    }
    let mut body = vec![0u8; (il * 16 + dl) as usize];
    read_exact_at(file, &mut body, at + 16)?;
    let (index, store) = body.split_at(il as usize * 16);
    let mut tags = BTreeMap::new();
    for e in index.chunks_exact(16) {
        let (tag, ty, off) = (be(&e[..4]), be(&e[4..8]), be(&e[8..12]) as usize);
        // STRING (6) and I18NSTRING (9): NUL-terminated in the store.
        if matches!(tag, 1000 | 1001 | 1002 | 1124 | 1125) && (ty == 6 || ty == 9) {
            let s = store
                .get(off..)
                .ok_or_else(|| Fail::corrupt(format!("RPM {what}: tag {tag} out of range")))?;
            let end = s
                .iter()
                .position(|&c| c == 0)
                .ok_or_else(|| Fail::corrupt(format!("RPM {what}: tag {tag} unterminated")))?;
            tags.insert(tag, String::from_utf8_lossy(&s[..end]).into_owned());
        }
    }
    Ok((total, tags))
}

// ---------------------------------------------------------------------------
// initrd

/// Module names (normalized with [`parse::normalize_module`]; `.ko`, `.ko.xz`,
/// `.ko.zst`, `.ko.gz`) in an initrd: one or more concatenated cpio (newc)
/// archives, each raw or gzip/xz/zstd compressed (an early microcode cpio followed
/// by the compressed main one is the usual case).
pub fn initrd_modules(
    r: &mut dyn std::io::Read,
    caps: &Caps,
) -> Result<BTreeSet<String>, InspectError> {
    let budget = Budget::new(caps);
    initrd_modules_in(r, &budget).map_err(|f| f.inspect("initrd"))
}

/// [`initrd_modules`] within a budget.
pub(crate) fn initrd_modules_in(
    r: &mut dyn Read,
    budget: &Budget,
) -> Result<BTreeSet<String>, Fail> {
    let mut mods = BTreeSet::new();
    let mut on_entry = |e: &Entry, _: &mut dyn Read| -> Result<(), Fail> {
        if e.kind == Kind::File
            && let Some(m) = parse::module_name_of_path(&e.name)
        {
            if mods.len() >= parse::MAX_MODULES {
                return Err(Fail::TooLarge {
                    what: "modules in the initrd".into(),
                    limit: parse::MAX_MODULES as u64,
                });
            }
            mods.insert(m);
        }
        Ok(())
    };
    let mut top = BufReader::with_capacity(64 << 10, Counted { inner: r, budget });
    let mut parts = 0u32;
    loop {
        // NUL padding between the parts (to 512 bytes after an early cpio).
        loop {
            let buf = top.fill_buf().map_err(from_io)?;
            if buf.is_empty() {
                if parts == 0 {
                    return Err(Fail::corrupt("empty initrd"));
                }
                return Ok(mods);
            }
            let zeros = buf.iter().take_while(|&&b| b == 0).count();
            if zeros == 0 {
                break;
            }
            top.consume(zeros);
        }
        parts += 1;
        let head = top.fill_buf().map_err(from_io)?;
        if head.starts_with(b"0707") {
            cpio_entries(&mut top, budget, true, &mut on_entry)?;
            continue;
        }
        let Some(c) = Compression::sniff(head) else {
            return Err(Fail::corrupt(format!(
                "initrd part {parts} is neither a cpio archive nor compressed data this tool knows"
            )));
        };
        let mut part = Member::new(c, &mut top)?;
        let mut counted = Counted {
            inner: &mut part,
            budget,
        };
        cpio_entries(&mut counted, budget, false, &mut on_entry)?;
    }
}

/// One compressed part of an initrd: a gzip member, an xz stream or zstd frames,
/// and those of the same format that follow it directly (one compressor run may
/// write several); it stops before anything else, leaving it in `r`.
struct Member<'a, R: BufRead> {
    c: Compression,
    dec: Option<MemberDec<&'a mut R>>,
}

enum MemberDec<R: BufRead> {
    Gz(flate2::bufread::GzDecoder<R>),
    Xz(liblzma::bufread::XzDecoder<R>),
    Zstd(zstd::stream::read::Decoder<'static, R>),
}

impl<'a, R: BufRead> Member<'a, R> {
    fn new(c: Compression, r: &'a mut R) -> Result<Self, Fail> {
        let dec = Self::open(c, r)?;
        Ok(Member { c, dec: Some(dec) })
    }

    fn open(c: Compression, r: &'a mut R) -> Result<MemberDec<&'a mut R>, Fail> {
        Ok(match c {
            Compression::Gzip => MemberDec::Gz(flate2::bufread::GzDecoder::new(r)),
            Compression::Xz => MemberDec::Xz(liblzma::bufread::XzDecoder::new_stream(
                r,
                Stream::new_stream_decoder(XZ_MEMLIMIT, 0)
                    .map_err(|e| Fail::Corrupt(format!("xz: {e:?}")))?,
            )),
            Compression::Zstd => {
                let mut d = zstd::stream::read::Decoder::with_buffer(r)
                    .map_err(from_io)?
                    .single_frame();
                d.window_log_max(ZSTD_WINDOW_LOG_MAX).map_err(from_io)?;
                MemberDec::Zstd(d)
            }
            other => {
                return Err(Fail::Unsupported(format!(
                    "a {}-compressed initrd part (gzip, xz and zstd are read)",
                    other.name()
                )));
            }
        })
    }
}

impl<R: BufRead> Read for Member<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let Some(dec) = self.dec.as_mut() else {
                return Ok(0);
            };
            let n = match dec {
                MemberDec::Gz(d) => d.read(buf)?,
                MemberDec::Xz(d) => d.read(buf)?,
                MemberDec::Zstd(d) => d.read(buf)?,
            };
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            // This member is done: another of the same format may follow.
            let r = match self.dec.take() {
                Some(MemberDec::Gz(d)) => d.into_inner(),
                Some(MemberDec::Xz(d)) => d.into_inner(),
                Some(MemberDec::Zstd(d)) => d.finish(),
                None => return Ok(0),
            };
            let next = r.fill_buf()?;
            if Compression::sniff(next) == Some(self.c) {
                self.dec = Some(Self::open(self.c, r).map_err(Fail::into_io)?);
            } else {
                return Ok(0);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Kernel images

/// The release string in a bzImage's header (setup header at 0x1f1;
/// `kernel_version` pointer at 0x20e, string at pointer + 0x200; first word),
/// from the image's first bytes.
pub fn bzimage_release(head: &[u8]) -> Option<String> {
    if head.get(0x202..0x206)? != b"HdrS" {
        return None;
    }
    let ptr = u16::from_le_bytes([*head.get(0x20e)?, *head.get(0x20f)?]) as usize;
    if ptr == 0 {
        return None;
    }
    let s = head.get(ptr + 0x200..)?;
    let s = &s[..s.len().min(512)];
    let end = s.iter().position(|&c| c == 0)?;
    let text = std::str::from_utf8(&s[..end]).ok()?;
    let first = text.split_whitespace().next()?;
    crate::facts::kernel::valid_release(first).then(|| first.to_string())
}

/// Bytes of an image read for its header (the setup code and header are far smaller).
pub(crate) const IMAGE_HEAD: usize = 64 << 10;

/// What reading a kernel image found.
#[derive(Debug)]
pub(crate) struct ImageInfo {
    /// [`bzimage_release`] of its header.
    pub(crate) release: Option<String>,
    /// The config the image embeds, when asked for.
    pub(crate) config: ImageConfig,
}

#[derive(Debug)]
pub(crate) enum ImageConfig {
    /// Not looked for (a config file was already found).
    NotSearched,
    /// Looked for and not there (the kernel was built without `CONFIG_IKCONFIG=y`).
    NotFound,
    /// Found; the options, or why they could not be parsed.
    Found(Result<BTreeMap<String, String>, String>),
    /// The image could not be decompressed to look (a format not read here).
    Unreadable(String),
}

/// `IKCFG_ST` and the gzip header after it, as `scripts/extract-ikconfig` looks for.
const IKCFG_MAGIC: &[u8] = b"IKCFG_ST\x1f\x8b\x08";

/// Reads a kernel image from its first byte: the release in its header and, with
/// `want_config`, the config it embeds (`CONFIG_IKCONFIG=y` puts the gzipped
/// `.config` between `IKCFG_ST` and `IKCFG_ED` in the kernel's data; a bzImage's
/// payload is decompressed to find it, as `scripts/extract-ikconfig` does). The
/// rest of `r` is left unread.
pub(crate) fn read_image(
    r: &mut dyn Read,
    budget: &Budget,
    want_config: bool,
) -> Result<ImageInfo, Fail> {
    let mut head = vec![0u8; IMAGE_HEAD];
    let n = read_full(r, &mut head)?;
    head.truncate(n);
    let release = bzimage_release(&head);
    if !want_config {
        return Ok(ImageInfo {
            release,
            config: ImageConfig::NotSearched,
        });
    }
    // Where the compressed kernel starts: the bzImage's payload (boot protocol
    // 2.08+: payload_offset at 0x248 from the protected-mode code, which follows the
    // setup sectors; payload_length at 0x24c), else the file itself (a raw or
    // compressed vmlinux).
    let (payload, payload_len) = if head.get(0x202..0x206) == Some(b"HdrS".as_slice()) {
        let version = u16::from_le_bytes([head[0x206], head[0x207]]);
        if version < 0x208 || head.len() < 0x250 {
            return Ok(ImageInfo {
                release,
                config: ImageConfig::Unreadable(format!(
                    "boot protocol {}.{:02} has no payload field",
                    version >> 8,
                    version & 0xff
                )),
            });
        }
        let setup = match head[0x1f1] {
            0 => 4,
            s => s as u64,
        };
        let le = |i: usize| u32::from_le_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]);
        // A payload_length of 0 states nothing: read to the end of the image.
        let len = match le(0x24c) {
            0 => u64::MAX,
            n => n as u64,
        };
        ((setup + 1) * 512 + le(0x248) as u64, len)
    } else {
        (0, u64::MAX)
    };
    let rest: Box<dyn Read + '_> = if (payload as usize) < head.len() {
        Box::new(io::Cursor::new(head[payload as usize..].to_vec()).chain(r))
    } else {
        skip(r, payload - head.len() as u64)?;
        Box::new(r)
    };
    let mut rest = rest.take(payload_len);
    let mut start = [0u8; 8];
    let got = read_full(&mut rest, &mut start)?;
    let start = &start[..got];
    let plain = io::Cursor::new(start.to_vec()).chain(rest);
    let config = match Compression::sniff(start) {
        None => scan_ikconfig(
            &mut Counted {
                inner: plain,
                budget,
            },
            budget,
        )?,
        Some(c) => match single_decoder(c, BufReader::new(plain)) {
            Ok(d) => scan_ikconfig(&mut Counted { inner: d, budget }, budget)?,
            Err(Fail::Unsupported(why)) => ImageConfig::Unreadable(why),
            Err(e) => return Err(e),
        },
    };
    Ok(ImageInfo { release, config })
}

/// Finds [`IKCFG_MAGIC`] in `r` and parses the gzipped config after it.
fn scan_ikconfig(r: &mut dyn Read, budget: &Budget) -> Result<ImageConfig, Fail> {
    const KEEP: usize = 16;
    let mut buf = vec![0u8; 256 << 10];
    let mut filled = 0usize;
    loop {
        let n = match r.read(&mut buf[filled..]) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // A cap or the file: the target's error. The image's own data: its
            // config cannot be told, but the rest of the target can.
            Err(e) => {
                return match from_io(e) {
                    f @ (Fail::TooLarge { .. } | Fail::Io(_)) => Err(f),
                    other => Ok(ImageConfig::Unreadable(format!(
                        "decompressing the image: {other}"
                    ))),
                };
            }
        };
        if n == 0 {
            return Ok(ImageConfig::NotFound);
        }
        filled += n;
        if let Some(at) = find(&buf[..filled], IKCFG_MAGIC) {
            let gz_start = at + 8;
            let tail = buf[gz_start..filled].to_vec();
            let mut gz =
                flate2::bufread::GzDecoder::new(BufReader::new(io::Cursor::new(tail).chain(r)));
            let cap = budget.caps.max_kept_file;
            let mut limited = BufReader::new((&mut gz).take(cap + 1));
            let parsed = parse::kernel_config_from(&mut limited).map_err(|e| e.to_string());
            if limited.get_ref().limit() == 0 {
                return Err(Fail::TooLarge {
                    what: "bytes of the config embedded in the kernel image".into(),
                    limit: cap,
                });
            }
            return Ok(ImageConfig::Found(parsed));
        }
        if filled > KEEP {
            buf.copy_within(filled - KEEP..filled, 0);
            filled = KEEP;
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let first = needle[0];
    let mut i = 0;
    while i + needle.len() <= hay.len() {
        match hay[i..hay.len() - needle.len() + 1]
            .iter()
            .position(|&b| b == first)
        {
            None => return None,
            Some(p) => {
                i += p;
                if &hay[i..i + needle.len()] == needle {
                    return Some(i);
                }
                i += 1;
            }
        }
    }
    None
}

// ---------------------------------------------------------------------------
// Parallel xz

fn crc32(data: &[u8], crc: u32) -> u32 {
    // SAFETY: `data` is a valid slice for its length; liblzma only reads it.
    unsafe { liblzma_sys::lzma_crc32(data.as_ptr(), data.len(), crc) }
}

fn crc64(data: &[u8], crc: u64) -> u64 {
    // SAFETY: as in `crc32`.
    unsafe { liblzma_sys::lzma_crc64(data.as_ptr(), data.len(), crc) }
}

/// Size of an xz integrity check of type `id`.
fn check_size(id: u8) -> u64 {
    match id {
        0 => 0,
        1..=3 => 4,
        4..=6 => 8,
        7..=9 => 16,
        10..=12 => 32,
        _ => 64,
    }
}

/// A variable-length integer of the xz format.
fn vli(b: &[u8], pos: &mut usize) -> Result<u64, Fail> {
    let mut v: u64 = 0;
    for i in 0..9 {
        let c = *b
            .get(*pos)
            .ok_or_else(|| Fail::corrupt("xz: truncated integer"))?;
        *pos += 1;
        v |= ((c & 0x7F) as u64) << (7 * i);
        if c & 0x80 == 0 {
            if c == 0 && i > 0 {
                return Err(Fail::corrupt("xz: badly encoded integer"));
            }
            return Ok(v);
        }
    }
    Err(Fail::corrupt("xz: integer too long"))
}

/// An xz block header.
#[derive(Debug, Clone)]
struct BlockHeader {
    size: u64,
    csize: Option<u64>,
    usize: Option<u64>,
    /// (filter id, properties), in the encoder's order.
    filters: Vec<(u64, Vec<u8>)>,
}

impl BlockHeader {
    /// Reads the block header at `at` (its first byte is not 0, the index's).
    fn read(file: &File, at: u64, end: u64) -> Result<BlockHeader, Fail> {
        let mut first = [0u8; 1];
        read_exact_at(file, &mut first, at)?;
        let size = (first[0] as u64 + 1) * 4;
        if at + size > end {
            return Err(Fail::corrupt("xz: truncated block header"));
        }
        let mut b = vec![0u8; size as usize];
        read_exact_at(file, &mut b, at)?;
        let (body, crc) = b.split_at(size as usize - 4);
        if crc32(body, 0) != u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]) {
            return Err(Fail::corrupt("xz: block header checksum"));
        }
        let flags = body[1];
        if flags & 0x3C != 0 {
            return Err(Fail::Unsupported("xz: block header flags".into()));
        }
        let mut pos = 2;
        let csize = if flags & 0x40 != 0 {
            Some(vli(body, &mut pos)?)
        } else {
            None
        };
        let usize = if flags & 0x80 != 0 {
            Some(vli(body, &mut pos)?)
        } else {
            None
        };
        let mut filters = Vec::new();
        for _ in 0..=(flags & 3) {
            let id = vli(body, &mut pos)?;
            let n = vli(body, &mut pos)? as usize;
            let props = body
                .get(pos..pos + n)
                .ok_or_else(|| Fail::corrupt("xz: truncated filter properties"))?
                .to_vec();
            pos += n;
            filters.push((id, props));
        }
        if body[pos..].iter().any(|&c| c != 0) {
            return Err(Fail::corrupt("xz: block header padding"));
        }
        Ok(BlockHeader {
            size,
            csize,
            usize,
            filters,
        })
    }

    /// The raw decoder of this block's filter chain (LZMA2, optionally after x86
    /// BCJ or delta), with its dictionary bounded.
    fn decoder(&self) -> Result<Stream, Fail> {
        let mut f = Filters::new();
        for (id, props) in &self.filters {
            match id {
                0x21 => {
                    let p = *props
                        .first()
                        .ok_or_else(|| Fail::corrupt("xz: LZMA2 properties"))?;
                    let bits = (p & 0x3F) as u64;
                    if bits > 40 {
                        return Err(Fail::corrupt("xz: LZMA2 dictionary size"));
                    }
                    let dict = if bits == 40 {
                        u32::MAX as u64
                    } else {
                        (2 | (bits & 1)) << (bits / 2 + 11)
                    };
                    if dict > XZ_DICT_MAX {
                        return Err(Fail::TooLarge {
                            what: "bytes of the xz dictionary".into(),
                            limit: XZ_DICT_MAX,
                        });
                    }
                    f.lzma2_properties(props)
                        .map_err(|e| Fail::Corrupt(format!("xz: LZMA2 properties: {e:?}")))?;
                }
                0x04 => {
                    f.x86_properties(props)
                        .map_err(|e| Fail::Corrupt(format!("xz: x86 properties: {e:?}")))?;
                }
                0x03 => {
                    f.delta_properties(props)
                        .map_err(|e| Fail::Corrupt(format!("xz: delta properties: {e:?}")))?;
                }
                other => {
                    return Err(Fail::Unsupported(format!("xz filter 0x{other:02x}")));
                }
            }
        }
        Stream::new_raw_decoder(&f).map_err(|e| Fail::Corrupt(format!("xz: filters: {e:?}")))
    }
}

/// Decodes one xz block from its compressed bytes in the file.
struct BlockDec {
    file: Arc<File>,
    start: u64,
    hdr: BlockHeader,
    check: u8,
    end: u64,
    stream: Stream,
    inbuf: Vec<u8>,
    in_at: usize,
    in_len: usize,
    /// Compressed bytes fed to the decoder so far (file offset of the next).
    fed: u64,
    out: u64,
    crc32: u32,
    crc64: u64,
    done: bool,
}

/// The end of a decoded block: where the next unit starts, and the index record.
#[derive(Debug, Clone, Copy)]
struct BlockEnd {
    next: u64,
    unpadded: u64,
    usize: u64,
}

impl BlockDec {
    fn new(
        file: Arc<File>,
        start: u64,
        hdr: BlockHeader,
        check: u8,
        end: u64,
    ) -> Result<Self, Fail> {
        let stream = hdr.decoder()?;
        Ok(BlockDec {
            file,
            start,
            check,
            end,
            stream,
            inbuf: vec![0u8; 128 << 10],
            in_at: 0,
            in_len: 0,
            fed: 0,
            out: 0,
            crc32: 0,
            crc64: 0,
            done: false,
            hdr,
        })
    }

    fn data_start(&self) -> u64 {
        self.start + self.hdr.size
    }

    /// Decoded bytes into `out`; 0 once the block, its padding and its check are read
    /// and verified.
    fn read(&mut self, out: &mut [u8]) -> Result<usize, Fail> {
        if self.done || out.is_empty() {
            return Ok(0);
        }
        loop {
            if self.in_at == self.in_len {
                let pos = self.data_start() + self.fed;
                let limit = match self.hdr.csize {
                    Some(c) => (self.data_start() + c).min(self.end),
                    None => self.end,
                };
                let n = (limit.saturating_sub(pos)).min(self.inbuf.len() as u64) as usize;
                if n > 0 {
                    read_exact_at(&self.file, &mut self.inbuf[..n], pos)?;
                }
                self.in_at = 0;
                self.in_len = n;
                self.fed += n as u64;
            }
            let before_in = self.stream.total_in();
            let before_out = self.stream.total_out();
            let status = self
                .stream
                .process(&self.inbuf[self.in_at..self.in_len], out, Action::Run)
                .map_err(|e| Fail::Corrupt(format!("xz: {e:?}")))?;
            let used = (self.stream.total_in() - before_in) as usize;
            let made = (self.stream.total_out() - before_out) as usize;
            self.in_at += used;
            self.account(&out[..made])?;
            if status == Status::StreamEnd {
                self.finish()?;
                return Ok(made);
            }
            if made > 0 {
                return Ok(made);
            }
            if used == 0 && self.in_len == 0 {
                return Err(Fail::corrupt("truncated: an xz block ends early"));
            }
        }
    }

    fn account(&mut self, made: &[u8]) -> Result<(), Fail> {
        if made.is_empty() {
            return Ok(());
        }
        self.out += made.len() as u64;
        if self.hdr.usize.is_some_and(|u| self.out > u) {
            return Err(Fail::corrupt("xz: a block decodes past its stated size"));
        }
        match check_size(self.check) {
            4 if self.check == 1 => self.crc32 = crc32(made, self.crc32),
            8 if self.check == 4 => self.crc64 = crc64(made, self.crc64),
            _ => {}
        }
        Ok(())
    }

    /// After the LZMA2 end: sizes, padding and check.
    fn finish(&mut self) -> Result<(), Fail> {
        let consumed = self.stream.total_in();
        if self.hdr.csize.is_some_and(|c| c != consumed) {
            return Err(Fail::corrupt(
                "xz: compressed size differs from the block header",
            ));
        }
        if self.hdr.usize.is_some_and(|u| u != self.out) {
            return Err(Fail::corrupt(
                "xz: uncompressed size differs from the block header",
            ));
        }
        let pad = (4 - (self.hdr.size + consumed) % 4) % 4;
        let cs = check_size(self.check);
        let mut tail = vec![0u8; (pad + cs) as usize];
        let at = self.data_start() + consumed;
        if at + pad + cs > self.end {
            return Err(Fail::corrupt("truncated: an xz block's check is missing"));
        }
        read_exact_at(&self.file, &mut tail, at)?;
        if tail[..pad as usize].iter().any(|&b| b != 0) {
            return Err(Fail::corrupt("xz: block padding"));
        }
        let check = &tail[pad as usize..];
        let ok = match self.check {
            0 => true,
            1 => check == self.crc32.to_le_bytes(),
            4 => check == self.crc64.to_le_bytes(),
            // Other checks are not verified here (the parallel reader is used only
            // for none, CRC32 and CRC64).
            _ => true,
        };
        if !ok {
            return Err(Fail::corrupt("xz: block check (CRC) mismatch"));
        }
        self.done = true;
        Ok(())
    }

    fn end(&self) -> BlockEnd {
        let consumed = self.stream.total_in();
        let pad = (4 - (self.hdr.size + consumed) % 4) % 4;
        let cs = check_size(self.check);
        BlockEnd {
            next: self.start + self.hdr.size + consumed + pad + cs,
            unpadded: self.hdr.size + consumed + cs,
            usize: self.out,
        }
    }
}

/// Largest block a worker decodes ahead into memory.
const XZ_AHEAD_MAX: u64 = 32 << 20;

struct Job {
    start: u64,
    hdr: BlockHeader,
    check: u8,
    end: u64,
    reply: mpsc::SyncSender<Result<(Vec<u8>, BlockEnd), Fail>>,
}

struct Worker {
    tx: Option<mpsc::Sender<Job>>,
    cancel: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

/// Makes glibc return large blocks to the system when they are freed. Each xz
/// block allocates a dictionary (8 MiB for dpkg's xz -6) and the worker a buffer
/// of a whole block; glibc's dynamic mmap threshold would move such allocations
/// onto the heap after the first free and keep the freed pages, about 8 MB of the
/// peak. A fixed 1 MiB threshold keeps them mmapped, so a free unmaps them (and
/// a fixed trim threshold keeps the heap from holding 16 MiB it raised it to).
fn release_large_blocks() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // SAFETY: mallopt only sets an allocator parameter.
            unsafe {
                libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
                libc::mallopt(libc::M_TRIM_THRESHOLD, 2 << 20);
            }
        });
    }
}

impl Worker {
    fn spawn(file: Arc<File>) -> Result<Worker, Fail> {
        let (tx, rx) = mpsc::channel::<Job>();
        let cancel = Arc::new(AtomicBool::new(false));
        let stop = cancel.clone();
        let handle = std::thread::Builder::new()
            .name("surface-check-xz".into())
            .spawn(move || {
                while let Ok(job) = rx.recv() {
                    let r = decode_block(&file, job.start, job.hdr, job.check, job.end, &stop);
                    if job.reply.send(r).is_err() {
                        break;
                    }
                }
            })
            .map_err(Fail::Io)?;
        Ok(Worker {
            tx: Some(tx),
            cancel,
            handle: Some(handle),
        })
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.cancel.store(true, Ordering::Relaxed);
        self.tx.take();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn decode_block(
    file: &Arc<File>,
    start: u64,
    hdr: BlockHeader,
    check: u8,
    end: u64,
    cancel: &AtomicBool,
) -> Result<(Vec<u8>, BlockEnd), Fail> {
    let want = hdr.usize.unwrap_or(0).min(XZ_AHEAD_MAX) as usize;
    let mut dec = BlockDec::new(file.clone(), start, hdr, check, end)?;
    let mut out = vec![0u8; want];
    let mut filled = 0;
    loop {
        if cancel.load(Ordering::Relaxed) {
            return Err(Fail::corrupt("cancelled"));
        }
        if filled == out.len() {
            // The header's size is exact; one more byte must be the end.
            let mut probe = [0u8; 1];
            if dec.read(&mut probe)? != 0 {
                return Err(Fail::corrupt("xz: a block decodes past its stated size"));
            }
            break;
        }
        let n = dec.read(&mut out[filled..])?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    if !dec.done {
        let mut probe = [0u8; 1];
        dec.read(&mut probe)?;
    }
    out.truncate(filled);
    Ok((out, dec.end()))
}

/// A block decoded ahead, on its way.
struct Ahead {
    rx: mpsc::Receiver<Result<(Vec<u8>, BlockEnd), Fail>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum XzState {
    StreamHeader,
    Blocks,
    Done,
}

/// An xz stream in a byte range of a file, decoded on two threads (see the module
/// documentation). Every block's sizes and check, the index and the footer are
/// verified as `xz` does.
pub(crate) struct XzPar {
    file: Arc<File>,
    end: u64,
    pos: u64,
    state: XzState,
    flags: [u8; 2],
    cur: Option<BlockDec>,
    buf: Vec<u8>,
    buf_at: usize,
    ahead: Option<Ahead>,
    worker: Option<Worker>,
    records: Vec<(u64, u64)>,
}

impl XzPar {
    /// Whether the xz stream at `[start, end)` suits the parallel reader: a CRC32,
    /// CRC64 or no check, and a first block whose header states its sizes.
    pub(crate) fn suits(file: &File, start: u64, end: u64) -> bool {
        let mut h = [0u8; 13];
        if end < start + 13 || read_exact_at(file, &mut h, start).is_err() {
            return false;
        }
        if &h[..6] != XZ_MAGIC || !matches!(h[7], 0 | 1 | 4) || h[12] == 0 {
            return false;
        }
        BlockHeader::read(file, start + 12, end)
            .is_ok_and(|b| b.csize.is_some() && b.usize.is_some_and(|u| u <= XZ_AHEAD_MAX))
    }

    pub(crate) fn new(file: Arc<File>, start: u64, end: u64) -> XzPar {
        release_large_blocks();
        XzPar {
            file,
            end,
            pos: start,
            state: XzState::StreamHeader,
            flags: [0, 0],
            cur: None,
            buf: Vec::new(),
            buf_at: 0,
            ahead: None,
            worker: None,
            records: Vec::new(),
        }
    }

    fn check(&self) -> u8 {
        self.flags[1] & 0x0F
    }

    fn stream_header(&mut self) -> Result<(), Fail> {
        let mut h = [0u8; 12];
        if self.pos + 12 > self.end {
            return Err(Fail::corrupt("truncated: xz stream header"));
        }
        read_exact_at(&self.file, &mut h, self.pos)?;
        if &h[..6] != XZ_MAGIC {
            return Err(Fail::corrupt("xz: bad stream magic"));
        }
        if crc32(&h[6..8], 0) != u32::from_le_bytes([h[8], h[9], h[10], h[11]]) {
            return Err(Fail::corrupt("xz: stream header checksum"));
        }
        if h[6] != 0 || h[7] & 0xF0 != 0 {
            return Err(Fail::Unsupported("xz: stream flags".into()));
        }
        if !matches!(h[7] & 0x0F, 0 | 1 | 4) {
            return Err(Fail::Unsupported(
                "an xz check other than CRC32 or CRC64 in a parallel stream".into(),
            ));
        }
        self.flags = [h[6], h[7]];
        self.pos += 12;
        self.records.clear();
        Ok(())
    }

    /// Starts the block at `pos` on this thread, and the one after it on the worker.
    fn next_block(&mut self) -> Result<(), Fail> {
        let hdr = BlockHeader::read(&self.file, self.pos, self.end)?;
        let check = self.check();
        let follow = hdr.csize.map(|c| {
            let pad = (4 - (hdr.size + c) % 4) % 4;
            self.pos + hdr.size + c + pad + check_size(check)
        });
        self.cur = Some(BlockDec::new(
            self.file.clone(),
            self.pos,
            hdr,
            check,
            self.end,
        )?);
        if let Some(next) = follow
            && next < self.end
        {
            let mut first = [0u8; 1];
            read_exact_at(&self.file, &mut first, next)?;
            if first[0] != 0 {
                let h2 = BlockHeader::read(&self.file, next, self.end)?;
                if h2.csize.is_some() && h2.usize.is_some_and(|u| u <= XZ_AHEAD_MAX) {
                    if self.worker.is_none() {
                        self.worker = Some(Worker::spawn(self.file.clone())?);
                    }
                    tracing::trace!(block = next, "xz block dispatched to the worker");
                    let (reply, rx) = mpsc::sync_channel(1);
                    let job = Job {
                        start: next,
                        hdr: h2,
                        check,
                        end: self.end,
                        reply,
                    };
                    if let Some(tx) = self.worker.as_ref().and_then(|w| w.tx.as_ref())
                        && tx.send(job).is_ok()
                    {
                        self.ahead = Some(Ahead { rx });
                    }
                }
            }
        }
        Ok(())
    }

    /// The index and footer after the blocks; then stream padding and perhaps
    /// another stream.
    fn index(&mut self) -> Result<(), Fail> {
        let mut r = BufReader::new(Range {
            file: self.file.clone(),
            pos: self.pos,
            end: self.end,
        });
        let mut bytes = Vec::new();
        let byte = |r: &mut BufReader<Range>, bytes: &mut Vec<u8>| -> Result<u8, Fail> {
            let mut b = [0u8; 1];
            r.read_exact(&mut b).map_err(from_io)?;
            bytes.push(b[0]);
            Ok(b[0])
        };
        let read_vli = |r: &mut BufReader<Range>, bytes: &mut Vec<u8>| -> Result<u64, Fail> {
            let mut v = 0u64;
            for i in 0..9 {
                let c = byte(r, bytes)?;
                v |= ((c & 0x7F) as u64) << (7 * i);
                if c & 0x80 == 0 {
                    return Ok(v);
                }
            }
            Err(Fail::corrupt("xz: index integer too long"))
        };
        let mut b = [0u8; 1];
        r.read_exact(&mut b).map_err(from_io)?;
        bytes.push(b[0]);
        let n = read_vli(&mut r, &mut bytes)?;
        if n != self.records.len() as u64 {
            return Err(Fail::corrupt(
                "xz: the index lists another number of blocks",
            ));
        }
        for i in 0..n as usize {
            let unpadded = read_vli(&mut r, &mut bytes)?;
            let usize = read_vli(&mut r, &mut bytes)?;
            if (unpadded, usize) != self.records[i] {
                return Err(Fail::corrupt("xz: the index differs from the blocks"));
            }
        }
        while !bytes.len().is_multiple_of(4) {
            let mut p = [0u8; 1];
            r.read_exact(&mut p).map_err(from_io)?;
            if p[0] != 0 {
                return Err(Fail::corrupt("xz: index padding"));
            }
            bytes.push(0);
        }
        let mut crc = [0u8; 4];
        r.read_exact(&mut crc).map_err(from_io)?;
        if crc32(&bytes, 0) != u32::from_le_bytes(crc) {
            return Err(Fail::corrupt("xz: index checksum"));
        }
        let index_size = bytes.len() as u64 + 4;
        let mut foot = [0u8; 12];
        r.read_exact(&mut foot).map_err(from_io)?;
        if &foot[10..12] != b"YZ"
            || foot[8..10] != self.flags
            || crc32(&foot[4..10], 0) != u32::from_le_bytes([foot[0], foot[1], foot[2], foot[3]])
            || (u32::from_le_bytes([foot[4], foot[5], foot[6], foot[7]]) as u64 + 1) * 4
                != index_size
        {
            return Err(Fail::corrupt("xz: stream footer"));
        }
        self.pos += index_size + 12;
        // Stream padding (NULs, a multiple of 4), then the end or another stream.
        let mut zeros = 0u64;
        let mut chunk = vec![0u8; 64 << 10];
        let at_end = loop {
            let left = self.end - (self.pos + zeros);
            if left == 0 {
                break true;
            }
            let n = left.min(chunk.len() as u64) as usize;
            read_exact_at(&self.file, &mut chunk[..n], self.pos + zeros)?;
            match chunk[..n].iter().position(|&b| b != 0) {
                Some(p) => {
                    zeros += p as u64;
                    break false;
                }
                None => zeros += n as u64,
            }
        };
        if !zeros.is_multiple_of(4) {
            return Err(Fail::corrupt("xz: stream padding"));
        }
        if at_end {
            self.state = XzState::Done;
            return Ok(());
        }
        self.pos += zeros;
        self.state = XzState::StreamHeader;
        Ok(())
    }

    fn read_inner(&mut self, out: &mut [u8]) -> Result<usize, Fail> {
        loop {
            if self.buf_at < self.buf.len() {
                let n = (self.buf.len() - self.buf_at).min(out.len());
                out[..n].copy_from_slice(&self.buf[self.buf_at..self.buf_at + n]);
                self.buf_at += n;
                return Ok(n);
            }
            if !self.buf.is_empty() {
                // Served: freed before the worker fills its next buffer.
                self.buf = Vec::new();
                self.buf_at = 0;
            }
            if let Some(cur) = self.cur.as_mut() {
                let n = cur.read(out)?;
                if n > 0 {
                    return Ok(n);
                }
                if !cur.done {
                    return Ok(0);
                }
                let end = cur.end();
                self.records.push((end.unpadded, end.usize));
                self.pos = end.next;
                self.cur = None;
                if let Some(a) = self.ahead.take() {
                    let (data, end) =
                        a.rx.recv()
                            .map_err(|_| Fail::corrupt("xz: the decoding thread stopped"))??;
                    self.records.push((end.unpadded, end.usize));
                    self.pos = end.next;
                    // The worker's buffer is taken, not copied; the last one is dropped.
                    self.buf = data;
                    self.buf_at = 0;
                }
                continue;
            }
            match self.state {
                XzState::Done => return Ok(0),
                XzState::StreamHeader => {
                    if self.pos >= self.end {
                        self.state = XzState::Done;
                        continue;
                    }
                    self.stream_header()?;
                    self.state = XzState::Blocks;
                }
                XzState::Blocks => {
                    let mut first = [0u8; 1];
                    if self.pos >= self.end {
                        return Err(Fail::corrupt("truncated: the xz stream has no index"));
                    }
                    read_exact_at(&self.file, &mut first, self.pos)?;
                    if first[0] == 0 {
                        self.index()?;
                    } else {
                        self.next_block()?;
                    }
                }
            }
        }
    }
}

impl Read for XzPar {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        self.read_inner(out).map_err(Fail::into_io)
    }
}

/// A reader of the xz stream in `[start, end)` of `file`: [`XzPar`] where the
/// stream suits it, else liblzma's decoder on this thread.
pub(crate) fn xz_reader(
    file: Arc<File>,
    start: u64,
    end: u64,
) -> Result<Box<dyn Read + Send>, Fail> {
    let suits = XzPar::suits(&file, start, end);
    tracing::debug!(start, end, parallel = suits, "xz stream");
    if suits {
        return Ok(Box::new(XzPar::new(file, start, end)));
    }
    let range = BufReader::with_capacity(
        128 << 10,
        Range {
            file,
            pos: start,
            end,
        },
    );
    Ok(Box::new(liblzma::bufread::XzDecoder::new_stream(
        range,
        Stream::new_stream_decoder(XZ_MEMLIMIT, liblzma::stream::CONCATENATED)
            .map_err(|e| Fail::Corrupt(format!("xz: {e:?}")))?,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps() -> Caps {
        Caps::default()
    }

    #[test]
    fn entry_names_are_normalized_and_dotdot_refused() {
        assert_eq!(
            normalize_entry("./boot/config-6.1").unwrap(),
            "boot/config-6.1"
        );
        assert_eq!(
            normalize_entry("/lib//modules/./x").unwrap(),
            "lib/modules/x"
        );
        assert!(matches!(
            normalize_entry("./lib/../../etc/passwd"),
            Err(Fail::Unsafe { .. })
        ));
    }

    #[test]
    fn tar_numbers_octal_and_base256() {
        assert_eq!(tar_number(b"00000001750\0"), Some(0o1750));
        assert_eq!(tar_number(b"\0\0\0\0\0\0\0\0\0\0\0\0"), Some(0));
        let mut b = [0u8; 12];
        b[0] = 0x80;
        b[11] = 5;
        b[10] = 1;
        assert_eq!(tar_number(&b), Some(261));
    }

    #[test]
    fn pax_records_parse() {
        let r = pax_records(b"29 path=lib/modules/6.1/a.ko\n11 size=42\n").unwrap();
        assert_eq!(r[0], ("path".into(), "lib/modules/6.1/a.ko".into()));
        assert_eq!(r[1], ("size".into(), "42".into()));
        assert!(pax_records(b"999 path=x\n").is_err());
    }

    #[test]
    fn bzimage_release_reads_the_header() {
        let mut h = vec![0u8; 0x1000];
        h[0x202..0x206].copy_from_slice(b"HdrS");
        h[0x20e..0x210].copy_from_slice(&0x0300u16.to_le_bytes());
        let s = b"6.1.0-28-amd64 (debian-kernel@lists.debian.org) #1 SMP\0";
        h[0x500..0x500 + s.len()].copy_from_slice(s);
        assert_eq!(bzimage_release(&h).as_deref(), Some("6.1.0-28-amd64"));
        h[0x202] = b'X';
        assert_eq!(bzimage_release(&h), None);
        assert_eq!(bzimage_release(&[]), None);
    }

    #[test]
    fn a_gzipped_newc_initrd_after_an_early_cpio() {
        fn newc(files: &[(&str, &[u8])]) -> Vec<u8> {
            let mut out = Vec::new();
            let mut push = |name: &str, data: &[u8], mode: u32| {
                let h = format!(
                    "070701{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
                    1,
                    mode,
                    0,
                    0,
                    1,
                    0,
                    data.len(),
                    0,
                    0,
                    0,
                    0,
                    name.len() + 1,
                    0
                );
                out.extend_from_slice(h.as_bytes());
                out.extend_from_slice(name.as_bytes());
                out.push(0);
                while !out.len().is_multiple_of(4) {
                    out.push(0);
                }
                out.extend_from_slice(data);
                while !out.len().is_multiple_of(4) {
                    out.push(0);
                }
            };
            for (n, d) in files {
                push(n, d, 0o100644);
            }
            push("TRAILER!!!", b"", 0);
            out
        }
        let mut img = newc(&[("kernel/x86/microcode/GenuineIntel.bin", b"ucode")]);
        img.resize(512, 0);
        let main = newc(&[
            ("lib/modules/6.1/kernel/drivers/nvme/host/nvme.ko.xz", b"x"),
            ("lib/modules/6.1/kernel/drivers/hid/hid-multitouch.ko", b"y"),
            ("init", b"#!/bin/sh"),
        ]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &main).unwrap();
        img.extend(gz.finish().unwrap());
        let m = initrd_modules(&mut img.as_slice(), &caps()).unwrap();
        assert_eq!(
            m.into_iter().collect::<Vec<_>>(),
            vec!["hid_multitouch".to_string(), "nvme".to_string()]
        );
        // Cut short: an error, not a partial answer.
        let cut = &img[..img.len() - 9];
        assert!(initrd_modules(&mut &cut[..], &caps()).is_err());
        // A bomb: the cap on what is decompressed.
        let small = Caps {
            max_unpacked: 600,
            ..caps()
        };
        assert!(matches!(
            initrd_modules(&mut img.as_slice(), &small),
            Err(InspectError::TooLarge { .. })
        ));
    }
}
