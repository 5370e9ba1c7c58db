//! Noticing complete alert directories: kernel events (`inotify`) as hints,
//! scans of the tree (`scan`) as the truth, polling when events cannot be had
//! (`fs_kind` tells a network filesystem). The dispatcher (`dispatch`)
//! combines them and hands each complete directory to the workers, and
//! keeps the status file (`status`) that says what the trigger does now.

pub mod dispatch;
pub mod fs_kind;
pub mod inotify;
pub mod scan;
pub mod status;
