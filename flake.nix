# surface-check as a flake: the package, an overlay, the NixOS module, a dev shell and
# checks. docs/nixos.md shows how to use it. The first `nix build` or `nix flake lock`
# writes flake.lock, which pins nixpkgs; commit it.
{
  description = "Checks whether the running kernel really enabled the Surface Book 2's hardware";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      # The Surface Book 2 is an x86_64 machine; the package itself builds on any
      # Linux (nix/package.nix meta.platforms), through the overlay.
      system = "x86_64-linux";
      pkgs = nixpkgs.legacyPackages.${system};
      package = pkgs.callPackage ./nix/package.nix { };
    in
    {
      overlays.default = final: _prev: {
        surface-check = final.callPackage ./nix/package.nix { };
      };

      packages.${system} = {
        default = package;
        surface-check = package;
      };

      # nix/module.nix, with its package the overlay's built with the system's own
      # nixpkgs (so it shares that system's libraries), unless the configuration sets
      # services.surface-check.package.
      nixosModules.default =
        { lib, pkgs, ... }:
        {
          imports = [ ./nix/module.nix ];
          services.surface-check.package = lib.mkDefault (self.overlays.default pkgs pkgs).surface-check;
        };

      devShells.${system}.default = pkgs.mkShell {
        # The package's own build inputs (pkg-config, udev, bindgen's libclang) and the
        # Rust tools scripts/check.sh and scripts/test.sh run.
        inputsFrom = [ package ];
        packages = [
          pkgs.rustc
          pkgs.cargo
          pkgs.clippy
          pkgs.rustfmt
          pkgs.pkg-config
          pkgs.udev
        ];
        LIBCLANG_PATH = "${pkgs.llvmPackages.libclang.lib}/lib";
      };

      checks.${system} = {
        package = package;
        # A NixOS VM with the module enabled: the daemon owns its bus name, the CLI
        # reads its report, the timer is armed and a report run writes the metrics file.
        # Needs KVM and nixpkgs (`nix flake check`); nix/tests/vm-test.nix.
        nixos = pkgs.testers.runNixOSTest (import ./nix/tests/vm-test.nix { module = self.nixosModules.default; });
      };
    };
}
