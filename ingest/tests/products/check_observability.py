"""Checks meta.yaml's EXTRA.observability against astropy, as an observer
would: the Sun's altitude and the map's pixels in AltAz (same site, same
times, pressure 0: no refraction), over the 24 h after the alert's
time_created.

- windows: the Sun below sun_alt, sampled every minute, each edge placed by
  interpolating the altitude; ours must have as many, each edge within 2 min;
- probability: each pixel's highest altitude in each of astropy's windows
  (sampled every 5 minutes and at both ends), above asin(1/max_airmass) in
  one of them; ours within 0.01;
- best: the probability above the limit at our best_time within 0.01 of
  ours, and no sampled moment with more than 0.01 over it.

The densest pixels holding 0.999 of the map are used (the rest cannot move a
probability by more than 0.001).

Usage: python check_observability.py SITES_JSON ALERT_DIR...
Prints one line per map and site, then `figure:` lines; exits 1 on the first
disagreement.
"""
import glob
import json
import os
import sys
import warnings

import astropy.units as u
import numpy as np
import yaml
from astropy.coordinates import AltAz, EarthLocation, SkyCoord, get_sun
from astropy.table import Table
from astropy.time import Time
from astropy.utils import iers
from astropy_healpix import HEALPix

# No network: the bundled IERS tables (UT1 - UTC under a second either way).
iers.conf.auto_download = False
warnings.filterwarnings("ignore")

MINUTE = 60.0
WORST = {"probability": 0.0, "best_probability": 0.0, "edge_minutes": 0.0}


def fail(message):
    print("FAIL:", message)
    sys.exit(1)


