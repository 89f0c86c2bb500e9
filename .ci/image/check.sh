#!/usr/bin/env bash
# Compares .ci/image/dpkg-status (the dpkg state of a new machine of this
# project's kind, recorded on 2026-12-02) with the package list the workplace
# publishes for that kind. A difference means the image changed: record the
# status file again on a new machine (see README.md) so test.sh keeps checking
# its package transaction against what a new machine really has.
set -euo pipefail
cd "$(dirname "$0")"
list=$1
diff -u \
  <(grep -P '^apt\t' "$list" | cut -f2,3 | sed 's/:[a-z0-9]*\t/\t/' | sort -u) \
  <(awk '/^Package:/{p=$2} /^Version:/{print p "\t" $2}' dpkg-status | sort -u) \
  && echo "image: dpkg-status matches $list ($(grep -c '^Package:' dpkg-status) packages)"
