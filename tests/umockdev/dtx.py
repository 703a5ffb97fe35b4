#!/usr/bin/python3
"""Runs a program against an emulated /dev/surface/dtx (umockdev).

usage: dtx.py BINARY SCENARIO OUTPUT [ARGS...]

The testbed holds Surface Book 2 DMI data and the surface_dtx misc device; an ioctl
handler answers the DTX UAPI (include/uapi/linux/surface_aggregator/dtx.h) as the
kernel driver (drivers/platform/surface/surface_dtx.c) does.

State scenarios (the GET_* ioctls): `attached` (base attached, laptop mode, latch
closed), `detached` (base detached, tablet mode, latch open) or `enotty` (the device
refuses GET_DEVICE_MODE).

Event scenarios (EVENTS_ENABLE, then read()):
  `events`         EVENTS_ENABLE succeeds; reads then return, over about a second,
                   REQUEST, the resync quirk's latch event (code BASE_CONNECTION,
                   length 4, the latch word then 2 stray bytes), BASE_CONNECTION
                   detached and DEVICE_MODE tablet (the base connection split across
                   two reads), then nothing: a read answers EAGAIN.
  `events-enotty`  EVENTS_ENABLE fails with ENOTTY.
  `events-eacces`  EVENTS_ENABLE fails with EACCES.
  `events-gone`    REQUEST, then the device goes away: reads and ioctls answer ENODEV.

BINARY runs with ARGS under the umockdev preload; its standard output goes to
OUTPUT; the ioctl requests it made, and the reads, go to standard error; the exit
status is BINARY's.

How reads and poll() are emulated: the preload forwards read() on the emulated node
to the handler's "handle-read" signal, but it does not wrap poll(): poll() sees the
real node, which umockdev makes a PTY (a misc device without contents). So, as the
driver's poll() reports EPOLLIN exactly while the client's event FIFO holds bytes,
the harness writes one byte into the PTY's master side while its FIFO holds bytes
(the client's poll() wakes up), and reads that byte back through the PTY's slave
side when a read empties the FIFO (poll() blocks again). The byte itself never
reaches the client: its read() is answered by "handle-read" from the FIFO.
"""

import errno
import os
import struct
import subprocess
import sys
import threading
import time

import gi

gi.require_version("UMockdev", "1.0")
from gi.repository import GLib, UMockdev  # noqa: E402

EVENTS_ENABLE = 0xA521  # _IO(0xa5, 0x21)
EVENTS_DISABLE = 0xA522  # _IO(0xa5, 0x22)
GET_BASE_INFO = 0x8004A529  # _IOR(0xa5, 0x29, struct sdtx_base_info)
GET_DEVICE_MODE = 0x8002A52A  # _IOR(0xa5, 0x2a, __u16)
GET_LATCH_STATUS = 0x8002A52B  # _IOR(0xa5, 0x2b, __u16)

# enum sdtx_event_code
REQUEST, CANCEL, BASE_CONNECTION, LATCH_STATUS, DEVICE_MODE = 1, 2, 3, 4, 5

SCENARIOS = {
    # (base state, base id, device mode, latch status)
    "attached": (0x0001, 0x0207, 1, 0x00),
    "detached": (0x0000, 0x0207, 0, 0x01),
    "enotty": (0x0001, 0x0207, None, 0x00),
    "events": (0x0001, 0x0207, 1, 0x00),
    "events-enotty": (0x0001, 0x0207, 1, 0x00),
    "events-eacces": (0x0001, 0x0207, 1, 0x00),
    "events-gone": (0x0001, 0x0207, 1, 0x00),
}


def event(code, payload=b""):
    """struct sdtx_event: __u16 length, __u16 code, then the payload."""
    return struct.pack("=HH", len(payload), code) + payload


BASE_DETACHED = event(BASE_CONNECTION, struct.pack("=HH", 0x0000, 0x0207))

