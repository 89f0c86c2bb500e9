#!/bin/bash
# Builds OUT_DIR: a small Debian mirror subset with what debian-installer's
# netboot image fetches at its start (net-retriever and anna), laid out as a
# mirror (dists/SUITE/..., pool/...) so awl can serve it from its files root
# (http://SERVER/boot/mirror with OUT_DIR = FILES_ROOT/mirror):
#
#   dists/SUITE/Release      unsigned (no Release.gpg, no InRelease): the
#                            preseed needs debian-installer/allow_unauthenticated
#                            true, else net-retriever stops at "Release is
#                            unsigned"; lists SHA256 and MD5Sum of the files below
#   dists/SUITE/main/debian-installer/binary-ARCH/Packages{,.gz,.xz}
#   pool/main/...            the udebs anna installs at its start: Priority
#                            required/important/standard with Kernel-Version
#                            KERNEL_ABI (or none), plus their Depends, each
#                            downloaded and checked against its SHA256
#
# Upstream mirrors (and caches) may not serve every udeb: a 404 is reported
# and skipped. INDEX=served (default) lists in Packages only the udebs that
# were downloaded, so anna fetches nothing that 404s; INDEX=full keeps the
# upstream index whole (anna then fails on the first missing udeb).
#
# Usage: images/mirror.sh OUT_DIR [SUITE=bookworm] [ARCH=amd64]
# Environment:
#   MIRROR      upstream mirror URL (default: apt's configured Debian mirror,
#               from `apt-get indextargets`, else http://deb.debian.org/debian)
#   KERNEL_ABI  e.g. 6.1.0-50-amd64 (default: the newest Kernel-Version in the
#               index; it must be the netboot kernel's `uname -r`)
#   INDEX       served (default) | full
#   JOBS        parallel downloads (default 8)
# Idempotent: files already present with the right SHA256 are not fetched
# again; the indices are rebuilt each run. Needs curl, xz, gzip, awk.
set -euo pipefail

die() { echo "mirror.sh: error: $*" >&2; exit 1; }
[ $# -ge 1 ] && [ $# -le 3 ] || die "usage: $0 OUT_DIR [SUITE=bookworm] [ARCH=amd64]"
for tool in curl xz gzip awk sha256sum md5sum xargs; do
    command -v "$tool" >/dev/null || die "$tool is missing"
done

OUT=$(mkdir -p "$1" && cd "$1" && pwd)
SUITE=${2:-bookworm}
ARCH=${3:-amd64}
INDEX=${INDEX:-served}
JOBS=${JOBS:-8}
case "$INDEX" in served|full) ;; *) die "INDEX must be served or full, not $INDEX" ;; esac

if [ -z "${MIRROR:-}" ]; then
    # apt's own view of its sources (one-line and deb822 formats alike).
    MIRROR=$(apt-get indextargets --format '$(URI)' 'Created-By: Packages' 2>/dev/null \
        | sed -n 's#/dists/[^/]*/main/binary-[^/]*/Packages$##p' \
        | grep -v -- '-security' | head -n1 || true)
    MIRROR=${MIRROR:-http://deb.debian.org/debian}
fi
MIRROR=${MIRROR%/}

DI="main/debian-installer/binary-$ARCH"
DIST="$OUT/dists/$SUITE"
WORK="$OUT/.mirror-work"
rm -rf "$WORK"
mkdir -p "$WORK" "$DIST/$DI"
trap 'rm -rf "$WORK"' EXIT

echo "mirror.sh: $MIRROR dists/$SUITE ($ARCH) -> $OUT"

fetch() { # URL FILE: 0 on success, 2 on 404, dies on anything else
    local code
    code=$(curl -sS -L --retry 3 -o "$2.part" -w '%{http_code}' "$1") \
        || die "fetching $1 failed (curl exit $?)"
    case "$code" in
        200) mv "$2.part" "$2" ;;
        404|410) rm -f "$2.part"; return 2 ;;
        *) rm -f "$2.part"; die "fetching $1: HTTP $code" ;;
    esac
}

fetch "$MIRROR/dists/$SUITE/Release" "$WORK/Release.upstream" \
    || die "$MIRROR/dists/$SUITE/Release: 404 (no such suite?)"
