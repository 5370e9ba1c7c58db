//! Thumbnails of `skymap.png`, made once and kept in `<state_dir>/thumbs`
//! (never in the alert tree), named after the SHA-256 of the directory's
//! marker: a replaced alert has a new marker, so it gets a new thumbnail.
//! Written to a temporary name and renamed, so a reader never sees half of one.

use std::path::{Path, PathBuf};

use image::imageops::FilterType;

/// Width of a thumbnail in pixels (the height keeps the picture's shape).
pub const WIDTH: u32 = 240;

#[derive(Debug, thiserror::Error)]
pub enum ThumbError {
    #[error("cannot decode {path}: {source}")]
    Decode {
        path: PathBuf,
        source: image::ImageError,
    },
    #[error("cannot write the thumbnail {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot encode a thumbnail: {0}")]
    Encode(image::ImageError),
}

pub struct Thumbs {
    dir: PathBuf,
}

impl Thumbs {
    pub fn new(dir: PathBuf) -> Thumbs {
        Thumbs { dir }
    }

    /// The PNG bytes of the thumbnail of `picture`, whose marker hashes to
    /// `marker_sha256`: from the cache, else made and cached.
    pub fn get(&self, picture: &Path, marker_sha256: &str) -> Result<Vec<u8>, ThumbError> {
        let cached = self.dir.join(format!("{marker_sha256}.png"));
        if let Ok(bytes) = std::fs::read(&cached) {
            return Ok(bytes);
        }
        let bytes = make(picture)?;
        self.store(&cached, &bytes)?;
        Ok(bytes)
    }

    fn store(&self, cached: &Path, bytes: &[u8]) -> Result<(), ThumbError> {
        let write_err = |source| ThumbError::Write {
            path: cached.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(&self.dir).map_err(write_err)?;
        let temp = self
            .dir
            .join(format!(".{}.{}.tmp", std::process::id(), unique_number()));
        std::fs::write(&temp, bytes).map_err(write_err)?;
        std::fs::rename(&temp, cached).map_err(|e| {
            let _ = std::fs::remove_file(&temp);
            write_err(e)
        })
    }
}

/// The picture scaled to [`WIDTH`], as PNG.
fn make(picture: &Path) -> Result<Vec<u8>, ThumbError> {
    let decoded = image::open(picture).map_err(|source| ThumbError::Decode {
        path: picture.to_path_buf(),
        source,
    })?;
    let height = (u64::from(decoded.height()) * u64::from(WIDTH)
        / u64::from(decoded.width().max(1)))
    .clamp(1, u64::from(WIDTH) * 4) as u32;
    let small = decoded.resize_exact(WIDTH, height, FilterType::Triangle);
    let mut bytes = std::io::Cursor::new(Vec::new());
    small
        .write_to(&mut bytes, image::ImageFormat::Png)
        .map_err(ThumbError::Encode)?;
    Ok(bytes.into_inner())
}

fn unique_number() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thumbnail_is_made_once_and_then_read_from_the_cache() {
        let tmp = tempfile::tempdir().unwrap();
        let picture = tmp.path().join("skymap.png");
        image::RgbImage::from_pixel(1200, 575, image::Rgb([10, 20, 200]))
            .save(&picture)
            .unwrap();
        let thumbs = Thumbs::new(tmp.path().join("thumbs"));
        let first = thumbs.get(&picture, "abc").unwrap();
        let small = image::load_from_memory(&first).unwrap();
        assert_eq!((small.width(), small.height()), (WIDTH, 115));
        // The picture gone, the cached one is still served.
        std::fs::remove_file(&picture).unwrap();
        assert_eq!(thumbs.get(&picture, "abc").unwrap(), first);
        assert!(thumbs.get(&picture, "other").is_err());
    }
}
