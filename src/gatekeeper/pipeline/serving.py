"""The serving-kinds table (policy data `data.gatekeeper.serving`, read through OPA) and
what it says about one object: is it a serving kind, which image or command is a known
model server, and which controller's judgement covers it (README "Which workloads, which
model, which artifact"). The table is data: locations.py reads objects by it (where an
object loads its models from), and this module imports nothing that reads objects.

Pure functions over plain dicts. The table is compiled once per policy revision
(`ServingKinds.from_data`); objects of kinds the table does not name cost one dict lookup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fnmatch import fnmatchcase, translate
from typing import Any

from gatekeeper.pipeline.object_paths import split


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
    # Who creates the objects this kind owns (user names; `*` matches any run of characters).
    # Empty: no one does, as far as the gate knows: a reference to such an owner exempts nothing.
    controllers: tuple[str, ...] = ()

    def creates_children(self, user: str | None) -> bool:
        """May a request by `user` create an object this kind owns? A reference to an owner
        counts only in the requests of the controllers its row names: a Pod made by hand
        naming a real ReplicaSet is judged itself, whatever the ReplicaSet runs, and an owner
        whose row names none counts in nobody's."""
        return user is not None and any(fnmatchcase(user, p) for p in self.controllers)

    def display(self) -> str:
        return f"{self.kind} ({self.group or 'core'})"


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
    owned: Kind  # the row of the object naming it

    def display(self) -> str:
        return f"{self.row.kind}/{self.name}"

    def skip_reason(self) -> str:
        return f"created by {self.display()}, judged there"

    @property
    def counts(self) -> bool:
        """Whether the reference can exempt anything: only where the owner's row names who
        creates its children (a custom table listing a kind without `controllers` is closed)."""
        return bool(self.row.controllers)

    def not_counted(self, user: str | None) -> str:
        """Why this reference did not exempt the object, in words a platform team can act on."""
        row = f"the row {self.row.display()} of the serving-kinds table"
        if not self.row.controllers:
            return (f"its owner {self.display()} exempts nothing: {row} names no `controllers`; "
                    "name there the service account that creates its children")
        who = f"not {user}'s requests" if user else "and `gatekeeper check` takes a manifest as made by hand"
        return (f"its owner {self.display()} exempts only what the `controllers` of {row} create "
                f"({', '.join(self.row.controllers)}), {who}; if the operator runs as another service account, "
                "name it there")


# Kubernetes' own controllers (kube-controller-manager, one service account per controller
# with --use-service-account-credentials, else its own identity) create ReplicaSets, Pods
# and Jobs only for owners that exist: their owner references need no look-up. deploy/'s
# direct-only matchCondition names the same identities.
CONTROLLER_MANAGER = "system:kube-controller-manager"
CONTROLLER_ACCOUNTS = ("system:serviceaccount:kube-system:", "-controller")


