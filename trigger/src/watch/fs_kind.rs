//! Whether the tree is on a network filesystem, where inotify sees only the
//! changes made by this machine: an ingester writing from another host would
//! never be noticed, so the trigger polls instead.

use std::path::Path;

/// `statfs` magic numbers of network filesystems (from linux/magic.h and the
/// filesystems' sources).
const NETWORK: &[(i64, &str)] = &[
    (0x6969, "NFS"),
    (0xFF53_4D42, "CIFS"),
    (0xFE53_4D42, "SMB2"),
    (0x517B, "SMB"),
    (0x5346_414F, "AFS"),
    (0x6B41_4653, "AFS (kAFS)"),
    (0x00C3_6400, "CephFS"),
    (0x0BD0_0BD0, "Lustre"),
    (0x0102_1997, "9P"),
    (0x7375_7245, "Coda"),
    (0x564C, "NCP"),
    (0x0116_1970, "GFS2"),
    (0x4750_4653, "GPFS"),
];

/// The name of the network filesystem `path` is on, if it is on one.
pub fn network_fs(path: &Path) -> Option<&'static str> {
    let info = rustix::fs::statfs(path).ok()?;
    #[allow(clippy::unnecessary_cast)]
    let magic = info.f_type as i64;
    NETWORK
        .iter()
        .find(|(m, _)| *m == magic)
        .map(|(_, name)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_temporary_directory_is_not_networked() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(network_fs(dir.path()), None);
        assert_eq!(network_fs(Path::new("/no/such/path")), None);
    }
}
