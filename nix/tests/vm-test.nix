# The NixOS VM test of the module, run by `nix flake check` (flake.nix, checks.nixos,
# through pkgs.testers.runNixOSTest). It boots a NixOS VM with
# services.surface-check enabled and checks what the module promises: surface-checkd
# is started and owns io.github.SurfaceCheck1 on the system bus, `surface-check
# status` reads the report (the VM is no Surface Book 2, so subsystems are not all
# ok: exit 0 or 1, never 2), the report timer is armed, and a report run writes the
# metrics file through ExecStopPost=.
{ module }:
{
  name = "surface-check";

  nodes.machine = {
    imports = [ module ];
    services.surface-check = {
      enable = true;
      history.keep = 10;
      metrics.textfileDirectory = "/var/lib/textfile-collector";
    };
  };

  testScript = ''
    machine.wait_for_unit("multi-user.target")
    machine.wait_for_unit("surface-checkd.service")
    machine.succeed(
        "busctl --system call org.freedesktop.DBus /org/freedesktop/DBus "
        + "org.freedesktop.DBus GetNameOwner s io.github.SurfaceCheck1"
    )

    rc, out = machine.execute("surface-check status")
    assert rc in (0, 1), f"surface-check status exited {rc}: {out}"

    machine.wait_for_unit("surface-check-report.timer")
    machine.succeed("systemctl cat surface-check-report.service | grep -- '--keep 10'")

    machine.execute("systemctl start surface-check-report.service")
    machine.wait_until_succeeds("test -s /var/lib/textfile-collector/surface_check.prom")
    machine.succeed("grep -q '^surface_check_' /var/lib/textfile-collector/surface_check.prom")
    machine.succeed("test -d /var/lib/surface-check")
  '';
}
