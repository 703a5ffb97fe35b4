#!/bin/sh
# Guest init of the real-kernel test (tests/vm.rs). Runs as PID 1 from the initramfs:
# mounts the kernel's filesystems, loads real modules, creates the Surface Book 2's
# devices, runs surface-check, prints everything to the console between @@VM marker
# lines and powers off. The host parses the console.
#
# Two rounds, each a snapshot of the kernel's own view then `capture` and `status`:
# 1. uinput devices only: iptsd's touchscreen and stylus, and a keyboard with the
#    base's ids on no bus at all (suffix "").
# 2. the base attached (suffix "-base"): the uinput keyboard is gone, and a USB gadget
#    with the base keyboard's ids (045e:0922, a keyboard and a pointer interface) is
#    plugged into dummy_hcd: a real USB device that usbhid and hid-generic bind.

/bin/busybox --install -s /bin
export PATH=/bin

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

# Runs vm-uinput with the devices "$@" and waits until they exist.
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

    /bin/surface-check capture --deadline 300000 > /tmp/capture.json 2> /tmp/capture.err
    echo "@@VM capture$1 rc=$?"
    /bin/surface-check status --local --deadline 300000 --json > /tmp/status.json 2> /tmp/status.err
    echo "@@VM status$1 rc=$?"
    for f in capture.json capture.err status.json status.err; do
        section "${f%%.*}$1.${f#*.}" "/tmp/$f"
    done
}

load /etc/vm/modules
uinput
section uinput /tmp/uinput.out
round ""

kill $uinput_pid
wait $uinput_pid 2> /dev/null
uinput touchscreen stylus
section uinput-base /tmp/uinput.out
load /etc/vm/modules-base
mount -t configfs configfs /sys/kernel/config
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
i=0
while [ "$(ls -d /sys/bus/hid/devices/*/input/input* 2> /dev/null | wc -l)" -lt 2 ] \
    && [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
round "-base"

dmesg > /tmp/dmesg
section dmesg /tmp/dmesg
echo "@@VM done"
sync
poweroff -f
