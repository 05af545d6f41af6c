"""The serving-kinds table (policy data `data.gatekeeper.serving`, read through OPA) and
what it says about one object: is it a serving kind, does a container run a known model
server, and every place it loads a model artifact from (README "Which workloads, which model, which artifact").

Pure functions over plain dicts. The table is compiled once per policy revision
(`ServingKinds.from_data`); objects of kinds the table does not name cost one dict lookup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_DIGEST = re.compile(r"@(sha256:[0-9a-f]{64})$")
_VAR = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


class ShapeError(ValueError):
    """A field of a gated object that is not what its kind allows (a list where a map belongs)."""


@dataclass(frozen=True)
class Server:
    name: str
    images: tuple[re.Pattern[str], ...]
    commands: tuple[re.Pattern[str], ...]
    args: tuple[str, ...]
    env: tuple[str, ...]


@dataclass(frozen=True)
class Kind:
    group: str
    kind: str
    serves: str  # "always" | "model-server" | "owner-only" (the table's `owners`)
    direct_only: bool = False
    # Where the API serves it: the owner look-up reads an owner at these.
    resource: str = ""
    versions: tuple[str, ...] = ()
    cluster_scoped: bool = False
    template: tuple[str, ...] = ()
    uris: tuple[tuple[str, ...], ...] = ()
    storage: tuple[tuple[str, ...], ...] = ()
    containers: tuple[tuple[str, ...], ...] = ()
    model_images: tuple[tuple[str, ...], ...] = ()
    maps: tuple[tuple[str, ...], ...] = ()
    # Containers added to a running object (a Pod's ephemeral containers, `kubectl debug`):
    # its owner never saw them, so they are judged even where the owner excuses the object.
    added_later: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class Owner:
    """The controller an object names in its ownerReferences, when that controller's
    judgement would cover the object (`ServingKinds.controller_owner`). Anyone who may
    create the object may write the reference: at admission it is confirmed first."""

    row: Kind
    version: str  # the reference's, when the table lists it; else the table's first
    name: str
    uid: str
    namespace: str | None  # None for a cluster-scoped owner

    def display(self) -> str:
        return f"{self.row.kind}/{self.name}"


# Kubernetes' own controllers (kube-controller-manager, one service account per controller
# with --use-service-account-credentials, else its own identity) create ReplicaSets, Pods
# and Jobs only for owners that exist: their owner references need no look-up. deploy/'s
# direct-only matchCondition names the same identities.
CONTROLLER_MANAGER = "system:kube-controller-manager"
CONTROLLER_ACCOUNTS = ("system:serviceaccount:kube-system:", "-controller")


def built_in_controller(user: str | None) -> bool:
    prefix, suffix = CONTROLLER_ACCOUNTS
    return user == CONTROLLER_MANAGER or bool(user and user.startswith(prefix) and user.endswith(suffix))


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


def _any_of(servers: tuple[Server, ...], attribute: str) -> re.Pattern[str] | None:
    """Every server's patterns of one sort as one alternation, a named group per server: one
    regex search per container instead of one per pattern (ordinary Deployments pay this)."""
    parts = [f"(?P<s{i}>{'|'.join(p.pattern for p in getattr(server, attribute))})"
             for i, server in enumerate(servers) if getattr(server, attribute)]
    return re.compile("|".join(parts), re.I) if parts else None


@dataclass(frozen=True)
class ServingKinds:
    kinds: dict[tuple[str, str], Kind]
    servers: tuple[Server, ...]
    storage_env: tuple[str, ...]
    label_key: str = "model-gatekeeper.io/environment"
    owner_only: dict[tuple[str, str], Kind] = field(default_factory=dict)  # the table's `owners`
    _images: re.Pattern[str] | None = field(default=None, repr=False)
    _commands: re.Pattern[str] | None = field(default=None, repr=False)
    # (image, command line) -> server: a cluster's Deployments repeat a few images, and the
    # alternation costs tens of microseconds per search. Bounded; one table, one cache.
    _seen: dict[tuple[str, str], Server | None] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_images", _any_of(self.servers, "images"))
        object.__setattr__(self, "_commands", _any_of(self.servers, "commands"))

    def server_of(self, image: str, command_line: str) -> Server | None:
        key = (image, command_line)
        if key in self._seen:
            return self._seen[key]
        server = None
        for pattern, text in ((self._images, image), (self._commands, command_line)):
            match = pattern.search(text) if pattern is not None and text else None
            if match and match.lastgroup:
                server = self.servers[int(match.lastgroup[1:])]
                break
        if len(self._seen) >= 4096:
            self._seen.clear()
        self._seen[key] = server
        return server

    @classmethod
    def from_data(cls, data: Any) -> ServingKinds:
        """Compile `data.gatekeeper.serving`; a malformed table fails loudly (ValueError)."""
        if not isinstance(data, dict) or not isinstance(data.get("kinds"), list):
            raise ValueError("policy data gatekeeper.serving is missing or has no `kinds` list")
        kinds = {(row.group, row.kind): row for row in map(_row, data["kinds"])}
        owner_only = {(row.group, row.kind): row
                      for row in (_row({**r, "serves": "owner-only"}) for r in data.get("owners") or [])}
        servers = tuple(
            Server(name=str(s["name"]),
                   images=tuple(re.compile(p, re.I) for p in s.get("images") or []),
                   commands=tuple(re.compile(p, re.I) for p in s.get("commands") or []),
                   args=tuple(s.get("args") or []), env=tuple(s.get("env") or []))
            for s in data.get("servers") or []
        )
        label = (data.get("environment_label") or {}).get("key") or cls.label_key
        return cls(kinds=kinds, servers=servers, storage_env=tuple(data.get("storage_env") or []), label_key=label,
                   owner_only=owner_only)

    def kind_of(self, group: str, kind: str) -> Kind | None:
        return self.kinds.get((group, kind))

    def controller_owner(self, obj: dict[str, Any], row: Kind) -> Owner | None:
        """The controller (ownerReferences, `controller: true`) whose judgement covers `obj`,
        an object of the model-server kind `row`: for a Pod, ReplicaSet or Job (direct_only)
        a kind that makes objects from a template or serves a model; for a Deployment-like
        kind only a serving kind or an owner-only kind, whose models other judged objects
        name. None when it names no such controller (judged itself)."""
        meta = obj.get("metadata")
        refs = meta.get("ownerReferences") if isinstance(meta, dict) else None
        for ref in refs if isinstance(refs, list) else []:
            if not (isinstance(ref, dict) and ref.get("controller") is True):
                continue
            group, _, version = str(ref.get("apiVersion", "")).rpartition("/")
            key = (group, str(ref.get("kind", "")))
            owner = self.owner_only.get(key) or self.kinds.get(key)
            if owner is not None and _covers(owner, row):
                assert isinstance(meta, dict)
                return Owner(row=owner, version=version if version in owner.versions or not owner.versions
                             else owner.versions[0], name=str(ref.get("name") or ""), uid=str(ref.get("uid") or ""),
                             namespace=None if owner.cluster_scoped else meta.get("namespace"))
        return None

    def inspect(self, obj: dict[str, Any], row: Kind) -> Inspection:
        found = Inspection(kind=row)
        for path in row.maps:
            _check_map(obj, path, found.shape_errors)
        locations: dict[tuple[str, str], Location] = {}

        def add(location: Location) -> None:
            locations.setdefault((location.path, location.value), location)

        for pattern in row.uris:
            for where, value in _walk(obj, pattern, found.shape_errors):
                if isinstance(value, str) and value.strip():
                    add(Location(where, _component(where), "uri", value.strip()))
                elif value is not None and not isinstance(value, str):
                    # a URI field the gate cannot read must not go uncompared
                    found.shape_errors.append(f"{where}: expected a string, found {_type(value)}")
        for pattern in row.storage:
            for where, value in _walk(obj, pattern, found.shape_errors):
                if isinstance(value, dict):
                    add(_storage_location(where, value))
                elif value is not None:
                    found.shape_errors.append(f"{where}: expected a map, found {_type(value)}")
        image_paths = {where for pattern in row.model_images for where, _ in _walk(obj, pattern, None)}
        containers = [(where, container) for pattern in row.containers
                      for where, container in _walk(obj, pattern, found.shape_errors) if isinstance(container, dict)]
        # Components that name their model in the object (predictor.model.storageUri): their
        # containers' envFrom carries credentials, not a location. A location outside every
        # container's component (an LLMInferenceService's spec.model.uri) names the whole
        # object's model. Deployment-like kinds have no such locations: nothing computed.
        named = {_component(location.path) for location in locations.values()}
        whole = bool(named) and bool(named - {_component(where) for where, _ in containers})
        for where, container in containers:
            self._container(where, container, row, where in image_paths, found, add,
                            named=whole or _component(where) in named)
        found.locations = list(locations.values())
        return found

    def ownership(self, obj: dict[str, Any], row: Kind) -> tuple[Owner | None, Inspection | None]:
        """The controller whose judgement covers `obj` (None: judged itself), and what was
        added to it later that runs a model server (judged whoever the owner is). One answer
        for every door: admission (served_models) and the auditor's listing."""
        owner = self.controller_owner(obj, row) if row.serves != "always" else None
        return owner, (self.inspect_added_later(obj, row) if owner is not None else None)

    def inspect_added_later(self, obj: dict[str, Any], row: Kind) -> Inspection | None:
        """The containers added to a running object (`added_later`), when one runs a known
        model server: judged like the object's own; None when there is nothing to judge."""
        if not row.added_later:
            return None
        added = self.inspect(obj, Kind(group=row.group, kind=row.kind, serves=row.serves,
                                       containers=row.added_later))
        return added if added.servers or added.shape_errors else None

    def presumed_images(self, obj: dict[str, Any], row: Kind) -> list[Location]:
        """Every container image of an object that names its model but no place it loads it
        from: the model is baked into one of them (or comes from somewhere unknown). Called
        for annotated objects only, so ordinary workloads never pay for it."""
        images: dict[str, Location] = {}
        for pattern in row.containers:
            for where, container in _walk(obj, pattern, None):
                image = container.get("image") if isinstance(container, dict) else None
                if isinstance(image, str) and image:
                    images.setdefault(where, _image_location(where, _component(where, container), image, presumed=True))
        return list(images.values())

    def _container(self, where: str, container: dict[str, Any], row: Kind, model_image: bool,
                   found: Inspection, add: Any, named: bool = False) -> None:
        image = container.get("image")
        image = image if isinstance(image, str) else ""
        if not image and row.serves != "always":
            # A pod's container always names its image; without one this is a fragment
            # (a kustomize patch) the gate cannot tell the server of.
            found.shape_errors.append(f"{where}.image: missing (every container of a {row.kind} names its image)")
        env = _env(container)
        words = _command_words(container, env)
        server = self.server_of(image, " ".join(words))
        component = _component(where, container)
        elsewhere = _env_from_elsewhere(container)
        own = 0
        for name in (*self.storage_env, *(server.env if server else ())):
            if env.get(name):
                add(Location(f"{where}.env.{name}", component, "uri", env[name]))
                own += 1
            elif name in elsewhere:
                add(Location(f"{where}.env.{name}", component, "opaque", f"{name} from {elsewhere[name]}",
                             reason=f"{name} is read from {elsewhere[name]}, which the gate does not read"))
                own += 1
        if server is not None:
            found.servers.append((server.name, image or "(no image)"))
            for flag, value in _flag_values(words, server.args):
                add(_argument(f"{where}.args[{flag}]", component, flag, value, elsewhere, container))
                own += 1
        # envFrom may set STORAGE_URI (or the server's variable) where the gate cannot see
        # it. Only where neither the container nor its component names a location: `env`
        # wins over envFrom, and a model argument or a component's storageUri is what is
        # loaded (envFrom then carries credentials). A container loads a model when it runs
        # a known server or belongs to a serving kind.
        if not own and not named and (server is not None or row.serves == "always"):
            sources = _env_from_sources(container)
            if sources:
                names = ", ".join(sources)
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


