#!/usr/bin/env bash
# Builds the Debian package with cargo-deb and installs it in a fresh, minimal
# Debian 12 chroot, as root:
#
#   sudo scripts/package-test.sh
#
# Steps (docs/packaging.md):
#   1. `cargo deb` (cargo-deb $cargo_deb_version below, installed with
#      `cargo install cargo-deb --locked --version ...` when missing or another
#      version): surface-check_<version>-1_amd64.deb
#   2. `debootstrap --variant=minbase bookworm` from the host's Debian mirror (an
#      http(s) URI of suite bookworm in its apt sources whose dists/bookworm/Release
#      answers; else deb.debian.org), /proc mounted in it (systemd's and dbus's
#      set-up need it)
#   3. apt-get installs the package's Depends in the chroot, and systemd and
#      man-db to check the units and the man pages with
#   4. `dpkg -i` of the package (must exit 0) with a fake /run/systemd/system
#      (systemd "running") and recorders in place of deb-systemd-invoke and
#      systemctl: postinst starts the daemon and the timer. Then, in the chroot:
#      - `dpkg -L` equals `scripts/install.sh --prefix /usr` with the package's
#        binaries (the documentation directory and directories left out)
#      - the files are where the units and the bus expect them: ExecStart= and
#        Exec= binaries, the activation file's SystemdService= unit, the bus
#        policy, the polkit actions, man pages (`man -w`), completions
#      - postinst enabled surface-checkd.service and surface-check-report.timer:
#        every WantedBy= and Alias= symlink in /etc/systemd/system
#      - `systemd-analyze verify` of the installed units
#      - a real dbus-daemon with the system configuration reads the policy
#        without an error, starts surface-checkd by D-Bus activation (Exec=,
#        User=), which owns io.github.SurfaceCheck1, and `surface-check status`
#        as user nobody gets the report over the bus
#      - `surface-check --version`, `surface-check status --root TREE`, and
#        `surface-check report --root TREE`, which writes the history
#        /var/lib/surface-check
#      - no process is left with its root in the chroot
#   5. `dpkg -i` again (an upgrade: restarts the units) and `dpkg --remove`
#      (stops them) keep the history; a timer disabled with deb-systemd-helper
#      stays disabled across a reinstall; `dpkg --purge` then removes the
#      history, the enablement symlinks and every file the package installed,
#      and nothing else (the file lists before and after are equal)
# It prints a report of the checks and exits 1 when any failed, 2 when a step
# before them failed. A known warning: the package has no Maintainer field
# (Cargo.toml names no authors; docs/packaging.md).
#
# Needs: root, network access to a Debian mirror, debootstrap, dpkg-dev (for
# cargo-deb's dependency list), Rust (as scripts/test.sh). About 3 minutes with
# the release build done.
#
# cargo-deb's version, pinned: the one the package was checked with.
cargo_deb_version=3.8.0
#
# Environment:
#   SURFACE_CHECK_DEB=FILE          test this .deb instead of building one
#   SURFACE_CHECK_CHROOT_CACHE=DIR  for local iteration: debootstrap into DIR once
#                                   and copy it for each run (DIR is never
#                                   changed after that); by default every run
#                                   bootstraps anew and keeps nothing
#   DEBIAN_MIRROR=URL               the mirror (default: the host's apt sources)
#   KEEP=1                          leave the work directory (its path is printed)
set -euo pipefail
cd "$(dirname "$0")/.."

me=package-test.sh
say() { echo "$me: $*" >&2; }
die() {
    say "$*"
    exit 2
}

[[ "$(id -u)" -eq 0 ]] || die "must run as root (debootstrap, chroot, mount): sudo scripts/package-test.sh"
for tool in debootstrap chroot mount umount dpkg-deb find sort comm; do
    command -v "$tool" >/dev/null || die "$tool not found: apt-get install debootstrap dpkg-dev (scripts/test.sh installs them)"
done

