#!/usr/bin/env bash
# Checks the packages built by packaging/build.sh: packaging/check.sh OUTDIR
#
# Run as root on a Debian 12 machine (CI) where the package xhad is NOT
# installed: it installs, upgrades, removes and purges the .deb on this
# machine and cleans up after itself, even on failure. It never runs
# `rpm -i` (that would touch this machine's rpm database) and never runs
# rpmlint as root (it would unpack the payload into /).
#
# Checks, each reported by name:
#   lintian      lintian -I --pedantic: no error or warning beyond the
#                overrides in packaging/lintian-overrides
#   manpages     mandoc -Tlint and groff -man -ww clean, man -l renders
#   rpmlint      as nobody, with packaging/rpmlint.toml (documented filters)
#   payload-deb  dpkg-deb -c against packaging/payload-deb.txt
#   payload-rpm  rpm -qp file list against packaging/payload-rpm.txt
#   rpm-meta     %config(noreplace), scripts, changelog
#   install      dpkg -i: files in place, nothing enabled or started
#   unit         systemd-analyze verify of the installed unit, no output
#   upgrade      dpkg -i VERSION+1 keeps a locally edited xhad.toml
#   remove       dpkg -r keeps the configuration, removes the binary
#   purge        dpkg -P removes configuration and state
# Needs: lintian, rpm, rpmlint, man-db, mandoc, groff, systemd
# (systemd-analyze), go (to pack the upgrade package with nfpm).
set -euo pipefail

