//! A gzip-compressed POSIX ustar archive, written by hand: regular files and one
//! directory, mode 0644 (the archive file itself is what is kept private).

use std::io::Write;

/// One 512-byte ustar header.
fn header(name: &str, size: u64, mtime: u64, dir: bool) -> [u8; 512] {
    let mut h = [0u8; 512];
    let put = |h: &mut [u8; 512], at: usize, len: usize, v: &[u8]| {
        let n = v.len().min(len);
        h[at..at + n].copy_from_slice(&v[..n]);
    };
    // Numeric fields: octal, zero-padded, NUL-terminated.
    let octal = |v: u64, len: usize| format!("{:0w$o}\0", v, w = len - 1).into_bytes();
    put(&mut h, 0, 100, name.as_bytes());
    put(&mut h, 100, 8, &octal(if dir { 0o755 } else { 0o644 }, 8));
    put(&mut h, 108, 8, &octal(0, 8));
    put(&mut h, 116, 8, &octal(0, 8));
    put(&mut h, 124, 12, &octal(size, 12));
    put(&mut h, 136, 12, &octal(mtime, 12));
    h[156] = if dir { b'5' } else { b'0' };
    put(&mut h, 257, 6, b"ustar\0");
    put(&mut h, 263, 2, b"00");
    put(&mut h, 265, 32, b"root");
    put(&mut h, 297, 32, b"root");
    // The checksum is computed with its own field as eight spaces.
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    put(&mut h, 148, 8, format!("{sum:06o}\0 ").as_bytes());
    h
}

/// The archive of `files` (name, content) under the directory `dir`, gzip-compressed.
/// Names are at most 100 bytes with the directory (the bundle's names are short).
pub fn tar_gz(dir: &str, files: &[(&str, &[u8])], mtime: u64) -> std::io::Result<Vec<u8>> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&header(&format!("{dir}/"), 0, mtime, true))?;
    for (name, content) in files {
        let full = format!("{dir}/{name}");
        if full.len() > 100 {
            return Err(std::io::Error::other(format!(
                "{full}: a name longer than ustar's 100 bytes"
            )));
        }
        gz.write_all(&header(&full, content.len() as u64, mtime, false))?;
        gz.write_all(content)?;
        let pad = (512 - content.len() % 512) % 512;
        gz.write_all(&vec![0u8; pad])?;
    }
    // Two zero blocks end the archive.
    gz.write_all(&[0u8; 1024])?;
    gz.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_check_out() {
        let h = header("d/a.txt", 5, 1_700_000_000, false);
        let field = std::str::from_utf8(&h[148..154]).unwrap();
        let stored = u32::from_str_radix(field, 8).unwrap();
        let mut copy = h;
        copy[148..156].copy_from_slice(b"        ");
        assert_eq!(stored, copy.iter().map(|&b| u32::from(b)).sum::<u32>());
        assert_eq!(&h[124..136], b"00000000005\0");
        assert_eq!(&h[257..263], b"ustar\0");
    }

    #[test]
    fn the_archive_is_blocks() {
        use std::io::Read;
        let gz = tar_gz("d", &[("a", b"hello"), ("b", b"")], 0).unwrap();
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut raw)
            .unwrap();
        // dir header, a's header + one block, b's header, two end blocks.
        assert_eq!(raw.len(), 512 * 6);
        assert_eq!(&raw[1024..1029], b"hello");
    }
}
