//! Keeping malformed messages: whole, with their reason, under `.rejected/`,
//! so that nothing GCN sent is ever lost, even what we could not use.

use std::path::PathBuf;

use gocart_shared::marker::sha256_hex;
use gocart_shared::Tree;

/// Keeps `message` and `reason` in `.rejected/<sha256 prefix>/` (written in
/// staging and renamed, like an alert). The same message rejected twice (a
/// redelivery) is kept once.
pub fn keep_rejected(
    tree: &Tree,
    message: &[u8],
    reason: &str,
    source: &str,
) -> std::io::Result<PathBuf> {
    let sha = sha256_hex(message);
    let target = tree.rejected_dir().join(&sha[..16]);
    if target.is_dir() {
        return Ok(target);
    }
    let mut staging = super::Staging::create(tree, "rejected")?;
    staging.write("message", message)?;
    let note = format!(
        "reason: {reason}\nsource: {source}\nreceived: {}\nsha256: {sha}\nsize: {} bytes\n",
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        message.len()
    );
    staging.write("reason.txt", note.as_bytes())?;
    let dir = staging.path().to_path_buf();
    std::fs::create_dir_all(tree.rejected_dir())?;
    match std::fs::rename(&dir, &target) {
        Ok(()) => {}
        // Someone kept the same message meanwhile: that copy will do.
        Err(_) if target.is_dir() => {}
        Err(e) => return Err(e),
    }
    super::sync_dir(&tree.rejected_dir())?;
    drop(staging);
    Ok(target)
}
