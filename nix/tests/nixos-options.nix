# The NixOS options nix/module.nix sets, declared as nixpkgs declares them (names and
# types), for ./eval-module.nix: a definition of any other option is an error naming
# it, and a value of the wrong type too, as NixOS reports them. Only these options
# exist here; an option NixOS has but this stub lacks fails the same way, so a module
# that starts using one adds it here, from nixpkgs' source, with the file it is in.
#
# Each option's type is nixpkgs' own; defaults are left out (the evaluator reports
# only what the module defines). Checked against NixOS/nixpkgs (nixos-unstable):
{ lib }:

let
  inherit (lib) mkOption types;

  # nixos/lib/systemd-lib.nix: "a type for options that take a unit name".
  unitNameType = types.strMatching "[a-zA-Z0-9@%:_.\\-]+[.](service|socket|device|mount|automount|swap|target|path|timer|scope|slice)";

  # nixos/lib/systemd-unit-options.nix (unitOption, mkOptionType "systemd option"):
  # any value; definitions that are all lists concatenate (one line each in the
  # unit), all non-lists must be equal, and a mix is an error.
  unitOption = lib.mkOptionType {
    name = "systemd option";
    merge =
      loc: values:
      if builtins.isList (builtins.head values) then
        builtins.concatMap (
          v:
          if builtins.isList v then
            v
          else
            throw "The definitions for systemd unit options should be either all lists, representing repeatable options, or all non-lists, but for the option ${lib.showOption loc}, the definitions are a mix of list and non-list"
        ) values
      else
        lib.mergeEqualOption loc values;
  };

  # nixos/lib/systemd-unit-options.nix, sharedOptions (every unit kind).
  sharedOptions = {
    enable = mkOption { type = types.bool; };
    overrideStrategy = mkOption {
      type = types.enum [
        "asDropinIfExists"
        "asDropin"
      ];
    };
    requiredBy = mkOption { type = types.listOf unitNameType; };
    wantedBy = mkOption { type = types.listOf unitNameType; };
    aliases = mkOption { type = types.listOf unitNameType; };
  };
  # nixos/lib/systemd-unit-options.nix, commonUnitOptions: the [Unit] section.
  unitConfig = {
    unitConfig = mkOption { type = types.attrsOf unitOption; };
  };

  # nixos/lib/systemd-types.nix: services = attrsOf (submodule [ stage2ServiceOptions
  # unitConfig stage2ServiceConfig ]); serviceConfig (systemd-unit-options.nix,
  # serviceOptions) is `addCheck (attrsOf unitOption) checkService`, whose check
  # (Type= and Restart= among systemd's values) the module does not reach.
  serviceUnits = types.attrsOf (
    types.submodule (
      sharedOptions
      // unitConfig
      // {
        serviceConfig = mkOption { type = types.attrsOf unitOption; };
      }
    )
  );

  # nixos/lib/systemd-types.nix: timers = attrsOf (submodule [ stage2TimerOptions
  # unitConfig timerConfig ]); timerConfig (systemd-unit-options.nix, timerOptions)
  # is attrsOf unitOption.
  timerUnits = types.attrsOf (
    types.submodule (
      sharedOptions
      // unitConfig
      // {
        timerConfig = mkOption { type = types.attrsOf unitOption; };
      }
    )
  );
in
{
  # nixos/modules/misc/assertions.nix: listOf unspecified.
  assertions = mkOption { type = types.listOf types.unspecified; };

  # nixos/modules/config/system-path.nix: listOf package.
  environment.systemPackages = mkOption { type = types.listOf types.package; };

  # nixos/modules/services/system/dbus.nix: listOf path.
  services.dbus.packages = mkOption { type = types.listOf types.path; };

  # nixos/modules/security/polkit.nix: mkEnableOption "polkit" (a boolean).
  security.polkit.enable = mkOption { type = types.bool; };

  systemd = {
    # nixos/modules/system/boot/systemd.nix: listOf package.
    packages = mkOption { type = types.listOf types.package; };
    # nixos/modules/system/boot/systemd.nix: systemdUtils.types.services.
    services = mkOption { type = serviceUnits; };
    # nixos/modules/system/boot/systemd.nix: systemdUtils.types.timers.
    timers = mkOption { type = timerUnits; };
    # nixos/modules/system/boot/systemd/user.nix: systemdUtils.types.services.
    user.services = mkOption { type = serviceUnits; };
    # nixos/modules/system/boot/systemd/tmpfiles.nix: listOf str.
    tmpfiles.rules = mkOption { type = types.listOf types.str; };
  };
}
