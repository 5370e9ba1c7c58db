#!/usr/bin/env python3
# encoding: utf-8
"""
*gocart example plugin for swift_guano directories: the GUANO localisation's position and error*

Copy it into the plugins folder; it runs on the directories of kind ``swift_guano`` once
the settings give it that kind:

    trigger:
        plugins:
            gp_swift_guano_example.py:
                kinds: [swift_guano]

It reads the position from its directory's meta.yaml (``EXTRA``: alert_type, ra, dec,
error in degrees, far).
On any other kind of directory it says so and does nothing. Test it by hand:

    python3 gp_swift_guano_example.py ~/lvk_events/transients/swift_guano/1234/20240305T120000_subthreshold/

Needs only Python 3 and PyYAML.
"""
import os
import sys

try:
    import yaml
except ImportError:
    sys.stderr.write("gp_swift_guano_example.py needs PyYAML: `pip install pyyaml`\n")
    sys.exit(2)

KIND = "swift_guano"


def plugin(alertDir, alertMeta):
    """*prints the notice's type, position, error circle and false-alarm rate*"""
    extra = alertMeta.get("EXTRA") or {}
    if extra.get("ra") is None:
        where = "no position"
    else:
        where = f"RA {extra.get('ra')} Dec {extra.get('dec')} (error {extra.get('error')} deg)"
    print(f"Swift BAT-GUANO {extra.get('alert_type', '?')} notice: {where}, "
          f"FAR {extra.get('far')} Hz")


# ---------------------------------------------------------------------------
# Below: reading the alert directory. You do not need to change anything here.
# ---------------------------------------------------------------------------

def read_meta(directory):
    try:
        with open(os.path.join(directory, "meta.yaml")) as f:
            return yaml.safe_load(f)
    except OSError:
        return None


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
