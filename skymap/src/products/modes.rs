//! How many disjoint islands a credible region has, as `ligo-skymap-stats
//! --modes` counts them: ligo.skymap rasterises the region at the map's finest
//! level and flood-fills it with HEALPix's 8 neighbours. We join the region's
//! pixels directly instead: two pixels touch when one holds a cell of the
//! other's external edge (its ring of neighbours at the finest level, corners
//! included), which is the same adjacency without the raster.

use crate::{Pixel, SkyMap};

/// The number of connected parts of the region (`nested`: indexes into
/// `SkyMap::pixels()`, in nested order).
pub fn count(map: &SkyMap, nested: &[usize]) -> usize {
    let pixels = map.pixels();
    let finest = map.max_depth();
    // Each pixel's first cell at the finest level, ascending (pixels are in nested order).
    let starts: Vec<u64> = pixels
        .iter()
        .map(|p| p.ipix << (2 * (finest - p.depth)))
        .collect();
    let mut in_region = vec![false; pixels.len()];
    for &i in nested {
        in_region[i] = true;
    }
    let mut parts = Parts::new(pixels.len());
    let mut edge = Vec::new();
    for &i in nested {
        let p = pixels[i];
        edge.clear();
        let delta = finest - p.depth;
        cdshealpix::nested::append_external_edge(p.depth, p.ipix, delta, &mut edge);
        // Each touching pair is found from both sides: looking from the later
        // pixel only (cells past this one's start) halves the searches.
        let mut last = None;
        for &cell in edge.iter().filter(|&&cell| cell > starts[i]) {
            let j = match last {
                Some(j) if covers(&starts, pixels, finest, j, cell) => j,
                _ => match holder(&starts, pixels, finest, cell) {
                    Some(j) => j,
                    None => continue,
                },
            };
            last = Some(j);
            if in_region[j] {
                parts.join(i, j);
            }
        }
    }
    let mut roots: Vec<usize> = nested.iter().map(|&i| parts.root(i)).collect();
    roots.sort_unstable();
    roots.dedup();
    roots.len()
}

/// The pixel holding a cell of the finest level, if the map covers it.
fn holder(starts: &[u64], pixels: &[Pixel], finest: u8, cell: u64) -> Option<usize> {
    let j = starts.partition_point(|&s| s <= cell).checked_sub(1)?;
    covers(starts, pixels, finest, j, cell).then_some(j)
}

/// Whether pixel `j` holds the cell.
fn covers(starts: &[u64], pixels: &[Pixel], finest: u8, j: usize, cell: u64) -> bool {
    let len = 1u64 << (2 * (finest - pixels[j].depth));
    (starts[j]..starts[j] + len).contains(&cell)
}

/// Union-find over pixel indexes.
struct Parts {
    parent: Vec<usize>,
}

impl Parts {
    fn new(n: usize) -> Parts {
        Parts {
            parent: (0..n).collect(),
        }
    }

    fn root(&mut self, mut i: usize) -> usize {
        while self.parent[i] != i {
            self.parent[i] = self.parent[self.parent[i]];
            i = self.parent[i];
        }
        i
    }

    fn join(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.root(a), self.root(b));
        if ra != rb {
            self.parent[ra.max(rb)] = ra.min(rb);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::products::credible::Ranking;
    use crate::synth::{self, Layout};

    fn modes90(density: impl Fn(f64, f64) -> f64) -> usize {
        let map = SkyMap::new(
            synth::build(density, Layout::default(), None),
            false,
            vec![],
        )
        .unwrap();
        count(&map, &Ranking::new(&map).region_nested(0.9))
    }

    #[test]
    fn separate_islands_are_counted_and_one_blob_is_one() {
        assert_eq!(modes90(synth::gaussian(100.0, 10.0, 5.0)), 1);
        let (a, b) = (
            synth::gaussian(40.0, 20.0, 4.0),
            synth::gaussian(250.0, -50.0, 4.0),
        );
        let c = synth::gaussian(160.0, 60.0, 4.0);
        assert_eq!(
            modes90(move |ra, dec| a(ra, dec) + b(ra, dec) + c(ra, dec)),
            3
        );
    }

    #[test]
    fn islands_touching_at_a_corner_are_one() {
        // Two pixels of the finest level that share only a corner.
        let uniform = 1.0 / (4.0 * std::f64::consts::PI);
        let mut pixels: Vec<Pixel> = (0..12)
            .filter(|&i| i != 4)
            .map(|i| Pixel::without_distance(0, i, 0.01 * uniform))
            .collect();
        // Base pixel 4 split in four: nested 16 and 19 touch only at its centre.
        for (ipix, weight) in [(16, 10.0), (17, 0.0), (18, 0.0), (19, 10.0)] {
            pixels.push(Pixel::without_distance(1, ipix, weight * uniform));
        }
        let map = SkyMap::new(pixels, false, vec![]).unwrap();
        let region: Vec<usize> = (0..map.pixels().len())
            .filter(|&i| map.pixels()[i].probdensity > uniform)
            .collect();
        assert_eq!(region.len(), 2);
        assert_eq!(count(&map, &region), 1);
    }

    #[test]
    fn an_empty_region_has_no_modes_and_a_one_pixel_map_has_none() {
        let density = 1.0 / pixel_area(0);
        let map = SkyMap::new(vec![Pixel::without_distance(0, 5, density)], false, vec![]).unwrap();
        let ranking = Ranking::new(&map);
        assert!(ranking.region(0.9).is_empty());
        assert_eq!(count(&map, &ranking.region_nested(0.9)), 0);
    }

    fn pixel_area(depth: u8) -> f64 {
        crate::pixel_area_sr(depth)
    }
}
