//! A credible region as an IVOA MOC 2.0 FITS file (NUNIQ ordering, readable by
//! mocpy, Aladin and MOC 1.x readers), built from our own credible pixels so
//! that its area is `area90`/`area50` to the pixel. (The `moc` crate's own
//! builder from a multi-order map splits the pixel that crosses the level;
//! LVK's rule leaves it out.)

use std::io::Write;

use moc::deser::fits::error::FitsError;
use moc::deser::fits::hpx_cells_to_fits_ivoa;
use moc::moc::range::RangeMOC;
use moc::moc::RangeMOCIntoIterator;
use moc::moc::RangeMOCIterator;
use moc::qty::Hpx;

use crate::SkyMap;

/// A set of HEALPix cells, merged where four siblings are all in it.
pub type Region = RangeMOC<u64, Hpx<u64>>;

/// The MOC of some of the map's pixels (`indexes` into `SkyMap::pixels()`).
pub fn region_moc(map: &SkyMap, indexes: &[usize]) -> Region {
    let pixels = map.pixels();
    let cells = indexes.iter().map(|&i| (pixels[i].depth, pixels[i].ipix));
    RangeMOC::from_cells(map.max_depth(), cells, Some(indexes.len()))
}

/// Writes the MOC as FITS. An empty region (all the probability in one pixel)
/// is a valid MOC with no cells.
pub fn write_fits(region: &Region, out: &mut dyn Write) -> std::io::Result<()> {
    let cells = region.into_range_moc_iter().cells();
    hpx_cells_to_fits_ivoa(cells, None, None, out).map_err(|e| match e {
        FitsError::Io(e) => e,
        other => std::io::Error::other(format!("cannot write the MOC: {other}")),
    })
}

/// The region's area in square degrees.
pub fn area_deg2(region: &Region) -> f64 {
    region.coverage_percentage() * 4.0 * std::f64::consts::PI * crate::DEG2_PER_SR
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::products::credible::Ranking;
    use crate::synth::{self, Layout};
    use crate::Stats;

    fn islands_map() -> SkyMap {
        let a = synth::gaussian(40.0, 20.0, 4.0);
        let b = synth::gaussian(250.0, -50.0, 6.0);
        let density = move |ra, dec| a(ra, dec) + 0.7 * b(ra, dec);
        SkyMap::new(
            synth::build(density, Layout::default(), None),
            false,
            vec![],
        )
        .unwrap()
    }

    #[test]
    fn the_moc_area_is_the_credible_area() {
        let map = islands_map();
        let ranking = Ranking::new(&map);
        let stats = Stats::from_ranking(&map, &ranking);
        for (level, area) in [(0.9, stats.area90), (0.5, stats.area50)] {
            let region = region_moc(&map, &ranking.region_nested(level));
            let moc_area = area_deg2(&region);
            assert!(
                (moc_area - area).abs() < 1e-9 * area,
                "{moc_area} vs {area}"
            );
        }
    }

    #[test]
    fn the_fits_file_reads_back_as_the_same_cells() {
        let map = islands_map();
        let region = region_moc(&map, &Ranking::new(&map).region_nested(0.9));
        let mut bytes = Vec::new();
        write_fits(&region, &mut bytes).unwrap();
        assert_eq!(bytes.len() % 2880, 0);
        let text = String::from_utf8_lossy(&bytes[2880..2880 * 2]);
        for card in ["MOCVERS = '2.0'", "ORDERING= 'NUNIQ'", "MOCDIM  = 'SPACE'"] {
            assert!(text.contains(card), "{card} missing");
        }
        let read = moc::deser::fits::from_fits_ivoa(std::io::Cursor::new(&bytes)).unwrap();
        let moc::deser::fits::MocIdxType::U64(moc::deser::fits::MocQtyType::Hpx(read)) = read
        else {
            panic!("not a 64-bit space MOC");
        };
        assert!(read.collect().eq_without_depth(&region));
    }

    #[test]
    fn an_empty_region_is_a_valid_empty_moc() {
        let region = region_moc(&islands_map(), &[]);
        let mut bytes = Vec::new();
        write_fits(&region, &mut bytes).unwrap();
        assert_eq!(
            bytes.len(),
            2880 * 2,
            "primary header and table header, no rows"
        );
        assert_eq!(area_deg2(&region), 0.0);
    }
}