def _argument(where: str, component: str, flag: str, value: str, elsewhere: dict[str, str],
              container: dict[str, Any]) -> Location:
    """A model argument; one still holding `$(VAR)` after expansion names a variable the
    gate cannot read (valueFrom, envFrom, or unset), so it cannot be compared."""
    unresolved = _VAR.search(value)
    if unresolved is None:
        return Location(where, component, "uri", value)
    name = unresolved.group(1)
    sources = _env_from_sources(container)
    source = elsewhere.get(name) or (f"the environment from {', '.join(sources)}" if sources else None)
    reason = (f"{flag} is {value} and {name} is read from {source}, which the gate does not read" if source
              else f"{flag} is {value} and {name} is not set in the container's env")
    return Location(where, component, "opaque", f"{flag} {value}", reason=reason)


def _row(row: dict[str, Any]) -> Kind:
    return Kind(
        group=str(row.get("group") or ""), kind=str(row["kind"]),
        serves=str(row.get("serves", "always")), direct_only=bool(row.get("direct_only")),
        resource=str(row.get("resource") or ""), versions=tuple(str(v) for v in row.get("versions") or []),
        cluster_scoped=row.get("scope") == "Cluster",
        template=_split(row["template"]) if row.get("template") else (),
        **{key: tuple(_split(p) for p in row.get(key) or [])
           for key in ("uris", "storage", "containers", "model_images", "maps", "added_later")},
    )


