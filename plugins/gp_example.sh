#!/bin/sh
# gocart plugin example in shell: prints one line per alert, kept in the run log
# (`gocart-trigger status`). gocart-trigger runs it as `gp_example.sh <alert_dir>`
# with GOCART_ALERT_DIR, GOCART_SUPEREVENT_ID, GOCART_ALERT_TYPE and GOCART_SETTINGS
# set. Copy it to gp_<something> (keep it executable) and replace the echo with
# what you need: a page, a chat message, a telescope request.
set -eu
dir="${1:-${GOCART_ALERT_DIR:?usage: gp_example.sh <alert_dir>}}"
files=$(ls "$dir" | wc -l)
echo "${GOCART_ALERT_TYPE:-?} alert of ${GOCART_SUPEREVENT_ID:-?}: $files files in $dir"