work="$(mktemp -d /var/tmp/surface-check-package-test.XXXXXX)"
root="$work/root"
# The pids of the processes whose root directory is the chroot (the bus, the
# daemon it activated, anything they started).
chrooted() {
    local p r
    for p in /proc/[0-9]*; do
        r="$(readlink "$p/root" 2>/dev/null)" || continue
        if [[ "$r" == "$root" || "$r" == "$root/"* ]]; then echo "${p#/proc/}"; fi
    done
}
cleanup() {
    local rc=$? pid
    # Whatever the daemons left (the bus and the daemon it activated are
    # killed by pid below and checked for; this is for an interrupted run).
    if [[ -n "${bus_pid:-}" ]]; then kill "$bus_pid" 2>/dev/null || true; fi
    if [[ -n "${daemon_pid:-}" ]]; then kill "$daemon_pid" 2>/dev/null || true; fi
    for pid in $(chrooted); do kill -KILL "$pid" 2>/dev/null || true; done
    if mountpoint -q "$root/proc" 2>/dev/null; then umount "$root/proc" || umount -l "$root/proc" || true; fi
    if [[ "${KEEP:-}" == 1 ]]; then
        say "work directory kept: $work"
    else
        rm -rf --one-file-system "$work"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------
# 1. The package.
if [[ -n "${SURFACE_CHECK_DEB:-}" ]]; then
    deb="$SURFACE_CHECK_DEB"
    [[ -f "$deb" ]] || die "SURFACE_CHECK_DEB=$deb is not a file"
else
    # shellcheck source=scripts/rust-toolchain.sh
    . scripts/rust-toolchain.sh
    find_rust "$me"
    find_libclang "$me"
    find_libudev "$me"
    command -v dpkg-shlibdeps >/dev/null ||
        die "dpkg-shlibdeps not found (cargo-deb computes Depends with it): apt-get install dpkg-dev"
    have="$(cargo deb --version 2>/dev/null || true)"
    if [[ "$have" != "cargo-deb $cargo_deb_version" ]]; then
        say "cargo-deb ${have:-not found}, $cargo_deb_version wanted: cargo install cargo-deb --locked --version $cargo_deb_version"
        cargo install cargo-deb --locked --version "$cargo_deb_version"
    fi
    say "building the package: cargo deb ($(cargo deb --version))"
    cargo deb --output "$work/" >&2
    deb="$(ls "$work"/surface-check_*.deb)"
fi
say "package: $deb"
pkg_version="$(dpkg-deb -f "$deb" Version 2>/dev/null)"

# ---------------------------------------------------------------------------
# 2. The chroot.
# The http(s) URIs the host's apt sources give for suite bookworm, in either
# format: one-line "deb [options] URI SUITE COMPONENT..." and deb822 stanzas
# (Types: deb, URIs:, Suites:, Enabled:). Other suites (bookworm-security,
# a third party's own) and other schemes (mirror+file:, file:, cdrom:) are
# left out: debootstrap could not use them.
bookworm_uris() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -r "$f" ]] || continue
        sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" | awk '$1 == "deb" && $3 == "bookworm" { print $2 }'
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -r "$f" ]] || continue
        sed 's/#.*//' "$f" | awk '
            function flush() {
                if (deb && suite && enabled) for (i = 1; i <= n; i++) print uris[i]
                deb = 0; suite = 0; enabled = 1; n = 0
            }
            BEGIN { enabled = 1 }
            /^[[:space:]]*$/ { flush(); next }
            tolower($1) == "types:" { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
            tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == "bookworm") suite = 1 }
            tolower($1) == "enabled:" { enabled = ($2 != "no") }
            tolower($1) == "uris:" { for (i = 2; i <= NF; i++) uris[++n] = $i }
            END { flush() }'
    done
}
# Is URI a Debian archive serving bookworm? apt's own downloader (in every
# Debian) fetches its Release file, which must say Origin: Debian (a third
# party's repository, e.g. Docker's, has a bookworm suite of its own).
serves_bookworm() { # URI
    local out
    out="$(mktemp "$work/release.XXXXXX")"
    timeout 20 /usr/lib/apt/apt-helper download-file "${1%/}/dists/bookworm/Release" "$out" >/dev/null 2>&1 &&
        grep -qx 'Origin: Debian' "$out" && grep -qx 'Codename: bookworm' "$out"
}
mirror="${DEBIAN_MIRROR:-}"
if [[ -z "$mirror" ]]; then
    while read -r uri; do
        [[ "$uri" == http://* || "$uri" == https://* ]] || continue
        if serves_bookworm "$uri"; then
            mirror="${uri%/}"
            break
        fi
        say "the host's apt source $uri does not serve bookworm (no dists/bookworm/Release): not used"
    done < <(bookworm_uris)
    mirror="${mirror:-http://deb.debian.org/debian}"
fi
bootstrap() { # DIR
    say "debootstrap --variant=minbase bookworm $1 $mirror (2-3 minutes)"
    debootstrap --variant=minbase bookworm "$1" "$mirror" >"$work/debootstrap.log" 2>&1 ||
        die "debootstrap failed; its log: $work/debootstrap.log (KEEP=1 keeps it)"
}
if [[ -n "${SURFACE_CHECK_CHROOT_CACHE:-}" ]]; then
    cache="$SURFACE_CHECK_CHROOT_CACHE"
    if [[ ! -x "$cache/usr/bin/apt-get" ]]; then
        [[ ! -e "$cache" || -z "$(ls -A "$cache")" ]] || die "SURFACE_CHECK_CHROOT_CACHE=$cache is neither empty nor a bootstrapped chroot"
        mkdir -p "$cache"
        bootstrap "$cache"
    fi
    say "copying the bootstrapped chroot $cache"
    cp -a "$cache" "$root"
else
    bootstrap "$root"
fi

mount -t proc proc "$root/proc"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# No service starts in the chroot on its own (dbus's postinst would start a
# system bus otherwise); the bus below is started and stopped by this script.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"

chroot_env=(/usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive)
in_chroot() {
    chroot "$root" "${chroot_env[@]}" "$@"
}

# systemd "running" for the maintainer scripts: /run/systemd/system (what they
# test) and, first in their PATH, recorders of deb-systemd-invoke and systemctl
# that write what they were asked to /tmp/invoked and start nothing.
# `systemctl --root=...` (deb-systemd-helper's `preset`, which only makes
# symlinks) goes on to the real systemctl. /run and /tmp are outside the file
# lists compared after purge; fake_systemd off removes the directory again, so
# that the other checks (dbus-daemon asks systemd to activate when it finds it)
# see a chroot without systemd.
mkdir -p "$root/tmp/recorders"
printf '#!/bin/sh\necho "deb-systemd-invoke $*" >>/tmp/invoked\n' >"$root/tmp/recorders/deb-systemd-invoke"
printf '#!/bin/sh\necho "systemctl $*" >>/tmp/invoked\ncase "$1" in --root=*) exec /usr/bin/systemctl "$@" ;; esac\n' \
    >"$root/tmp/recorders/systemctl"
chmod 0755 "$root/tmp/recorders/deb-systemd-invoke" "$root/tmp/recorders/systemctl"
fake_systemd() { # on|off
    rm -f "$root/tmp/invoked"
    : >"$root/tmp/invoked"
    if [[ "$1" == on ]]; then mkdir -p "$root/run/systemd/system"; else rmdir "$root/run/systemd/system"; fi
}
[[ ! -e "$root/run/systemd/system" ]] || die "$root/run/systemd/system exists after debootstrap: the checks assume no systemd runs"
# dpkg with the recorders first in the maintainer scripts' PATH.
dpkg_recorded() { # DPKG-ARGS...
    in_chroot env PATH=/tmp/recorders:/usr/sbin:/usr/bin:/sbin:/bin dpkg "$@"
}
# Did a maintainer script run exactly this line (in FILE, a copy of /tmp/invoked)?
invoked() { # FILE LINE
    grep -qxF "$2" "$1" || {
        echo "not run: $2; the maintainer scripts ran:"
        cat "$1"
        return 1
    }
}

# ---------------------------------------------------------------------------
# 3. The package's Depends (first alternative, no version), and what the checks use.
depends="$(dpkg-deb -f "$deb" Depends 2>/dev/null)"
mapfile -t deps < <(tr ',' '\n' <<<"$depends" | sed -e 's/|.*//' -e 's/(.*)//' -e 's/[[:space:]]//g' | grep -v '^$')
say "installing in the chroot: Depends (${deps[*]}), and systemd, man-db for the checks"
in_chroot apt-get -q update >"$work/apt.log" 2>&1 || die "apt-get update in the chroot failed: $work/apt.log"
in_chroot apt-get install -y -q --no-install-recommends "${deps[@]}" systemd man-db >>"$work/apt.log" 2>&1 ||
    die "apt-get install in the chroot failed: $work/apt.log"

# Every path in the chroot but the kernel's, the temporary and the package
# manager's own records.
snapshot() { # FILE
    (cd "$root" && find . -xdev \( -path ./proc -o -path ./tmp -o -path ./run -o -path ./var/tmp \
        -o -path ./var/log -o -path ./var/cache -o -path ./var/lib/dpkg -o -path ./var/lib/apt \) -prune \
        -o -printf '%p %y\n' | LC_ALL=C sort) >"$1"
}
snapshot "$work/before.txt"

# ---------------------------------------------------------------------------
# 4. Install and check.
cp "$deb" "$root/tmp/surface-check.deb"
fake_systemd on
if ! dpkg_recorded -i /tmp/surface-check.deb >"$work/dpkg-install.log" 2>&1; then
    cat "$work/dpkg-install.log" >&2
    die "dpkg -i failed"
fi
cp "$root/tmp/invoked" "$work/invoked-install.txt"
fake_systemd off

passed=0
failed=()
check() { # DESCRIPTION COMMAND...
    local what="$1"
    shift
    if "$@" >"$work/check.out" 2>&1; then
        passed=$((passed + 1))
        echo "  ok    $what"
    else
        failed+=("$what")
        echo "  FAIL  $what"
        sed 's/^/        /' "$work/check.out" | head -n 20
    fi
}
in_test() { in_chroot test "$@"; }
# The values of KEY= in FILE (a unit or the activation file, as installed).
values() { # FILE KEY
    sed -n "s/^$2=//p" "$root$1"
}
# The executable a unit's ExecStart= runs (its prefixes -@:+! dropped).
exec_of() { # FILE KEY
    values "$1" "$2" | head -n 1 | awk '{print $1}' | sed 's/^[-@:+!]*//'
}

echo "$me: checks in the chroot, after dpkg -i $(basename "$deb")"
# Known: no Maintainer field. Cargo.toml names no authors and the package does
# not invent one (docs/packaging.md); dpkg warns about it.
if [[ -z "$(dpkg-deb -f "$deb" Maintainer 2>/dev/null)" ]]; then
    echo "  warn  known: the package has no Maintainer field (Cargo.toml names no authors), dpkg warns about it"
fi
# Whatever else dpkg warned about (a warning and the line after it), e.g. in the
# control file.
if awk 'w { print prev " " $0; w = 0; next } tolower($0) ~ /warning/ { prev = $0; w = 1 } END { if (w) print prev }' \
    "$work/dpkg-install.log" | grep -v "missing 'Maintainer' field" >"$work/dpkg-warnings.txt"; then
    sed 's/^/  note  dpkg: /' "$work/dpkg-warnings.txt"
fi

check "postinst, with systemd running, started the daemon and the timer" \
    invoked "$work/invoked-install.txt" "deb-systemd-invoke start surface-checkd.service surface-check-report.timer"

mapfile -t files < <(in_chroot dpkg -L surface-check 2>/dev/null)

# The package's files (dpkg -L, as installed) are those of
# `scripts/install.sh --prefix /usr` with the package's own binaries: every
# path but directories and the documentation directory (cargo-deb's copyright
# and changelog), man pages without the .gz cargo-deb adds.
layout_diff() {
    local x="$work/deb-x" dest="$work/install-sh"
    rm -rf "$x" "$dest"
    dpkg-deb -x "$deb" "$x" &&
        scripts/install.sh --prefix /usr --destdir "$dest" \
            --binary "$x/usr/bin/surface-check" --daemon "$x/usr/bin/surface-checkd" >/dev/null || return 1
    local f
    for f in "${files[@]}"; do
        [[ "$f" == /usr/share/doc/* ]] && continue
        [[ -d "$root$f" && ! -L "$root$f" ]] && continue
        [[ "$f" == /usr/share/man/*.gz ]] && f="${f%.gz}"
        echo "$f"
    done | LC_ALL=C sort >"$work/dpkg-L.txt"
    (cd "$dest" && find . ! -type d -printf '/%P\n') | LC_ALL=C sort >"$work/install-sh.txt"
    if ! cmp -s "$work/dpkg-L.txt" "$work/install-sh.txt"; then
        echo "only in the package (+), only in install.sh's (-):"
        diff "$work/install-sh.txt" "$work/dpkg-L.txt" | grep '^[<>]' | sed -e 's/^</-/' -e 's/^>/+/'
        return 1
    fi
    [[ -s "$work/dpkg-L.txt" ]]
}
check "dpkg -L equals scripts/install.sh --prefix /usr (the package's binaries)" layout_diff
mapfile -t system_units < <(printf '%s\n' "${files[@]}" | grep -E '^/usr/lib/systemd/system/[^/]+\.(service|timer)$')
mapfile -t user_units < <(printf '%s\n' "${files[@]}" | grep -E '^/usr/lib/systemd/user/[^/]+\.service$')
check "the package installs system units and a user unit (${#system_units[@]} + ${#user_units[@]})" \
    test "${#system_units[@]}" -ge 3 -a "${#user_units[@]}" -ge 1
for unit in "${system_units[@]}" "${user_units[@]}"; do
    [[ "$unit" == *.service ]] || continue
    exe="$(exec_of "$unit" ExecStart)"
    check "$(basename "$unit"): ExecStart= $exe is an executable" in_test -x "$exe" -a -f "$exe"
done

activation=/usr/share/dbus-1/system-services/io.github.SurfaceCheck1.service
check "activation file $activation" in_test -f "$activation"
bus_name="$(values "$activation" Name)"
exe="$(values "$activation" Exec | awk '{print $1}')"
check "activation file: Exec= $exe is an executable" in_test -x "$exe" -a -f "$exe"
service="$(values "$activation" SystemdService)"
check "activation file: SystemdService= $service is an installed unit" in_test -f "/usr/lib/systemd/system/$service"
check "activation file: Name= $bus_name is the BusName= of $service" \
    test "$bus_name" = "$(values "/usr/lib/systemd/system/$service" BusName)"
check "bus policy /usr/share/dbus-1/system.d/$bus_name.conf" in_test -f "/usr/share/dbus-1/system.d/$bus_name.conf"
check "interface /usr/share/dbus-1/interfaces/$bus_name.xml" in_test -f "/usr/share/dbus-1/interfaces/$bus_name.xml"
check "polkit actions /usr/share/polkit-1/actions/$bus_name.policy" in_test -f "/usr/share/polkit-1/actions/$bus_name.policy"

# Every committed man page, found by man.
pages=()
for page in docs/man/*.[18]; do
    name="${page##*/}"
    pages+=("${name##*.}" "${name%.*}")
done
check "man finds the $((${#pages[@]} / 2)) man pages (man -w)" in_chroot sh -c '
    while [ $# -gt 0 ]; do man -w "$1" "$2" >/dev/null || { echo "no man page $2($1)"; exit 1; }; shift 2; done' sh "${pages[@]}"
check "bash completion" in_test -f /usr/share/bash-completion/completions/surface-check
check "zsh completion" in_test -f /usr/share/zsh/site-functions/_surface-check
check "fish completion" in_test -f /usr/share/fish/vendor_completions.d/surface-check.fish

# Enablement: a symlink for every WantedBy= and Alias= of the units postinst
# enables. A unit that is missing, or names no WantedBy=, fails here rather
# than giving no checks.
for unit in surface-checkd.service surface-check-report.timer; do
    f="/usr/lib/systemd/system/$unit"
    check "$unit is installed and has a WantedBy=" sh -c "grep -q '^WantedBy=.' '$root$f'"
    for target in $(values "$f" WantedBy 2>/dev/null); do
        link="/etc/systemd/system/$target.wants/$unit"
        check "enabled: $link -> $unit" in_chroot sh -c "[ \"\$(readlink -f '$link')\" = '$f' ]"
    done
    for alias in $(values "$f" Alias 2>/dev/null); do
        link="/etc/systemd/system/$alias"
        check "enabled: alias $link -> $unit" in_chroot sh -c "[ \"\$(readlink -f '$link')\" = '$f' ]"
    done
done
check "not enabled: the report service itself (the timer starts it)" \
    in_chroot sh -c '! ls /etc/systemd/system/*.wants/surface-check-report.service 2>/dev/null | grep -q .'

check "systemd-analyze verify (system units)" in_chroot systemd-analyze verify "${system_units[@]}"
mkdir -m 0700 "$root/tmp/xdg"
check "systemd-analyze --user verify (user unit)" in_chroot env XDG_RUNTIME_DIR=/tmp/xdg systemd-analyze --user verify "${user_units[@]}"

check "surface-check --version is $pkg_version's" \
    in_chroot sh -c "surface-check --version | grep -qx 'surface-check ${pkg_version%-*}'"
check "surface-checkd --version" in_chroot surface-checkd --version

# A tree with a boot id and an empty kernel log: nothing of a Surface Book 2, which
# the report says (exit 0; 1 would be a verdict, 2 an error).
mkdir -p "$root/tmp/tree/proc/sys/kernel/random"
cat /proc/sys/kernel/random/uuid >"$root/tmp/tree/proc/sys/kernel/random/boot_id"
: >"$root/tmp/tree.dmesg"
check "surface-check status --root TREE" in_chroot surface-check status --root /tmp/tree --dmesg /tmp/tree.dmesg
check "surface-check report --root TREE records the boot in /var/lib/surface-check" \
    in_chroot sh -c 'surface-check report --root /tmp/tree --dmesg /tmp/tree.dmesg && test -s /var/lib/surface-check/history.sqlite'

# The system bus, from the system configuration with the package's policy. It
# logs a file it cannot read and goes on without it, so its log is read too.
bus_check() {
    mkdir -p "$root/run/dbus"
    rm -f "$root/run/dbus/system_bus_socket"
    # chroot, not the in_chroot function: `&` on a function would fork a
    # subshell and $! be its pid. chroot and env exec, so $! is dbus-daemon's.
    chroot "$root" "${chroot_env[@]}" dbus-daemon --system --nofork --nopidfile >"$work/bus.log" 2>&1 &
    bus_pid=$!
    for _ in $(seq 100); do
        [[ -S "$root/run/dbus/system_bus_socket" ]] && break
        sleep 0.1
    done
    [[ -S "$root/run/dbus/system_bus_socket" ]] || { echo "the system bus did not start"; return 1; }
}
check "dbus-daemon --system starts with the package's policy" bus_check
check "the bus read every configuration file without an error" \
    sh -c "! grep -i 'error.*while parsing' '$work/bus.log'"
# As user nobody: D-Bus activation starts surface-checkd as root (Exec=, User=,
# through dbus-daemon-launch-helper, the bus's way without systemd); the policy
# lets root own the name and anyone call GetReport.
check "surface-check status as nobody: activation, name owned, report over the bus" \
    in_chroot setpriv --reuid=65534 --regid=65534 --clear-groups \
    sh -c 'surface-check status 2>&1 | grep -q "report from surface-checkd"'
daemon_pid="$(in_chroot dbus-send --system --print-reply --dest=org.freedesktop.DBus / \
    org.freedesktop.DBus.GetConnectionUnixProcessID "string:$bus_name" 2>/dev/null | awk '/uint32/ {print $2}' || true)"
check "io.github.SurfaceCheck1 is owned by a root process" \
    sh -c "[ -n '$daemon_pid' ] && [ \"\$(stat -c %u /proc/$daemon_pid)\" = 0 ]"
if [[ -n "$daemon_pid" ]]; then kill "$daemon_pid" 2>/dev/null || true; fi
if [[ -n "${bus_pid:-}" ]]; then
    kill "$bus_pid" 2>/dev/null || true
    wait "$bus_pid" 2>/dev/null || true
fi
bus_pid=
daemon_pid=
rm -rf "$root/run/dbus"
# The bus and the daemon are gone: nothing runs in the chroot any more.
none_chrooted() {
    local pid left=""
    for _ in $(seq 50); do
        left="$(chrooted)"
        [[ -z "$left" ]] && return 0
        sleep 0.1
    done
    echo "still running in the chroot:"
    for pid in $left; do echo "  $pid $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)"; done
    return 1
}
check "no process is left running in the chroot (bus, daemon)" none_chrooted

# ---------------------------------------------------------------------------
# 5. Upgrade, remove, purge.
# Each with systemd "running" (the recorders), to see what is started and stopped.
recorded() { # FILE-FOR-THE-RECORD DPKG-ARGS...
    local rc=0 out="$1"
    shift
    fake_systemd on
    dpkg_recorded "$@" >"$work/dpkg.log" 2>&1 || rc=$?
    cp "$root/tmp/invoked" "$out"
    fake_systemd off
    [[ $rc -eq 0 ]] || { cat "$work/dpkg.log"; return 1; }
}
check "dpkg -i again (an upgrade)" recorded "$work/invoked-upgrade.txt" -i /tmp/surface-check.deb
check "postinst, on an upgrade, restarted the daemon and the timer" \
    invoked "$work/invoked-upgrade.txt" "deb-systemd-invoke restart surface-checkd.service surface-check-report.timer"
check "the upgrade kept the history and the enablement" in_chroot sh -c '
    test -s /var/lib/surface-check/history.sqlite &&
    test -L /etc/systemd/system/multi-user.target.wants/surface-checkd.service &&
    test -L /etc/systemd/system/timers.target.wants/surface-check-report.timer'

# The administrator disables the timer (systemctl disable; deb-systemd-helper
# itself refuses to run outside a maintainer script); a reinstall keeps it
# disabled: postinst's deb-systemd-helper was-enabled sees its links gone.
in_chroot systemctl disable surface-check-report.timer >/dev/null 2>&1 || true
check "systemctl disable surface-check-report.timer removed its symlinks" \
    in_chroot sh -c '! ls /etc/systemd/system/*.wants/surface-check-report.timer 2>/dev/null | grep -q .'
check "dpkg -i again (a reinstall)" recorded "$work/invoked-reinstall.txt" -i /tmp/surface-check.deb
check "a reinstall keeps the disabled timer disabled (and the daemon enabled)" in_chroot sh -c '
    ! ls /etc/systemd/system/*.wants/surface-check-report.timer 2>/dev/null | grep -q . &&
    test -L /etc/systemd/system/multi-user.target.wants/surface-checkd.service'

check "dpkg --remove" recorded "$work/invoked-remove.txt" --remove surface-check
check "prerm, on removal, stopped the timer, the report and the daemon" \
    invoked "$work/invoked-remove.txt" "deb-systemd-invoke stop surface-check-report.timer surface-check-report.service surface-checkd.service"
check "the removal kept the history, removed the files" in_chroot sh -c '
    test -s /var/lib/surface-check/history.sqlite &&
    ! test -e /usr/bin/surface-check'
check "dpkg --purge removes the history and the enablement" in_chroot sh -c '
    dpkg --purge surface-check >/dev/null 2>&1 &&
    ! test -e /var/lib/surface-check &&
    ! test -L /etc/systemd/system/multi-user.target.wants/surface-checkd.service &&
    ! test -L /etc/systemd/system/dbus-io.github.SurfaceCheck1.service'
snapshot "$work/after.txt"
purge_diff() {
    if ! cmp -s "$work/before.txt" "$work/after.txt"; then
        echo "left behind (+) or removed (-), against the chroot before dpkg -i:"
        diff "$work/before.txt" "$work/after.txt" | grep '^[<>]' | sed -e 's/^</-/' -e 's/^>/+/'
        return 1
    fi
}
check "after purge the chroot holds exactly what it held before dpkg -i" purge_diff
check "no process runs in the chroot at the end" none_chrooted

echo "$me: $passed checks passed, ${#failed[@]} failed"
if [[ ${#failed[@]} -ne 0 ]]; then
    printf '  failed: %s\n' "${failed[@]}"
    exit 1
fi
