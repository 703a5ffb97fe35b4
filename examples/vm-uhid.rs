//! Creates, through /dev/uhid, a HID device with the Surface Book 2 13"'s IPTS identity
//! for the real-kernel test (`tests/vm.rs`): bus 0, vendor 045E, product 0021 and the
//! name `IPTS 045E:0021`, as the linux-surface IPTS driver registers it (so the kernel
//! calls it `0000:045E:0021.NNNN`), with a small touchscreen report descriptor. A HID
//! driver (hid-generic) binds it and the kernel gives it a hidraw node. Linux only;
//! needs write access to /dev/uhid.
//!
//! Prints `VM-UHID {json}` with the ids and the descriptor's length, and
//! `VM-UHID ready` once the kernel started the device (UHID_START); then it answers
//! the kernel's requests for as long as it runs, which is as long as the device lives.

use std::io::{Read, Write};

use serde_json::json;

// include/uapi/linux/uhid.h
const UHID_START: u32 = 2;
const UHID_GET_REPORT: u32 = 9;
const UHID_GET_REPORT_REPLY: u32 = 10;
const UHID_CREATE2: u32 = 11;
const UHID_SET_REPORT: u32 = 13;
const UHID_SET_REPORT_REPLY: u32 = 14;
const HID_MAX_DESCRIPTOR_SIZE: usize = 4096;
/// `sizeof(struct uhid_event)`: the type and the largest member of the union
/// (`struct uhid_create2_req`, packed).
const EVENT_SIZE: usize = 4 + 128 + 64 + 64 + 2 + 2 + 4 + 4 + 4 + 4 + HID_MAX_DESCRIPTOR_SIZE;

const BUS: u16 = 0x0000;
const VENDOR: u32 = 0x045e;
const PRODUCT: u32 = 0x0021;
const NAME: &str = "IPTS 045E:0021";

/// A touchscreen with one contact: tip switch and 15-bit X and Y (report ID 1).
const DESCRIPTOR: &[u8] = &[
    0x05, 0x0d, // Usage Page (Digitizers)
    0x09, 0x04, // Usage (Touch Screen)
    0xa1, 0x01, // Collection (Application)
    0x85, 0x01, //   Report ID (1)
    0x09, 0x22, //   Usage (Finger)
    0xa1, 0x02, //   Collection (Logical)
    0x09, 0x42, //     Usage (Tip Switch)
    0x15, 0x00, //     Logical Minimum (0)
    0x25, 0x01, //     Logical Maximum (1)
    0x75, 0x01, //     Report Size (1)
    0x95, 0x01, //     Report Count (1)
    0x81, 0x02, //     Input (Data, Variable, Absolute)
    0x95, 0x07, //     Report Count (7)
    0x81, 0x03, //     Input (Constant): padding
    0x05, 0x01, //     Usage Page (Generic Desktop)
    0x09, 0x30, //     Usage (X)
    0x09, 0x31, //     Usage (Y)
    0x26, 0xff, 0x7f, // Logical Maximum (32767)
    0x75, 0x10, //     Report Size (16)
    0x95, 0x02, //     Report Count (2)
    0x81, 0x02, //     Input (Data, Variable, Absolute)
    0xc0, //       End Collection
    0xc0, //     End Collection
];

fn fail(what: impl std::fmt::Display) -> ! {
    eprintln!("VM-UHID error {what}");
    std::process::exit(1);
}

fn create2() -> Vec<u8> {
    let mut ev = Vec::with_capacity(EVENT_SIZE);
    ev.extend_from_slice(&UHID_CREATE2.to_ne_bytes());
    let mut name = [0u8; 128];
    name[..NAME.len()].copy_from_slice(NAME.as_bytes());
    ev.extend_from_slice(&name);
    ev.extend_from_slice(&[0u8; 64]); // phys
    ev.extend_from_slice(&[0u8; 64]); // uniq
    ev.extend_from_slice(&(DESCRIPTOR.len() as u16).to_ne_bytes());
    ev.extend_from_slice(&BUS.to_ne_bytes());
    ev.extend_from_slice(&VENDOR.to_ne_bytes());
    ev.extend_from_slice(&PRODUCT.to_ne_bytes());
    ev.extend_from_slice(&1u32.to_ne_bytes()); // version
    ev.extend_from_slice(&0u32.to_ne_bytes()); // country
    ev.extend_from_slice(DESCRIPTOR);
    ev.resize(EVENT_SIZE, 0);
    ev
}

fn main() {
    let mut dev = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/uhid")
        .unwrap_or_else(|e| fail(format!("/dev/uhid: {e}")));
    let n = dev
        .write(&create2())
        .unwrap_or_else(|e| fail(format!("UHID_CREATE2: {e}")));
    if n != EVENT_SIZE {
        fail(format!("UHID_CREATE2: wrote {n} of {EVENT_SIZE} bytes"));
    }
    let mut out = std::io::stdout();
    let line = json!({
        "name": NAME,
        "bustype": BUS,
        "vendor": VENDOR,
        "product": PRODUCT,
        "descriptor_size": DESCRIPTOR.len(),
    });
    let _ = writeln!(out, "VM-UHID {line}");
    let _ = out.flush();
    let mut buf = vec![0u8; EVENT_SIZE];
    loop {
        let n = dev
            .read(&mut buf)
            .unwrap_or_else(|e| fail(format!("reading /dev/uhid: {e}")));
        if n < 4 {
            fail(format!("short event from /dev/uhid: {n} bytes"));
        }
        let kind = u32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]);
        let id = buf.get(4..8).map(|b| [b[0], b[1], b[2], b[3]]);
        let reply = match (kind, id) {
            (UHID_START, _) => {
                let _ = writeln!(out, "VM-UHID ready");
                let _ = out.flush();
                None
            }
            // No feature or input reports to give: the request fails with EIO.
            (UHID_GET_REPORT, Some(id)) => Some((UHID_GET_REPORT_REPLY, id)),
            (UHID_SET_REPORT, Some(id)) => Some((UHID_SET_REPORT_REPLY, id)),
            _ => None,
        };
        if let Some((kind, id)) = reply {
            let mut ev = vec![0u8; EVENT_SIZE];
            ev[..4].copy_from_slice(&kind.to_ne_bytes());
            ev[4..8].copy_from_slice(&id);
            ev[8..10].copy_from_slice(&(libc::EIO as u16).to_ne_bytes());
            dev.write_all(&ev)
                .unwrap_or_else(|e| fail(format!("replying to /dev/uhid: {e}")));
        }
    }
}