die() { echo "check.sh: $*" >&2; exit 1; }
[ $# -eq 1 ] || die "usage: packaging/check.sh OUTDIR (the directory packaging/build.sh wrote)"
[ "$(id -u)" -eq 0 ] || die "run as root: the install checks use dpkg on this machine"

pkgdir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ -d "$1" ] || die "$1 is not a directory; run packaging/build.sh VERSION $1 first"
outdir=$(cd "$1" && pwd)
shopt -s nullglob
debs=("$outdir"/xhad_*_amd64.deb)
rpms=("$outdir"/xhad-*.x86_64.rpm)
[ ${#debs[@]} -eq 1 ] || die "expected exactly one xhad_*_amd64.deb in $outdir, found ${#debs[@]}; run packaging/build.sh VERSION $outdir first"
[ ${#rpms[@]} -eq 1 ] || die "expected exactly one xhad-*.x86_64.rpm in $outdir, found ${#rpms[@]}"
deb=${debs[0]}
rpm=${rpms[0]}
[ -f "$outdir/stage/nfpm.yaml" ] || die "$outdir/stage/nfpm.yaml missing; run packaging/build.sh again"
for tool in lintian rpmlint rpm dpkg-deb systemd-analyze man mandoc groff runuser; do
	command -v "$tool" >/dev/null || die "$tool not found: apt-get install lintian rpm rpmlint man-db mandoc groff systemd util-linux"
done

failed=()
fail() {
	echo "check.sh: FAILED $1: $2" >&2
	failed+=("$1")
}
pass() { echo "check.sh: ok     $1"; }

work=$(mktemp -d /tmp/xhad-check.XXXXXX)
installed_by_us=false
cleanup() {
	if $installed_by_us && dpkg-query -W -f='${db:Status-Status}' xhad 2>/dev/null | grep -qv '^not-installed$'; then
		echo "check.sh: cleaning up: dpkg -P xhad" >&2
		dpkg -P xhad >/dev/null 2>&1 || echo "check.sh: cleanup: dpkg -P xhad failed; remove it by hand" >&2
	fi
	rm -rf "$work"
}
trap cleanup EXIT

# Linters run as nobody on copies it can read.
chmod 755 "$work"
mkdir "$work/home" "$work/pkgs"
cp "$deb" "$rpm" "$pkgdir/rpmlint.toml" "$work/pkgs/"
chmod 755 "$work/pkgs" && chmod 644 "$work/pkgs"/*
chown nobody "$work/home"
as_nobody() { runuser -u nobody -- env HOME="$work/home" "$@"; }

# --- lintian
if out=$(as_nobody lintian -I --pedantic --fail-on error,warning "$work/pkgs/$(basename "$deb")" 2>&1) &&
	! grep -qE '^[EW]: ' <<<"$out"; then
	pass lintian
else
	fail lintian "errors or warnings beyond packaging/lintian-overrides:"$'\n'"$out"
fi

# --- rpmlint
out=$(as_nobody rpmlint -c "$work/pkgs/rpmlint.toml" "$work/pkgs/$(basename "$rpm")" 2>&1) || true
if grep -qE ': [EW]: ' <<<"$out" || ! grep -q ' 0 errors, 0 warnings' <<<"$out"; then
	fail rpmlint "findings beyond the filters in packaging/rpmlint.toml:"$'\n'"$out"
else
	pass rpmlint
fi

# --- man pages as packed: mandoc -Tlint (style messages included) and
# groff -ww clean, and man -l renders them
for page in "$outdir"/stage/xhad.8.gz "$outdir"/stage/xhad.toml.5.gz; do
	name=$(basename "$page" .gz)
	zcat "$page" >"$work/$name"
	out=$( { mandoc -Tlint "$work/$name" 2>&1 || true; groff -man -ww -z "$work/$name" 2>&1 || true; } )
	rendered=$(MANWIDTH=80 MANPAGER=cat man -l "$work/$name" 2>/dev/null || true)
	if [ -n "$out" ]; then
		fail manpages "$name is not lint clean:"$'\n'"$out"
	elif ! grep -q '^NAME' <<<"$rendered"; then
		fail manpages "man -l $name rendered no NAME section"
	else
		pass "manpages ($name)"
	fi
done

# --- payload listings (the DRBD snippets are added from packaging/drbd/)
drbd=()
for f in "$pkgdir"/drbd/*.example; do drbd+=("$(basename "$f")"); done
[ ${#drbd[@]} -gt 0 ] || fail payload "no packaging/drbd/*.example to expect"
{
	grep -v '^#' "$pkgdir/payload-deb.txt"
	for n in "${drbd[@]}"; do echo "-rw-r--r-- ./usr/share/doc/xhad/examples/drbd/$n"; done
} | LC_ALL=C sort -k2 >"$work/want-deb"
dpkg-deb -c "$deb" | awk '{print $1, $6}' | LC_ALL=C sort -k2 >"$work/got-deb"
if d=$(diff -u "$work/want-deb" "$work/got-deb"); then
	pass payload-deb
else
	fail payload-deb "dpkg-deb -c differs from packaging/payload-deb.txt (- expected, + in the package):"$'\n'"$d"
fi
{
	grep -v '^#' "$pkgdir/payload-rpm.txt"
	for n in "${drbd[@]}"; do echo "-rw-r--r-- d /usr/share/doc/xhad/examples/drbd/$n"; done
} | LC_ALL=C sort -k3 >"$work/want-rpm"
rpm -qp --qf '[%{FILEMODES:perms} %{FILEFLAGS:fflags} %{FILENAMES}\n]' "$rpm" |
	awk '{ if (NF == 2) print $1, "-", $2; else print }' | LC_ALL=C sort -k3 >"$work/got-rpm"
if d=$(diff -u "$work/want-rpm" "$work/got-rpm"); then
	pass payload-rpm
else
	fail payload-rpm "rpm -qp file list differs from packaging/payload-rpm.txt (- expected, + in the package):"$'\n'"$d"
fi

# --- rpm metadata: scripts guarded, changelog present
scripts=$(rpm -qp --scripts "$rpm")
changelog=$(rpm -qp --changelog "$rpm")
if grep -q 'preuninstall scriptlet' <<<"$scripts" && grep -q '/run/systemd/system' <<<"$scripts" &&
	! grep -qE 'systemctl[^|]*(start|enable) ' <<<"$scripts" && [ -n "$changelog" ]; then
	pass rpm-meta
else
	fail rpm-meta "expected guarded scripts that never start or enable xhad, and a %changelog:"$'\n'"$scripts"$'\n'"$changelog"
fi

# --- install, unit, upgrade, remove, purge (on this machine)
status() { dpkg-query -W -f='${db:Status-Abbrev}' xhad 2>/dev/null | tr -d ' ' || true; }
mode() { stat -c %a "$1" 2>/dev/null || echo missing; }
xhad_running() {
	local p
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/exe" 2>/dev/null)" = /usr/sbin/xhad ] && return 0
	done
	return 1
}

lifecycle() {
	local st
	st=$(status)
	if [ -n "$st" ] && [ "$st" != un ]; then
		fail install "the package xhad is already known to dpkg here (status '$st'); check.sh only runs where it is not installed"
		return
	fi
	installed_by_us=true
	version=$(dpkg-deb -f "$deb" Version)

	if ! out=$(dpkg -i "$deb" </dev/null 2>&1); then
		fail install "dpkg -i $deb:"$'\n'"$out"
		return
	fi
	local problems=()
	[ "$(status)" = ii ] || problems+=("dpkg status is '$(status)', not ii")
	/usr/sbin/xhad version | grep -q . || problems+=("/usr/sbin/xhad version printed nothing")
	[ "$(mode /etc/xhad/xhad.toml)" = 640 ] || problems+=("/etc/xhad/xhad.toml mode $(mode /etc/xhad/xhad.toml), want 640")
	[ "$(mode /var/lib/xhad)" = 700 ] || problems+=("/var/lib/xhad mode $(mode /var/lib/xhad), want 700")
	[ "$(mode /run/xhad)" = 700 ] || problems+=("/run/xhad mode $(mode /run/xhad), want 700 (systemd-tmpfiles in postinst)")
	man -w xhad >/dev/null 2>&1 || problems+=("man -w xhad finds no page")
	man -w 5 xhad.toml >/dev/null 2>&1 || problems+=("man -w 5 xhad.toml finds no page")
	[ ! -e /etc/systemd/system/multi-user.target.wants/xhad.service ] || problems+=("the unit was enabled on install")
	! xhad_running || problems+=("an xhad process runs after install: the package must never start it")
	grep -q '^/etc/xhad/xhad.toml$' /var/lib/dpkg/info/xhad.conffiles 2>/dev/null || problems+=("/etc/xhad/xhad.toml is not a conffile")
	if [ ${#problems[@]} -eq 0 ]; then pass install; else fail install "$(printf '%s\n' "${problems[@]}")"; fi

	# systemd-analyze verify exits 0 even on unknown keys: any output fails.
	if out=$(systemd-analyze verify /lib/systemd/system/xhad.service 2>&1) && [ -z "$out" ]; then
		pass unit
	else
		fail unit "systemd-analyze verify /lib/systemd/system/xhad.service:"$'\n'"$out"
	fi

	# Upgrade to VERSION+1 (the same files packed with a higher version).
	local up_version=${version%-*}+1
	local up_deb=$work/xhad_${up_version}_amd64.deb
	local marker="# local edit by check.sh $$"
	echo "$marker" >>/etc/xhad/xhad.toml
	if ! out=$(cd "$pkgdir/tools" && VERSION=$up_version XHAD_STAGE=$outdir/stage XHAD_PKGDIR=$pkgdir \
		go tool nfpm package -f "$outdir/stage/nfpm.yaml" -p deb -t "$up_deb" 2>&1); then
		fail upgrade "could not pack the upgrade package with nfpm:"$'\n'"$out"
	elif ! out=$(dpkg -i "$up_deb" </dev/null 2>&1); then
		fail upgrade "dpkg -i $up_deb:"$'\n'"$out"
	elif [ "$(dpkg-query -W -f='${Version}' xhad)" != "$up_version-1" ]; then
		fail upgrade "installed version is $(dpkg-query -W -f='${Version}' xhad), want $up_version-1"
	elif ! grep -qxF "$marker" /etc/xhad/xhad.toml; then
		fail upgrade "the local edit of /etc/xhad/xhad.toml was lost"
	elif xhad_running; then
		fail upgrade "an xhad process runs after the upgrade"
	else
		pass upgrade
	fi

	if ! out=$(dpkg -r xhad </dev/null 2>&1); then
		fail remove "dpkg -r xhad:"$'\n'"$out"
	elif [ "$(status)" != rc ]; then
		fail remove "dpkg status after remove is '$(status)', want rc (config files kept)"
	elif [ -e /usr/sbin/xhad ] || [ -e /lib/systemd/system/xhad.service ]; then
		fail remove "files left after dpkg -r: $(ls -d /usr/sbin/xhad /lib/systemd/system/xhad.service 2>/dev/null)"
	elif ! grep -qxF "$marker" /etc/xhad/xhad.toml 2>/dev/null; then
		fail remove "dpkg -r did not keep the edited /etc/xhad/xhad.toml"
	else
		pass remove
	fi

	if ! out=$(dpkg -P xhad </dev/null 2>&1); then
		fail purge "dpkg -P xhad:"$'\n'"$out"
	elif [ -e /etc/xhad/xhad.toml ] || [ -e /var/lib/xhad ]; then
		fail purge "left after dpkg -P: $(ls -d /etc/xhad/xhad.toml /var/lib/xhad 2>/dev/null)"
	elif st=$(status) && [ -n "$st" ] && [ "$st" != un ]; then
		fail purge "dpkg status after purge is '$st'"
	else
		pass purge
	fi
	rmdir /etc/xhad 2>/dev/null || true
}
lifecycle

if [ ${#failed[@]} -gt 0 ]; then
	echo "check.sh: FAILED checks: ${failed[*]}" >&2
	exit 1
fi
echo "check.sh: all checks passed for $(basename "$deb") and $(basename "$rpm")"
