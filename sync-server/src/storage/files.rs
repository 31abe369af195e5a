//! Owner-only files: the data directory is 0700 and every file the server keeps in it
//! (SQLite files, their `-wal` and `-shm`, the keys file, the master key) is 0600. The
//! process sets `umask(0o077)` at start ([`restrict_umask`]); opening a store also fixes the
//! modes an older install left wider.

use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use super::StoreError;

const DIR_MODE: u32 = 0o700;
const FILE_MODE: u32 = 0o600;

/// Files the process creates from now on are readable and writable by its user only.
pub fn restrict_umask() {
    // SAFETY: umask only sets the process's file mode creation mask; it cannot fail and
    // touches no memory.
    unsafe {
        libc::umask(0o077);
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Create `dir` (and its parents) if missing, and make it owner-only.
pub fn restrict_dir(dir: &Path) -> Result<(), StoreError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    set_mode(dir, DIR_MODE)
}

/// Make an existing file owner-only.
pub fn restrict_file(path: &Path) -> Result<(), StoreError> {
    set_mode(path, FILE_MODE)
}

/// Create `path` empty with mode 0600 if it does not exist (an empty file is an empty SQLite
/// database, and SQLite gives its `-wal` and `-shm` the database file's mode), and make it
/// owner-only if it does. Never truncates.
pub fn create_owner_only(path: &Path) -> Result<(), StoreError> {
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(FILE_MODE)
        .open(path)
        .map_err(io(path))?;
    set_mode(path, FILE_MODE)
}

/// Make the SQLite database at `path` and its `-wal`, `-shm` and `-journal` owner-only,
/// those that exist.
pub fn restrict_sqlite_files(path: &Path) -> Result<(), StoreError> {
    set_mode(path, FILE_MODE)?;
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let p = Path::new(&name);
        if p.exists() {
            set_mode(p, FILE_MODE)?;
        }
    }
    Ok(())
}

fn set_mode(path: &Path, mode: u32) -> Result<(), StoreError> {
    let meta = std::fs::metadata(path).map_err(io(path))?;
    if meta.permissions().mode() & 0o777 != mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(io(path))?;
    }
    Ok(())
}
