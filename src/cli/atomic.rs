//! Replacing a file atomically, the one way every command that writes a file does it
//! (`capture -o`, `bundle -o`, `metrics --textfile`).
//!
//! The bytes go to a temporary file `.NAME.<16 hex digits>.tmp` created exclusively
//! (`O_CREAT|O_EXCL|O_NOFOLLOW`) under an unpredictable name in the target's
//! directory, given its mode (and owner) exactly, written and synced; then the target
//! is examined (nothing, or a regular file, may be replaced), the temporary file is
//! renamed over it and the directory synced. A reader sees the old file or the new
//! one, never a part; the temporary file is removed on every error. The temporary
//! name is hidden and does not end in the target's suffix, so a collector reading
//! `*.prom` never reads it.

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use anyhow::{Context, Result, bail};

/// How the file written is to be.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Replace {
    /// Its mode, exactly (the umask does not apply).
    pub mode: u32,
    /// Its owner and group, set before it replaces the target (root giving a file to
    /// the user who ran sudo); `None` keeps this process's.
    pub owner: Option<(u32, u32)>,
}

/// Room for `.` + `.{16 hex}.tmp` around the target's name within NAME_MAX (255).
const TMP_EXTRA: usize = 22;

/// The target's name as the temporary file's stem (cut to fit NAME_MAX).
fn stem(name: &[u8]) -> &[u8] {
    &name[..name.len().min(255 - TMP_EXTRA)]
}

/// Whether `entry` is a temporary file [`replace_at`] makes for the target `name`:
/// `.NAME.<16 hex digits>.tmp`, exactly.
pub(crate) fn is_tmp_for(name: &[u8], entry: &[u8]) -> bool {
    let Some(rest) = entry
        .strip_prefix(b".")
        .and_then(|r| r.strip_prefix(stem(name)))
        .and_then(|r| r.strip_prefix(b"."))
    else {
        return false;
    };
    rest.strip_suffix(b".tmp")
        .is_some_and(|hex| hex.len() == 16 && hex.iter().all(u8::is_ascii_hexdigit))
}

/// Removes the temporary file unless it was renamed into place.
struct TmpGuard<'a> {
    dir: &'a OwnedFd,
    name: Option<OsString>,
}

impl Drop for TmpGuard<'_> {
    fn drop(&mut self) {
        if let Some(name) = self.name.take() {
            let _ = nix::unistd::unlinkat(
                self.dir,
                name.as_os_str(),
                nix::unistd::UnlinkatFlags::NoRemoveDir,
            );
        }
    }
}

/// Replaces (or creates) `name` in the open directory `dir` with `bytes`, as the
/// module documentation describes. A directory opened `O_PATH` cannot be synced;
/// that last step is then left out.
pub(crate) fn replace_at(dir: &OwnedFd, name: &OsStr, bytes: &[u8], how: Replace) -> Result<()> {
    use nix::errno::Errno;
    use nix::fcntl::{AtFlags, OFlag, openat, renameat};
    use nix::sys::stat::{Mode, SFlag, fchmod, fstatat};
    let name_bytes = name.as_bytes();
    if name_bytes.is_empty() || name_bytes.contains(&b'/') {
        bail!("{} is no file name", name.to_string_lossy());
    }
    let mut guard = TmpGuard { dir, name: None };
    let mut tries = 0;
    let fd = loop {
        let mut tmp = Vec::with_capacity(name_bytes.len() + TMP_EXTRA);
        tmp.push(b'.');
        tmp.extend_from_slice(stem(name_bytes));
        tmp.extend_from_slice(format!(".{:016x}.tmp", super::random_u64()).as_bytes());
        let tmp = OsString::from_vec(tmp);
        match openat(
            dir,
            tmp.as_os_str(),
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(how.mode),
        ) {
            Ok(fd) => {
                guard.name = Some(tmp);
                break fd;
            }
            Err(Errno::EEXIST) if tries < 16 => tries += 1,
            Err(e) => return Err(e).context("creating the temporary file"),
        }
    };
    // The umask may have taken bits away: the mode exactly.
    fchmod(&fd, Mode::from_bits_truncate(how.mode))
        .with_context(|| format!("setting mode {:04o}", how.mode))?;
    let mut f = std::fs::File::from(fd);
    if let Some((uid, gid)) = how.owner {
        std::os::unix::fs::fchown(&f, Some(uid), Some(gid))
            .with_context(|| format!("giving the file to {uid}:{gid}"))?;
    }
    f.write_all(bytes).context("writing the temporary file")?;
    f.sync_all().context("syncing the temporary file")?;
    drop(f);
    // The target may have changed since it was examined: replace only nothing or a
    // regular file. (`rename` replaces the entry itself, never what a link points to.)
    match fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Err(Errno::ENOENT) => {}
        Ok(st) if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFREG => {}
        Ok(_) => bail!("the path changed into something other than a regular file; not replaced"),
        Err(e) => return Err(e).context("examining the target"),
    }
    let tmp = guard.name.clone().expect("set when created");
    renameat(dir, tmp.as_os_str(), dir, name).context("renaming the temporary file into place")?;
    guard.name = None;
    // Durability of the rename; a directory opened O_PATH cannot be synced.
    let _ = nix::unistd::fsync(dir);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_are_recognised_exactly() {
        let n = b"surface_check.prom";
        assert!(is_tmp_for(n, b".surface_check.prom.0123456789abcdef.tmp"));
        assert!(!is_tmp_for(n, b".surface_check.prom.0123456789abcde.tmp"));
        assert!(!is_tmp_for(n, b".surface_check.prom.0123456789abcdeg.tmp"));
        assert!(!is_tmp_for(n, b"surface_check.prom.0123456789abcdef.tmp"));
        assert!(!is_tmp_for(n, b".other.prom.0123456789abcdef.tmp"));
        assert!(!is_tmp_for(n, b".surface_check.prom.0123456789abcdef.tmp~"));
        let long = vec![b'x'; 250];
        let mut tmp = b".".to_vec();
        tmp.extend_from_slice(&long[..233]);
        tmp.extend_from_slice(b".0123456789abcdef.tmp");
        assert_eq!(tmp.len(), 255);
        assert!(is_tmp_for(&long, &tmp));
    }

    #[test]
    fn replaces_with_the_mode_and_leaves_no_temporary_file() {
        let d = tempfile::tempdir().unwrap();
        let dir = nix::fcntl::open(
            d.path(),
            nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_DIRECTORY,
            nix::sys::stat::Mode::empty(),
        )
        .unwrap();
        std::fs::write(d.path().join("f"), b"old").unwrap();
        let how = Replace {
            mode: 0o644,
            owner: None,
        };
        replace_at(&dir, OsStr::new("f"), b"new", how).unwrap();
        assert_eq!(std::fs::read(d.path().join("f")).unwrap(), b"new");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(d.path().join("f"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o7777, 0o644);
        std::fs::create_dir(d.path().join("sub")).unwrap();
        assert!(replace_at(&dir, OsStr::new("sub"), b"x", how).is_err());
        assert!(replace_at(&dir, OsStr::new("a/b"), b"x", how).is_err());
        let left: Vec<_> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left.len(), 2, "{left:?}");
    }
}
