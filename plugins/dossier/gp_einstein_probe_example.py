#!/usr/bin/env python3
# encoding: utf-8
"""
*gocart example plugin for einstein_probe directories: the transient's position and error*

Copy it into the plugins folder; it runs on the directories of kind ``einstein_probe`` once
the settings give it that kind:

    trigger:
        plugins:
            gp_einstein_probe_example.py:
                kinds: [einstein_probe]

It reads the position from its directory's meta.yaml (``EXTRA``: ra, dec, error in
degrees, image_snr).
On any other kind of directory it says so and does nothing. Test it by hand:

    python3 gp_einstein_probe_example.py ~/lvk_events/transients/einstein_probe/EP240305a/20240305T120000_alert/

Needs only Python 3 and PyYAML.
"""
import os
import sys

try:
    import yaml
except ImportError:
    sys.stderr.write("gp_einstein_probe_example.py needs PyYAML: `pip install pyyaml`\n")
    sys.exit(2)

KIND = "einstein_probe"


def plugin(alertDir, alertMeta):
    """*prints the transient's position, error circle and image SNR*"""
    extra = alertMeta.get("EXTRA") or {}
    notice = alertMeta.get("NOTICE") or {}
    name = notice.get("id") or os.path.basename(os.path.dirname(alertDir))
    print(f"Einstein Probe transient {name}: RA {extra.get('ra')} Dec {extra.get('dec')} "
          f"(error {extra.get('error')} deg), image SNR {extra.get('image_snr')}")


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
