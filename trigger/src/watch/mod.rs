//! Noticing complete alert directories: kernel events (`inotify`) as hints,
//! scans of the tree (`scan`) as the truth, polling when events cannot be had
//! (`fs_kind` tells a network filesystem). The dispatcher in `cmd::watch`
//! combines them.

pub mod fs_kind;
pub mod inotify;
pub mod scan;
