# NixOS module: services.surface-check.
#
# Runs surface-checkd (the Surface Book 2 hardware report on the system bus,
# io.github.SurfaceCheck1), the report timer that records every boot and resume in the
# history and names regressions, and, for every user's graphical session, the notifier
# of regressions. docs/nixos.md describes each option.
#
# The units, the bus policy, the activation file and the polkit actions are the
# package's own files (nix/package.nix installs them with /usr/bin rewritten to the
# package's bin/); this module only links them into the system the NixOS way and adds,
# as drop-ins, what the options change. Where NixOS does what, in nixpkgs:
#
# - systemd.packages: nixos/lib/systemd-lib.nix, generateUnits, links every
#   «pkg»/lib/systemd/system/* into /etc/systemd/system (and «pkg»/lib/systemd/user/*
#   into /etc/systemd/user: systemd/user.nix calls generateUnits with the same
#   default `packages ? cfg.packages`). It skips a package's *.wants directories and
#   never reads [Install]: nothing is enabled by being packaged. The wantedBy of
#   systemd.services.<name> (and timers, user services) makes the .wants links
#   instead, and a systemd.services.<name> defined for a packaged unit becomes the
#   drop-in <unit>.d/overrides.conf (overrideStrategy "asDropinIfExists"). The same
#   pattern in nixpkgs: services/system/dbus.nix ("NixOS Systemd Module doesn't respect
#   'Install'", NixOS/nixpkgs#108643) and systemd.nix (`systemd-pstore.wantedBy`).
#   A list value becomes one line per element (attrsToSection), so a leading "" resets
#   a setting the unit already has, as systemd.nix does for kmod-static-nodes
#   (`ConditionFileNotEmpty = [ "" ... ]`, "required to unset the previous value!").
# - services.dbus.packages: services/system/dbus.nix, "files in the following
#   directories will be included into their respective DBus configuration paths:
#   «pkg»/share/dbus-1/system.d, «pkg»/share/dbus-1/system-services, ...": the bus
#   policy and the activation file.
# - security.polkit.enable: security/polkit.nix (an mkEnableOption, off by default)
#   starts polkitd and adds "/share/polkit-1" to environment.pathsToLink; nixpkgs'
#   polkit is built with --datadir=/run/current-system/sw/share
#   (pkgs/by-name/po/polkit/package.nix), so it reads actions from
#   /run/current-system/sw/share/polkit-1/actions: the package must be in
#   environment.systemPackages for its action to be found.
# - environment.systemPackages: the CLI on PATH, its man pages and completions, and
#   the polkit action above.
{
  config,
  lib,
  pkgs,
  ...
}:

let
  inherit (lib)
    mkDefault
    mkEnableOption
    mkIf
    mkMerge
    mkOption
    literalExpression
    types
    ;

  cfg = config.services.surface-check;
  cli = "${cfg.package}/bin/surface-check";

  # The metrics directory as a string (a path value interpolated into a string would be
  # copied into the Nix store).
  textfileDirectory = toString cfg.metrics.textfileDirectory;
  # It is written unquoted into ExecStopPost= and ReadWritePaths=, which split at
  # white space and read quotes and specifiers: the characters install.sh allows in a
  # prefix, for the same reason.
  plainPath = p: builtins.match "/[A-Za-z0-9/._+@:,=-]*" p != null;
  # It also becomes ReadWritePaths= of the sandboxed report unit: "/" (or "//") would
  # make the whole file system writable for it, and "." or ".." segments name a
  # directory other than the one the path spells.
  segments = builtins.filter (s: builtins.isString s && s != "") (builtins.split "/" textfileDirectory);
  namesOneDirectory = segments != [ ] && !(builtins.elem "." segments) && !(builtins.elem ".." segments);
