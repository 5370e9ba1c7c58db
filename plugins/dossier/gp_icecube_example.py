#!/usr/bin/env python3
# encoding: utf-8
"""
*gocart example plugin for IceCube directories: the neutrinos coincident with the
event, and whether each falls in the LVK alert's 90% credible area*

Copy it into the plugins folder; it runs on the directories of IceCube's LVK neutrino
track search (``<event>/<stamp>_icecube/``) once the settings give it that kind:

    trigger:
        plugins:
            gp_icecube_example.py:
                kinds: [icecube]
                filters:
                    - {pval_bayesian_upper: 0.1}   # optional: only interesting searches

It reads the notice from its directory's meta.yaml (``NOTICE``, ``EXTRA``) and the
newest LVK alert directory of the same event (its ``EXTRA.area90`` and
``skymap.csv``). On any other kind of directory it says so and does nothing.
Test it by hand on an IceCube directory:

    python3 gp_icecube_example.py ~/lvk_events/superevents/S230914ak/20230914T114916_icecube/

Needs only Python 3 and PyYAML.
"""
import csv
import json
import math
import os
import sys

try:
    import yaml
except ImportError:
    sys.stderr.write("gp_icecube_example.py needs PyYAML: `pip install pyyaml`\n")
    sys.exit(2)

KIND = "icecube"


def plugin(alertDir, alertMeta):
    """*prints each coincident neutrino and the LVK credible level at its position*"""
    notice = alertMeta.get("NOTICE") or {}
    extra = alertMeta.get("EXTRA") or {}
    event = extra.get("superevent_id") or notice.get("ref_ID") or "?"
    print(f"IceCube search around {event}: {extra.get('n_events_coincident', 0)} coincident "
          f"neutrino(s), pval_generic {extra.get('pval_generic')}, "
          f"pval_bayesian {extra.get('pval_bayesian')}")
    lvk = newest_lvk_dir(alertDir)
    pixels = read_skymap(lvk) if lvk else None
    if lvk is None:
        print(f"no LVK alert directory of {event} yet: no area to compare with")
    else:
        area90 = ((read_meta(lvk) or {}).get("EXTRA") or {}).get("area90")
        print(f"LVK alert {os.path.basename(lvk)}: area90 {area90} deg2")
    for n, nu in enumerate(notice.get("coincident_events") or [], start=1):
        where = nu.get("localization") or {}
        ra, dec = where.get("ra"), where.get("dec")
        if ra is None or dec is None:
            print(f"  neutrino {n}: no position")
            continue
        line = f"  neutrino {n}: RA {ra} Dec {dec} (error {where.get('ra_dec_error')} deg), dt {nu.get('event_dt')} s"
        if pixels:
            level = credible_level(pixels, ra, dec)
            inside = "inside" if level <= 0.9 else "outside"
            line += f": {inside} the 90% area (credible level {level:.3f})"
        print(line)


# ---------------------------------------------------------------------------
# Below: reading the alert tree. You do not need to change anything here.
# ---------------------------------------------------------------------------

def read_meta(directory):
    try:
        with open(os.path.join(directory, "meta.yaml")) as f:
            return yaml.safe_load(f)
    except OSError:
        return None


def newest_lvk_dir(alertDir):
    """*the newest complete LVK directory in the event's folder (names start with the time)*"""
    folder = os.path.dirname(os.path.abspath(alertDir))
    found = []
    for name in os.listdir(folder):
        marker = os.path.join(folder, name, ".gocart-complete")
        try:
            with open(marker) as f:
                kind = json.load(f).get("kind", "lvk")
        except (OSError, ValueError):
            continue
        if kind == "lvk" and not name.startswith("."):
            found.append(name)
    return os.path.join(folder, max(found)) if found else None


def read_skymap(lvkDir):
    """*(ra, dec, prob) of every pixel of the flattened map, or None without one*"""
    try:
        with open(os.path.join(lvkDir, "skymap.csv")) as f:
            rows = csv.DictReader(line for line in f if not line.startswith("#"))
            return [(float(r["RA"]), float(r["DEC"]), float(r["PROB"])) for r in rows]
    except (OSError, KeyError, ValueError):
        return None


def credible_level(pixels, ra, dec):
    """*the probability in the pixels more probable than the one at (ra, dec)*"""
    def distance(p):
        r1, d1, r2, d2 = map(math.radians, (p[0], p[1], ra, dec))
        return -(math.sin(d1) * math.sin(d2) + math.cos(d1) * math.cos(d2) * math.cos(r1 - r2))
    here = min(pixels, key=distance)[2]
    return sum(p[2] for p in pixels if p[2] > here) + here


def main(argv):
    if len(argv) != 2:
        sys.stderr.write(f"usage: python3 {os.path.basename(argv[0])} <alert_dir>\n")
        return 2
    alertDir = os.path.abspath(argv[1])
    alertMeta = read_meta(alertDir)
    if alertMeta is None:
        sys.stderr.write(f"{alertDir} is not an alert directory: no meta.yaml\n")
        return 2
    kind = os.environ.get("GOCART_KIND") or alertMeta.get("KIND") or "lvk"
    if kind != KIND:
        print(f"{os.path.basename(alertDir)} is a {kind} directory, not {KIND}: nothing to do "
              f"(give this plugin `kinds: [{KIND}]` under trigger.plugins)")
        return 0
    plugin(alertDir, alertMeta)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