# (seconds after EVENTS_ENABLE, bytes the driver queues, or an errno for the reads
# from then on, or None: wake the client with nothing queued)
TIMELINES = {
    "events": [
        (0.3, event(REQUEST)),
        # __sdtx_device_state_update_latch: the latch word (OPENED) and 2 bytes that
        # belong to no field; then the first 3 bytes of the base connection.
        (0.6, event(BASE_CONNECTION, struct.pack("=H", 0x0001) + b"\x5a\xa5") + BASE_DETACHED[:3]),
        (0.9, BASE_DETACHED[3:] + event(DEVICE_MODE, struct.pack("=H", 0))),
        # Readable, yet nothing to read: the read answers EAGAIN.
        (1.2, None),
    ],
    "events-gone": [
        (0.3, event(REQUEST)),
        (0.6, errno.ENODEV),
    ],
}

ENABLE_ERRORS = {"events-enotty": errno.ENOTTY, "events-eacces": errno.EACCES}

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


class Device:
    """The driver's side of one client: its event FIFO and the PTY doorbell."""

    def __init__(self, testbed, scenario):
        self.lock = threading.Lock()
        self.fifo = bytearray()
        self.enabled = False
        self.enabled_at = None
        self.gone = None  # errno every read and ioctl answers once set
        self.timeline = list(TIMELINES.get(scenario, []))
        self.reads = []  # (requested size, result) per read
        self.master = testbed.get_dev_fd("/dev/surface/dtx")
        slave = os.readlink(os.path.join(testbed.get_root_dir(), "dev/surface/dtx"))
        self.slave = os.open(slave, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
        self.rung = False

    def ring(self):
        if not self.rung:
            os.write(self.master, b"\0")
            self.rung = True

    def unring(self):
        if self.rung:
            try:
                while os.read(self.slave, 64):
                    pass
            except BlockingIOError:
                pass
            self.rung = False

    def tick(self):
        """Queues what the timeline says is due."""
        with self.lock:
            if not self.enabled:
                return
            now = time.monotonic() - self.enabled_at
            while self.timeline and self.timeline[0][0] <= now:
                _, what = self.timeline.pop(0)
                if isinstance(what, bytes):
                    # kfifo_in: the driver drops an event that does not fit (512 bytes).
                    if len(self.fifo) + len(what) <= 512:
                        self.fifo += what
                elif isinstance(what, int):
                    self.gone = what
                self.ring()

    def read(self, client):
        arg = client.get_arg()
        size = len(arg.retrieve())
        with self.lock:
            if self.gone is not None:
                self.reads.append((size, f"-{errno.errorcode[self.gone]}"))
                client.complete(-1, self.gone)
                return True
            if not self.fifo:
                self.unring()
                self.reads.append((size, "-EAGAIN"))
                client.complete(-1, errno.EAGAIN)
                return True
            data = bytes(self.fifo[:size])
            del self.fifo[: len(data)]
            if not self.fifo:
                self.unring()
            arg.update(0, data)
            self.reads.append((size, len(data)))
            client.complete(len(data), 0)
        return True


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
    device = Device(testbed, scenario)
    seen = []

    def on_ioctl(_handler, client):
        request = client.get_request()
        seen.append(request)
        if device.gone is not None:
            client.complete(-1, device.gone)
            return True
        if request in (EVENTS_ENABLE, EVENTS_DISABLE):
            refused = ENABLE_ERRORS.get(scenario)
            if request == EVENTS_ENABLE and refused is not None:
                client.complete(-1, refused)
                return True
            with device.lock:
                device.enabled = request == EVENTS_ENABLE
                if device.enabled and device.enabled_at is None:
                    device.enabled_at = time.monotonic()
            client.complete(0, 0)
            return True
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
    handler.connect("handle-read", lambda _h, client: device.read(client))
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
        # Serve the child's ioctls and reads until it exits.
        while child.poll() is None:
            if time.monotonic() > deadline:
                child.kill()
                sys.exit(f"{binary} did not finish within 60 s")
            device.tick()
            while context.iteration(False):
                pass
            time.sleep(0.001)
    print("ioctls: " + " ".join(f"{r:#x}" for r in seen), file=sys.stderr)
    print("reads: " + " ".join(f"{n}:{r}" for n, r in device.reads), file=sys.stderr)
    sys.exit(child.returncode)


if __name__ == "__main__":
    main()