fetch "$MIRROR/dists/$SUITE/$DI/Packages.xz" "$WORK/Packages.xz" \
    || die "$MIRROR/dists/$SUITE/$DI/Packages.xz: 404 (no installer index for $ARCH?)"
# Check the index against upstream's Release (unsigned check: it is ours to trust).
want=$(awk -v f="$DI/Packages.xz" '/^SHA256:/{s=1;next} /^[^ ]/{s=0} s&&$3==f{print $1}' "$WORK/Release.upstream")
[ -n "$want" ] || die "upstream Release lists no SHA256 for $DI/Packages.xz"
[ "$(sha256sum < "$WORK/Packages.xz" | cut -d' ' -f1)" = "$want" ] \
    || die "upstream $DI/Packages.xz does not match its Release (mirror mid-update? run again)"
xz -dc "$WORK/Packages.xz" > "$WORK/Packages.upstream"

if [ -z "${KERNEL_ABI:-}" ]; then
    KERNEL_ABI=$(sed -n 's/^Kernel-Version: //p' "$WORK/Packages.upstream" | sort -uV | tail -n1)
fi
grep -qx "Kernel-Version: $KERNEL_ABI" "$WORK/Packages.upstream" \
    || die "no udeb in the index has Kernel-Version $KERNEL_ABI"
echo "mirror.sh: kernel ABI $KERNEL_ABI (set KERNEL_ABI to the netboot kernel's if it differs)"

# The set anna installs by itself: priority standard or higher, this kernel's
# modules, and the Depends closure (first alternative; virtual names through
# Provides). Prints "PACKAGE FILENAME SHA256" per udeb.
awk -v KV="$KERNEL_ABI" '
BEGIN { RS = ""; FS = "\n" }
{
    pkg = pri = kv = dep = fn = sha = prov = ""
    for (i = 1; i <= NF; i++) {
        if ($i ~ /^Package: /) pkg = substr($i, 10)
        else if ($i ~ /^Priority: /) pri = substr($i, 11)
        else if ($i ~ /^Kernel-Version: /) kv = substr($i, 17)
        else if ($i ~ /^Depends: /) dep = substr($i, 10)
        else if ($i ~ /^Provides: /) prov = substr($i, 11)
        else if ($i ~ /^Filename: /) fn = substr($i, 11)
        else if ($i ~ /^SHA256: /) sha = substr($i, 9)
    }
    if (kv != "" && kv != KV) next
    F[pkg] = fn; H[pkg] = sha; D[pkg] = dep
    n = split(prov, pp, /, */)
    for (j = 1; j <= n; j++) { sub(/ .*/, "", pp[j]); if (!(pp[j] in P)) P[pp[j]] = pkg }
    if (pri == "required" || pri == "important" || pri == "standard") Q[++q] = pkg
}
END {
    while (q > 0) {
        p = Q[q--]
        if (!(p in F)) { if (p in P) p = P[p]; else continue }
        if (p in S) continue
        S[p] = 1
        n = split(D[p], dd, /, */)
        for (j = 1; j <= n; j++) {
            d = dd[j]; sub(/ *\|.*/, "", d); sub(/ .*/, "", d)
            if (d != "") Q[++q] = d
        }
    }
    for (p in S) print p, F[p], H[p]
}' "$WORK/Packages.upstream" | sort > "$WORK/wanted"
[ -s "$WORK/wanted" ] || die "no udeb selected from the index"

# Download (in parallel); each job prints "200 PKG", "have PKG" or "404 PKG".
export MIRROR OUT
get_one() {
    local pkg=$1 file=$2 sha=$3 dest="$OUT/$2" code
    if [ -f "$dest" ] && [ "$(sha256sum < "$dest" | cut -d' ' -f1)" = "$sha" ]; then
        echo "have $pkg $file"; return 0
    fi
    mkdir -p "$(dirname "$dest")"
    code=$(curl -sS -L --retry 3 -o "$dest.part" -w '%{http_code}' "$MIRROR/$file") || code="curl-exit-$?"
    case "$code" in
        200)
            if [ "$(sha256sum < "$dest.part" | cut -d' ' -f1)" != "$sha" ]; then
                rm -f "$dest.part"; echo "badsum $pkg $file"; return 0
            fi
            mv "$dest.part" "$dest"; echo "200 $pkg $file" ;;
        *) rm -f "$dest.part" "$dest"; echo "$code $pkg $file" ;;
    esac
}
export -f get_one
xargs -P "$JOBS" -L 1 bash -c 'get_one "$@"' _ < "$WORK/wanted" | sort > "$WORK/results"

