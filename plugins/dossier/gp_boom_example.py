#!/usr/bin/env python3
# encoding: utf-8
"""
*gocart example plugin for boom directories: the optical candidate and its position's credible level in the event's LVK map*

Copy it into the plugins folder; it runs on the directories of kind ``boom`` once
the settings give it that kind:

    trigger:
        plugins:
            gp_boom_example.py:
                kinds: [boom]

It reads the candidate from its directory's meta.yaml (``EXTRA``: event_name, ra, dec,
classification) and the newest LVK alert directory of the event (``skymap.csv``).
On any other kind of directory it says so and does nothing. Test it by hand:

    python3 gp_boom_example.py ~/lvk_events/superevents/S251117bs/20251130T102857_boom-ZTF25acffkdr/

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
    sys.stderr.write("gp_boom_example.py needs PyYAML: `pip install pyyaml`\n")
    sys.exit(2)

KIND = "boom"


def plugin(alertDir, alertMeta):
    """*prints the candidate, its position and its credible level in the LVK map*"""
    extra = alertMeta.get("EXTRA") or {}
    name = extra.get("event_name", "?")
    event = extra.get("superevent_id", "?")
    ra, dec = extra.get("ra"), extra.get("dec")
    print(f"BOOM candidate {name} for {event}: RA {ra} Dec {dec}, "
          f"classification {extra.get('classification') or 'none'}")
    lvk = newest_lvk_dir(alertDir)
    pixels = read_skymap(lvk) if lvk else None
    if ra is None or dec is None:
        print("  the notice gives no position")
    elif not pixels:
        print(f"  no LVK sky map of {event} to place it in")
    else:
        level = credible_level(pixels, ra, dec)
        print(f"  credible level {level:.3f} in {os.path.basename(lvk)}'s map")


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
