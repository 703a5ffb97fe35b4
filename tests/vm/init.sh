#!/bin/sh
# Guest init of the real-kernel test (tests/vm.rs). Runs as PID 1 from the initramfs:
# mounts the kernel's filesystems, loads real modules, creates the Surface Book 2's
# devices, runs surface-check, prints everything to the console between @@VM marker
# lines and powers off. The host parses the console.
#
# Two rounds, each a snapshot of the kernel's own view then `capture` and `status`,
# and `status` once more as the unprivileged user 65534 (examples/vm-runas.rs):
# 1. uinput devices (examples/vm-uinput.rs): iptsd's touchscreen and stylus, a keyboard
#    with the base's ids on no bus at all, gpio-keys buttons, the lid switch and the
#    DTX device-mode switch in tablet mode; and the IPTS HID device through uhid
#    (examples/vm-uhid.rs), which hid-generic binds (suffix ""). Before the round, the
#    media device's and video nodes' own answers to raw ioctls (examples/vm-media.rs);
#    after it, `surface-check test` for touch, pen, keyboard, buttons and lid while
#    vm-uinput injects the events, once with nothing injected, and `test camera`.
# 2. the base attached (suffix "-base"): the uinput keyboard is gone, the DTX switch
#    says laptop mode, and a USB gadget with the base keyboard's ids (045e:0922, a
#    keyboard and a pointer interface) is plugged into dummy_hcd: a real USB device
#    that usbhid and hid-generic bind.
# From the start the system bus (dbus-daemon) and systemd-udevd run. Between the
# rounds, once the uinput keyboard is gone and before the base comes, surface-checkd
# serves the live root on the system bus while a USB device with the Bluetooth
# function's ids is plugged in and out (`daemon` below).

/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin

mkdir -p /proc /sys /dev /run /tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp

# Kernel messages stay in the ring buffer (printed at the end), off the console.
dmesg -n 1

release=$(uname -r)
echo "@@VM release $release"

# $1: `name path [params]` lines in load order (dependencies first), written by the
# host from the real modules.dep.
load() {
    while read -r name path params; do
        # shellcheck disable=SC2086 # params are separate words
        insmod "/lib/modules/$release/$path" $params
        echo "@@VM insmod $name rc=$?"
    done < "$1"
}

# Runs vm-uinput with the arguments "$@" and waits until its devices exist.
uinput() {
    rm -f /tmp/uinput.out
    /bin/vm-uinput "$@" > /tmp/uinput.out 2>&1 &
    uinput_pid=$!
    i=0
    while ! grep -q '^VM-UINPUT ready' /tmp/uinput.out 2> /dev/null && [ $i -lt 100 ]; do
        sleep 0.1
        i=$((i + 1))
    done
}

