# surface-check and surface-checkd, built from this repository with nixpkgs' Rust
# tooling. Called by flake.nix (`packages.<system>.default`, the overlay's
# `surface-check`) and, without flakes, by `pkgs.callPackage ./nix/package.nix { }`.
#
# What it installs, under $out (the layout of `scripts/install.sh --prefix $out`):
#   bin/surface-check, bin/surface-checkd
#   lib/systemd/system/{surface-checkd.service,surface-check-report.service,surface-check-report.timer}
#   lib/systemd/user/surface-check-notify.service
#   share/dbus-1/system.d/io.github.SurfaceCheck1.conf            (the bus policy)
#   share/dbus-1/system-services/io.github.SurfaceCheck1.service  (D-Bus activation)
#   share/dbus-1/interfaces/io.github.SurfaceCheck1.xml
#   share/polkit-1/actions/io.github.SurfaceCheck1.policy
#   share/man/man1/surface-check*.1, share/man/man8/surface-checkd.8
#   share/{bash-completion/completions,zsh/site-functions,fish/vendor_completions.d}/...
# The units' ExecStart= and the activation file's Exec= name /usr/bin/surface-check{,d}
# in the repository; here they name $out/bin instead (the substitution install.sh's
# put_service makes). nix/module.nix wires these files into NixOS.
{
  lib,
  rustPlatform,
  pkg-config,
  udev,
  installShellFiles,
}:

let
  # Name, version and description come from Cargo.toml, the one place they are kept.
  cargoPackage = (builtins.fromTOML (builtins.readFile ../Cargo.toml)).package;

  # Only what the build and `cargo test --lib` read: a change to the tests, the docs or
  # the fuzz corpus does not rebuild the package.
  src = lib.fileset.toSource {
    root = ../.;
    fileset = lib.fileset.unions [
      ../Cargo.toml
      ../Cargo.lock
      ../src
      # Cargo.toml declares the benches by name: the manifest does not load without them.
      ../benches
      ../examples
      # Read by unit tests with include_str!/include_bytes!.
      ../fuzz/seeds/facts_json/sb2-15-nixos.json
      ../systemd
      ../dbus
      ../docs/man
      ../docs/completions
    ];
  };

  # Each file of systemd/ and dbus/ and where it goes under $out. tests/nix.rs holds this
  # list equal to the files in those directories.
  serviceFiles = [
    {
      file = "systemd/surface-checkd.service";
      dir = "lib/systemd/system";
    }
    {
      file = "systemd/surface-check-report.service";
      dir = "lib/systemd/system";
    }
    {
      file = "systemd/surface-check-report.timer";
      dir = "lib/systemd/system";
    }
    {
      file = "systemd/user/surface-check-notify.service";
      dir = "lib/systemd/user";
    }
    {
      file = "dbus/io.github.SurfaceCheck1.conf";
      dir = "share/dbus-1/system.d";
    }
    {
      file = "dbus/io.github.SurfaceCheck1.service";
      dir = "share/dbus-1/system-services";
    }
    {
      file = "dbus/io.github.SurfaceCheck1.xml";
      dir = "share/dbus-1/interfaces";
    }
    {
      file = "dbus/io.github.SurfaceCheck1.policy";
      dir = "share/polkit-1/actions";
    }
  ];

  # A file naming /usr/bin/surface-check (ExecStart=, Exec=) is written with $out/bin
  # instead; --replace-fail makes the build fail if the substitution finds nothing.
  # One substitution covers surface-checkd too: it keeps what follows the common stem.
  namesUsrBin = f: lib.hasInfix "/usr/bin/surface-check" (builtins.readFile (../. + "/${f.file}"));
  installOne =
    f:
    let
      dest = "$out/${f.dir}/${baseNameOf f.file}";
    in
    if namesUsrBin f then
      ''
        mkdir -p "$out/${f.dir}"
        substitute ${f.file} "${dest}" --replace-fail /usr/bin/surface-check "$out/bin/surface-check"
        chmod 0644 "${dest}"
      ''
    else
      ''
        install -D -m 0644 ${f.file} "${dest}"
      '';
in
rustPlatform.buildRustPackage {
  pname = cargoPackage.name;
  inherit (cargoPackage) version;
  inherit src;

  cargoLock.lockFile = ../Cargo.lock;

  # bindgenHook: the v4l crate generates its V4L2 bindings with bindgen, which needs
  # libclang (it sets LIBCLANG_PATH and the C include flags). pkg-config finds libudev
  # for the udev crate. rusqlite builds its bundled SQLite; no libsqlite3.
  nativeBuildInputs = [
    pkg-config
    rustPlatform.bindgenHook
    installShellFiles
  ];
  buildInputs = [ udev ];

  # The test suite (cargo test) runs the real binaries as root against device nodes,
  # private D-Bus daemons, QEMU and umockdev (scripts/test.sh sets them up); none of
  # that exists in the Nix build sandbox: no root, no /sys, a /dev of a few pseudo
  # devices, no network. The library's unit tests run here: they work on in-memory
  # facts and reports and on temporary files. The three below need what the sandbox
  # lacks (/dev/kmsg; creating device nodes, which takes root) and run in
  # scripts/test.sh. (tests/nix.rs checks that each still names a test.)
  doCheck = true;
  cargoTestFlags = [ "--lib" ];
  checkFlags = [
    "--skip=facts::kmsg::tests::the_live_kmsg_reads_without_consuming"
    "--skip=facts::video::tests::the_live_root_opens_the_node_and_asks_it"
    "--skip=root::tests::fifos_and_device_nodes_are_never_opened_as_files"
  ];

  postInstall = ''
    installManPage docs/man/*.1 docs/man/*.8
    installShellCompletion --cmd surface-check \
      --bash docs/completions/surface-check.bash \
      --zsh docs/completions/_surface-check \
      --fish docs/completions/surface-check.fish
  ''
  + lib.concatMapStrings installOne serviceFiles
  + ''
    # No unit or activation file may still name a binary outside $out.
    if grep -rl /usr/bin/ "$out/lib/systemd" "$out/share/dbus-1/system-services" \
        | xargs -r grep -l '^[^#]*/usr/bin/'; then
      echo "a unit or activation file above names /usr/bin" >&2
      exit 1
    fi
  '';

  passthru = {
    inherit serviceFiles;
    # The name on the system bus, as dbus/io.github.SurfaceCheck1.service declares it.
    busName = "io.github.SurfaceCheck1";
  };

  meta = {
    inherit (cargoPackage) description;
    platforms = lib.platforms.linux;
    mainProgram = "surface-check";
  }
  // lib.optionalAttrs (cargoPackage ? homepage || cargoPackage ? repository) {
    homepage = cargoPackage.homepage or cargoPackage.repository;
  }
  # Cargo.toml's SPDX expression, when it has one ("MIT OR Apache-2.0": either
  # license). Cargo.toml sets no `license` yet, and then none is declared here.
  // lib.optionalAttrs (cargoPackage ? license) {
    license = map lib.getLicenseFromSpdxId (lib.splitString " OR " cargoPackage.license);
  };
}
