#!/usr/bin/python3
"""Runs surface-check against an emulated /dev/surface/dtx (umockdev).

usage: dtx.py BINARY SCENARIO OUTPUT [ARGS...]

The testbed holds Surface Book 2 DMI data and the surface_dtx misc device; an ioctl handler answers the DTX
UAPI (include/uapi/linux/surface_aggregator/dtx.h) as the kernel driver does for
SCENARIO: `attached` (base attached, laptop mode, latch closed), `detached` (base
detached, tablet mode, latch open) or `enotty` (the device refuses GET_DEVICE_MODE).
BINARY runs with ARGS under the umockdev preload; its standard output goes to
OUTPUT, the ioctl requests it made to standard error, and its exit status is ours.
"""

import errno
import os
import struct
import subprocess
import sys
import time

import gi

gi.require_version("UMockdev", "1.0")
from gi.repository import GLib, UMockdev  # noqa: E402

GET_BASE_INFO = 0x8004A529  # _IOR(0xa5, 0x29, struct sdtx_base_info)
GET_DEVICE_MODE = 0x8002A52A  # _IOR(0xa5, 0x2a, __u16)
GET_LATCH_STATUS = 0x8002A52B  # _IOR(0xa5, 0x2b, __u16)

SCENARIOS = {
    # (base state, base id, device mode, latch status)
    "attached": (0x0001, 0x0207, 1, 0x00),
    "detached": (0x0000, 0x0207, 0, 0x01),
    "enotty": (0x0001, 0x0207, None, 0x00),
}

# A Surface Book 2 (DMI), so the verdicts take the DTX base state as their context,
# and the DTX misc device.
DEVICES = """P: /devices/virtual/dmi/id
E: SUBSYSTEM=dmi
A: sys_vendor=Microsoft Corporation
A: product_name=Surface Book 2
A: product_sku=Surface_Book_1793

P: /devices/virtual/misc/surface_dtx
N: surface/dtx
E: DEVNAME=/dev/surface/dtx
E: MAJOR=10
E: MINOR=124
E: SUBSYSTEM=misc
A: dev=10:124
"""


def main():
    binary, scenario, output = sys.argv[1], sys.argv[2], sys.argv[3]
    base, base_id, mode, latch = SCENARIOS[scenario]
    answers = {
        GET_BASE_INFO: struct.pack("=HH", base, base_id),
        GET_DEVICE_MODE: None if mode is None else struct.pack("=H", mode),
        GET_LATCH_STATUS: struct.pack("=H", latch),
    }

    testbed = UMockdev.Testbed.new()
    testbed.add_from_string(DEVICES)
    seen = []

    def on_ioctl(_handler, client):
        request = client.get_request()
        seen.append(request)
        data = answers.get(request)
        if data is None:
            client.complete(-1, errno.ENOTTY)
            return True
        arg = client.get_arg().resolve(0, len(data))
        arg.update(0, data)
        client.complete(0, 0)
        return True

    handler = UMockdev.IoctlBase()
    handler.connect("handle-ioctl", on_ioctl)
    testbed.attach_ioctl("/dev/surface/dtx", handler)

    env = dict(os.environ)
    env["UMOCKDEV_DIR"] = testbed.get_root_dir()
    env["LD_PRELOAD"] = ":".join(
        p for p in ["libumockdev-preload.so.0", os.environ.get("LD_PRELOAD")] if p
    )
    context = GLib.MainContext.default()
    with open(output, "wb") as out:
        child = subprocess.Popen([binary] + sys.argv[4:], env=env, stdout=out)
        deadline = time.monotonic() + 60
        # Serve the child's ioctls until it exits.
        while child.poll() is None:
            if time.monotonic() > deadline:
                child.kill()
                sys.exit("surface-check did not finish within 60 s")
            while context.iteration(False):
                pass
            time.sleep(0.001)
    print("ioctls: " + " ".join(f"{r:#x}" for r in seen), file=sys.stderr)
    sys.exit(child.returncode)


if __name__ == "__main__":
    main()