got=$(awk '$1=="200"||$1=="have"' "$WORK/results" | wc -l)
missing=$(awk '$1!="200"&&$1!="have"' "$WORK/results" | wc -l)
awk '$1=="200"{print "mirror.sh: fetched " $3} $1=="have"{print "mirror.sh: have    " $3}' "$WORK/results"
awk '$1!="200"&&$1!="have"{print "mirror.sh: " $1 "     " $3 " (skipped)"}' "$WORK/results"
awk '$1!="404"&&$1!="200"&&$1!="have"{bad=1} END{exit bad}' "$WORK/results" \
    || die "some downloads failed other than with 404 (listed above)"
[ "$got" -gt 0 ] || die "not one udeb could be downloaded from $MIRROR"

# The installer index: upstream's, or only the udebs we serve.
if [ "$INDEX" = full ]; then
    cp "$WORK/Packages.upstream" "$WORK/Packages"
else
    awk '$1=="200"||$1=="have"{print $2}' "$WORK/results" > "$WORK/served"
    awk -v served="$WORK/served" '
        BEGIN { while ((getline p < served) > 0) keep[p] = 1; RS = ""; FS = "\n" }
        { for (i = 1; i <= NF; i++) if ($i ~ /^Package: /) p = substr($i, 10)
          if (p in keep) printf "%s\n\n", $0 }' "$WORK/Packages.upstream" > "$WORK/Packages"
fi
install -m 644 "$WORK/Packages" "$DIST/$DI/Packages"
gzip -9nc "$DIST/$DI/Packages" > "$DIST/$DI/Packages.gz"
xz -6c "$DIST/$DI/Packages" > "$DIST/$DI/Packages.xz"
rm -f "$DIST/Release.gpg" "$DIST/InRelease"
# choose-mirror's fallback architecture check, for a Release without Architectures.
mkdir -p "$DIST/main/binary-$ARCH"
printf 'Archive: %s\nComponent: main\nArchitecture: %s\n' "$SUITE" "$ARCH" > "$DIST/main/binary-$ARCH/Release"

# Release: upstream's identity fields (choose-mirror reads Suite, Codename and
# Architectures), then checksums of exactly what is served.
{
    # Suite is this folder's name: choose-mirror looks for dists/SUITE/ by the
    # Suite it reads (upstream says oldstable, which this mirror has not), and
    # then finds no architecture ("Architecture not supported").
    grep -E '^(Origin|Label):' "$WORK/Release.upstream"
    echo "Suite: $SUITE"
    grep -E '^(Version|Codename):' "$WORK/Release.upstream"
    echo "Date: $(LC_ALL=C date -u '+%a, %d %b %Y %H:%M:%S UTC')"
    echo "Architectures: $ARCH"
    echo "Components: main"
    echo "Description: awl mirror subset for debian-installer (unsigned)"
    for sum in MD5Sum:md5sum SHA256:sha256sum; do
        echo "${sum%%:*}:"
        for f in main/binary-$ARCH/Release $DI/Packages $DI/Packages.gz $DI/Packages.xz; do
            printf ' %s %8s %s\n' "$(${sum#*:} < "$DIST/$f" | cut -d' ' -f1)" \
                "$(stat -c %s "$DIST/$f")" "$f"
        done
    done
} > "$DIST/Release.new"
mv "$DIST/Release.new" "$DIST/Release"

echo "mirror.sh: $got udeb(s) served, $missing not available upstream; index: $INDEX" \
     "($(grep -c '^Package:' "$DIST/$DI/Packages") package(s) in Packages)"
echo "mirror.sh: $(du -sh "$OUT" | cut -f1) in $OUT"
