"""Endpoint definitions: the shipped library and the resolution of ``pheno.endpoints``.

A config entry either defines an endpoint in full (``name`` plus codes) or starts from a
library definition, ``{use: CHD}``, whose fields the entry's own keys replace (``name``
defaults to the library name). The library is one YAML file per endpoint under
``igs/resources/endpoints/`` (linked from ``resources/endpoints/`` at the repository root), each
with its codes, a one-line ``description`` and the ``citation`` of the definition it follows.
"""

from __future__ import annotations

import copy
from importlib import resources
from typing import Any

import jsonschema
import yaml

from igs.errors import ConfigError

LIBRARY_PACKAGE = "igs"
LIBRARY_DIR = "resources/endpoints"


def library() -> dict[str, dict[str, Any]]:
    """Every shipped endpoint definition by name (the file stem)."""
    folder = resources.files(LIBRARY_PACKAGE).joinpath(LIBRARY_DIR)
    out = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            block = yaml.safe_load(entry.read_text())
            out[entry.name.removesuffix(".yaml")] = block
    return out


def resolve_endpoints(
    items: list[dict[str, Any]], *, source: str, item_schema: dict[str, Any]
) -> list[dict[str, Any]]:
    """Expand ``use`` entries from the library, check names, ``any_of`` references and cycles.

    Library endpoints that an ``any_of`` names without a config entry are appended, so every
    component has a definition. Returns new dicts; ``items`` is left as it was.
    """
    lib = library()
    out = []
    for i, item in enumerate(items):
        out.append(_expand(item, lib, f"{source}: pheno.endpoints[{i}]"))
    names = [e["name"] for e in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(
            f"{source}: pheno.endpoints names must be unique; repeated: {', '.join(dupes)}."
        )
    known = {e["name"]: e for e in out}
    todo = [e for e in out]
    while todo:  # pull in library components that only an any_of names
        for part in todo.pop().get("any_of", ()):
            if part not in known and part in lib:
                known[part] = _expand({"use": part}, lib, f"{source}: library {part}")
                out.append(known[part])
                todo.append(known[part])
    validator = jsonschema.Draft202012Validator(item_schema)
    for e in out:
        where = f"{source}: pheno.endpoints ({e['name']})"
        errors = sorted(validator.iter_errors(e), key=lambda x: list(map(str, x.absolute_path)))
        if errors:
            raise ConfigError(f"{where}: invalid definition: {errors[0].message}.")
        for part in e.get("any_of", ()):
            if part not in known:
                raise ConfigError(
                    f"{where}: any_of names {part!r}, which is neither an endpoint in "
                    f"pheno.endpoints nor in the library ({', '.join(sorted(lib))})."
                )
        has_codes = any(e.get(k) for k in ("icd10", "icd9", "icd8", "atc", "concepts"))
        if not (has_codes or e.get("omop_concepts") or e.get("any_of")):
            raise ConfigError(
                f"{where}: no codes; give icd10 prefixes or omop_concepts (or icd9, icd8, "
                "atc, concepts, any_of)."
            )
    for e in out:
        _check_no_cycle(e["name"], known, [], source)
    return out


def _expand(item: dict[str, Any], lib: dict[str, dict[str, Any]], where: str) -> dict[str, Any]:
    item = copy.deepcopy(item)
    use = item.pop("use", None)
    if use is None:
        if "name" not in item:
            raise ConfigError(f"{where}: give a `name` (or `use` a library endpoint).")
        return item
    if use not in lib:
        raise ConfigError(
            f"{where}: unknown library endpoint use: {use!r}; the library has: "
            f"{', '.join(sorted(lib))}."
        )
    block = copy.deepcopy(lib[use])
    block["name"] = use
    block.update(item)
    return block


def _check_no_cycle(name: str, known: dict[str, dict], path: list[str], source: str) -> None:
    if name in path:
        loop = " -> ".join([*path[path.index(name) :], name])
        raise ConfigError(f"{source}: pheno.endpoints: any_of refers back to itself: {loop}.")
    for part in known[name].get("any_of", ()):
        _check_no_cycle(part, known, [*path, name], source)
