# Evaluates flake.nix's outputs offline (tests/nix.rs runs it with `nix-instantiate
# --eval --strict --json`): the flake's inputs are stand-ins, `nixpkgs` one whose
# callPackage, mkShell and runNixOSTest return what they were given, and `self` the
# outputs themselves, as Nix passes them. The result names what each output holds, and
# the package the flake's NixOS module chooses.
let
  lib = import ./stub-lib.nix;
  flake = import ../../flake.nix;
  stubDrv = name: {
    type = "derivation";
    outPath = "/nix/store/00000000000000000000000000000000-${name}";
    inherit name;
  };
  pkgs = {
    inherit lib;
    callPackage = path: _args: stubDrv "called-${baseNameOf (toString path)}";
    mkShell = args: args // { shell = true; };
    testers.runNixOSTest = args: args // { nixosTest = true; };
    llvmPackages.libclang.lib = stubDrv "libclang-lib";
    rustc = stubDrv "rustc";
    cargo = stubDrv "cargo";
    clippy = stubDrv "clippy";
    rustfmt = stubDrv "rustfmt";
    pkg-config = stubDrv "pkg-config";
    udev = stubDrv "udev";
  };
  nixpkgs = {
    inherit lib;
    legacyPackages.x86_64-linux = pkgs;
  };
  self = flake.outputs { inherit self nixpkgs; } // {
    outPath = toString ../..;
  };
  names = builtins.mapAttrs (_: v: builtins.attrNames v);

  # The flake's module, called as NixOS would call it.
  moduleResult = self.nixosModules.default {
    inherit lib pkgs;
    config = { };
  };
  check = self.checks.x86_64-linux.nixos;
in
{
  description = flake.description;
  inputs = builtins.attrNames flake.inputs;
  nixpkgsUrl = flake.inputs.nixpkgs.url;
  outputs = builtins.attrNames (builtins.removeAttrs self [ "outPath" ]);
  perSystem = {
    packages = names self.packages;
    devShells = names self.devShells;
    checks = names self.checks;
  };
  overlayPackage = (self.overlays.default pkgs pkgs).surface-check.name;
  defaultPackage = self.packages.x86_64-linux.default.name;
  module = {
    imports = map toString moduleResult.imports;
    packageDefault = moduleResult.services.surface-check.package;
  };
  devShell = {
    inherit (self.devShells.x86_64-linux.default) LIBCLANG_PATH;
    packages = map (p: p.name) self.devShells.x86_64-linux.default.packages;
  };
  vmTest = {
    inherit (check) name nixosTest testScript;
    machine = builtins.removeAttrs check.nodes.machine [ "imports" ];
  };
}