def pixels(path):
    """Centres (RA, Dec deg) and probabilities of the densest pixels holding 0.999."""
    table = Table.read(path)
    uniq = np.asarray(table["UNIQ"], dtype=np.int64)
    density = np.asarray(table["PROBDENSITY"], dtype=float)
    depth = (np.log2(uniq // 4) // 2).astype(np.int64)
    ipix = uniq - 4 * 4**depth
    prob = density * 4 * np.pi / (12 * 4.0**depth)
    ra = np.empty(len(uniq))
    dec = np.empty(len(uniq))
    for d in np.unique(depth):
        chosen = depth == d
        lon, lat = HEALPix(nside=2 ** int(d), order="nested").healpix_to_lonlat(ipix[chosen])
        ra[chosen] = lon.to_value(u.deg)
        dec[chosen] = lat.to_value(u.deg)
    ranked = np.argsort(-density, kind="stable")
    cumulative = np.cumsum(prob[ranked])
    kept = ranked[: np.searchsorted(cumulative, 0.999 * cumulative[-1]) + 1]
    return SkyCoord(ra[kept] * u.deg, dec[kept] * u.deg, frame="icrs"), prob[kept]


def altaz(location, times):
    return AltAz(obstime=times, location=location, pressure=0 * u.hPa)


def dark_windows(location, start, sun_alt):
    """Astropy's dark windows as (start, end) Time pairs, edges interpolated."""
    times = start + np.arange(0, 24 * 60 + 1) * u.min
    alt = get_sun(times).transform_to(altaz(location, times)).alt.to_value(u.deg)
    dark = alt < sun_alt
    windows, opened = [], times[0] if dark[0] else None
    for i in np.nonzero(dark[1:] != dark[:-1])[0]:
        fraction = (sun_alt - alt[i]) / (alt[i + 1] - alt[i])
        edge = times[i] + fraction * u.min
        if opened is None:
            opened = edge
        else:
            windows.append((opened, edge))
            opened = None
    if opened is not None:
        windows.append((opened, times[-1]))
    return windows


def up_fraction(coords, prob, location, times, min_alt):
    """Per time, the probability above min_alt; and per pixel, the highest altitude."""
    frame = altaz(location, times[:, None])
    alt = coords[None, :].transform_to(frame).alt.to_value(u.deg)
    return (prob[None, :] * (alt > min_alt)).sum(axis=1), alt.max(axis=0)


def minute_time(text):
    return Time(text.rstrip("Z").replace("T", " "), scale="utc")


def check_site(directory, site, coords, prob, start, ours):
    name = site["name"]
    location = EarthLocation.from_geodetic(site["lon"] * u.deg, site["lat"] * u.deg, site.get("height", 0) * u.m)
    min_alt = np.degrees(np.arcsin(1 / site.get("max_airmass", 2.0)))
    windows = dark_windows(location, start, site.get("sun_alt", -12.0))
    if len(windows) != len(ours["windows"]):
        fail(f"{directory} {name}: astropy has {len(windows)} dark windows, we {ours['windows']}")
    edge_worst = 0.0
    for (a, b), (our_a, our_b) in zip(windows, ours["windows"]):
        for theirs, text in ((a, our_a), (b, our_b)):
            off = abs((theirs - minute_time(text)).to_value(u.min))
            edge_worst = max(edge_worst, off)
            if off > 2.0:
                fail(f"{directory} {name}: edge {text} is {off:.1f} min from astropy's {theirs.isot}")
    highest = np.full(len(prob), -90.0)
    sampled_best = 0.0
    for a, b in windows:
        minutes = (b - a).to_value(u.min)
        times = a + np.append(np.arange(0, minutes, 5.0), minutes) * u.min
        up, high = up_fraction(coords, prob, location, times, min_alt)
        highest = np.maximum(highest, high)
        sampled_best = max(sampled_best, up.max())
    probability = prob[highest > min_alt].sum()
    if abs(probability - ours["probability"]) > 0.01:
        fail(f"{directory} {name}: probability {ours['probability']}, astropy {probability:.4f}")
    if windows:
        at_ours, _ = up_fraction(coords, prob, location, Time([minute_time(ours["best_time"])]), min_alt)
        best_off = abs(at_ours[0] - ours["best_probability"])
        if best_off > 0.01:
            fail(f"{directory} {name}: at {ours['best_time']} astropy has {at_ours[0]:.4f} up, we {ours['best_probability']}")
        if sampled_best > ours["best_probability"] + 0.01:
            fail(f"{directory} {name}: astropy finds {sampled_best:.4f} up at some moment, our best is {ours['best_probability']}")
    else:
        best_off = 0.0
        if ours["best_time"] is not None or ours["probability"] != 0:
            fail(f"{directory} {name}: no dark window, but {ours}")
    WORST["probability"] = max(WORST["probability"], abs(probability - ours["probability"]))
    WORST["best_probability"] = max(WORST["best_probability"], best_off)
    WORST["edge_minutes"] = max(WORST["edge_minutes"], edge_worst)
    print(
        f"ok obs {os.path.basename(os.path.dirname(directory))} {name}: {len(windows)} windows "
        f"(edges within {edge_worst:.2f} min), probability {ours['probability']} vs {probability:.4f}, "
        f"best {ours['best_probability']} at {ours['best_time']} (astropy {best_off:+.4f} off, its best {sampled_best:.4f})"
    )


def main():
    sites = json.loads(sys.argv[1])
    for directory in sys.argv[2:]:
        with open(os.path.join(directory, "meta.yaml")) as f:
            meta = yaml.safe_load(f)
        maps = [p for p in glob.glob(os.path.join(directory, "*.multiorder.fits")) if not os.path.basename(p).startswith("combined")]
        if len(maps) != 1:
            fail(f"{directory}: {maps}")
        coords, prob = pixels(maps[0])
        start = Time(meta["ALERT"]["time_created"].rstrip("Z").replace("T", " "), scale="utc")
        observability = meta["EXTRA"]["observability"]
        for site in sites:
            check_site(directory, site, coords, prob, start, observability[site["name"]])
    for key, value in WORST.items():
        print(f"figure: worst_{key}_difference {value:.4f}")


if __name__ == "__main__":
    main()
