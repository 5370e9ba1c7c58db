//! Fuzz target: any bytes as a sky-map file. They are written to a temporary
//! file (cfitsio reads paths) and read with the project's reader; a map it
//! accepts must then give its statistics, its CSV and its header without
//! panicking. Crashes inside cfitsio count as much as ours.

#![no_main]

use std::io::Write;

use gocart_skymap::{flatten, header, read_skymap, Stats};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut file = tempfile::Builder::new()
        .suffix(".fits")
        .tempfile()
        .expect("a temporary file");
    file.write_all(data).expect("write the temporary file");
    let Ok(map) = read_skymap(file.path()) else {
        return;
    };
    let stats = Stats::compute(&map);
    let _ = stats.to_json();
    let _ = header::to_json(&map.header);
    // NSIDE 16: every code path of the flattening, at a fuzzing pace.
    flatten::write_csv(&map, 16, "MS000000a", std::io::sink()).expect("a sink never fails");
});