in
{
  options.services.surface-check = {
    enable = mkEnableOption "surface-checkd, the Surface Book 2 hardware report on the system bus (io.github.SurfaceCheck1)";

    package = mkOption {
      type = types.package;
      default = pkgs.surface-check or (pkgs.callPackage ./package.nix { });
      defaultText = literalExpression "pkgs.surface-check or (pkgs.callPackage ./nix/package.nix { })";
      description = ''
        The surface-check package: both binaries, the units, the D-Bus and polkit files.
        The flake's module sets it to its overlay's package built with the system's nixpkgs.
      '';
    };

    report = {
      enable = mkOption {
        type = types.bool;
        default = true;
        example = false;
        description = ''
          Whether to enable surface-check-report.timer, which runs `surface-check report`
          (record this boot in the history, name what broke since an earlier boot) after
          boot and after every resume.
        '';
      };

      delay = mkOption {
        type = types.str;
        default = "2min";
        example = "5min";
        description = ''
          How long after boot, and after each resume, the report runs: the timer's
          OnActiveSec=, a systemd time span (systemd.time(7)). Long enough for the
          touch screen and the cameras to come back.
        '';
      };
    };

    history.keep = mkOption {
      type = types.nullOr types.ints.positive;
      default = null;
      example = 100;
      description = ''
        How many boots the history keeps (`surface-check report --keep N`; the oldest go
        first, the baseline is always kept). null keeps the program's default (500).
      '';
    };

    notifier.enable = mkEnableOption "desktop notifications of regressions (`surface-check notify`, the user unit surface-check-notify.service) in every user's graphical session";

    metrics.textfileDirectory = mkOption {
      type = types.nullOr types.path;
      default = null;
      example = "/var/lib/prometheus-node-exporter/textfile";
      description = ''
        When set, after each report `surface-check metrics --textfile DIR` writes
        DIR/surface_check.prom for node_exporter's textfile collector (ExecStopPost= of
        surface-check-report.service, so it also runs when the report exits 1 on a
        regression). The directory is created if missing and made writable for that
        unit (ReadWritePaths=). Point node_exporter's --collector.textfile.directory at
        the same directory (docs/fleet.md).
      '';
    };
  };

  config = mkIf cfg.enable (mkMerge [
    {
      environment.systemPackages = [ cfg.package ];
      services.dbus.packages = [ cfg.package ];
      systemd.packages = [ cfg.package ];
      # AcceptBaseline asks polkit; without it the daemon refuses that one call and
      # serves the rest.
      security.polkit.enable = mkDefault true;

      # The unit's [Install]: WantedBy=multi-user.target, Alias=dbus-<bus name>.service.
      systemd.services.surface-checkd = {
        wantedBy = [ "multi-user.target" ];
        aliases = [ "dbus-io.github.SurfaceCheck1.service" ];
      };
    }

    (mkIf cfg.report.enable {
      # The timer's [Install]: timers.target and, to arm it again after each resume, the
      # sleep targets (systemd/surface-check-report.timer says why).
      systemd.timers.surface-check-report = {
        wantedBy = [
          "timers.target"
          "suspend.target"
          "hibernate.target"
          "hybrid-sleep.target"
          "suspend-then-hibernate.target"
        ];
        # OnActiveSec= adds to the unit's own 2min unless reset first.
        timerConfig.OnActiveSec = [
          ""
          cfg.report.delay
        ];
      };
    })

    (mkIf (cfg.history.keep != null) {
      # A oneshot service may have several ExecStart=: reset the unit's, then set ours.
      systemd.services.surface-check-report.serviceConfig.ExecStart = [
        ""
        "${cli} report --keep ${toString cfg.history.keep}"
      ];
    })

    (mkIf (cfg.metrics.textfileDirectory != null) {
      assertions = [
        {
          assertion = plainPath textfileDirectory;
          message = "services.surface-check.metrics.textfileDirectory must be an absolute path of letters, digits and / . _ + @ : , = - (it is written into the unit unquoted), got '${textfileDirectory}'";
        }
        {
          assertion = namesOneDirectory;
          message = "services.surface-check.metrics.textfileDirectory must not be / nor have a . or .. segment (it is made writable for the report unit), got '${textfileDirectory}'";
        }
      ];
      systemd.services.surface-check-report.serviceConfig = {
        # "-": a failed export is logged, but the unit's result stays the report's
        # (exit 1 is a regression, what OnFailure= hooks act on). A dashboard sees a
        # stale export by surface_check_last_run_timestamp_seconds.
        ExecStopPost = [ "-${cli} metrics --textfile ${textfileDirectory}" ];
        # "-": a directory removed at run time must not stop the report from running.
        ReadWritePaths = [ "-${textfileDirectory}" ];
      };
      # Created at boot and on switch when missing (0755 root, readable by
      # node_exporter); an existing directory keeps its mode and owner ("-").
      systemd.tmpfiles.rules = [ "d ${textfileDirectory} - - - -" ];
    })

    (mkIf cfg.notifier.enable {
      # The user unit's [Install]: WantedBy=graphical-session.target, for every user.
      systemd.user.services.surface-check-notify.wantedBy = [ "graphical-session.target" ];
    })
  ]);
}