# The system bus and udev, as a distribution's early boot starts them: dbus-daemon with
# the system configuration (the project's policy in system.d), systemd-udevd as
# initramfs-tools starts it, without rules; then every device the kernel announced
# before udevd ran is replayed to it (`udevadm trigger`), so the udev database has a
# record of each. Then the bus's answers: its id, and the project's policy: root may
# own io.github.SurfaceCheck1, the user 65534 may not.
services() {
    mkdir -p /run/dbus
    /usr/bin/dbus-daemon --system --nofork > /tmp/dbus.log 2>&1 &
    /lib/systemd/systemd-udevd --daemon --resolve-names=never > /tmp/udevd.log 2>&1
    echo "@@VM udevd rc=$?"
    udevadm trigger --type=subsystems --action=add
    udevadm trigger --type=devices --action=add
    udevadm settle --timeout=60
    echo "@@VM settle-boot rc=$?"
    i=0
    while [ ! -S /run/dbus/system_bus_socket ] && [ $i -lt 100 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    dbus-send --system --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
        org.freedesktop.DBus.GetId > /tmp/bus.out 2>&1
    echo "@@VM bus rc=$?"
    section bus /tmp/bus.out
    own=org.freedesktop.DBus.RequestName
    dbus-send --system --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
        $own string:io.github.SurfaceCheck1 uint32:4 > /tmp/own.out 2>&1
    echo "@@VM bus-own-root rc=$?"
    section bus-own-root /tmp/own.out
    /bin/vm-runas 65534 65534 /usr/bin/dbus-send --system --print-reply \
        --dest=org.freedesktop.DBus /org/freedesktop/DBus \
        $own string:io.github.SurfaceCheck1 uint32:4 > /tmp/own.out 2>&1
    echo "@@VM bus-own-user rc=$?"
    section bus-own-user /tmp/own.out
}

# Seconds since boot, for the host to see where the guest's time goes.
stamp() {
    echo "@@VM time $1=$(cut -d' ' -f1 /proc/uptime)"
}

# Prints a file between markers.
section() {
    echo "@@VM $1 begin"
    cat "$2"
    echo "@@VM $1 end"
}

# $1: suffix. The kernel's own view, for the host to hold the collectors against:
# where each device's sysfs directory, `device` link and `driver` link resolve, its
# hidraw nodes, the drivers of the buses surface-check reads (/etc/vm/buses), and the
# device nodes' numbers. Then capture and status.
round() {
    # Until udevd has handled every event so far: the database is complete.
    udevadm settle --timeout=60
    echo "@@VM settle$1 rc=$?"
    buses=$(cat /etc/vm/buses)
    devices=
    for b in $buses; do
        devices="$devices /sys/bus/$b/devices/*"
    done
    # shellcheck disable=SC2086 # the globs expand here
    for l in /sys/bus/media/devices/* /sys/class/video4linux/* /sys/class/input/input* \
        $devices; do
        [ -e "$l" ] || continue
        dev=
        drv=
        raw=
        [ -e "$l/device" ] && dev=$(readlink -f "$l/device")
        [ -e "$l/driver" ] && drv=$(basename "$(readlink -f "$l/driver")")
        [ -d "$l/hidraw" ] && raw=$(ls "$l/hidraw" | tr '\n' ' ')
        echo "$l|$(readlink -f "$l")|$dev|$drv|$raw"
    done > /tmp/sysfs
    section "sysfs$1" /tmp/sysfs
    for b in $buses; do
        # Driver names may hold spaces ("CHT Whiskey Cove PMIC"), never a slash.
        [ -d "/sys/bus/$b/drivers" ] && echo "$b|$(ls "/sys/bus/$b/drivers" | tr '\n' '/')"
    done > /tmp/drivers
    section "drivers$1" /tmp/drivers
    stat -c '%n|%F|%t|%T' /dev/input/event* /dev/video* /dev/vbi* /dev/radio* \
        /dev/swradio* /dev/v4l-touch* /dev/media* /dev/hidraw* > /tmp/nodes 2>/dev/null
    section "nodes$1" /tmp/nodes

    # Who may open the device nodes: devtmpfs's modes, as no udev rule changed them.
    stat -c '%n|%a|%u|%g' /dev/input/event* /dev/video* /dev/vbi* /dev/radio* \
        /dev/swradio* /dev/v4l-touch* /dev/media* /dev/hidraw* /dev/uinput /dev/uhid \
        /dev/kmsg > /tmp/modes 2>/dev/null
    section "modes$1" /tmp/modes

    stamp "snapshot$1"
    /bin/surface-check capture --deadline 300000 > /tmp/capture.json 2> /tmp/capture.err
    echo "@@VM capture$1 rc=$?"
    stamp "capture$1"
    /bin/surface-check status --local --deadline 300000 --json > /tmp/status.json 2> /tmp/status.err
    echo "@@VM status$1 rc=$?"
    stamp "status$1"
    /bin/vm-runas 65534 65534 /bin/surface-check status --local --deadline 300000 --json \
        > /tmp/status-user.json 2> /tmp/status-user.err
    echo "@@VM status-user$1 rc=$?"
    for f in capture.json capture.err status.json status.err status-user.json status-user.err; do
        section "${f%%.*}$1.${f#*.}" "/tmp/$f"
    done
    stamp "round$1"
}

# `surface-check test $1` with the further arguments $4...: waits until it listens
# (the "listening on" line on its stderr, or its end), writes the injection commands
# $2 (none if empty) to vm-uinput's FIFO, waits for the test's end, and prints its exit
# code, its stdout and stderr as "test-$3". A test that never listens is reported by
# `listening=0`. With `--json` among the arguments stdout and stderr are kept apart;
# without, they go to one file as a terminal would show them ("test-$3.all").
livetest() {
    name=$1
    inject=$2
    sect=$3
    shift 3
    rm -f /tmp/lt.out /tmp/lt.err
    case " $* " in
    *" --json "*)
        /bin/surface-check test "$name" "$@" > /tmp/lt.out 2> /tmp/lt.err &
        ;;
    *)
        /bin/surface-check test "$name" "$@" > /tmp/lt.err 2>&1 &
        ;;
    esac
    pid=$!
    i=0
    listening=0
    while [ $i -lt 300 ]; do
        if grep -q 'listening on' /tmp/lt.err 2> /dev/null; then
            listening=1
            break
        fi
        kill -0 $pid 2> /dev/null || break
        sleep 0.1
        i=$((i + 1))
    done
    echo "@@VM test-$sect listening=$listening"
    for c in $inject; do
        echo "$c" > /tmp/inject
    done
    wait $pid
    echo "@@VM test-$sect rc=$?"
    if [ -e /tmp/lt.out ]; then
        section "test-$sect.out" /tmp/lt.out
        section "test-$sect.err" /tmp/lt.err
    else
        section "test-$sect.all" /tmp/lt.err
    fi
}

# Copies standard input to $1, each line prefixed by the guest's clock (seconds since
# boot, as in /proc/uptime) when it arrived. Blocks in `read`, with no process per
# line.
stamped() {
    while IFS= read -r l; do
        read -r up _ < /proc/uptime
        echo "$up $l"
    done > "$1"
}

# Waits (at most 60 s) until surface-checkd is idle: each probe it started has its
# report in place, and the last one was not for an event, or ended 6 s ago (after an
# event's probe that changed something it probes once more, 3 s later).
quiet() {
    i=0
    while [ $i -lt 240 ]; do
        read -r now _ < /proc/uptime
        awk -v now="$now" '/ probe seq=/ { p++; cause = $NF } / report in place / { r++; t = $1 }
            END {
                if (p == 0 || p != r) exit 1
                if (cause ~ /^cause=(udev|dtx|resume)/) exit !(now - t > 6)
                exit 0
            }' /tmp/daemon.log && return 0
        sleep 0.25
        i=$((i + 1))
    done
    return 1
}

# Number of probes surface-checkd has started.
probes() {
    grep -c ' probe seq=' /tmp/daemon.log
}

# One hotplug step for the daemon: runs "$@" once the daemon is idle, stamping the
# moment as `@@VM daemon-event $st=`; waits (at most 30 s) until the report of the
# daemon's next probe is in place, takes `status --local` of the same state as
# "daemon-$st.json" (while the daemon probes once more, as it does after a change),
# and waits until the daemon is idle again.
step() {
    st=$1
    shift
    quiet
    echo "@@VM daemon-quiet-before-$st rc=$?"
    next=$(($(probes) + 1))
    read -r t0 _ < /proc/uptime
    "$@"
    echo "@@VM daemon-event $st=$t0"
    i=0
    while ! grep -q " report in place seq=$next " /tmp/daemon.log && [ $i -lt 150 ]; do
        sleep 0.2
        i=$((i + 1))
    done
    /bin/surface-check status --local --json > "/tmp/daemon-$st.json" 2> /tmp/local.err
    echo "@@VM daemon-$st rc=$?"
    section "daemon-$st.json" "/tmp/daemon-$st.json"
    quiet
    echo "@@VM daemon-quiet-after-$st rc=$?"
}

# A USB device with the ids of the Marvell Bluetooth function (1286:204c) and one
# vendor-specific interface (a SourceSink function) that no driver binds, as when
# btusb is not loaded. $1: plug or unplug.
bluetooth() {
    b=/sys/kernel/config/usb_gadget/bt
    case $1 in
    plug)
        mkdir $b
        echo 0x1286 > $b/idVendor
        echo 0x204c > $b/idProduct
        echo 0x0200 > $b/bcdUSB
        mkdir $b/strings/0x409
        echo Marvell > $b/strings/0x409/manufacturer
        echo "Bluetooth and Wireless LAN Composite Device" > $b/strings/0x409/product
        mkdir $b/configs/c.1 $b/functions/SourceSink.bt
        ln -s $b/functions/SourceSink.bt $b/configs/c.1/
        ls /sys/class/udc > $b/UDC
        echo "@@VM bluetooth-plug rc=$?"
        ;;
    unplug)
        echo "" > $b/UDC
        echo "@@VM bluetooth-unplug rc=$?"
        ;;
    remove)
        rm $b/configs/c.1/SourceSink.bt
        rmdir $b/configs/c.1 $b/functions/SourceSink.bt $b/strings/0x409 $b
        ;;
    esac
}

# surface-checkd on the live root and the system bus, with each probe's cause in its
# log (stamped), and `surface-check watch --json` (stamped) following it. `status`
# without --local through the daemon, as root and as the user 65534; then a USB
# device plugged and unplugged: real uevents that udevd sends on, with no Refresh
# call. `status --local` before, and after each step.
daemon() {
    mkfifo /tmp/daemon.fifo /tmp/watch.fifo
    stamped /tmp/daemon.log < /tmp/daemon.fifo &
    daemon_log_pid=$!
    SURFACE_CHECK_LOG=debug /bin/surface-checkd > /tmp/daemon.out 2> /tmp/daemon.fifo &
    daemon_pid=$!
    # Until its first report is in place.
    i=0
    while ! grep -q ' report in place seq=1 ' /tmp/daemon.log 2> /dev/null \
        && [ $i -lt 300 ]; do
        sleep 0.2
        i=$((i + 1))
    done
    stamped /tmp/watch.log < /tmp/watch.fifo &
    watch_log_pid=$!
    /bin/surface-check watch --json > /tmp/watch.fifo 2> /tmp/watch.err &
    watch_pid=$!
    i=0
    while ! grep -q '"event":"connected"' /tmp/watch.log 2> /dev/null && [ $i -lt 100 ]; do
        sleep 0.2
        i=$((i + 1))
    done
    /bin/surface-check status --json > /tmp/daemon-status.json 2> /tmp/daemon-status.err
    echo "@@VM daemon-status rc=$?"
    /bin/vm-runas 65534 65534 /bin/surface-check status --json \
        > /tmp/daemon-status-user.json 2> /tmp/daemon-status-user.err
    echo "@@VM daemon-status-user rc=$?"
    for f in daemon-status.json daemon-status.err daemon-status-user.json \
        daemon-status-user.err; do
        section "$f" "/tmp/$f"
    done
    /bin/surface-check status --local --json > /tmp/daemon-before.json 2> /tmp/local.err
    echo "@@VM daemon-before rc=$?"
    section daemon-before.json /tmp/daemon-before.json
    step plug bluetooth plug
    step unplug bluetooth unplug
    bluetooth remove
    read -r t _ < /proc/uptime
    echo "@@VM daemon-event stop=$t"
    kill -TERM $daemon_pid
    wait $daemon_pid
    echo "@@VM daemon rc=$?"
    # Until watch saw the daemon go.
    i=0
    while ! grep -q '"running":false' /tmp/watch.log && [ $i -lt 50 ]; do
        sleep 0.2
        i=$((i + 1))
    done
    kill $watch_pid
    wait $watch_pid 2> /dev/null
    wait $daemon_log_pid $watch_log_pid
    section daemon.log /tmp/daemon.log
    section daemon.out /tmp/daemon.out
    section watch.log /tmp/watch.log
    section watch.err /tmp/watch.err
}

stamp start
services
section dbus-daemon /tmp/dbus.log
section udevd /tmp/udevd.log
stamp services
# What udevd sends on after its rules ran (the `udev` netlink group, where libudev's
# monitors listen) for the input devices made from here on.
udevadm monitor --udev --subsystem-match=input > /tmp/udev-monitor.out 2>&1 &
monitor_pid=$!
i=0
while ! grep -q '^UDEV - ' /tmp/udev-monitor.out 2> /dev/null && [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
load /etc/vm/modules
mkfifo /tmp/inject
uinput --fifo /tmp/inject --tablet-mode 1
section uinput /tmp/uinput.out
udevadm settle --timeout=60
kill $monitor_pid
wait $monitor_pid 2> /dev/null
section udev-monitor /tmp/udev-monitor.out

# The IPTS HID device: ready once the kernel started it, then its hidraw node.
/bin/vm-uhid > /tmp/uhid.out 2>&1 &
i=0
while ! ls /sys/bus/hid/devices/0000:045E:0021.*/hidraw/hidraw* > /dev/null 2>&1 \
    && [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
section uhid /tmp/uhid.out

/bin/vm-media /dev/media0 /dev/video* > /tmp/media.out 2>&1
echo "@@VM vm-media rc=$?"
section media /tmp/media.out
stamp setup
round ""

# The functional tests, on round 1's devices.
livetest touch touch touch --json --timeout 20
livetest pen pen pen --json --timeout 20
livetest keyboard key keyboard --json --timeout 20
livetest buttons "volume power" buttons --json --power --timeout 20
livetest lid lid lid --json --timeout 20
livetest touch "" touch-idle --json --timeout 3
livetest camera "" camera --json --timeout 20
livetest detach "" detach --json --timeout 3
# A person's view (no --json): every input test with its events, and one without.
livetest touch touch touch-human --timeout 20
livetest pen pen pen-human --timeout 20
livetest keyboard key keyboard-human --timeout 20
livetest buttons volume buttons-human --timeout 20
livetest lid lid lid-human --timeout 20
livetest lid "" lid-idle-human --timeout 3
section uinput-injected /tmp/uinput.out
stamp tests

kill $uinput_pid
wait $uinput_pid 2> /dev/null
uinput touchscreen stylus buttons lid dtx --tablet-mode 0
section uinput-base /tmp/uinput.out
load /etc/vm/modules-base
mount -t configfs configfs /sys/kernel/config
daemon
stamp daemon
g=/sys/kernel/config/usb_gadget/base
mkdir $g
echo 0x045e > $g/idVendor
echo 0x0922 > $g/idProduct
echo 0x0200 > $g/bcdUSB
mkdir $g/strings/0x409
echo Microsoft > $g/strings/0x409/manufacturer
echo "Surface Keyboard" > $g/strings/0x409/product
echo 0123456789AB > $g/strings/0x409/serialnumber
mkdir $g/configs/c.1
# $1 name, $2 boot protocol (1 keyboard, 2 mouse), $3 report length; the report
# descriptor is /etc/vm/$1.desc.
hid() {
    d=$g/functions/hid.$1
    mkdir "$d"
    echo "$2" > "$d/protocol"
    echo 1 > "$d/subclass"
    echo "$3" > "$d/report_length"
    cat "/etc/vm/$1.desc" > "$d/report_desc"
    ln -s "$d" $g/configs/c.1/
}
hid kbd 1 8
hid mouse 2 4
ls /sys/class/udc > $g/UDC
echo "@@VM gadget rc=$?"
# Until both of the gadget's HID devices have their input device.
i=0
while [ "$(ls -d /sys/bus/hid/devices/0003:045E:0922.*/input/input* 2> /dev/null | wc -l)" -lt 2 ] \
    && [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
round "-base"

dmesg > /tmp/dmesg
section dmesg /tmp/dmesg
stamp end
echo "@@VM done"
sync
poweroff -f
