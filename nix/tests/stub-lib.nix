# A minimal stand-in for nixpkgs' `lib`, enough to evaluate nix/module.nix,
# nix/package.nix and flake.nix offline with Debian's nix-bin (tests/nix.rs), where no
# nixpkgs is at hand. Each function keeps the shape nixpkgs gives it (lib/options.nix,
# lib/modules.nix, lib/types.nix, lib/strings.nix): mkIf, mkMerge and mkOverride
# return the same `_type`-tagged attribute sets, options the same fields, types a
# name, description, check and merge. What it does not model (submodules given as
# modules rather than options, types beyond those the module and ./nixos-options.nix
# use, priorities other than mkDefault's and mkForce's) is absent, so a module that
# starts using it fails here loudly rather than passing untested. ./eval-module.nix is
# the evaluator that resolves these tags.
let
  inherit (builtins)
    concatStringsSep
    elem
    filter
    isAttrs
    isBool
    isInt
    isList
    isPath
    isString
    length
    replaceStrings
    split
    substring
    stringLength
    ;

  # nixpkgs: lib/strings.nix escapeRegex.
  regexSpecials = [
    "\\"
    "["
    "{"
    "("
    ")"
    "^"
    "$"
    "?"
    "*"
    "+"
    "|"
    "."
  ];
  escapeRegex = replaceStrings regexSpecials (map (c: "\\${c}") regexSpecials);

  isDerivationLike = x: isAttrs x && (x.type or null == "derivation" || x ? outPath);
  isCoercibleToString = x: isString x || isPath x || isDerivationLike x || isInt x || isBool x;

  # lib/options.nix showOption (without its quoting of unusual names).
  showOption = concatStringsSep ".";

  # lib/options.nix mergeEqualOption. A type's merge gets the definitions' values
  # (nixpkgs: { file, value } records) once the evaluator has checked each.
  mergeEqualOption =
    loc: values:
    if builtins.all (v: v == builtins.head values) values then
      builtins.head values
    else
      throw "The option `${showOption loc}' has conflicting definition values.";

  # lib/types.nix mkOptionType.
  mkOptionType =
    {
      name,
      description ? name,
      check ? (_: true),
      merge ? mergeEqualOption,
      ...
    }@attrs:
    attrs
    // {
      _type = "option-type";
      inherit description check merge;
    };

  mkType =
    name: description: check:
    mkOptionType { inherit name description check; };

  types = rec {
    bool = mkType "bool" "boolean" isBool;
    str = mkType "str" "string" isString;
    int = mkType "int" "signed integer" isInt;
    package = mkType "package" "package" (
      x: isDerivationLike x || (isString x && substring 0 11 x == "/nix/store/")
    );
    # nixpkgs: an absolute path, given as a path value or a string.
    path = mkType "path" "path" (x: isCoercibleToString x && substring 0 1 (toString x) == "/");
    ints = {
      positive = mkType "positiveInt" "positive integer, meaning >0" (x: isInt x && x > 0);
      unsigned = mkType "unsignedInt" "unsigned integer, meaning >=0" (x: isInt x && x >= 0);
    };
    nullOr = t: mkType "nullOr" "null or ${t.description}" (x: x == null || t.check x);
    # lib/types.nix; the evaluator checks every element against elemType.
    listOf =
      t:
      mkOptionType {
        name = "listOf";
        description = "list of ${t.description}";
        check = x: isList x && builtins.all t.check x;
        merge = _loc: builtins.concatLists;
        elemType = t;
      };
    # lib/types.nix: nixpkgs' own check is `true`.
    unspecified = mkType "unspecified" "unspecified value" (_: true);
    # lib/types.nix strMatching.
    strMatching =
      pattern:
      mkType "strMatching" "string matching the pattern ${pattern}" (
        x: isString x && builtins.match pattern x != null
      );
    # lib/types.nix; ./eval-module.nix merges each attribute with elemType.
    attrsOf =
      t:
      mkOptionType {
        name = "attrsOf";
        description = "attribute set of ${t.description}";
        check = isAttrs;
        elemType = t;
      };
    # lib/types.nix submodule, given its options directly (nixpkgs: modules, each
    # with an `options`); ./eval-module.nix evaluates a definition against them.
    submodule =
      options:
      mkOptionType {
        name = "submodule";
        description = "submodule";
        check = isAttrs;
        inherit options;
      };
    enum =
      values:
      mkType "enum" "one of ${concatStringsSep ", " (map (v: ''"${toString v}"'') values)}" (
        x: elem x values
      );
  };
in
rec {
  inherit
    types
    escapeRegex
    showOption
    mergeEqualOption
    mkOptionType
    ;

  # lib/options.nix
  mkOption = attrs: attrs // { _type = "option"; };
  mkEnableOption =
    name:
    mkOption {
      default = false;
      example = true;
      description = "Whether to enable ${name}.";
      type = types.bool;
    };
  literalExpression = text: {
    _type = "literalExpression";
    inherit text;
  };

  # lib/modules.nix
  mkIf = condition: content: {
    _type = "if";
    inherit condition content;
  };
  mkMerge = contents: {
    _type = "merge";
    inherit contents;
  };
  mkOverride = priority: content: {
    _type = "override";
    inherit priority content;
  };
  mkDefault = mkOverride 1000;
  mkForce = mkOverride 50;

  # lib/attrsets.nix, lib/lists.nix
  optionalAttrs = cond: attrs: if cond then attrs else { };
  optional = cond: x: if cond then [ x ] else [ ];
  optionals = cond: xs: if cond then xs else [ ];
  genAttrs = names: f: builtins.listToAttrs (map (n: { name = n; value = f n; }) names);
  mapAttrs = builtins.mapAttrs;
  attrNames = builtins.attrNames;

  # lib/strings.nix
  concatStrings = builtins.concatStringsSep "";
  concatMapStrings = f: xs: concatStrings (map f xs);
  inherit concatStringsSep;
  optionalString = cond: s: if cond then s else "";
  hasInfix = infix: content: length (split (escapeRegex infix) content) > 1;
  hasPrefix = pre: s: substring 0 (stringLength pre) s == pre;
  splitString = sep: s: filter isString (split (escapeRegex sep) s);

  # lib/meta.nix: a license record from its SPDX id (only the ids this project could
  # name; an unknown id fails, as in nixpkgs).
  getLicenseFromSpdxId =
    id:
    let
      known = {
        "MIT" = {
          spdxId = "MIT";
          shortName = "mit";
        };
        "Apache-2.0" = {
          spdxId = "Apache-2.0";
          shortName = "asl20";
        };
        "GPL-2.0-or-later" = {
          spdxId = "GPL-2.0-or-later";
          shortName = "gpl2Plus";
        };
        "GPL-3.0-or-later" = {
          spdxId = "GPL-3.0-or-later";
          shortName = "gpl3Plus";
        };
      };
    in
    known.${id} or (throw "stub lib: no SPDX license '${id}' known (add it to nix/tests/stub-lib.nix)");

  platforms.linux = [
    "x86_64-linux"
    "aarch64-linux"
  ];

  # lib/fileset: toSource gives the files it would copy (as strings, nothing is
  # copied into a store), so a test can check that each exists.
  fileset = {
    unions = paths: paths;
    toSource =
      { root, fileset }:
      {
        root = toString root;
        files = map toString fileset;
      };
  };
}
