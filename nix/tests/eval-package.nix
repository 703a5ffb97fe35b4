# Evaluates nix/package.nix offline with stand-ins for what nixpkgs passes it
# (tests/nix.rs runs it with `nix-instantiate --eval --strict --json`):
# rustPlatform.buildRustPackage returns its arguments, so the result is what the
# package asks nixpkgs to build: its name and version, the source files, the install
# phase, the check flags, meta. Paths are given as strings: nothing is copied into a
# Nix store.
let
  lib = import ./stub-lib.nix;
  args = import ../package.nix {
    inherit lib;
    rustPlatform = {
      buildRustPackage = a: a;
      bindgenHook = "rustPlatform.bindgenHook";
    };
    pkg-config = "pkg-config";
    udev = "udev";
    installShellFiles = "installShellFiles";
  };
in
{
  inherit (args)
    pname
    version
    doCheck
    cargoTestFlags
    checkFlags
    nativeBuildInputs
    buildInputs
    postInstall
    meta
    ;
  src = args.src;
  lockFile = toString args.cargoLock.lockFile;
  inherit (args.passthru) serviceFiles busName;
}