def _covers(owner: Kind, row: Kind) -> bool:
    """Whether `owner`'s judgement covers an object of kind `row` it controls. A Pod owns
    nothing (no template, serves nothing itself): a reference to one covers nothing."""
    if owner.serves in ("always", "owner-only"):
        return True
    return row.direct_only and bool(owner.template)


def _split(path: str) -> tuple[str, ...]:
    return tuple(p for p in str(path).split(".") if p)


def _walk(node: Any, pattern: tuple[str, ...], errors: list[str] | None, at: str = "") -> list[tuple[str, Any]]:
    """(path, value) of every value `pattern` reaches. A literal key met by a list or a
    scalar is a shape error while the path so far is literal (`spec.predictor` must be a
    map); past a wildcard, other fields' values may be anything and are passed over."""
    if not pattern:
        return [(at, node)]
    head, rest = pattern[0], pattern[1:]
    out: list[tuple[str, Any]] = []
    if head == "**":
        out.extend(_walk(node, rest, errors, at))
        for key, child in _children(node, at):
            out.extend(_walk(child, pattern, None, key))
        return out
    if head == "*":
        for key, child in _children(node, at):
            out.extend(_walk(child, rest, None, key))
        return out
    if isinstance(node, dict):
        if head in node:
            out.extend(_walk(node[head], rest, errors, _join(at, head)))
    elif node is not None and errors is not None and at:
        errors.append(f"{at}: expected a map with `{head}`, found {_type(node)}")
    return out


