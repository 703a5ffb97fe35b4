#!/bin/sh
# Guest init of the real-kernel test (tests/vm.rs). Runs as PID 1 from the initramfs:
# mounts the kernel's filesystems, loads real modules, creates the Surface Book 2's
# evdev devices through uinput, runs surface-check, prints everything to the console
# between @@VM marker lines and powers off. The host parses the console.

/bin/busybox --install -s /bin
export PATH=/bin

mkdir -p /proc /sys /dev /run /tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp

# Kernel messages stay in the ring buffer (printed below), off the console.
dmesg -n 1

release=$(uname -r)
echo "@@VM release $release"

# /etc/vm/modules: `name path [params]` in load order (dependencies first), written by
# the host from the real modules.dep.
while read -r name path params; do
    # shellcheck disable=SC2086 # params are separate words
    insmod "/lib/modules/$release/$path" $params
    echo "@@VM insmod $name rc=$?"
done < /etc/vm/modules

/bin/vm-uinput > /tmp/uinput.out 2>&1 &
i=0
while ! grep -q '^VM-UINPUT ready' /tmp/uinput.out && [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
echo "@@VM uinput begin"
cat /tmp/uinput.out
echo "@@VM uinput end"

# The kernel's own view, for the host to hold the collectors against: where each
# device's sysfs directory and `device` link resolve, and the device nodes' numbers.
echo "@@VM sysfs begin"
for l in /sys/bus/media/devices/* /sys/class/video4linux/* /sys/class/input/input*; do
    dev=
    [ -e "$l/device" ] && dev=$(readlink -f "$l/device")
    echo "$l|$(readlink -f "$l")|$dev"
done
gpe=/sys/bus/platform/devices/surface_gpe
if [ -e $gpe ]; then
    drv=
    [ -e $gpe/driver ] && drv=$(readlink -f $gpe/driver)
    echo "$gpe|$(readlink -f $gpe)|driver=$drv"
fi
echo "@@VM sysfs end"
echo "@@VM nodes begin"
stat -c '%n|%F|%t|%T' /dev/input/event* /dev/video* /dev/vbi* /dev/radio* /dev/swradio* \
    /dev/v4l-touch* /dev/media* /dev/uinput
echo "@@VM nodes end"

/bin/surface-check capture > /tmp/capture.json 2> /tmp/capture.err
echo "@@VM capture rc=$?"
/bin/surface-check status --local --json > /tmp/status.json 2> /tmp/status.err
echo "@@VM status rc=$?"

for f in capture.json capture.err status.json status.err; do
    echo "@@VM $f begin"
    cat "/tmp/$f"
    echo "@@VM $f end"
done

echo "@@VM dmesg begin"
dmesg
echo "@@VM dmesg end"

echo "@@VM done"
sync
poweroff -f