def built_in_controller(user: str | None) -> bool:
    prefix, suffix = CONTROLLER_ACCOUNTS
    return user == CONTROLLER_MANAGER or bool(user and user.startswith(prefix) and user.endswith(suffix))


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
    # The table's `model_loading`: flags and variables that name a model to load. A container
    # using one runs a model server, whatever its image (a mirrored or home-built server).
    loader_args: tuple[str, ...] = ()
    loader_env: tuple[str, ...] = ()
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

    def loader_of(self, words: list[str], variables: Any) -> Server | None:
        """A container no known server matched that passes a model-loading flag (`words`,
        its command line) or sets a model-loading variable (`variables`, the names it
        defines): an unidentified model server, read for every model-loading flag and
        variable."""
        found = next((w.partition("=")[0] for w in words if w.partition("=")[0] in self.loader_args), None)
        what = f"its {found} argument" if found else None
        if what is None:
            name = next((n for n in self.loader_env if n in variables), None)
            what = f"its {name} variable" if name else None
        if what is None:
            return None
        return Server(name=f"unidentified (by {what})", images=(), commands=(), args=self.loader_args,
                      env=self.loader_env)

    @classmethod
    def from_data(cls, data: Any) -> ServingKinds:
        """Compile `data.gatekeeper.serving`; a malformed table fails loudly (ValueError)."""
        if not isinstance(data, dict) or not isinstance(data.get("kinds"), list):
            raise ValueError("policy data gatekeeper.serving is missing or has no `kinds` list")
        kinds = {(row.group, row.kind): row for row in map(_row, data["kinds"])}
        owner_only = {(row.group, row.kind): row
                      for row in (_row({**r, "serves": "owner-only"}) for r in data.get("owners") or [])}
        mirrored = _mirrors(data.get("mirrors") or [], {str(s["name"]) for s in data.get("servers") or []})
        servers = tuple(
            Server(name=str(s["name"]),
                   images=tuple(re.compile(p, re.I) for p in [*(s.get("images") or []), *mirrored.get(str(s["name"]), [])]),
                   commands=tuple(re.compile(p, re.I) for p in s.get("commands") or []),
                   args=tuple(s.get("args") or []), env=tuple(s.get("env") or []))
            for s in data.get("servers") or []
        )
        label = (data.get("environment_label") or {}).get("key") or cls.label_key
        loading = data.get("model_loading") or {}
        return cls(kinds=kinds, servers=servers, storage_env=tuple(data.get("storage_env") or []), label_key=label,
                   owner_only=owner_only, loader_args=tuple(str(a) for a in loading.get("args") or []),
                   loader_env=tuple(str(e) for e in loading.get("env") or []))

    def kind_of(self, group: str, kind: str) -> Kind | None:
        return self.kinds.get((group, kind))

    def row_of(self, obj: dict[str, Any]) -> Kind | None:
        """The row of an object's kind (its apiVersion's group and its kind), if the table has one."""
        return self.kind_of(str(obj.get("apiVersion", "")).rpartition("/")[0], str(obj.get("kind", "")))

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
                             namespace=None if owner.cluster_scoped else meta.get("namespace"), owned=row)
        return None


def _row(row: dict[str, Any]) -> Kind:
    return Kind(
        group=str(row.get("group") or ""), kind=str(row["kind"]),
        serves=str(row.get("serves", "always")), direct_only=bool(row.get("direct_only")),
        resource=str(row.get("resource") or ""), versions=tuple(str(v) for v in row.get("versions") or []),
        cluster_scoped=row.get("scope") == "Cluster",
        template=split(row["template"]) if row.get("template") else (),
        **{key: tuple(split(p) for p in row.get(key) or [])
           for key in ("uris", "storage", "containers", "model_images", "maps", "added_later")},
        controllers=tuple(str(user) for user in row.get("controllers") or []),
    )


def _mirrors(mirrors: list[Any], servers: set[str]) -> dict[str, list[str]]:
    """The table's `mirrors` ({server, images}) as regular expressions per server: each image
    pattern matches a whole image reference, `*` any run of characters (as Kyverno's image
    patterns do), so `registry.corp.example/ml/openai-api-server:*` is vLLM mirrored."""
    out: dict[str, list[str]] = {}
    for mirror in mirrors:
        server = str(mirror.get("server")) if isinstance(mirror, dict) else ""
        if server not in servers:
            raise ValueError(f"policy data gatekeeper.serving: mirrors names no known server {server!r}")
        out.setdefault(server, []).extend("^" + translate(str(p)) for p in mirror.get("images") or [])
    return out


def _covers(owner: Kind, row: Kind) -> bool:
    """Whether `owner`'s judgement covers an object of kind `row` it controls. A Pod owns
    nothing (no template, serves nothing itself): a reference to one covers nothing."""
    if owner.serves in ("always", "owner-only"):
        return True
    return row.direct_only and bool(owner.template)
