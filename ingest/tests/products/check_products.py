"""Checks an alert directory's sky-map products against the reference
libraries: mocpy reads moc50.fits/moc90.fits and they must hold exactly the
map's credible pixels (ranked by density, ties in nested order, cumulative
probability below the level), with the area meta.yaml gives; with --ligo,
ligo-skymap-stats --contour 50 90 --modes must agree with EXTRA's vol50/vol90
(1 %) and modes90 (exactly).

Usage: python check_products.py [--ligo] ALERT_DIR...
Prints one line per map checked; exits 1 on the first disagreement.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import yaml
from astropy.table import Table
from mocpy import MOC

SKY_DEG2 = 4 * np.pi * (180 / np.pi) ** 2


def fail(message):
    print("FAIL:", message)
    sys.exit(1)


def credible_cells(table, level):
    uniq = np.asarray(table["UNIQ"], dtype=np.int64)
    depth = (np.log2(uniq // 4) // 2).astype(np.int64)
    ipix = uniq - 4 * 4**depth
    finest = depth.max()
    nested = np.argsort(ipix << (2 * (finest - depth)), kind="stable")
    density = np.asarray(table["PROBDENSITY"], dtype=float)[nested]
    area = 4 * np.pi / (12 * 4.0**depth[nested])
    ranked = np.argsort(-density, kind="stable")
    cumulative = np.cumsum((density * area)[ranked])
    chosen = nested[ranked[cumulative < level]]
    return ipix[chosen], depth[chosen], int(finest)


def check_mocs(directory, map_name, prefix, extra):
    table = Table.read(os.path.join(directory, map_name))
    for percent in (50, 90):
        ipix, depth, finest = credible_cells(table, percent / 100)
        path = os.path.join(directory, f"{prefix}moc{percent}.fits")
        written = MOC.from_fits(path)
        if len(ipix) == 0:
            if not written.empty():
                fail(f"{path}: not empty, but the region has no pixel")
        else:
            expected = MOC.from_healpix_cells(ipix, depth, finest)
            if written != expected:
                fail(f"{path}: not the map's {percent}% credible pixels")
        area = written.sky_fraction * SKY_DEG2
        if abs(area - extra[f"area{percent}"]) > 6e-4:
            fail(f"{path}: {area} deg2, meta.yaml says {extra[f'area{percent}']}")
    print(f"ok moc {directory} {prefix or 'event'} area90={extra['area90']}")


def ligo_stats(paths):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "stats.tsv")
        tool = os.path.join(os.path.dirname(sys.executable), "ligo-skymap-stats")
        subprocess.run(
            [tool, "--contour", "50", "90", "--modes", "-o", out, *paths],
            check=True,
            capture_output=True,
        )
        rows = [line.rstrip("\n").split("\t") for line in open(out) if not line.startswith("#")]
    header = rows[0]
    return [dict(zip(header, row)) for row in rows[1:]]


def main():
    args = sys.argv[1:]
    ligo = "--ligo" in args
    dirs = [a for a in args if a != "--ligo"]
    to_compare = []
    for directory in dirs:
        meta = yaml.safe_load(open(os.path.join(directory, "meta.yaml")))
        extra = meta["EXTRA"]
        names = sorted(os.listdir(directory))
        event = [n for n in names if n.endswith(".multiorder.fits") and n != "combined.multiorder.fits"]
        if event:
            check_mocs(directory, event[0], "", extra)
            to_compare.append((os.path.join(directory, event[0]), extra))
        if "combined.multiorder.fits" in names:
            check_mocs(directory, "combined.multiorder.fits", "combined.", extra["combined"])
            to_compare.append((os.path.join(directory, "combined.multiorder.fits"), extra["combined"]))
    if not ligo:
        return
    # Each distinct map once: ligo.skymap takes seconds per map.
    distinct = {}
    for path, extra in to_compare:
        distinct.setdefault(open(path, "rb").read(), (path, extra))
    pairs = list(distinct.values())
    for (path, extra), row in zip(pairs, ligo_stats([p for p, _ in pairs])):
        for key, column in (("vol50", "vol(50)"), ("vol90", "vol(90)")):
            theirs = float(row[column])
            ours = extra.get(key)
            if np.isfinite(theirs):
                if ours is None or abs(ours / theirs - 1) > 0.01:
                    fail(f"{path}: {key} {ours}, ligo-skymap-stats {theirs}")
            elif ours is not None:
                fail(f"{path}: {key} {ours}, ligo-skymap-stats has none")
        if int(row["modes(90)"]) != extra["modes90"]:
            fail(f"{path}: modes90 {extra['modes90']}, ligo-skymap-stats {row['modes(90)']}")
        print(f"ok ligo {path} vol90={extra.get('vol90')} ligo={row['vol(90)']} modes90={extra['modes90']}")


main()