def _children(node: Any, at: str) -> list[tuple[str, Any]]:
    if isinstance(node, dict):
        return [(_join(at, str(k)), v) for k, v in node.items() if k not in ("metadata", "status")]
    if isinstance(node, list):
        return [(f"{at}[{i}]", v) for i, v in enumerate(node)]
    return []


def _check_map(obj: dict[str, Any], path: tuple[str, ...], errors: list[str]) -> None:
    node: Any = obj
    for depth, key in enumerate(path):
        if not isinstance(node, dict) or key not in node:
            return
        node = node[key]
        if depth == len(path) - 1 and not isinstance(node, dict):
            errors.append(f"{'.'.join(path)}: expected a map, found {_type(node)}")


def _type(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "a map", list: "a list", str: "a string", bool: "a boolean"}.get(type(value), "a number")


def _join(at: str, key: str) -> str:
    return f"{at}.{key}" if at else key


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


def _env(container: dict[str, Any]) -> dict[str, str]:
    env = container.get("env")
    out: dict[str, str] = {}
    if isinstance(env, list):
        for item in env:
            if isinstance(item, dict) and isinstance(item.get("name"), str) and isinstance(item.get("value"), str):
                out[item["name"]] = item["value"]
    return out


def _env_from_elsewhere(container: dict[str, Any]) -> dict[str, str]:
    """Variables set through valueFrom: name -> where the value lives (present, value unknown)."""
    env = container.get("env")
    out: dict[str, str] = {}
    for item in env if isinstance(env, list) else []:
        if isinstance(item, dict) and isinstance(item.get("name"), str) and item.get("valueFrom") is not None:
            out[item["name"]] = _value_source(item["valueFrom"])
    return out


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
