# Evaluates a NixOS module offline against ./stub-lib.nix, the way the NixOS module
# system would for this module alone (tests/nix.rs runs it with `nix-instantiate
# --eval --strict --json`):
#
#   nix-instantiate --eval --strict --json nix/tests/eval-module.nix \
#     --arg settings '{ enable = true; history.keep = 30; }'
#
# 1. The module is called with { config, lib, pkgs }: `config` is the module's own
#    options, each its default unless `settings` (the values under
#    services.surface-check) gives one; a value is checked against the option's type,
#    and a name that is no option is an error, as NixOS reports them.
# 2. Its `config` is resolved against the NixOS options it may set, declared with
#    nixpkgs' names and types in ./nixos-options.nix: mkIf whose condition is false
#    vanishes, mkMerge merges its parts, mkDefault/mkForce give way by priority (lower
#    number wins), each option's definitions are checked against its type and merged
#    by it (lists concatenate, systemd unit settings as nixpkgs merges them, two
#    different values of equal priority are a conflict). A definition of an option
#    that is not declared (a typo such as systemd.service, or
#    systemd.services.<name>.alias) or of the wrong type is an error naming the
#    option, as NixOS reports it.
# Result: { config = <resolved config>; options = [ { name, type, default } ]; }: the
# config holds what the module defines (no defaults of the NixOS options). A
# reference to any other part of `config` (say config.networking) fails: the module
# is evaluated alone.
{
  module ? ../module.nix,
  settings ? { },
  # What pkgs.callPackage of the package gives: a stand-in derivation named after the
  # file it was called with.
  pkgs ? {
    callPackage = path: _args: {
      type = "derivation";
      outPath = "/nix/store/00000000000000000000000000000000-stub-${baseNameOf (toString path)}";
    };
  },
}:

let
  lib = import ./stub-lib.nix;
  inherit (builtins)
    attrNames
    concatStringsSep
    foldl'
    isAttrs
    isList
    listToAttrs
    mapAttrs
    ;

  prefix = [
    "services"
    "surface-check"
  ];

  isOption = x: isAttrs x && (x._type or null) == "option";
  showPath = path: concatStringsSep "." path;

  # The option values: defaults, overridden by settings, type-checked.
  fill =
    opts: given: path:
    let
      unknown = builtins.filter (n: !(opts ? ${n})) (attrNames given);
    in
    if unknown != [ ] then
      throw "The option `${showPath (path ++ [ (builtins.head unknown) ])}' does not exist."
    else
      mapAttrs (
        name: o:
        let
          p = path ++ [ name ];
        in
        if isOption o then
          if given ? ${name} then
            if o.type.check given.${name} then
              given.${name}
            else
              throw "A definition for option `${showPath p}' is not of type `${o.type.description}'."
          else if o ? default then
            o.default
          else
            throw "The option `${showPath p}' is used but not defined."
        else
          fill o (given.${name} or { }) p
      ) opts;

  # The option declarations, flattened: name, type, default (or its defaultText).
  describe =
    opts: path:
    builtins.concatLists (
      map (
        name:
        let
          o = opts.${name};
          p = path ++ [ name ];
        in
        if isOption o then
          [
            {
              name = showPath p;
              type = o.type.description;
              default =
                if o ? defaultText then
                  { literalExpression = o.defaultText.text; }
                else
                  o.default or null;
              description = o.description or "";
            }
          ]
        else
          describe o p
      ) (attrNames opts)
    );

  # The NixOS options the module may set (./nixos-options.nix): a tree of
  # attribute sets whose leaves are options.
  nixosOptions = import ./nixos-options.nix { inherit lib; };

  # Definitions: mkIf whose condition is false vanishes, mkMerge gives each of its
  # parts, mkOverride sets the priority (lower number wins; 100 without one). As in
  # NixOS (pushDownProperties), a priority given to an attribute set applies to each
  # value inside it unless that value has its own.
  defsOf =
    priority: v:
    if isAttrs v && (v._type or null) == "if" then
      (if v.condition then defsOf priority v.content else [ ])
    else if isAttrs v && (v._type or null) == "merge" then
      builtins.concatMap (defsOf priority) v.contents
    else if isAttrs v && (v._type or null) == "override" then
      defsOf v.priority v.content
    else
      [ { inherit priority; value = v; } ];

  # The definitions of each attribute of the attribute sets `defs` define, by name.
  childDefs =
    path: defs:
    let
      notSet = builtins.filter (d: !(isAttrs d.value) || d.value ? outPath) defs;
      names = lib.attrNames (foldl' (acc: d: acc // d.value) { } defs);
    in
    if notSet != [ ] then
      throw "A definition for option `${showPath path}' is not an attribute set: ${builtins.toJSON (builtins.head notSet).value}"
    else
      map (n: {
        name = n;
        defs = builtins.concatMap (d: if d.value ? ${n} then defsOf d.priority d.value.${n} else [ ]) defs;
      }) names;

  # Definitions that vanished (every one under a false mkIf) leave no attribute.
  present = builtins.filter (kv: kv.value != absent);
  absent = {
    _absent = true;
  };

  # A set of declarations (./nixos-options.nix, or a submodule's options): every
  # name defined must be declared, as NixOS requires.
  mergeTree =
    path: decls: defs:
    if defs == [ ] then
      absent
    else
      listToAttrs (
        present (
          map (
            c:
            let
              p = path ++ [ c.name ];
            in
            if !(decls ? ${c.name}) then
              throw "The option `${showPath p}' does not exist. (nix/tests/nixos-options.nix declares the NixOS options a module evaluated here may set.)"
            else
              {
                inherit (c) name;
                value =
                  if isOption decls.${c.name} then
                    mergeOption p decls.${c.name}.type c.defs
                  else
                    mergeTree p decls.${c.name} c.defs;
              }
          ) (childDefs path defs)
        )
      );

  # One option's definitions, merged by its type.
  mergeOption =
    path: type: defs:
    let
      best = foldl' (m: d: if d.priority < m then d.priority else m) 10000 defs;
      values = map (d: d.value) (builtins.filter (d: d.priority == best) defs);
      wrong = builtins.filter (v: !(type.check v)) values;
    in
    if defs == [ ] then
      absent
    else if type.name == "submodule" then
      mergeTree path type.options defs
    else if type.name == "attrsOf" then
      listToAttrs (
        present (
          map (c: {
            inherit (c) name;
            value = mergeOption (path ++ [ c.name ]) type.elemType c.defs;
          }) (childDefs path defs)
        )
      )
    else if wrong != [ ] then
      throw "A definition for option `${showPath path}' is not of type `${type.description}'. Definition value: ${builtins.toJSON (builtins.head wrong)}"
    else
      type.merge path values;

  optionValues = fill (result0.options.services.surface-check or { }) settings prefix;
  result0 = import module {
    inherit lib pkgs;
    config.services.surface-check = optionValues;
  };
  resolved = mergeTree [ ] nixosOptions (defsOf 100 (result0.config or { }));
in
{
  config = if resolved == absent then { } else resolved;
  options = describe (result0.options.services.surface-check or { }) prefix;
}
