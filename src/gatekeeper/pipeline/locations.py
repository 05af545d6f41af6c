"""Where one object loads its models from, and which model servers it runs: its
containers (image, command, args, env, envFrom), storage URIs and KServe storage blocks,
read at the paths its row of the serving-kinds table (serving.py, data this module reads;
it never calls back here) names.

Pure functions over plain dicts; only objects of a kind the table names get here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from gatekeeper.pipeline.object_paths import check_map, type_name, walk
from gatekeeper.pipeline.serving import Kind, ServingKinds

_DIGEST = re.compile(r"@(sha256:[0-9a-f]{64})$")
_VAR = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


@dataclass
class Location:
    """One place an object loads a model from, as the policy sees it (`input.artifacts[]`).

    kind: `uri` (compared with the evidence's artifact URIs), `image` (a container image:
    compared by digest, unverifiable when pinned by tag only), `opaque` (cannot be compared:
    `reason` says why). `presumed`: an image taken to carry the model only because the
    object names no other location (bound when the evidence registers one of them)."""

    path: str
    component: str
    kind: str
    value: str
    digest: str | None = None
    reason: str | None = None
    presumed: bool = False

    def as_input(self) -> dict[str, Any]:
        return {"path": self.path, "component": self.component, "kind": self.kind, "value": self.value,
                "digest": self.digest, "reason": self.reason, "presumed": self.presumed}


@dataclass
class Inspection:
    """What the table says about one object of a known kind."""

    kind: Kind
    servers: list[tuple[str, str]] = field(default_factory=list)  # (server name, image)
    locations: list[Location] = field(default_factory=list)
    shape_errors: list[str] = field(default_factory=list)


def inspect(kinds: ServingKinds, obj: dict[str, Any], row: Kind) -> Inspection:
    """Every model server `obj` runs and every place it loads a model from, by its `row`."""
    found = Inspection(kind=row)
    for path in row.maps:
        check_map(obj, path, found.shape_errors)
    locations: dict[tuple[str, str], Location] = {}

    def add(location: Location) -> None:
        locations.setdefault((location.path, location.value), location)

    for pattern in row.uris:
        for where, value in walk(obj, pattern, found.shape_errors):
            if isinstance(value, str) and value.strip():
                add(Location(where, _component(where), "uri", value.strip()))
            elif value is not None and not isinstance(value, str):
                # a URI field the gate cannot read must not go uncompared
                found.shape_errors.append(f"{where}: expected a string, found {type_name(value)}")
    for pattern in row.storage:
        for where, value in walk(obj, pattern, found.shape_errors):
            if isinstance(value, dict):
                add(_storage_location(where, value))
            elif value is not None:
                found.shape_errors.append(f"{where}: expected a map, found {type_name(value)}")
    image_paths = {where for pattern in row.model_images for where, _ in walk(obj, pattern, None)}
    containers = [(where, container) for pattern in row.containers
                  for where, container in walk(obj, pattern, found.shape_errors) if isinstance(container, dict)]
    # Components that name their model in the object (predictor.model.storageUri): their
    # containers' envFrom carries credentials, not a location. A location outside every
    # container's component (an LLMInferenceService's spec.model.uri) names the whole
    # object's model. Deployment-like kinds have no such locations: nothing computed.
    named = {_component(location.path) for location in locations.values()}
    whole = bool(named) and bool(named - {_component(where) for where, _ in containers})
    for where, container in containers:
        _container(kinds, where, container, row, where in image_paths, found, add,
                   named=whole or _component(where) in named)
    found.locations = list(locations.values())
    return found


def inspect_added_later(kinds: ServingKinds, obj: dict[str, Any], row: Kind) -> Inspection | None:
    """The containers added to a running object (`added_later`: a Pod's ephemeral
    containers), when one runs a known model server: judged like the object's own, whoever
    its owner is; None when there is nothing to judge."""
    if not row.added_later:
        return None
    added = inspect(kinds, obj, Kind(group=row.group, kind=row.kind, serves=row.serves, containers=row.added_later))
    return added if added.servers or added.shape_errors else None


def presumed_images(obj: dict[str, Any], row: Kind) -> list[Location]:
    """Every container image of an object that names its model but no place it loads it
    from: the model is baked into one of them (or comes from somewhere unknown). Called
    for annotated objects only, so ordinary workloads never pay for it."""
    images: dict[str, Location] = {}
    for pattern in row.containers:
        for where, container in walk(obj, pattern, None):
            image = container.get("image") if isinstance(container, dict) else None
            if isinstance(image, str) and image:
                images.setdefault(where, _image_location(where, _component(where, container), image, presumed=True))
    return list(images.values())


def _container(kinds: ServingKinds, where: str, container: dict[str, Any], row: Kind, model_image: bool,
               found: Inspection, add: Any, named: bool = False) -> None:
    image = container.get("image")
    image = image if isinstance(image, str) else ""
    if not image and row.serves != "always":
        # A pod's container always names its image; without one this is a fragment
        # (a kustomize patch) the gate cannot tell the server of.
        found.shape_errors.append(f"{where}.image: missing (every container of a {row.kind} names its image)")
    env = _environment(container)
    words = _command_words(container, env.readable)
    server = kinds.server_of(image, " ".join(words)) or kinds.loader_of(words, env.definitions)
    component = _component(where, container)
    own = 0
    # Every definition of a model variable, not only the one Kubernetes keeps (the last):
    # a compliant value first and a Secret's after it must not pass as the first.
    for name in dict.fromkeys((*kinds.storage_env, *(server.env if server else ()))):
        for how, text in env.definitions.get(name, []):
            if how == "from":
                add(Location(f"{where}.env.{name}", component, "opaque", f"{name} from {text}",
                             reason=f"{name} is read from {text}, which the gate does not read"))
            elif text:
                add(_value(f"{where}.env.{name}", component, name, text, env))
            else:
                continue
            own += 1
    if server is not None:
        found.servers.append((server.name, image or "(no image)"))
        for flag, value in _flag_values(words, server.args):
            add(_value(f"{where}.args[{flag}]", component, flag, value, env))
            own += 1
    # envFrom may set STORAGE_URI (or the server's variable) where the gate cannot see
    # it. Only where neither the container nor its component names a location: `env`
    # wins over envFrom, and a model argument or a component's storageUri is what is
    # loaded (envFrom then carries credentials). A container loads a model when it runs
    # a known server or belongs to a serving kind.
    if not own and not named and (server is not None or row.serves == "always"):
        if env.sources:
            names = ", ".join(env.sources)
            add(Location(f"{where}.envFrom", component, "opaque", f"environment from {names}",
                         reason=f"STORAGE_URI or the model server's model variable may be set in {names}, "
                                "which the gate does not read"))
            own += 1
    # The image is the model when nothing else names it: a known server started without
    # a model argument, or a custom predictor image.
    if not own and image and ((server is not None and row.serves != "always") or model_image):
        add(_image_location(where, component, image))


def _image_location(container_path: str, component: str, image: str, presumed: bool = False) -> Location:
    digest = _DIGEST.search(image)
    return Location(f"{container_path}.image", component, "image", image,
                    digest=digest.group(1) if digest else None,
                    reason=None if digest else "the image is pinned by tag only, not by digest", presumed=presumed)


def _value(where: str, component: str, label: str, value: str, env: _Env) -> Location:
    """A model argument or variable; one still holding `$(VAR)` after expansion names a
    variable the gate cannot read (valueFrom, envFrom, or unset), so it cannot be compared."""
    unresolved = _VAR.search(value)
    if unresolved is None:
        return Location(where, component, "uri", value)
    name = unresolved.group(1)
    secret = [text for how, text in env.definitions.get(name, []) if how == "from"]
    source = (", ".join(secret) if secret else
              f"the environment from {', '.join(env.sources)}" if env.sources else None)
    reason = (f"{label} is {value} and {name} is read from {source}, which the gate does not read" if source
              else f"{label} is {value} and {name} is not set in the container's env")
    return Location(where, component, "opaque", f"{label} {value}", reason=reason)


def _component(where: str, container: dict[str, Any] | None = None) -> str:
    """The component a location belongs to: the container's name, else the first field
    under spec (predictor, transformer, explainer, model, predictors[0], ...)."""
    if container is not None and isinstance(container.get("name"), str):
        return container["name"]
    parts = where.split(".")
    if len(parts) > 1 and parts[0] == "spec":
        return parts[1]
    return parts[0]


def _storage_location(where: str, block: dict[str, Any]) -> Location:
    """A KServe `storage` block: comparable when it names the bucket itself, else opaque
    (the bucket lives in a Secret the gate does not read)."""
    params = block.get("parameters") if isinstance(block.get("parameters"), dict) else {}
    path = str(block.get("path") or "").lstrip("/")
    bucket = params.get("bucket")
    kind = str(params.get("type") or "s3")
    if isinstance(bucket, str) and bucket:
        return Location(where, _component(where), "uri", f"{kind}://{bucket}/{path}".rstrip("/"))
    key = block.get("key") or block.get("storageKey") or "(default)"
    return Location(where, _component(where), "opaque", f"storage key {key}, path {path or '(none)'}",
                    reason=f"the bucket of storage key {key} is in a Secret the gate does not read")


@dataclass
class _Env:
    """A container's environment as the kubelet builds it: envFrom first (values the gate
    does not read), then `env` in order, each value's `$(VAR)` expanded from the variables
    defined before it, the last definition of a name winning."""

    readable: dict[str, str]  # the value of each name whose every definition the gate can read
    definitions: dict[str, list[tuple[str, str]]]  # every definition, in order: ("value", text) | ("from", where)
    sources: list[str]  # envFrom's ConfigMaps and Secrets


def _environment(container: dict[str, Any]) -> _Env:
    env = container.get("env")
    readable: dict[str, str] = {}
    definitions: dict[str, list[tuple[str, str]]] = {}
    for item in env if isinstance(env, list) else []:
        if not (isinstance(item, dict) and isinstance(item.get("name"), str)):
            continue
        name = item["name"]
        if item.get("valueFrom") is not None:
            definitions.setdefault(name, []).append(("from", _value_source(item["valueFrom"])))
            readable.pop(name, None)
            continue
        value = item.get("value")
        text = _VAR.sub(lambda m: readable.get(m.group(1), m.group(0)), str(value)) if isinstance(
            value, (str, int, float)) else ""
        definitions.setdefault(name, []).append(("value", text))
        readable[name] = text
    # A name defined anywhere through valueFrom is not readable, whichever definition is last:
    # `--model $(MODEL)` is unverifiable when any definition of MODEL is.
    for name, defined in definitions.items():
        if any(how == "from" for how, _ in defined):
            readable.pop(name, None)
    return _Env(readable, definitions, _env_from_sources(container))


def _value_source(value_from: Any) -> str:
    if not isinstance(value_from, dict) or not value_from:
        return "a valueFrom the gate cannot read"
    for key, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
        ref = value_from.get(key)
        if isinstance(ref, dict):
            return f"{kind} {ref.get('name') or '(unnamed)'} (key {ref.get('key') or '(none)'})"
    return f"a field of the pod ({', '.join(sorted(map(str, value_from)))})"


def _env_from_sources(container: dict[str, Any]) -> list[str]:
    """The ConfigMaps and Secrets a container takes its whole environment from (envFrom)."""
    env_from = container.get("envFrom")
    out = []
    for item in env_from if isinstance(env_from, list) else []:
        for key, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
            ref = item.get(key) if isinstance(item, dict) else None
            if isinstance(ref, dict):
                out.append(f"{kind} {ref.get('name') or '(unnamed)'}")
    return out


def _command_words(container: dict[str, Any], env: dict[str, str]) -> list[str]:
    """command + args as words; a shell script (`sh -c "..."`) is split too, and `$(VAR)`
    is expanded from the container's env as the kubelet does."""
    words: list[str] = []
    for key in ("command", "args"):
        value = container.get(key)
        if isinstance(value, list):
            for item in value:
                if isinstance(item, (str, int, float)):
                    text = _VAR.sub(lambda m: env.get(m.group(1), m.group(0)), str(item))
                    words.extend(text.split())
    return words


def _flag_values(words: list[str], flags: tuple[str, ...]) -> list[tuple[str, str]]:
    out = []
    for index, word in enumerate(words):
        name, eq, value = word.partition("=")
        if name in flags:
            if eq:
                out.append((name, value.strip("'\"")))
            elif index + 1 < len(words) and not words[index + 1].startswith("-"):
                out.append((name, words[index + 1].strip("'\"")))
    return [(flag, value) for flag, value in out if value]
