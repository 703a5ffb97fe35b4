# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_surface_check_global_optspecs
    string join \n h/help V/version
end

function __fish_surface_check_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_surface_check_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_surface_check_using_subcommand
    set -l cmd (__fish_surface_check_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c surface-check -n "__fish_surface_check_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c surface-check -n "__fish_surface_check_needs_command" -s V -l version -d 'Print version'
complete -c surface-check -n "__fish_surface_check_needs_command" -f -a "status" -d 'Diagnose this machine, a captured root tree, or a capture file'
complete -c surface-check -n "__fish_surface_check_needs_command" -f -a "explain" -d 'Print the documentation of one check'
complete -c surface-check -n "__fish_surface_check_needs_command" -f -a "checks" -d 'List every check'
complete -c surface-check -n "__fish_surface_check_needs_command" -f -a "capture" -d 'Write this machine\'s facts as JSON, with serial numbers, MAC addresses, UUIDs, host and user names redacted, for `status --from` elsewhere'
complete -c surface-check -n "__fish_surface_check_needs_command" -f -a "test" -d 'Ask you to use a device (touch, pen, keyboard, buttons, lid, detach, camera) and report what it sent'
complete -c surface-check -n "__fish_surface_check_needs_command" -f -a "watch" -d 'Follow surface-checkd\'s changes live: one line per change'
complete -c surface-check -n "__fish_surface_check_needs_command" -f -a "waybar" -d 'Stream JSON lines for a waybar or i3status-rust custom module'
complete -c surface-check -n "__fish_surface_check_needs_command" -f -a "report" -d 'Record this boot in the history and name what broke since an earlier boot'
complete -c surface-check -n "__fish_surface_check_needs_command" -f -a "history" -d 'List the boots recorded, a status per subsystem, the changes marked'
complete -c surface-check -n "__fish_surface_check_needs_command" -f -a "diff" -d 'Show what differs between two recorded boots'
complete -c surface-check -n "__fish_surface_check_needs_command" -f -a "notify" -d 'Turn surface-checkd\'s regressions into desktop notifications (run as a systemd user unit)'
complete -c surface-check -n "__fish_surface_check_needs_command" -f -a "kernel" -d 'Judge a kernel before booting it: the running one, a NixOS generation, a tree or a package'
complete -c surface-check -n "__fish_surface_check_needs_command" -f -a "bundle" -d 'Write one redacted archive for a bug report'
complete -c surface-check -n "__fish_surface_check_needs_command" -f -a "metrics" -d 'Write Prometheus metrics for node_exporter\'s textfile collector'
complete -c surface-check -n "__fish_surface_check_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c surface-check -n "__fish_surface_check_using_subcommand status" -l root -d 'Read a captured tree instead of `/` (paths resolve inside it as under chroot)' -r -F
complete -c surface-check -n "__fish_surface_check_using_subcommand status" -l read-timeout -d 'Give up on a read that blocks longer than this many milliseconds' -r
complete -c surface-check -n "__fish_surface_check_using_subcommand status" -l deadline -d 'End the whole probe after this many milliseconds: reads not made by then are reported unknown (a healthy machine takes a few milliseconds)' -r
complete -c surface-check -n "__fish_surface_check_using_subcommand status" -l dmesg -d 'Use FILE as the kernel log of the boot (`dmesg` or `journalctl -k` output, a hw-probe upload) instead of `/dev/kmsg` or the journal; a captured tree has no kernel log without it' -r -F
complete -c surface-check -n "__fish_surface_check_using_subcommand status" -l from -d 'Diagnose a capture file written by `surface-check capture`' -r -F
complete -c surface-check -n "__fish_surface_check_using_subcommand status" -l color -d 'When to use colour: auto (a terminal, and NO_COLOR unset), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c surface-check -n "__fish_surface_check_using_subcommand status" -l local -d 'Probe in this process, not through surface-checkd. Without it, `status` on `/` asks the daemon when it runs (or D-Bus can start it) and probes here otherwise; --root, --from and --dmesg always probe here'
complete -c surface-check -n "__fish_surface_check_using_subcommand status" -l session -d 'Talk to a surface-checkd on the session bus (`surface-checkd --session`) instead of the system bus'
complete -c surface-check -n "__fish_surface_check_using_subcommand status" -l json -d 'Print the report as JSON (schema: docs/report-schema.json)'
complete -c surface-check -n "__fish_surface_check_using_subcommand status" -s v -l verbose -d 'Show every check, not only the broken links'
complete -c surface-check -n "__fish_surface_check_using_subcommand status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c surface-check -n "__fish_surface_check_using_subcommand explain" -s h -l help -d 'Print help'
complete -c surface-check -n "__fish_surface_check_using_subcommand checks" -l json -d 'Print the list as JSON'
complete -c surface-check -n "__fish_surface_check_using_subcommand checks" -s h -l help -d 'Print help'
complete -c surface-check -n "__fish_surface_check_using_subcommand capture" -s o -l output -d 'Write to FILE instead of standard output (`-`: standard output)' -r -F
complete -c surface-check -n "__fish_surface_check_using_subcommand capture" -l root -d 'Read a captured tree instead of `/` (paths resolve inside it as under chroot)' -r -F
complete -c surface-check -n "__fish_surface_check_using_subcommand capture" -l read-timeout -d 'Give up on a read that blocks longer than this many milliseconds' -r
complete -c surface-check -n "__fish_surface_check_using_subcommand capture" -l deadline -d 'End the whole probe after this many milliseconds: reads not made by then are reported unknown (a healthy machine takes a few milliseconds)' -r
complete -c surface-check -n "__fish_surface_check_using_subcommand capture" -l dmesg -d 'Use FILE as the kernel log of the boot (`dmesg` or `journalctl -k` output, a hw-probe upload) instead of `/dev/kmsg` or the journal; a captured tree has no kernel log without it' -r -F
complete -c surface-check -n "__fish_surface_check_using_subcommand capture" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c surface-check -n "__fish_surface_check_using_subcommand test" -l timeout -d 'Stop listening after this many seconds' -r
complete -c surface-check -n "__fish_surface_check_using_subcommand test" -l json -d 'Print the result as one JSON object on standard output (the prompt and the countdown go to standard error)'
complete -c surface-check -n "__fish_surface_check_using_subcommand test" -l power -d '`buttons`: ask for the power button too (it may suspend the machine)'
complete -c surface-check -n "__fish_surface_check_using_subcommand test" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c surface-check -n "__fish_surface_check_using_subcommand watch" -l json -d 'One JSON object a line'
complete -c surface-check -n "__fish_surface_check_using_subcommand watch" -l session -d 'Talk to a surface-checkd on the session bus (`surface-checkd --session`) instead of the system bus'
complete -c surface-check -n "__fish_surface_check_using_subcommand watch" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c surface-check -n "__fish_surface_check_using_subcommand waybar" -l session -d 'Talk to a surface-checkd on the session bus (`surface-checkd --session`) instead of the system bus'
complete -c surface-check -n "__fish_surface_check_using_subcommand waybar" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c surface-check -n "__fish_surface_check_using_subcommand report" -l root -d 'Read a captured tree instead of `/` (paths resolve inside it as under chroot)' -r -F
complete -c surface-check -n "__fish_surface_check_using_subcommand report" -l read-timeout -d 'Give up on a read that blocks longer than this many milliseconds' -r
complete -c surface-check -n "__fish_surface_check_using_subcommand report" -l deadline -d 'End the whole probe after this many milliseconds: reads not made by then are reported unknown (a healthy machine takes a few milliseconds)' -r
complete -c surface-check -n "__fish_surface_check_using_subcommand report" -l dmesg -d 'Use FILE as the kernel log of the boot (`dmesg` or `journalctl -k` output, a hw-probe upload) instead of `/dev/kmsg` or the journal; a captured tree has no kernel log without it' -r -F
complete -c surface-check -n "__fish_surface_check_using_subcommand report" -l state-dir -d 'The directory of the history database (default: $STATE_DIRECTORY, as systemd\'s StateDirectory= sets it, else /var/lib/surface-check)' -r -F
complete -c surface-check -n "__fish_surface_check_using_subcommand report" -l keep -d 'Keep this many boots (the oldest go first; the baseline is always kept)' -r
complete -c surface-check -n "__fish_surface_check_using_subcommand report" -l local -d 'Probe in this process, not through surface-checkd (as `status --local`). Without it, `report` on `/` takes the report from the daemon when it runs (or D-Bus can start it) and probes here otherwise; --root and --dmesg always probe here'
complete -c surface-check -n "__fish_surface_check_using_subcommand report" -l session -d 'Talk to a surface-checkd on the session bus (`surface-checkd --session`) instead of the system bus'
complete -c surface-check -n "__fish_surface_check_using_subcommand report" -l json -d 'Print the outcome as one JSON object: {boot, recorded, regressions, recoveries, explained}'
complete -c surface-check -n "__fish_surface_check_using_subcommand report" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c surface-check -n "__fish_surface_check_using_subcommand history" -l limit -d 'Show at most this many boots, the newest first' -r
complete -c surface-check -n "__fish_surface_check_using_subcommand history" -l state-dir -d 'The directory of the history database (default: $STATE_DIRECTORY, as systemd\'s StateDirectory= sets it, else /var/lib/surface-check)' -r -F
complete -c surface-check -n "__fish_surface_check_using_subcommand history" -l json -d 'Print the boots as one JSON object'
complete -c surface-check -n "__fish_surface_check_using_subcommand history" -l accept -d 'Make this boot the baseline: later reports compare with it and the boots after it only, so what it lacks is no longer a regression. Without --state-dir it asks surface-checkd (AcceptBaseline: polkit asks for an administrator; the boot as the daemon sees it now), and when no daemon runs it makes the newest recorded boot the baseline itself'
complete -c surface-check -n "__fish_surface_check_using_subcommand history" -l session -d 'Talk to a surface-checkd on the session bus (`surface-checkd --session`) instead of the system bus'
complete -c surface-check -n "__fish_surface_check_using_subcommand history" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c surface-check -n "__fish_surface_check_using_subcommand diff" -l state-dir -d 'The directory of the history database (default: $STATE_DIRECTORY, as systemd\'s StateDirectory= sets it, else /var/lib/surface-check)' -r -F
complete -c surface-check -n "__fish_surface_check_using_subcommand diff" -l json -d 'Print the differences as one JSON object'
complete -c surface-check -n "__fish_surface_check_using_subcommand diff" -s h -l help -d 'Print help'
complete -c surface-check -n "__fish_surface_check_using_subcommand notify" -l once -d 'Notify the regressions surface-checkd knows now, then exit (default: keep following its RegressionDetected signals)'
complete -c surface-check -n "__fish_surface_check_using_subcommand notify" -l session -d 'Talk to a surface-checkd on the session bus (`surface-checkd --session`) instead of the system bus'
complete -c surface-check -n "__fish_surface_check_using_subcommand notify" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c surface-check -n "__fish_surface_check_using_subcommand kernel" -l inspect -d 'Judge TARGET instead of the running kernel: a NixOS generation or profile (/nix/var/nix/profiles/system, system-42-link, /run/current-system), a kernel store path or unpacked tree (boot/config-*, lib/modules/<release>), or a package file (.deb, .pkg.tar.zst, .rpm), read as a stream without unpacking' -r
complete -c surface-check -n "__fish_surface_check_using_subcommand kernel" -l compare -d 'Compare the running kernel with TARGET: options gained and lost, subsystem by subsystem, and whether TARGET boots this system. On NixOS, after `nixos-rebuild boot`: `--compare /nix/var/nix/profiles/system`' -r
complete -c surface-check -n "__fish_surface_check_using_subcommand kernel" -l root -d 'Read the system (and TARGET) inside DIR, as under chroot: a NixOS system\'s absolute store links resolve inside it' -r -F
complete -c surface-check -n "__fish_surface_check_using_subcommand kernel" -l json -d 'Print the result as JSON (see docs/preflight.md for the shape)'
complete -c surface-check -n "__fish_surface_check_using_subcommand kernel" -s h -l help -d 'Print help'
complete -c surface-check -n "__fish_surface_check_using_subcommand bundle" -s o -l output -d 'Write the archive to FILE (`-`: standard output). Default: surface-check-bundle-<UTC date>-<time>.tar.gz in the current directory' -r -F
complete -c surface-check -n "__fish_surface_check_using_subcommand bundle" -l root -d 'Read a captured tree instead of `/` (paths resolve inside it as under chroot)' -r -F
complete -c surface-check -n "__fish_surface_check_using_subcommand bundle" -l read-timeout -d 'Give up on a read that blocks longer than this many milliseconds' -r
complete -c surface-check -n "__fish_surface_check_using_subcommand bundle" -l deadline -d 'End the whole probe after this many milliseconds: reads not made by then are reported unknown (a healthy machine takes a few milliseconds)' -r
complete -c surface-check -n "__fish_surface_check_using_subcommand bundle" -l dmesg -d 'Use FILE as the kernel log of the boot (`dmesg` or `journalctl -k` output, a hw-probe upload) instead of `/dev/kmsg` or the journal; a captured tree has no kernel log without it' -r -F
complete -c surface-check -n "__fish_surface_check_using_subcommand bundle" -l state-dir -d 'The directory of the history database (default: $STATE_DIRECTORY, as systemd\'s StateDirectory= sets it, else /var/lib/surface-check)' -r -F
complete -c surface-check -n "__fish_surface_check_using_subcommand bundle" -l review -d 'List every file and field that goes in before writing. When standard input and standard error are a terminal, asks "Write FILE? [y/N]"; otherwise prints the list and writes nothing unless --yes is given'
complete -c surface-check -n "__fish_surface_check_using_subcommand bundle" -l yes -d 'With --review: write after listing, without asking'
complete -c surface-check -n "__fish_surface_check_using_subcommand bundle" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c surface-check -n "__fish_surface_check_using_subcommand metrics" -l textfile -d 'Write DIR/surface_check.prom (node_exporter\'s textfile collector directory) instead of standard output: through a temporary file in DIR that the collector ignores, synced and renamed into place, mode 0644' -r -F
complete -c surface-check -n "__fish_surface_check_using_subcommand metrics" -l root -d 'Read a captured tree instead of `/` (paths resolve inside it as under chroot)' -r -F
complete -c surface-check -n "__fish_surface_check_using_subcommand metrics" -l read-timeout -d 'Give up on a read that blocks longer than this many milliseconds' -r
complete -c surface-check -n "__fish_surface_check_using_subcommand metrics" -l deadline -d 'End the whole probe after this many milliseconds: reads not made by then are reported unknown (a healthy machine takes a few milliseconds)' -r
complete -c surface-check -n "__fish_surface_check_using_subcommand metrics" -l dmesg -d 'Use FILE as the kernel log of the boot (`dmesg` or `journalctl -k` output, a hw-probe upload) instead of `/dev/kmsg` or the journal; a captured tree has no kernel log without it' -r -F
complete -c surface-check -n "__fish_surface_check_using_subcommand metrics" -l state-dir -d 'The directory of the history database (default: $STATE_DIRECTORY, as systemd\'s StateDirectory= sets it, else /var/lib/surface-check)' -r -F
complete -c surface-check -n "__fish_surface_check_using_subcommand metrics" -l local -d 'Probe in this process, not through surface-checkd (as `status --local`). Without it, `metrics` on `/` takes the report from the daemon when it runs (or D-Bus can start it) and probes here otherwise; --root and --dmesg always probe here'
complete -c surface-check -n "__fish_surface_check_using_subcommand metrics" -l session -d 'Talk to a surface-checkd on the session bus (`surface-checkd --session`) instead of the system bus'
complete -c surface-check -n "__fish_surface_check_using_subcommand metrics" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c surface-check -n "__fish_surface_check_using_subcommand help; and not __fish_seen_subcommand_from status explain checks capture test watch waybar report history diff notify kernel bundle metrics help" -f -a "status" -d 'Diagnose this machine, a captured root tree, or a capture file'
complete -c surface-check -n "__fish_surface_check_using_subcommand help; and not __fish_seen_subcommand_from status explain checks capture test watch waybar report history diff notify kernel bundle metrics help" -f -a "explain" -d 'Print the documentation of one check'
complete -c surface-check -n "__fish_surface_check_using_subcommand help; and not __fish_seen_subcommand_from status explain checks capture test watch waybar report history diff notify kernel bundle metrics help" -f -a "checks" -d 'List every check'
complete -c surface-check -n "__fish_surface_check_using_subcommand help; and not __fish_seen_subcommand_from status explain checks capture test watch waybar report history diff notify kernel bundle metrics help" -f -a "capture" -d 'Write this machine\'s facts as JSON, with serial numbers, MAC addresses, UUIDs, host and user names redacted, for `status --from` elsewhere'
complete -c surface-check -n "__fish_surface_check_using_subcommand help; and not __fish_seen_subcommand_from status explain checks capture test watch waybar report history diff notify kernel bundle metrics help" -f -a "test" -d 'Ask you to use a device (touch, pen, keyboard, buttons, lid, detach, camera) and report what it sent'
complete -c surface-check -n "__fish_surface_check_using_subcommand help; and not __fish_seen_subcommand_from status explain checks capture test watch waybar report history diff notify kernel bundle metrics help" -f -a "watch" -d 'Follow surface-checkd\'s changes live: one line per change'
complete -c surface-check -n "__fish_surface_check_using_subcommand help; and not __fish_seen_subcommand_from status explain checks capture test watch waybar report history diff notify kernel bundle metrics help" -f -a "waybar" -d 'Stream JSON lines for a waybar or i3status-rust custom module'
complete -c surface-check -n "__fish_surface_check_using_subcommand help; and not __fish_seen_subcommand_from status explain checks capture test watch waybar report history diff notify kernel bundle metrics help" -f -a "report" -d 'Record this boot in the history and name what broke since an earlier boot'
complete -c surface-check -n "__fish_surface_check_using_subcommand help; and not __fish_seen_subcommand_from status explain checks capture test watch waybar report history diff notify kernel bundle metrics help" -f -a "history" -d 'List the boots recorded, a status per subsystem, the changes marked'
complete -c surface-check -n "__fish_surface_check_using_subcommand help; and not __fish_seen_subcommand_from status explain checks capture test watch waybar report history diff notify kernel bundle metrics help" -f -a "diff" -d 'Show what differs between two recorded boots'
complete -c surface-check -n "__fish_surface_check_using_subcommand help; and not __fish_seen_subcommand_from status explain checks capture test watch waybar report history diff notify kernel bundle metrics help" -f -a "notify" -d 'Turn surface-checkd\'s regressions into desktop notifications (run as a systemd user unit)'
complete -c surface-check -n "__fish_surface_check_using_subcommand help; and not __fish_seen_subcommand_from status explain checks capture test watch waybar report history diff notify kernel bundle metrics help" -f -a "kernel" -d 'Judge a kernel before booting it: the running one, a NixOS generation, a tree or a package'
complete -c surface-check -n "__fish_surface_check_using_subcommand help; and not __fish_seen_subcommand_from status explain checks capture test watch waybar report history diff notify kernel bundle metrics help" -f -a "bundle" -d 'Write one redacted archive for a bug report'
complete -c surface-check -n "__fish_surface_check_using_subcommand help; and not __fish_seen_subcommand_from status explain checks capture test watch waybar report history diff notify kernel bundle metrics help" -f -a "metrics" -d 'Write Prometheus metrics for node_exporter\'s textfile collector'
complete -c surface-check -n "__fish_surface_check_using_subcommand help; and not __fish_seen_subcommand_from status explain checks capture test watch waybar report history diff notify kernel bundle metrics help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
