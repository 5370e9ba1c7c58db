#!/usr/bin/env python3
# encoding: utf-8
"""
*gocart example plugin for circular directories: the circular's subject and who sent it*

Copy it into the plugins folder; it runs on the directories of kind ``circular`` once
the settings give it that kind:

    trigger:
        plugins:
            gp_circular_example.py:
                kinds: [circular]

It reads the circular from its directory's meta.yaml (``EXTRA``: circular_id, subject;
``NOTICE``: submitter).
On any other kind of directory it says so and does nothing. Test it by hand:

    python3 gp_circular_example.py ~/lvk_events/superevents/S230518h/20230518T130000_circular-33810/

Needs only Python 3 and PyYAML.
"""
import os
import sys

try:
    import yaml
except ImportError:
    sys.stderr.write("gp_circular_example.py needs PyYAML: `pip install pyyaml`\n")
    sys.exit(2)

KIND = "circular"


def plugin(alertDir, alertMeta):
    """*prints the circular's number, subject and submitter*"""
    extra = alertMeta.get("EXTRA") or {}
    notice = alertMeta.get("NOTICE") or {}
    number = extra.get("circular_id", notice.get("circularId", "?"))
    subject = extra.get("subject", notice.get("subject", "?"))
    print(f"GCN Circular {number}: {subject}")
    print(f"  from {notice.get('submitter', 'an unknown submitter')}")


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
